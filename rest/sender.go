package rest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/delivery"
)

// Defaults of Options.
const (
	DefaultTimeout           = 10 * time.Second
	DefaultMaxResponseBytes  = 64 << 10
	DefaultIdempotencyHeader = "Idempotency-Key"
	DefaultUserAgent         = "postcall"
	DefaultMaxRetryAfter     = time.Hour
)

const (
	// maxRedirects bounds the redirects followed in one attempt.
	maxRedirects = 5
	// maxSnippetBytes bounds the part of a response quoted in an error.
	maxSnippetBytes = 512
	// drainBytes bounds what is read and thrown away after
	// MaxResponseBytes so that the connection can be reused. A longer
	// response closes the connection instead.
	drainBytes = 256 << 10
)

// Signer returns the signature headers of one attempt: id is the job key,
// ts the time of the attempt. *signing.Signer satisfies it.
type Signer interface {
	Headers(id string, ts time.Time, body []byte) []delivery.Field
}

// Options configures a Sender. A zero field selects its default.
type Options struct {
	// Timeout bounds one attempt: connecting, the TLS handshake, sending,
	// every redirect followed and reading the response body. Default 10s.
	Timeout time.Duration
	// MaxResponseBytes bounds how much of a response body is read.
	// Default 64 KiB.
	MaxResponseBytes int64
	// FollowRedirects lets a 307 or 308 response to a request other than
	// GET be followed with the same method and body. GET requests follow
	// every redirect regardless of this setting.
	FollowRedirects bool
	// IdempotencyHeader names the header that carries the job key on every
	// attempt. Default Idempotency-Key.
	IdempotencyHeader string
	// UserAgent is sent unless the request sets its own. Default postcall.
	UserAgent string
	// MaxRetryAfter caps the delay a Retry-After header may request.
	// Default 1h.
	MaxRetryAfter time.Duration
	// Logger receives one debug entry per attempt and a warning when a
	// redirect leads to another host. Default: no logging.
	Logger logrus.FieldLogger
	// Private keeps the path, query, header values, parameters, body and
	// response out of every error, log entry and outcome. A job marked
	// private is redacted too, regardless of this setting.
	Private bool
	// SecretHeaders are headers, besides Authorization,
	// Proxy-Authorization and Cookie, that are not sent on when a
	// redirect leads to another scheme, host or port. SecretHeaders(app)
	// lists the ones an application reads from a file or the environment.
	SecretHeaders []string
	// TLSConfig, when set, is cloned and used for https. tlsconf.Client
	// builds it from the application's [tls] table. Default: the system
	// roots, TLS 1.2 or later.
	TLSConfig *tls.Config
	// Signer, when set, adds signature headers to every request sent,
	// redirects included, signed over the body with the job key as id.
	Signer Signer
	// DialContext, when set, opens the TCP connections, for example
	// through a proxy or a fake network in tests. Default: a net.Dialer
	// bounded by Timeout.
	DialContext func(ctx context.Context, network, address string) (net.Conn, error)
}

// Sender sends the REST request of a job, one attempt per call of Send.
// It owns its http.Client and Transport, keeps connections alive between
// attempts, and is safe for concurrent use.
type Sender struct {
	opts      Options
	log       logrus.FieldLogger
	transport *http.Transport
	client    *http.Client
	// secret holds the canonical names of the headers not sent to
	// another origin.
	secret map[string]bool
	// now returns the current time. Tests replace it.
	now func() time.Time
}

// NewSender returns a Sender configured by opts, with defaults filled in.
// Like net/http's default transport, it sends through the proxy that the
// HTTPS_PROXY, HTTP_PROXY and NO_PROXY environment variables name.
func NewSender(opts Options) (*Sender, error) {
	if err := fillDefaults(&opts); err != nil {
		return nil, err
	}

	s := &Sender{
		opts: opts,
		log:  opts.Logger,
		now:  time.Now,
		secret: map[string]bool{
			"Authorization":       true,
			"Proxy-Authorization": true,
			"Cookie":              true,
			"Cookie2":             true,
		},
	}
	for _, name := range opts.SecretHeaders {
		s.secret[http.CanonicalHeaderKey(name)] = true
	}
	s.transport = newTransport(opts)
	s.client = &http.Client{
		Transport: s.transport,
		// Send follows redirects itself, so that it can keep the method
		// and body and decide which headers go to another host.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s, nil
}

func fillDefaults(opts *Options) error {
	switch {
	case opts.Timeout < 0:
		return fmt.Errorf("invalid timeout %s: it must not be negative", opts.Timeout)
	case opts.MaxResponseBytes < 0:
		return fmt.Errorf("invalid max_response_bytes %d: it must not be negative", opts.MaxResponseBytes)
	case opts.MaxRetryAfter < 0:
		return fmt.Errorf("invalid max_retry_after %s: it must not be negative", opts.MaxRetryAfter)
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxResponseBytes == 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if opts.MaxRetryAfter == 0 {
		opts.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if opts.IdempotencyHeader == "" {
		opts.IdempotencyHeader = DefaultIdempotencyHeader
	}
	if !isToken(opts.IdempotencyHeader) {
		return fmt.Errorf("invalid idempotency_header %q: use letters, digits and \"-\"", opts.IdempotencyHeader)
	}
	if opts.UserAgent == "" {
		opts.UserAgent = DefaultUserAgent
	}
	if !validHeaderValue(opts.UserAgent) {
		return fmt.Errorf("invalid user_agent %q: remove the control characters", opts.UserAgent)
	}
	if opts.Logger == nil {
		discard := logrus.New()
		discard.Out = io.Discard
		opts.Logger = discard
	}
	return nil
}

func newTransport(opts Options) *http.Transport {
	dial := opts.DialContext
	if dial == nil {
		dialer := &net.Dialer{Timeout: opts.Timeout, KeepAlive: 30 * time.Second}
		dial = dialer.DialContext
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if opts.TLSConfig != nil {
		tlsConfig = opts.TLSConfig.Clone()
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dial,
		TLSClientConfig:       tlsConfig,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   opts.Timeout,
		ResponseHeaderTimeout: opts.Timeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   16,
	}
}

// Close closes the idle connections. The Sender stays usable.
func (s *Sender) Close() { s.transport.CloseIdleConnections() }

// Send makes one attempt to deliver job.Request and classifies it. It
// returns by the deadline of ctx or after Options.Timeout, whichever comes
// first, and sends job.Key in the idempotency header of every request,
// redirects included.
func (s *Sender) Send(ctx context.Context, job *delivery.Job) delivery.Outcome {
	if job == nil {
		return delivery.Outcome{Class: delivery.Permanent, Err: errors.New("no job given")}
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()

	x := &exchange{sender: s, job: job, private: s.opts.Private || job.Private, start: start}
	out := x.run(ctx)
	out.Duration = time.Since(start)
	x.logOutcome(out)
	return out
}

// exchange is one attempt of one job: the request and every redirect.
type exchange struct {
	sender  *Sender
	job     *delivery.Job
	private bool
	start   time.Time
	method  string
	// first is the URL of the job, the origin that credentials belong to.
	first  *url.URL
	target *url.URL
}

func (x *exchange) run(ctx context.Context) delivery.Outcome {
	if err := x.check(); err != nil {
		return delivery.Outcome{Class: delivery.Permanent, Err: err}
	}

	visited := map[string]bool{x.target.String(): true}
	for redirects := 0; ; redirects++ {
		req, err := x.newRequest(ctx)
		if err != nil {
			return delivery.Outcome{Class: delivery.Permanent, Err: err}
		}
		resp, err := x.sender.client.Do(req)
		if err != nil {
			return delivery.Outcome{Class: delivery.Retryable, Err: x.transportError(ctx, err)}
		}
		if !isRedirect(resp.StatusCode) {
			return x.finish(ctx, resp)
		}

		status := resp.StatusCode
		location, err := x.location(resp)
		drainAndClose(resp.Body)
		if err != nil {
			return delivery.Outcome{Class: delivery.Permanent, Status: status, Err: err}
		}
		if err := x.checkRedirect(status, location, redirects, visited); err != nil {
			return delivery.Outcome{Class: delivery.Permanent, Status: status, Err: err}
		}
		visited[location.String()] = true
		x.noteOriginChange(location)
		x.target = location
	}
}

// check validates the job before anything is sent. Every failure is
// permanent: sending the same job again cannot fix it.
func (x *exchange) check() error {
	req := x.job.Request
	if req == nil {
		return fmt.Errorf("job %s has no REST request: it was not rendered for a REST application", x.job.Key)
	}
	x.method = req.Method
	if x.method == "" {
		x.method = http.MethodGet
	}
	if !isToken(x.method) {
		return fmt.Errorf("invalid HTTP method %q in the job", x.method)
	}

	target, err := url.Parse(req.URL)
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		return fmt.Errorf("%s %s: invalid URL: it must be an absolute http or https URL", x.method, x.shownURL(req.URL))
	}
	x.first = target
	x.target = target

	for _, f := range req.Header {
		if !isToken(f.Name) {
			return fmt.Errorf("%s %s: invalid header name %q", x.method, x.shown(target), f.Name)
		}
		// The value is never shown, because it may be a secret.
		if !validHeaderValue(f.Value) {
			return fmt.Errorf("%s %s: header %q has a value with control characters, which net/http rejects", x.method, x.shown(target), f.Name)
		}
		if strings.EqualFold(f.Name, "Host") && !validHost(f.Value) {
			return fmt.Errorf("%s %s: invalid Host header value: write host or host:port", x.method, x.shown(target))
		}
	}
	return nil
}

func (x *exchange) newRequest(ctx context.Context) (*http.Request, error) {
	s := x.sender
	var body io.Reader = http.NoBody
	if len(x.job.Request.Body) > 0 {
		body = bytes.NewReader(x.job.Request.Body)
	}
	req, err := http.NewRequestWithContext(ctx, x.method, x.target.String(), body)
	if err != nil {
		return nil, x.wrap(fmt.Sprintf("%s %s: building the request failed", x.method, x.shown(x.target)), err)
	}

	crossOrigin := !sameOrigin(x.first, x.target)
	for _, f := range x.job.Request.Header {
		name := http.CanonicalHeaderKey(f.Name)
		if crossOrigin && s.secret[name] {
			continue
		}
		if name == "Host" {
			if !crossOrigin {
				req.Host = f.Value
			}
			continue
		}
		req.Header.Add(name, f.Value)
	}

	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", s.opts.UserAgent)
	}
	if x.job.Key != "" {
		req.Header.Set(s.opts.IdempotencyHeader, x.job.Key)
	}
	if s.opts.Signer != nil {
		for _, f := range s.opts.Signer.Headers(x.job.Key, s.now(), x.job.Request.Body) {
			req.Header.Set(f.Name, f.Value)
		}
	}
	return req, nil
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// location returns the redirect target of resp, resolved against the
// request URL.
func (x *exchange) location(resp *http.Response) (*url.URL, error) {
	raw := resp.Header.Get("Location")
	if raw == "" {
		return nil, fmt.Errorf("%s %s: status %s without a Location header: update the URL", x.method, x.shown(x.target), statusText(resp.StatusCode))
	}
	location, err := x.target.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s %s: status %s with an invalid Location header: update the URL", x.method, x.shown(x.target), statusText(resp.StatusCode))
	}
	if location.Scheme != "http" && location.Scheme != "https" {
		return nil, fmt.Errorf("%s %s: status %s redirects to the unsupported scheme %q: update the URL", x.method, x.shown(x.target), statusText(resp.StatusCode), location.Scheme)
	}
	location.Fragment = ""
	location.RawFragment = ""
	return location, nil
}

// checkRedirect returns why the redirect to location must not be followed,
// or nil. redirects counts the redirects already followed.
func (x *exchange) checkRedirect(status int, location *url.URL, redirects int, visited map[string]bool) error {
	prefix := fmt.Sprintf("%s %s: status %s", x.method, x.shown(x.target), statusText(status))

	safeMethod := x.method == http.MethodGet || x.method == http.MethodHead
	keepsMethod := status == http.StatusTemporaryRedirect || status == http.StatusPermanentRedirect
	switch {
	case !safeMethod && !keepsMethod:
		return fmt.Errorf("%s: redirected to %s, which would turn the request into a GET without its body: update the URL", prefix, x.shown(location))
	case !safeMethod && !x.sender.opts.FollowRedirects:
		return fmt.Errorf("%s: redirected to %s: update the URL, or enable follow_redirects to follow 307 and 308", prefix, x.shown(location))
	case visited[location.String()]:
		return fmt.Errorf("%s: redirect loop: %s was already requested in this attempt: update the URL", prefix, x.shown(location))
	case redirects >= maxRedirects:
		return fmt.Errorf("%s: stopped after %d redirects, the last to %s: update the URL", prefix, maxRedirects, x.shown(location))
	}
	return nil
}

// noteOriginChange logs a warning when a redirect leaves the origin of
// the job's URL, because credentials are then left out.
func (x *exchange) noteOriginChange(location *url.URL) {
	if sameOrigin(x.target, location) || !sameOrigin(x.first, x.target) {
		return
	}
	x.sender.log.WithFields(logrus.Fields{
		"app":     x.job.App,
		"call_id": x.job.CallID,
		"from":    redactedOrigin(x.target),
		"to":      redactedOrigin(location),
	}).Warn("redirect leads to another host: Authorization, Cookie and secret headers are not sent there")
}

// finish reads the final response and classifies it.
func (x *exchange) finish(ctx context.Context, resp *http.Response) delivery.Outcome {
	status := resp.StatusCode
	snippet, readErr := readBody(resp.Body, x.sender.opts.MaxResponseBytes)
	out := delivery.Outcome{Class: Classify(status), Status: status}
	prefix := fmt.Sprintf("%s %s: status %s", x.method, x.shown(x.target), statusText(status))

	switch out.Class {
	case delivery.Delivered:
		if readErr != nil {
			out.Class = delivery.Retryable
			out.Err = x.wrap(fmt.Sprintf("%s, but reading the response body failed: %s", prefix, x.describe(ctx, readErr)), readErr)
		}
		return out
	case delivery.Retryable:
		out.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), x.sender.now(), x.sender.opts.MaxRetryAfter)
	}

	if x.private || len(snippet) == 0 {
		out.Err = errors.New(prefix)
	} else {
		out.Err = fmt.Errorf("%s: response %q", prefix, printable(snippet))
	}
	return out
}

// readBody reads at most limit bytes of body, drains a bounded amount
// more so the connection can be reused, closes body, and returns the start
// of the body for error messages.
func readBody(body io.ReadCloser, limit int64) ([]byte, error) {
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, limit))
	if err == nil && int64(len(data)) == limit {
		_, err = io.CopyN(io.Discard, body, drainBytes)
		if errors.Is(err, io.EOF) {
			err = nil
		}
	}
	if len(data) > maxSnippetBytes {
		data = data[:maxSnippetBytes]
	}
	return data, err
}

// drainAndClose reads a bounded part of body so the connection can be
// reused, and closes it.
func drainAndClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, drainBytes)
	_ = body.Close()
}

// printable returns the snippet as valid UTF-8 with control characters
// replaced by spaces, so it fits on one log line.
func printable(snippet []byte) string {
	text := strings.ToValidUTF8(string(snippet), "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, text)
}

func statusText(status int) string {
	if text := http.StatusText(status); text != "" {
		return fmt.Sprintf("%d %s", status, text)
	}
	return fmt.Sprint(status)
}

// shown returns u as errors and logs may show it: scheme, host and port
// for a private application, and the whole URL without its password
// otherwise.
func (x *exchange) shown(u *url.URL) string {
	if x.private {
		return redactedOrigin(u)
	}
	return u.Redacted()
}

// shownURL is shown for a raw URL, which may not parse.
func (x *exchange) shownURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return x.shown(u)
	}
	if x.private {
		return "(invalid URL)"
	}
	return fmt.Sprintf("%q", raw)
}

func (x *exchange) logOutcome(out delivery.Outcome) {
	fields := logrus.Fields{
		"app":     x.job.App,
		"call_id": x.job.CallID,
		// The spool counts this attempt in job.Attempts before Send.
		"attempt":     x.job.Attempts,
		"method":      x.method,
		"status":      out.Status,
		"duration_ms": out.Duration.Milliseconds(),
		"outcome":     out.Class.String(),
	}
	if x.first != nil {
		fields["host"] = redactedOrigin(x.first)
		if !x.private {
			fields["url"] = x.first.Redacted()
		}
	}
	if out.Err != nil {
		fields[logrus.ErrorKey] = out.Err.Error()
	}
	x.sender.log.WithFields(fields).Debug("delivery attempt finished")
}
