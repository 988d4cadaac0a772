package rest

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/render"
)

// testKey is the job key of every test job.
const testKey = "c0c0c0c0-0000-4000-8000-00000000c0e1/a1a1a1a1-0000-4000-8000-000000000015"

// seenRequest is what a test server received.
type seenRequest struct {
	Method     string
	RequestURI string
	Path       string
	Query      url.Values
	Host       string
	Header     http.Header
	Body       []byte
}

// recorder stores the requests a test server receives.
type recorder struct {
	mu       sync.Mutex
	requests []seenRequest
}

func (rec *recorder) record(r *http.Request) seenRequest {
	body, _ := io.ReadAll(r.Body)
	seen := seenRequest{
		Method:     r.Method,
		RequestURI: r.RequestURI,
		Path:       r.URL.Path,
		Query:      r.URL.Query(),
		Host:       r.Host,
		Header:     r.Header.Clone(),
		Body:       body,
	}
	rec.mu.Lock()
	rec.requests = append(rec.requests, seen)
	rec.mu.Unlock()
	return seen
}

func (rec *recorder) all() []seenRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seenRequest(nil), rec.requests...)
}

// only returns the one request the server received, and fails the test
// unless there was exactly one.
func (rec *recorder) only(t *testing.T) seenRequest {
	t.Helper()
	all := rec.all()
	if len(all) != 1 {
		t.Fatalf("server received %d requests, want 1", len(all))
	}
	return all[0]
}

// newServer starts a fresh loopback server that records every request
// and then calls respond, or responds 200 "ok" when respond is nil.
func newServer(t testing.TB, respond http.HandlerFunc) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		if respond == nil {
			_, _ = io.WriteString(w, "ok")
			return
		}
		respond(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

func newTestSender(t *testing.T, opts Options) *Sender {
	t.Helper()
	s, err := NewSender(opts)
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func newTestTemplate(t *testing.T, app *conf.App) *Template {
	t.Helper()
	if app.Type == "" {
		app.Type = "rest"
	}
	if app.Name == "" {
		app.Name = "main_menu"
	}
	tmpl, err := NewTemplate(app)
	if err != nil {
		t.Fatalf("NewTemplate: %v", err)
	}
	return tmpl
}

// newJob renders the template into a job and fails the test when a
// variable is missing.
func newJob(t *testing.T, tmpl *Template, vars render.Vars) *delivery.Job {
	t.Helper()
	req, missing := tmpl.Render(vars)
	if len(missing) != 0 {
		t.Fatalf("variables missing: %q", missing)
	}
	return &delivery.Job{
		Key:     testKey,
		App:     "main_menu",
		CallID:  "a1a1a1a1-0000-4000-8000-000000000015",
		Kind:    delivery.KindREST,
		Request: req,
	}
}

func send(s *Sender, job *delivery.Job) delivery.Outcome {
	return s.Send(context.Background(), job)
}

// eslValue returns the decoded value of header name in an event-plain
// capture: FreeSWITCH percent-encodes plain header values once.
func eslValue(t *testing.T, file, name string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		key, value, ok := strings.Cut(scanner.Text(), ": ")
		if ok && key == name {
			decoded, err := url.PathUnescape(value)
			if err != nil {
				t.Fatalf("%s: header %s: %v", file, name, err)
			}
			return decoded
		}
	}
	t.Fatalf("%s has no header %s", file, name)
	return ""
}

func wantOutcome(t *testing.T, out delivery.Outcome, class delivery.Class, status int) {
	t.Helper()
	if out.Class != class {
		t.Errorf("class = %v, want %v (error: %v)", out.Class, class, out.Err)
	}
	if out.Status != status {
		t.Errorf("status = %d, want %d", out.Status, status)
	}
	if class == delivery.Delivered && out.Err != nil {
		t.Errorf("delivered with error %v", out.Err)
	}
	if class != delivery.Delivered && out.Err == nil {
		t.Errorf("class %v without an error", class)
	}
}
