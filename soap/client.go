package soap

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Defaults of ClientOptions.
const (
	DefaultWSDLRetryMin = time.Second
	DefaultWSDLRetryMax = 5 * time.Minute
)

// ClientOptions are the SOAP settings of one application.
type ClientOptions struct {
	// App names the application in logs.
	App string
	// Private keeps the WSDL location's path and query out of logs and
	// errors; only its host is shown.
	Private bool
	// WSDL is an http(s) URL, a file:// URL or a local file path.
	WSDL string
	// Method is the WSDL operation to call.
	Method string
	// Version is "1.1" or "1.2"; empty means "1.1".
	Version string
	// Timeout bounds one attempt, WSDL read and response body included.
	// Default: the Sender's Timeout.
	Timeout time.Duration
	// HTTPClient sends the requests and reads the WSDL, for example with
	// the application's TLS settings. Default: the Sender's client for
	// requests, LoadOptions.HTTPClient for the WSDL. Redirects are never
	// followed for requests.
	HTTPClient *http.Client
	// Load sets how the WSDL is read.
	Load LoadOptions
	// WSDLRetryMin and WSDLRetryMax bound the wait before a WSDL that could
	// not be read is read again; the wait doubles after each failure, with
	// jitter. Defaults 1s and 5m.
	WSDLRetryMin time.Duration
	WSDLRetryMax time.Duration
	// Logger receives the WSDL reads. Default: logrus's standard logger.
	Logger logrus.FieldLogger
	// Service, when set, is a WSDL already read, for example by the client
	// this one replaces on a reload. It is used until Refresh reads the WSDL
	// again.
	Service *Service
}

// Client is one application's SOAP settings and its WSDL, read on first
// use and kept until Refresh. A WSDL that cannot be read is read again on
// a later call, after a wait that grows with each failure. A Client is
// safe for concurrent use.
type Client struct {
	opts ClientOptions
	http *http.Client // requests: redirects are not followed
	now  func() time.Time

	mu       sync.Mutex
	svc      *Service
	err      error
	failures int
	retryAt  time.Time
	loading  chan struct{} // closed when the read in flight ends
	lastLog  string
}

// NewClient returns a Client for opts. It reads nothing yet.
func NewClient(opts ClientOptions) *Client {
	if opts.WSDLRetryMin <= 0 {
		opts.WSDLRetryMin = DefaultWSDLRetryMin
	}
	if opts.WSDLRetryMax <= 0 {
		opts.WSDLRetryMax = DefaultWSDLRetryMax
	}
	if opts.WSDLRetryMax < opts.WSDLRetryMin {
		opts.WSDLRetryMax = opts.WSDLRetryMin
	}
	if opts.Logger == nil {
		opts.Logger = logrus.StandardLogger()
	}
	if opts.HTTPClient != nil && opts.Load.HTTPClient == nil {
		opts.Load.HTTPClient = opts.HTTPClient
	}
	c := &Client{opts: opts, now: time.Now, svc: opts.Service}
	if opts.HTTPClient != nil {
		c.http = withoutRedirects(opts.HTTPClient)
	}
	return c
}

// Cached returns the WSDL the client has read, or nil when no read has
// succeeded yet. It never reads.
func (c *Client) Cached() *Service {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.svc
}

// WithService returns a new Client with the same settings that starts
// with svc as its WSDL, as if it had read it.
func (c *Client) WithService(svc *Service) *Client {
	opts := c.opts
	opts.Service = svc
	return NewClient(opts)
}

// WSDL returns the WSDL location the client reads.
func (c *Client) WSDL() string { return c.opts.WSDL }

// withoutRedirects returns a copy of client that returns 3xx responses
// instead of following them, because a redirected POST would turn into a
// GET without a body and look delivered.
func withoutRedirects(client *http.Client) *http.Client {
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// Method returns the operation the client calls.
func (c *Client) Method() string { return c.opts.Method }

// Version returns the SOAP version the client uses, "1.1" when unset.
func (c *Client) Version() string {
	if c.opts.Version == "" {
		return Version11
	}
	return c.opts.Version
}

// UnavailableError reports that the WSDL of an application could not be
// read. The request can be tried again after RetryAt, when the next read
// is allowed.
type UnavailableError struct {
	// Location is the URL or path the WSDL was read from, or only its host
	// for a private application.
	Location string
	RetryAt  time.Time
	Err      error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("WSDL %s not available yet, read again after %s: %v",
		e.Location, e.RetryAt.UTC().Format(time.RFC3339), e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// Service returns the application's WSDL, reading it when no read has
// succeeded yet. Concurrent callers share one read. While the wait after
// a failed read lasts, Service returns an *UnavailableError without
// reading.
func (c *Client) Service(ctx context.Context) (*Service, error) {
	for {
		c.mu.Lock()
		if c.svc != nil {
			svc := c.svc
			c.mu.Unlock()
			return svc, nil
		}
		if c.loading != nil {
			wait := c.loading
			c.mu.Unlock()
			select {
			case <-wait:
				c.mu.Lock()
				svc, err, retryAt := c.svc, c.err, c.retryAt
				c.mu.Unlock()
				if svc != nil {
					return svc, nil
				}
				return nil, c.unavailable(err, retryAt)
			case <-ctx.Done():
				return nil, c.unavailable(ctx.Err(), c.now())
			}
		}
		if c.err != nil && c.now().Before(c.retryAt) {
			err, retryAt := c.err, c.retryAt
			c.mu.Unlock()
			return nil, c.unavailable(err, retryAt)
		}
		c.loading = make(chan struct{})
		c.mu.Unlock()

		_, err := c.read(ctx)
		if err != nil {
			c.mu.Lock()
			retryAt := c.retryAt
			c.mu.Unlock()
			return nil, c.unavailable(err, retryAt)
		}
	}
}

// Refresh reads the WSDL again now, as the "refresh" button or a reload
// does, and keeps the new Service when the read succeeds. A failed
// refresh keeps the Service read before, if any.
func (c *Client) Refresh(ctx context.Context) (*Service, error) {
	for {
		c.mu.Lock()
		if c.loading == nil {
			c.loading = make(chan struct{})
			c.mu.Unlock()
			return c.read(ctx)
		}
		wait := c.loading
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Check reads the WSDL if needed and checks that the application's
// parameters fit the method's input; see Service.Check.
func (c *Client) Check(ctx context.Context, paramNames []string) error {
	svc, err := c.Service(ctx)
	if err != nil {
		return err
	}
	return svc.Check(c.opts.Method, c.opts.Version, paramNames)
}

// read loads the WSDL; the caller has set c.loading.
func (c *Client) read(ctx context.Context) (*Service, error) {
	svc, err := Load(ctx, c.opts.WSDL, c.opts.Load)

	c.mu.Lock()
	defer func() {
		close(c.loading)
		c.loading = nil
		c.mu.Unlock()
	}()
	log := c.opts.Logger.WithField("app", c.opts.App)
	if err != nil {
		c.failures++
		c.err = err
		c.retryAt = c.now().Add(c.backoff())
		if msg := c.describe(err); msg != c.lastLog {
			c.lastLog = msg
			log.WithField("error", msg).Warn("WSDL not available; requests wait until it can be read")
		}
		return nil, err
	}
	c.svc, c.err, c.failures, c.lastLog = svc, nil, 0, ""
	log.WithField("operations", len(svc.operations)).Info("WSDL loaded")
	return svc, nil
}

// backoff returns the wait after the current run of failures, with up to
// 20% jitter so that many applications on one server do not read in step.
func (c *Client) backoff() time.Duration {
	d := c.opts.WSDLRetryMin
	for i := 1; i < c.failures && d < c.opts.WSDLRetryMax; i++ {
		d *= 2
	}
	d = min(d, c.opts.WSDLRetryMax)
	if jitter := int64(d) / 5; jitter > 0 {
		d += time.Duration(rand.Int64N(jitter))
	}
	return d
}

func (c *Client) unavailable(err error, retryAt time.Time) error {
	return &UnavailableError{Location: c.location(), RetryAt: retryAt, Err: c.privateErr(err)}
}

// location returns the WSDL location, or only its host when private.
func (c *Client) location() string {
	if !c.opts.Private {
		return c.opts.WSDL
	}
	return "from " + hostOf(c.opts.WSDL)
}

// describe renders err for a log line, without the location's path and
// query when the application is private.
func (c *Client) describe(err error) string {
	return c.privateErr(err).Error()
}

// privateErr returns err, or for a private application an error with only
// the host, the HTTP status and whether the read timed out.
func (c *Client) privateErr(err error) error {
	if !c.opts.Private || err == nil {
		return err
	}
	var le *LoadError
	msg := "read failed"
	switch {
	case errors.As(err, &le) && le.Status != 0:
		msg = fmt.Sprintf("server responded with status %d", le.Status)
	case errors.Is(err, context.DeadlineExceeded):
		msg = "read timed out"
	case errors.Is(err, context.Canceled):
		msg = "read canceled"
	}
	return fmt.Errorf("%s (details hidden: private application; run postcall wsdl to see them)", msg)
}

// hostOf returns the host of an http(s) location, or "local file".
func hostOf(location string) string {
	u, err := url.Parse(location)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "local file"
	}
	return u.Host
}
