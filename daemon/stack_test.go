package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/daemon"
	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/esl/esltest"
)

// waitLimit is the default bound of every wait on a condition. It is far
// above what a passing test needs, so it only decides how long a failing
// test hangs.
const waitLimit = 30 * time.Second

// pollInterval is how often a condition without a notification is checked.
const pollInterval = 10 * time.Millisecond

// stackOptions configure startStack. Zero fields take the defaults named
// in their comments, chosen so that tests run quickly.
type stackOptions struct {
	// apps maps an application file name (without .toml) to its TOML text.
	// "@RECEIVER@" is replaced with the receiver's base URL, and every key
	// of replace with its value.
	apps    map[string]string
	replace map[string]string
	// handler responds to the receiver's requests after they are recorded.
	// Default: 200 with the body "ok".
	handler http.HandlerFunc

	eventFormat  string  // [freeswitch] event_format, default json
	password     string  // [freeswitch] password, default ClueCon
	watchdog     string  // [freeswitch] watchdog, default 10s
	reconnectMin string  // default 20ms
	reconnectMax string  // default 200ms
	appVar       string  // [variables] app, default fuse_app
	exitGrace    string  // [variables] exit_grace, default 300ms
	timeout      float64 // [delivery] timeout in seconds, default 5
	workers      int     // [delivery] workers, default 16
	perApp       int     // [delivery] per_app, default 8
	retryInitial string  // [delivery.retry] initial_delay, default 50ms
	retryMax     string  // [delivery.retry] max_delay, default 200ms
	maxAttempts  int     // [delivery.retry] max_attempts, default 3
	admin        bool    // listen on 127.0.0.1 with a port the system picks, else off

	fake  esltest.Options
	debug bool // log at debug level instead of info
	// wait bounds each wait on a condition. Default waitLimit.
	wait time.Duration
	// noSubscribeWait skips the wait for the daemon's subscription, for
	// tests in which the daemon never gets that far.
	noSubscribeWait bool
}

func (o *stackOptions) fillDefaults() {
	setString := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	setString(&o.eventFormat, "json")
	setString(&o.password, esl.DefaultPassword)
	setString(&o.watchdog, "10s")
	setString(&o.reconnectMin, "20ms")
	setString(&o.reconnectMax, "200ms")
	setString(&o.appVar, "fuse_app")
	setString(&o.exitGrace, "300ms")
	setString(&o.retryInitial, "50ms")
	setString(&o.retryMax, "200ms")
	if o.timeout == 0 {
		o.timeout = 5
	}
	if o.workers == 0 {
		o.workers = 16
	}
	if o.perApp == 0 {
		o.perApp = 8
	}
	if o.maxAttempts == 0 {
		o.maxAttempts = 3
	}
	if o.wait == 0 {
		o.wait = waitLimit
	}
	if o.handler == nil {
		o.handler = func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }
	}
}

// stack is one daemon wired to a fake FreeSWITCH and a recording
// webservice, with its configuration in a temporary folder.
type stack struct {
	t        testing.TB
	opts     stackOptions
	fake     *esltest.Server
	recv     *receiver
	logs     *logBuffer
	d        *daemon.Daemon
	dir      string
	mainFile string
}

// startStack starts a fake FreeSWITCH, a receiver and a daemon configured
// by opts, and waits until the daemon has subscribed to events. Everything
// is stopped when the test ends, the daemon first.
func startStack(t testing.TB, opts stackOptions) *stack {
	t.Helper()
	opts.fillDefaults()

	s := &stack{t: t, opts: opts, dir: t.TempDir(), logs: &logBuffer{}}
	s.recv = newReceiver(opts.handler)
	t.Cleanup(s.recv.close)
	s.fake = esltest.NewServer(opts.fake)
	t.Cleanup(s.fake.Close)

	if err := os.MkdirAll(filepath.Join(s.dir, "apps.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range opts.apps {
		s.writeApp(name, text)
	}
	s.mainFile = filepath.Join(s.dir, "postcall.toml")
	if err := os.WriteFile(s.mainFile, []byte(s.mainTOML()), 0o644); err != nil {
		t.Fatal(err)
	}

	cfg, err := conf.Load(s.mainFile)
	if err != nil {
		t.Fatalf("load the test configuration: %v", err)
	}
	if opts.admin {
		// conf rejects port 0 in [admin] listen, so the file leaves the
		// listener off and the loaded configuration asks for a free port.
		cfg.Main.Admin.Listen = "127.0.0.1:0"
	}
	logger := logrus.New()
	logger.SetOutput(s.logs)
	logger.SetFormatter(&logrus.JSONFormatter{})
	logger.SetLevel(logrus.InfoLevel)
	if opts.debug {
		logger.SetLevel(logrus.DebugLevel)
	}
	s.d, err = daemon.New(cfg, daemon.Options{Logger: logger, Version: "test", ShutdownTimeout: time.Second})
	if err != nil {
		t.Fatalf("daemon.New: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v", err)
			}
		case <-time.After(waitLimit):
			t.Errorf("Run did not return within %s of the stop", waitLimit)
		}
	})

	if !opts.noSubscribeWait {
		s.waitSubscribed()
	}
	return s
}

// mainTOML returns the main file for the stack's options.
func (s *stack) mainTOML() string {
	o := &s.opts
	var b strings.Builder
	fmt.Fprintf(&b, "apps = [\"apps.d/*.toml\"]\n\n")
	fmt.Fprintf(&b, "[freeswitch]\naddress = %q\npassword = %q\nevent_format = %q\n", s.fake.Addr(), o.password, o.eventFormat)
	fmt.Fprintf(&b, "reconnect_min = %q\nreconnect_max = %q\nwatchdog = %q\n\n", o.reconnectMin, o.reconnectMax, o.watchdog)
	fmt.Fprintf(&b, "[variables]\napp = %q\nexit_grace = %q\n\n", o.appVar, o.exitGrace)
	// The spool creates its folder, with the mode it wants.
	fmt.Fprintf(&b, "[spool]\npath = %q\n\n", filepath.ToSlash(filepath.Join(s.dir, "spool", "spool.db")))
	fmt.Fprintf(&b, "[delivery]\ntimeout = %g\nworkers = %d\nper_app = %d\n\n", o.timeout, o.workers, o.perApp)
	fmt.Fprintf(&b, "[delivery.retry]\ninitial_delay = %q\nmax_delay = %q\nmax_attempts = %d\n\n", o.retryInitial, o.retryMax, o.maxAttempts)
	fmt.Fprintf(&b, "[admin]\nlisten = \"\"\n")
	return b.String()
}

// writeApp writes (or replaces) the application file name.toml.
func (s *stack) writeApp(name, text string) {
	s.t.Helper()
	text = strings.ReplaceAll(text, "@RECEIVER@", s.recv.URL())
	for from, to := range s.opts.replace {
		text = strings.ReplaceAll(text, from, to)
	}
	path := filepath.Join(s.dir, "apps.d", name+".toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// waitSubscribed waits until the fake has a subscribed connection and the
// daemon has read the reply to its subscription, and returns the event
// command. The fake records the command before the daemon reads the
// reply, so a connection dropped in between was never connected for the
// daemon.
func (s *stack) waitSubscribed() string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.wait)
	defer cancel()
	sub, err := s.fake.WaitSubscribed(ctx)
	if err != nil {
		s.t.Fatalf("the daemon did not subscribe: %v\nlog:\n%s", err, s.logs.String())
	}
	s.waitFor("the daemon to read the subscription reply", func() bool { return s.d.ESLStatus().Connected })
	return sub
}

// send queues events on the fake in order and fails when one reaches no
// client.
func (s *stack) send(events ...esl.Event) {
	s.t.Helper()
	for _, ev := range events {
		if n := s.fake.SendEvent(ev); n != 1 {
			s.t.Fatalf("SendEvent(%s %s) reached %d clients, want 1", ev.Name(), ev.Get("Unique-ID"), n)
		}
	}
}

// sendFrame queues raw frame bytes on the fake.
func (s *stack) sendFrame(raw []byte) {
	s.t.Helper()
	if n := s.fake.SendFrame(raw); n != 1 {
		s.t.Fatalf("SendFrame reached %d clients, want 1", n)
	}
}

// waitFor polls cond until it returns true, and fails the test with what
// and the captured log when the stack's wait limit passes first.
func (s *stack) waitFor(what string, cond func() bool) {
	s.t.Helper()
	waitFor(s.t, s.opts.wait, what, cond, func() string { return s.logs.String() })
}

// waitFor polls cond until it returns true, and fails the test with what
// and the output of explain (when not nil) once limit passes first.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool, explain func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			detail := ""
			if explain != nil {
				detail = "\nlog:\n" + explain()
			}
			t.Fatalf("timed out after %s waiting for %s%s", limit, what, detail)
		}
		time.Sleep(pollInterval)
	}
}

// barrierApp is the application name of barrier events. No stack
// configures it, so the call model counts each barrier as an unknown
// application and fires nothing.
const barrierApp = "test-barrier"

// barrier sends a hangup naming barrierApp after everything sent so far and
// waits until the call model has counted it. The call model handles events
// one at a time in wire order, and it counts an event's outcome only at the
// end of handling it, so every event sent before the barrier is handled by
// then.
func (s *stack) barrier() {
	s.t.Helper()
	before := s.d.Snapshot().Calls["unknown_apps"]
	s.send(esl.Event{Headers: []esl.Header{
		{Name: "Event-Name", Value: "CHANNEL_HANGUP_COMPLETE"},
		{Name: "Core-UUID", Value: "barrier"},
		{Name: "Unique-ID", Value: esltest.NewUUID()},
		{Name: "Call-Direction", Value: "inbound"},
		{Name: "variable_" + s.opts.appVar, Value: barrierApp},
	}})
	s.waitFor("the call model to reach the barrier event", func() bool {
		return s.d.Snapshot().Calls["unknown_apps"] > before
	})
}

// waitSettled waits until the call model has handled every event sent so
// far and every job it fired has reached a final state (delivered or
// dead), so no further request can arrive. It returns the status then.
// An exit event still waiting for its hangup can fire later.
func (s *stack) waitSettled() daemon.Status {
	s.t.Helper()
	s.barrier()
	var last daemon.Status
	s.waitFor("every job delivered or dead", func() bool {
		last = s.d.Snapshot()
		qs := s.d.QueueStats()
		if qs.Buffered > 0 || qs.Unwritten > 0 {
			return false
		}
		final := 0
		for _, a := range qs.Apps {
			if a.Pending > 0 || a.InFlight > 0 {
				return false
			}
			final += a.Delivered + a.Dead
		}
		return uint64(final) == last.Calls["fired"]
	})
	return last
}

// appStats returns the queue counts of one application.
func (s *stack) appStats(app string) (delivered, dead, pending int) {
	a := s.d.QueueStats().Apps[app]
	return a.Delivered, a.Dead, a.Pending + a.InFlight
}

// logEntries returns the captured log entries, decoded.
func (s *stack) logEntries() []map[string]any {
	s.t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.logs.String()), "\n") {
		if line == "" {
			continue
		}
		entry := map[string]any{}
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			s.t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		out = append(out, entry)
	}
	return out
}

// logBuffer collects log output and is safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// received is one request as the receiver saw it.
type received struct {
	Method     string
	RequestURI string
	Path       string // the escaped path
	Header     http.Header
	Body       []byte
	Length     int64 // the request's Content-Length, -1 when unknown
}

// form decodes an application/x-www-form-urlencoded body.
func (r received) form(t testing.TB) url.Values {
	t.Helper()
	req, _ := http.NewRequest(r.Method, "http://127.0.0.1"+r.RequestURI, bytes.NewReader(r.Body))
	req.Header = r.Header.Clone()
	if err := req.ParseForm(); err != nil {
		t.Fatalf("the receiver could not decode the form body %q: %v", r.Body, err)
	}
	return req.PostForm
}

// jsonBody decodes a JSON object body whose values are strings.
func (r received) jsonBody(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("the body is not a JSON object of strings: %v\n%s", err, r.Body)
	}
	return out
}

// receiver is a webservice on 127.0.0.1 that records every request and
// then lets handler respond to it.
type receiver struct {
	srv     *httptest.Server
	handler http.HandlerFunc

	mu      sync.Mutex
	reqs    []received
	changed chan struct{} // closed and replaced at every request
}

func newReceiver(handler http.HandlerFunc) *receiver {
	r := &receiver{handler: handler, changed: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	return r
}

// URL returns the base URL, for example http://127.0.0.1:34567.
func (r *receiver) URL() string { return r.srv.URL }

// Host returns host:port of the receiver.
func (r *receiver) Host() string { return r.srv.Listener.Addr().String() }

func (r *receiver) close() {
	r.srv.CloseClientConnections()
	r.srv.Close()
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, "reading the body failed", http.StatusBadRequest)
		return
	}
	got := received{
		Method:     req.Method,
		RequestURI: req.RequestURI,
		Path:       req.URL.EscapedPath(),
		Header:     req.Header.Clone(),
		Body:       body,
		Length:     req.ContentLength,
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, got)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()

	req.Body = io.NopCloser(bytes.NewReader(body))
	r.handler(w, req)
}

// requests returns the requests received so far, in arrival order.
func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.reqs...)
}

// matching returns the requests whose escaped path starts with prefix.
func (r *receiver) matching(prefix string) []received {
	var out []received
	for _, req := range r.requests() {
		if strings.HasPrefix(req.Path, prefix) {
			out = append(out, req)
		}
	}
	return out
}

// at returns the requests whose escaped path is path.
func (r *receiver) at(path string) []received {
	var out []received
	for _, req := range r.requests() {
		if req.Path == path {
			out = append(out, req)
		}
	}
	return out
}

// waitCount waits up to limit until the receiver has at least n requests
// whose path starts with prefix, and returns them.
func (r *receiver) waitCount(t testing.TB, limit time.Duration, prefix string, n int, logs *logBuffer) []received {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		changed := r.changed
		r.mu.Unlock()
		if got := r.matching(prefix); len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %d requests to %s, got %d\nlog:\n%s",
				limit, n, prefix, len(r.matching(prefix)), logs.String())
		}
	}
}

// waitRequests waits for n requests to prefix on the stack's receiver.
func (s *stack) waitRequests(prefix string, n int) []received {
	s.t.Helper()
	return s.recv.waitCount(s.t, s.opts.wait, prefix, n, s.logs)
}

// readTestdata returns the bytes of a file in testdata.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// readEvents decodes the events of capture files in testdata, in order.
func readEvents(t testing.TB, names ...string) []esl.Event {
	t.Helper()
	var out []esl.Event
	for _, name := range names {
		events, err := esl.ReadEvents(bytes.NewReader(readTestdata(t, name)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, events...)
	}
	return out
}

// readEvent decodes a capture file that holds exactly one event.
func readEvent(t testing.TB, name string) esl.Event {
	t.Helper()
	events := readEvents(t, name)
	if len(events) != 1 {
		t.Fatalf("%s holds %d events, want 1", name, len(events))
	}
	return events[0]
}

// asCall returns a copy of ev for the channel id: every header value equal
// to the template's Unique-ID becomes id, and then each override replaces
// the header of its name. Calling it with the same id for the exit event
// and the hangup of one captured call keeps them one call.
func asCall(ev esl.Event, id string, overrides ...esl.Header) esl.Event {
	out := esltest.Clone(ev, overrides...)
	fresh := out.Get("Unique-ID")
	for i := range out.Headers {
		if fresh != "" && out.Headers[i].Value == fresh {
			out.Headers[i].Value = id
		}
	}
	return out
}

// closedPort returns host:port of a TCP port on 127.0.0.1 that nothing
// listens on: it was bound, then closed.
func closedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// jsonApp is a POST RAW application named name whose JSON body carries
// the given variables, one member per entry of fields (member name to
// placeholder name), posted to @RECEIVER@/name.
func jsonApp(name string, fields map[string]string) string {
	var body strings.Builder
	body.WriteString("{")
	first := true
	for member, variable := range fields {
		if !first {
			body.WriteString(",")
		}
		first = false
		fmt.Fprintf(&body, "%q:\"{{%s}}\"", member, variable)
	}
	body.WriteString("}")
	return fmt.Sprintf(`name = %q
type = "rest"
request_type = "POST RAW"
url = "@RECEIVER@/%s"
body = '''%s'''

[[headers]]
name = "Content-Type"
value = "application/json"
`, name, name, body.String())
}
