package rest

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/render"
	"github.com/postcall/postcall/signing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		status int
		want   delivery.Class
	}{
		{200, delivery.Delivered},
		{201, delivery.Delivered},
		{204, delivery.Delivered},
		{301, delivery.Permanent},
		{302, delivery.Permanent},
		{303, delivery.Permanent},
		{304, delivery.Permanent},
		{305, delivery.Permanent},
		{306, delivery.Permanent},
		{307, delivery.Permanent},
		{308, delivery.Permanent},
		{400, delivery.Permanent},
		{401, delivery.Permanent},
		{404, delivery.Permanent},
		{408, delivery.Retryable},
		{409, delivery.Permanent},
		{425, delivery.Retryable},
		{429, delivery.Retryable},
		{500, delivery.Retryable},
		{502, delivery.Retryable},
		{503, delivery.Retryable},
		{504, delivery.Retryable},
	}
	for _, tc := range tests {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			if got := Classify(tc.status); got != tc.want {
				t.Errorf("Classify(%d) = %v, want %v", tc.status, got, tc.want)
			}

			// The same status from a real server, to a POST that does not
			// follow redirects.
			srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.status >= 300 && tc.status < 400 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tc.status)
			})
			tmpl := newTestTemplate(t, &conf.App{RequestType: "POST", URL: srv.URL + "/hook", Params: []conf.Param{{Name: "a", Value: "1"}}})
			out := send(newTestSender(t, Options{}), newJob(t, tmpl, nil))
			wantOutcome(t, out, tc.want, tc.status)
			if n := len(rec.all()); n != 1 {
				t.Errorf("server received %d requests, want 1", n)
			}
			if tc.want != delivery.Delivered && !strings.Contains(out.Err.Error(), "status "+strconv.Itoa(tc.status)) {
				t.Errorf("error %q does not name the status", out.Err)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 4, 19, 0, 0, 0, time.UTC)
	future := now.Add(90 * time.Minute)
	past := now.Add(-time.Hour)
	tests := []struct {
		name  string
		value string
		want  time.Duration
	}{
		{"seconds", "120", 2 * time.Minute},
		{"zero seconds", "0", 0},
		{"seconds with spaces", " 30 ", 30 * time.Second},
		{"RFC 1123 date", future.Format(http.TimeFormat), 90 * time.Minute},
		{"RFC 850 date", future.Format(time.RFC850), 90 * time.Minute},
		{"ANSI C date", future.Format(time.ANSIC), 90 * time.Minute},
		{"past date", past.Format(http.TimeFormat), 0},
		{"huge seconds capped", "99999999999999999999999", 2 * time.Hour},
		{"seconds above cap", "7201", 2 * time.Hour},
		{"date above cap", now.Add(10 * time.Hour).Format(http.TimeFormat), 2 * time.Hour},
		{"empty", "", 0},
		{"negative", "-5", 0},
		{"fraction", "1.5", 0},
		{"words", "soon", 0},
		{"date without zone", "2026-12-04 20:00:00", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseRetryAfter(tc.value, now, 2*time.Hour); got != tc.want {
				t.Errorf("ParseRetryAfter(%q) = %s, want %s", tc.value, got, tc.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 4, 19, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		status     int
		retryAfter string
		class      delivery.Class
		want       time.Duration
	}{
		{"503 seconds", 503, "30", delivery.Retryable, 30 * time.Second},
		{"429 RFC 1123 date", 429, now.Add(5 * time.Minute).Format(http.TimeFormat), delivery.Retryable, 5 * time.Minute},
		{"503 RFC 850 date", 503, now.Add(5 * time.Minute).Format(time.RFC850), delivery.Retryable, 5 * time.Minute},
		{"503 ANSI C date", 503, now.Add(5 * time.Minute).Format(time.ANSIC), delivery.Retryable, 5 * time.Minute},
		{"503 past date", 503, now.Add(-time.Minute).Format(http.TimeFormat), delivery.Retryable, 0},
		{"503 huge value capped", 503, "86400000", delivery.Retryable, 10 * time.Minute},
		{"503 invalid", 503, "tomorrow", delivery.Retryable, 0},
		{"400 ignored", 400, "30", delivery.Permanent, 0},
		{"200 ignored", 200, "30", delivery.Delivered, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", tc.retryAfter)
				w.WriteHeader(tc.status)
			})
			sender := newTestSender(t, Options{MaxRetryAfter: 10 * time.Minute})
			sender.now = func() time.Time { return now }
			tmpl := newTestTemplate(t, &conf.App{RequestType: "GET", URL: srv.URL + "/hook"})

			out := send(sender, newJob(t, tmpl, nil))
			wantOutcome(t, out, tc.class, tc.status)
			if out.RetryAfter != tc.want {
				t.Errorf("RetryAfter = %s, want %s", out.RetryAfter, tc.want)
			}
		})
	}
}

func TestIdempotencyKeyEveryAttempt(t *testing.T) {
	var calls atomic.Int32
	srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	tmpl := newTestTemplate(t, &conf.App{RequestType: "PUT", URL: srv.URL + "/hook", Body: "x"})
	sender := newTestSender(t, Options{IdempotencyHeader: "X-Request-Key"})
	job := newJob(t, tmpl, nil)

	wantOutcome(t, send(sender, job), delivery.Retryable, http.StatusServiceUnavailable)
	job.Attempts++
	wantOutcome(t, send(sender, job), delivery.Delivered, http.StatusNoContent)

	for i, r := range rec.all() {
		if got := r.Header.Get("X-Request-Key"); got != testKey {
			t.Errorf("attempt %d: X-Request-Key = %q, want %q", i+1, got, testKey)
		}
		if got := r.Header.Get("User-Agent"); got != DefaultUserAgent {
			t.Errorf("attempt %d: User-Agent = %q, want %q", i+1, got, DefaultUserAgent)
		}
	}
}

func TestSignerHeaders(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	signer, err := signing.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	srv, rec := newServer(t, nil)
	tmpl := newTestTemplate(t, &conf.App{
		RequestType: "POST RAW",
		URL:         srv.URL + "/hook",
		Headers:     []conf.Header{{Name: "Content-Type", Value: "application/json"}},
		Body:        `{"caller":"{{caller}}"}`,
	})
	job := newJob(t, tmpl, render.Vars{"caller": "Test Caller"})
	job.Key = "c0c0c0c0-0000-4000-8000-00000000c0e1_a1a1a1a1-0000-4000-8000-000000000015"

	out := send(newTestSender(t, Options{Signer: signer}), job)
	wantOutcome(t, out, delivery.Delivered, http.StatusOK)
	seen := rec.only(t)
	if err := signing.Verify(secret, seen.Header, seen.Body, 5*time.Minute); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	if got := seen.Header.Get(signing.HeaderID); got != job.Key {
		t.Errorf("webhook-id = %q, want the job key %q", got, job.Key)
	}
}

func TestResponseBodyBounded(t *testing.T) {
	big := bytes.Repeat([]byte("e"), 100<<10)
	tests := []struct {
		name   string
		status int
		size   int
		class  delivery.Class
	}{
		{"large 200 is delivered", 200, len(big), delivery.Delivered},
		{"large 500 is quoted briefly", 500, len(big), delivery.Retryable},
		{"huge 200 is delivered", 200, 4 << 20, delivery.Delivered},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var conns atomic.Int32
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				for written := 0; written < tc.size; written += len(big) {
					if _, err := w.Write(big[:min(len(big), tc.size-written)]); err != nil {
						return
					}
				}
			}))
			srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
				if state == http.StateNew {
					conns.Add(1)
				}
			}
			srv.Start()
			t.Cleanup(srv.Close)
			tmpl := newTestTemplate(t, &conf.App{RequestType: "GET", URL: srv.URL + "/hook"})
			sender := newTestSender(t, Options{})

			for range 2 {
				out := send(sender, newJob(t, tmpl, nil))
				wantOutcome(t, out, tc.class, tc.status)
				if out.Err != nil && len(out.Err.Error()) > maxSnippetBytes+200 {
					t.Errorf("error is %d bytes long, want the response cut to a snippet", len(out.Err.Error()))
				}
			}
			// A body within MaxResponseBytes plus the drained amount
			// leaves the connection reusable.
			if tc.size <= DefaultMaxResponseBytes+drainBytes && conns.Load() != 1 {
				t.Errorf("server saw %d connections, want 1 reused", conns.Load())
			}
		})
	}
}

func TestSendRejectsBadJob(t *testing.T) {
	srv, rec := newServer(t, nil)
	tests := []struct {
		name    string
		request *delivery.Request
		errText string
	}{
		{"no request", nil, "has no REST request"},
		{"relative URL", &delivery.Request{Method: "POST", URL: "/hook"}, "invalid URL"},
		{"ftp URL", &delivery.Request{Method: "POST", URL: "ftp://127.0.0.1/x"}, "invalid URL"},
		{"bad method", &delivery.Request{Method: "PO ST", URL: srv.URL}, "invalid HTTP method"},
		{"bad header name", &delivery.Request{Method: "POST", URL: srv.URL, Header: []delivery.Field{{Name: "X Bad", Value: "1"}}}, "invalid header name"},
		{"invalid Host", &delivery.Request{Method: "POST", URL: srv.URL, Header: []delivery.Field{{Name: "Host", Value: "a b"}}}, "invalid Host header"},
		{"header value with CR LF", &delivery.Request{Method: "POST", URL: srv.URL, Header: []delivery.Field{{Name: "X-Caller", Value: "a\r\nX-Injected: yes"}}}, "control characters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job := &delivery.Job{Key: testKey, App: "main_menu", Request: tc.request}
			out := send(newTestSender(t, Options{}), job)
			wantOutcome(t, out, delivery.Permanent, 0)
			if !strings.Contains(out.Err.Error(), tc.errText) {
				t.Errorf("error %q does not contain %q", out.Err, tc.errText)
			}
			if strings.Contains(out.Err.Error(), "X-Injected") {
				t.Errorf("error %q shows the header value", out.Err)
			}
		})
	}
	if n := len(rec.all()); n != 0 {
		t.Errorf("server received %d requests, want none", n)
	}
}

func TestConnectionRefusedRetryable(t *testing.T) {
	addr := closedAddr(t)
	tmpl := newTestTemplate(t, &conf.App{RequestType: "GET", URL: "http://" + addr + "/hook"})
	out := send(newTestSender(t, Options{}), newJob(t, tmpl, nil))
	wantOutcome(t, out, delivery.Retryable, 0)
	if !errors.Is(out.Err, syscall.ECONNREFUSED) {
		t.Errorf("error %v does not wrap ECONNREFUSED", out.Err)
	}
	if !strings.Contains(out.Err.Error(), "connection refused") {
		t.Errorf("error %q does not say the connection was refused", out.Err)
	}
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestSendHonorsContext(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	tmpl := newTestTemplate(t, &conf.App{RequestType: "GET", URL: srv.URL + "/hook"})
	sender := newTestSender(t, Options{Timeout: time.Minute})

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	out := sender.Send(ctx, newJob(t, tmpl, nil))
	wantOutcome(t, out, delivery.Retryable, 0)
	if !errors.Is(out.Err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", out.Err)
	}
}

func TestNewSenderErrors(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		errText string
	}{
		{"negative timeout", Options{Timeout: -time.Second}, "invalid timeout"},
		{"negative response size", Options{MaxResponseBytes: -1}, "invalid max_response_bytes"},
		{"negative retry cap", Options{MaxRetryAfter: -time.Second}, "invalid max_retry_after"},
		{"bad idempotency header", Options{IdempotencyHeader: "Idempotency Key"}, "invalid idempotency_header"},
		{"user agent with newline", Options{UserAgent: "postcall\r\nX: y"}, "invalid user_agent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSender(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("NewSender error = %v, want it to contain %q", err, tc.errText)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"https://user:pw@crm.example.com/api/calls?token=x#f", "https://crm.example.com:443"},
		{"http://crm.example.com/a", "http://crm.example.com:80"},
		{"http://127.0.0.1:8080/secret", "http://127.0.0.1:8080"},
		{"HTTPS://[::1]/x", "https://[::1]:443"},
		{"/relative/path?x=1", "(invalid URL)"},
		{"http://bad host/%zz", "(invalid URL)"},
		{"", "(invalid URL)"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := RedactURL(tc.in); got != tc.want {
				t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// privateMarkers are strings that appear only in the path, query, header
// values, parameters, body or response of the private application.
var privateMarkers = []string{
	"secret-path", "secret-account", "query-secret", "header-secret", "param-secret",
	"body-secret", "response-secret", "redirect-secret", "Bearer",
}

func TestPrivateRedaction(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
		url     func(srv string) string
		timeout time.Duration
		class   delivery.Class
		// detail must appear in the error of the application that is not
		// private.
		detail string
	}{
		{name: "delivered", class: delivery.Delivered},
		{
			name: "500 with a body", class: delivery.Retryable, detail: "response-secret",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(500)
				_, _ = w.Write([]byte("error: response-secret for query-secret"))
			},
		},
		{
			name: "connection refused", class: delivery.Retryable, detail: "secret-path",
			url: func(string) string { return "http://" + closedAddr(t) },
		},
		{
			name: "timeout", class: delivery.Retryable, detail: "secret-path", timeout: 200 * time.Millisecond,
			handler: func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
		},
		{
			name: "redirect", class: delivery.Permanent, detail: "redirect-secret",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/redirect-secret/next?query-secret=1", http.StatusFound)
			},
		},
	}
	for _, tc := range cases {
		for _, private := range []bool{true, false} {
			name := tc.name + "/public"
			if private {
				name = tc.name + "/private"
			}
			t.Run(name, func(t *testing.T) {
				srv, _ := newServer(t, tc.handler)
				base := srv.URL
				if tc.url != nil {
					base = tc.url(srv.URL)
				}
				var logs bytes.Buffer
				logger := logrus.New()
				logger.Out = &logs
				logger.Level = logrus.DebugLevel
				logger.Formatter = &logrus.JSONFormatter{}

				app := &conf.App{
					RequestType: "PUT",
					URL:         base + "/secret-path/{{account}}?token=query-secret",
					Private:     private,
					Headers: []conf.Header{
						{Name: "Authorization", Value: "Bearer header-secret"},
						{Name: "X-Caller", Value: "{{caller}}"},
						{Name: "Content-Type", Value: "application/json"},
					},
					Params: []conf.Param{{Name: "p", Value: "param-secret"}},
					Body:   `{"note":"body-secret {{caller}}"}`,
				}
				tmpl := newTestTemplate(t, app)
				job := newJob(t, tmpl, render.Vars{"account": "secret-account", "caller": "header-secret caller"})
				sender := newTestSender(t, Options{Private: app.Private, Logger: logger, Timeout: tc.timeout})

				out := send(sender, job)
				if out.Class != tc.class {
					t.Fatalf("class = %v, want %v (error %v)", out.Class, tc.class, out.Err)
				}
				host := strings.TrimPrefix(base, "http://")
				errText := ""
				if out.Err != nil {
					errText = out.Err.Error()
					if !strings.Contains(errText, host) {
						t.Errorf("error %q does not name the host %s", errText, host)
					}
				}
				if !strings.Contains(logs.String(), host) {
					t.Errorf("log does not name the host %s:\n%s", host, logs.String())
				}
				if !strings.Contains(logs.String(), `"call_id":"a1a1a1a1-0000-4000-8000-000000000015"`) {
					t.Errorf("log does not name the call id:\n%s", logs.String())
				}

				if !private {
					if tc.detail != "" && !strings.Contains(errText, tc.detail) {
						t.Errorf("public error %q does not show %q", errText, tc.detail)
					}
					return
				}
				for _, marker := range privateMarkers {
					if strings.Contains(errText, marker) {
						t.Errorf("private error %q contains %q", errText, marker)
					}
					if strings.Contains(logs.String(), marker) {
						t.Errorf("private log contains %q:\n%s", marker, logs.String())
					}
				}
				for err := errors.Unwrap(out.Err); err != nil; err = errors.Unwrap(err) {
					for _, marker := range privateMarkers {
						if strings.Contains(err.Error(), marker) {
							t.Errorf("wrapped error %q contains %q", err, marker)
						}
					}
				}
			})
		}
	}
}

func TestPrivateJobRedacted(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(502)
		_, _ = w.Write([]byte("response-secret"))
	})
	tmpl := newTestTemplate(t, &conf.App{RequestType: "GET", URL: srv.URL + "/secret-path"})
	job := newJob(t, tmpl, nil)
	job.Private = true

	out := send(newTestSender(t, Options{}), job)
	wantOutcome(t, out, delivery.Retryable, 502)
	if strings.Contains(out.Err.Error(), "secret") {
		t.Errorf("error %q of a private job shows its path or response", out.Err)
	}
}

func TestHostHeaderOverride(t *testing.T) {
	srv, rec := newServer(t, nil)
	tmpl := newTestTemplate(t, &conf.App{
		RequestType: "GET",
		URL:         srv.URL + "/hook",
		Headers:     []conf.Header{{Name: "Host", Value: "crm.example.com"}},
	})
	out := send(newTestSender(t, Options{}), newJob(t, tmpl, nil))
	wantOutcome(t, out, delivery.Delivered, http.StatusOK)
	if got := rec.only(t).Host; got != "crm.example.com" {
		t.Errorf("server saw Host %q, want crm.example.com", got)
	}
}
