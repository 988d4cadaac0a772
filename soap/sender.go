package soap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/delivery"
)

// Defaults of Options.
const (
	DefaultTimeout           = 10 * time.Second
	DefaultMaxResponseBytes  = 64 << 10
	DefaultIdempotencyHeader = "Idempotency-Key"
	DefaultMaxRetryAfter     = time.Hour
	DefaultUserAgent         = "postcall"
)

// snippetBytes bounds the part of a non-SOAP body that an error quotes;
// detailLogBytes bounds the fault detail in a log entry.
const (
	snippetBytes   = 256
	detailLogBytes = 1024
	drainBytes     = 256 << 10
)

// Options configure a Sender.
type Options struct {
	// Clients returns the SOAP client of the named application, or nil
	// when no SOAP application has that name (a reload removed it).
	Clients func(app string) *Client
	// HTTPClient sends requests for clients without one of their own.
	// Default: a client with a transport cloned from net/http's defaults.
	// Redirects are never followed.
	HTTPClient *http.Client
	// Timeout bounds an attempt for clients without their own. Default 10s.
	Timeout time.Duration
	// MaxResponseBytes bounds the part of a response that is read.
	// Default 64 KiB.
	MaxResponseBytes int64
	// IdempotencyHeader carries the job key. Default Idempotency-Key.
	IdempotencyHeader string
	// UserAgent is sent with every request. Default "postcall".
	UserAgent string
	// MaxRetryAfter caps the delay a Retry-After header requests.
	// Default 1h.
	MaxRetryAfter time.Duration
	// Logger receives one entry per attempt (debug), and warnings for
	// faults and rejected media types. Default: logrus's standard logger.
	Logger logrus.FieldLogger
}

// Sender delivers SOAP jobs: it implements delivery.Sender.
//
// What a private application shows in its logs and errors: the
// application, call id, attempt, HTTP status code, duration, the host of
// the endpoint or WSDL, and a fault's version and codes. Its envelope,
// parameter values, path, query, response body, response headers, fault
// reason and fault detail are never shown.
type Sender struct {
	opts Options
	http *http.Client
}

// NewSender returns a Sender for opts.
func NewSender(opts Options) *Sender {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if opts.IdempotencyHeader == "" {
		opts.IdempotencyHeader = DefaultIdempotencyHeader
	}
	if opts.MaxRetryAfter <= 0 {
		opts.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if opts.UserAgent == "" {
		opts.UserAgent = DefaultUserAgent
	}
	if opts.Logger == nil {
		opts.Logger = logrus.StandardLogger()
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return &Sender{opts: opts, http: withoutRedirects(client)}
}

// CloseIdleConnections closes the idle connections of the Sender's own
// HTTP client.
func (s *Sender) CloseIdleConnections() { s.http.CloseIdleConnections() }

// Send makes one attempt to deliver a SOAP job: it gets the application's
// WSDL, builds the envelope from the job's parameters, posts it with the
// job key in the idempotency header, and classifies the reply. A WSDL that
// cannot be read yet is Retryable; parameters that do not fit the WSDL are
// Permanent.
func (s *Sender) Send(ctx context.Context, j *delivery.Job) delivery.Outcome {
	start := time.Now()
	out, detail := s.attempt(ctx, j)
	out.Duration = time.Since(start)
	s.log(j, out, detail)
	return out
}

func (s *Sender) attempt(ctx context.Context, j *delivery.Job) (delivery.Outcome, string) {
	if j.SOAP == nil {
		return permanent(errors.New("job has no SOAP parameters: it was not rendered for a SOAP application")), ""
	}
	var client *Client
	if s.opts.Clients != nil {
		client = s.opts.Clients(j.App)
	}
	if client == nil {
		return permanent(fmt.Errorf("application %q has no SOAP settings: it was removed or is not a SOAP application", j.App)), ""
	}
	private := j.Private || client.opts.Private

	timeout := client.opts.Timeout
	if timeout <= 0 {
		timeout = s.opts.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	svc, err := client.Service(ctx)
	if err != nil {
		out := delivery.Outcome{Class: delivery.Retryable, Err: err}
		var ue *UnavailableError
		if errors.As(err, &ue) {
			out.RetryAfter = min(max(time.Until(ue.RetryAt), 0), s.opts.MaxRetryAfter)
		}
		return out, ""
	}
	req, err := svc.Build(client.opts.Method, client.opts.Version, j.SOAP.Params)
	if err != nil {
		return permanent(fmt.Errorf("build SOAP request: %w", err)), ""
	}

	hc := s.http
	if client.http != nil {
		hc = client.http
	}
	return s.post(ctx, hc, j, req, private)
}

func permanent(err error) delivery.Outcome {
	return delivery.Outcome{Class: delivery.Permanent, Err: err}
}

// post sends req and classifies the reply.
func (s *Sender) post(ctx context.Context, hc *http.Client, j *delivery.Job, req *delivery.Request, private bool) (delivery.Outcome, string) {
	host := hostOf(req.URL)
	hreq, err := http.NewRequestWithContext(ctx, req.Method, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return permanent(fmt.Errorf("build HTTP request for host %s: %w", host, err)), ""
	}
	for _, h := range req.Header {
		// Set the key as written: some SOAP stacks match "SOAPAction"
		// case-sensitively, and canonicalizing would send "Soapaction".
		hreq.Header[h.Name] = append(hreq.Header[h.Name], h.Value)
	}
	hreq.Header.Set(s.opts.IdempotencyHeader, j.Key)
	hreq.Header.Set("User-Agent", s.opts.UserAgent)

	resp, err := hc.Do(hreq)
	if err != nil {
		return delivery.Outcome{Class: delivery.Retryable, Err: transportError(err, host, private)}, ""
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainBytes))
		resp.Body.Close()
	}()

	body, truncated, err := readBody(resp.Body, s.opts.MaxResponseBytes)
	if err != nil {
		err = fmt.Errorf("read SOAP response from host %s (status %d): %w", host, resp.StatusCode, err)
		return delivery.Outcome{Class: delivery.Retryable, Status: resp.StatusCode, Err: err}, ""
	}
	return s.classify(resp, body, truncated, private)
}

// transportError describes a request that got no response. For a private
// application the URL is replaced by its host.
func transportError(err error, host string, private bool) error {
	var urlErr *url.Error
	if private && errors.As(err, &urlErr) {
		return fmt.Errorf("send SOAP request to host %s: %w", host, urlErr.Err)
	}
	return fmt.Errorf("send SOAP request: %w", err)
}

// readBody reads at most limit bytes and reports whether more followed.
func readBody(r io.Reader, limit int64) ([]byte, bool, error) {
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(body)) > limit {
		return body[:limit], true, nil
	}
	return body, false, nil
}

// classify turns a reply into an outcome. A Fault in the body decides
// before the status does. Then 2xx with a SOAP envelope (or an empty body)
// is delivered, and anything that is not SOAP is an error.
func (s *Sender) classify(resp *http.Response, body []byte, truncated, private bool) (delivery.Outcome, string) {
	out := delivery.Outcome{Status: resp.StatusCode}
	ok := resp.StatusCode >= 200 && resp.StatusCode <= 299
	contentType := resp.Header.Get("Content-Type")

	if len(bytes.TrimSpace(body)) == 0 {
		if ok {
			out.Class = delivery.Delivered
			return out, ""
		}
		return s.byStatus(out, resp, &StatusError{Status: resp.StatusCode, Reason: reasonPhrase(resp, private)}), ""
	}

	text, convErr := toUTF8(body, contentType)
	if isXMLMedia(contentType) && convErr == nil {
		fault, err := parseReply(text, truncated)
		if err == nil {
			switch {
			case fault != nil:
				return s.faultOutcome(out, resp, fault, private)
			case ok:
				out.Class = delivery.Delivered
				return out, ""
			}
			return s.byStatus(out, resp, &StatusError{Status: resp.StatusCode, Reason: reasonPhrase(resp, private)}), ""
		}
	}

	nonSOAP := &NonSOAPError{Status: resp.StatusCode, Private: private}
	if !private {
		nonSOAP.Reason = reasonPhrase(resp, false)
		nonSOAP.ContentType = contentType
		nonSOAP.Snippet, nonSOAP.Truncated = snippet(body, truncated)
	}
	if ok {
		// The server took the request but did not respond in SOAP, so
		// whether the call was logged is unknown. Retrying keeps the
		// at-least-once promise, and the idempotency key lets the server
		// drop a repeat.
		out.Class, out.Err = delivery.Retryable, nonSOAP
		return out, ""
	}
	return s.byStatus(out, resp, nonSOAP), ""
}

func (s *Sender) faultOutcome(out delivery.Outcome, resp *http.Response, fault *Fault, private bool) (delivery.Outcome, string) {
	fault.HTTPStatus = resp.StatusCode
	detail := fault.Detail
	if private {
		fault, detail = fault.redact(), ""
	}
	out.Err = fault
	if fault.Permanent() {
		out.Class = delivery.Permanent
		return out, detail
	}
	out.Class = delivery.Retryable
	out.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), s.opts.MaxRetryAfter, time.Now())
	return out, detail
}

// byStatus classifies a reply without a fault by its status, like REST:
// 5xx, 408, 425 and 429 are retried (honoring Retry-After), 3xx and other
// 4xx are permanent.
func (s *Sender) byStatus(out delivery.Outcome, resp *http.Response, err error) delivery.Outcome {
	out.Err = err
	switch code := resp.StatusCode; {
	case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests:
		out.Class = delivery.Retryable
		out.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), s.opts.MaxRetryAfter, time.Now())
	case code >= 300 && code <= 399:
		out.Class = delivery.Permanent
		out.Err = fmt.Errorf("redirect not followed, fix the endpoint address in the WSDL: %w", err)
	default:
		out.Class = delivery.Permanent
	}
	return out
}

// StatusError reports a reply whose status failed the request and that
// holds no SOAP fault (for example an empty 415).
type StatusError struct {
	Status int
	// Reason is the reason phrase of the status line, which some servers
	// use for the explanation (WCF's 415 does). For a private application
	// it is the standard text of the status.
	Reason string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("webservice responded with status %d without a SOAP fault: reason phrase %q", e.Status, e.Reason)
}

// NonSOAPError reports a reply that is not a SOAP envelope: an HTML error
// page, a wrong content type, or XML of another kind.
type NonSOAPError struct {
	Status int
	// Reason is the reason phrase of the status line.
	Reason      string
	ContentType string
	// Snippet is the start of the body, at most 256 bytes.
	Snippet string
	// Truncated is set when the body was longer than Snippet.
	Truncated bool
	// Private is set when Reason, ContentType and Snippet were left out
	// because the application is private.
	Private bool
}

func (e *NonSOAPError) Error() string {
	if e.Private {
		return fmt.Sprintf("non-SOAP response: status %d (content type and body hidden: private application)", e.Status)
	}
	cut := ""
	if e.Truncated {
		cut = " (truncated)"
	}
	return fmt.Sprintf("non-SOAP response: status %d %s, content type %q, body %q%s",
		e.Status, e.Reason, e.ContentType, e.Snippet, cut)
}

// reasonPhrase returns the reason phrase of the status line, bounded, or
// for a private application the standard text of the status code.
func reasonPhrase(resp *http.Response, private bool) string {
	reason := strings.TrimSpace(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)))
	if private || reason == "" {
		return http.StatusText(resp.StatusCode)
	}
	if len(reason) > snippetBytes {
		reason = strings.ToValidUTF8(reason[:snippetBytes], "") + "..."
	}
	return reason
}

// snippet returns the start of body, cut at a rune boundary.
func snippet(body []byte, truncated bool) (string, bool) {
	if len(body) <= snippetBytes {
		return strings.ToValidUTF8(string(body), "\uFFFD"), truncated
	}
	cut := snippetBytes
	for cut > 0 && !utf8.RuneStart(body[cut]) {
		cut--
	}
	return strings.ToValidUTF8(string(body[:cut]), "\uFFFD"), true
}

// isXMLMedia reports whether a Content-Type may carry a SOAP envelope. A
// missing Content-Type is given the benefit of the doubt.
func isXMLMedia(contentType string) bool {
	if strings.TrimSpace(contentType) == "" {
		return true
	}
	media, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch media {
	case "text/xml", "application/soap+xml", "application/xml":
		return true
	}
	return strings.HasSuffix(media, "+xml")
}

// retryAfter parses a Retry-After value, delay-seconds or an HTTP date,
// capped by limit. An invalid or past value gives 0.
func retryAfter(value string, limit time.Duration, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(value, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(limit/time.Second) {
			return limit
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(value); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), limit)
}

// log writes one debug entry per attempt, and a warning for a fault or a
// rejected media type, which an operator has to act on.
func (s *Sender) log(j *delivery.Job, out delivery.Outcome, detail string) {
	entry := s.opts.Logger.WithFields(logrus.Fields{
		"app":     j.App,
		"call_id": j.CallID,
		// The spool counts this attempt in j.Attempts before Send. A job
		// sent without the spool has 0 there and is numbered 1.
		"attempt":     max(j.Attempts, 1),
		"status":      out.Status,
		"duration_ms": out.Duration.Milliseconds(),
	})
	if out.Err != nil {
		entry = entry.WithField("error", out.Err.Error())
	}

	var fault *Fault
	var status *StatusError
	switch {
	case errors.As(out.Err, &fault):
		if detail != "" {
			if len(detail) > detailLogBytes {
				detail = strings.ToValidUTF8(detail[:detailLogBytes], "") + "..."
			}
			entry = entry.WithField("detail", detail)
		}
		entry.Warn("SOAP fault received")
	case errors.As(out.Err, &status) && status.Status == http.StatusUnsupportedMediaType:
		entry.Warn("webservice rejected the request's content type; the error holds its reason phrase")
	default:
		entry.WithField("outcome", out.Class.String()).Debug("SOAP attempt finished")
	}
}
