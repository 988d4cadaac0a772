package rest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"time"

	"github.com/postcall/postcall/tlsconf"
)

// attemptError is the error of a private application's attempt. It prints
// only its message, and unwraps to a cause that carries no data of the
// request (a context error or an errno), so errors.Is still works.
type attemptError struct {
	msg   string
	cause error
}

func (e *attemptError) Error() string { return e.msg }
func (e *attemptError) Unwrap() error { return e.cause }

// transportError explains a request that got no response.
func (x *exchange) transportError(ctx context.Context, err error) error {
	msg := fmt.Sprintf("%s %s: %s", x.method, x.shown(x.target), x.describe(ctx, err))
	return x.wrap(msg, err)
}

// wrap returns msg as an error wrapping cause. For a private application
// the text of cause is left out, because net/http errors contain the whole
// URL, and only a cause without request data is kept.
func (x *exchange) wrap(msg string, cause error) error {
	if x.private {
		return &attemptError{msg: msg, cause: dataFreeCause(cause)}
	}
	// A *url.Error repeats the method and URL that msg already names.
	var urlErr *url.Error
	if errors.As(cause, &urlErr) {
		cause = urlErr.Err
	}
	return fmt.Errorf("%s: %w", msg, cause)
}

func dataFreeCause(err error) error {
	var errno syscall.Errno
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case errors.As(err, &errno):
		return errno
	}
	return nil
}

// describe names what went wrong in plain words, without data of the
// request, so that the text is fit for a private application too.
func (x *exchange) describe(ctx context.Context, err error) string {
	var (
		dnsErr *net.DNSError
		netErr net.Error
	)
	elapsed := time.Since(x.start).Round(time.Millisecond)
	// tlsconf.Explain names only hosts and certificate names, never the
	// request, so its text is fit for a private application.
	tlsProblem := tlsconf.Explain(err)

	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Sprintf("timed out after %s", elapsed)
	case errors.Is(err, context.Canceled):
		return "canceled before the attempt finished"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: check that the webservice is running and listens on this port"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the server"
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("DNS lookup of %s failed", x.target.Hostname())
	case tlsProblem != "":
		return "TLS handshake failed: " + tlsProblem
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("timed out after %s", elapsed)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the server closed the connection before the response was complete"
	}
	return "request failed"
}
