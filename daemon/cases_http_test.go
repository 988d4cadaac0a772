package daemon_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/esl/esltest"
)

// case15Params are the parameters of both case 15 requests.
const case15Params = `
[[params]]
name = "caller"
value = "{{session.connection.ani}}"

[[params]]
name = "name"
value = "{{call.caller_name}}"
`

// expectedLine returns the first line of the case 15 expectations that
// starts with prefix.
func expectedLine(t *testing.T, prefix string) string {
	t.Helper()
	for _, line := range strings.Split(string(readTestdata(t, "15-form-url-encoding.expected.txt")), "\n") {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	t.Fatalf("15-form-url-encoding.expected.txt has no line starting with %q", prefix)
	return ""
}

func TestCase15EncodingDelivery(t *testing.T) {
	const (
		caller  = "+1555010017"
		name    = "Test Caller & Sons 100% Größe"
		account = "AB/12?x=1#frag"
	)
	t.Run("GET", func(t *testing.T) {
		app := `name = "main_menu"
type = "rest"
request_type = "GET"
url = "@RECEIVER@/api/accounts/{{channel.account_ref}}/calls"
` + case15Params
		s := caseStack(t, app, stackOptions{})
		s.sendFrame(readTestdata(t, "15-form-url-encoding.esl"))
		s.waitSettled()
		req := onlyRequest(t, s, "/api/")

		segments := strings.Split(strings.TrimPrefix(req.Path, "/"), "/")
		if len(segments) != 4 {
			t.Fatalf("path %q has %d segments, want 4", req.Path, len(segments))
		}
		if got, err := url.PathUnescape(segments[2]); err != nil || got != account {
			t.Errorf("account segment %q decodes to %q (%v), want %q", segments[2], got, err, account)
		}
		query, err := url.ParseQuery(strings.SplitN(req.RequestURI, "?", 2)[1])
		if err != nil {
			t.Fatalf("query of %q: %v", req.RequestURI, err)
		}
		want := url.Values{"caller": {caller}, "name": {name}}
		if !reflect.DeepEqual(query, want) {
			t.Errorf("query = %q, want %q", query, want)
		}
		// The wire form the case lists is what package render documents:
		// path segment escaping, then query escaping with "+" for space.
		if got, want := "GET "+req.RequestURI, expectedLine(t, "GET "); got != want {
			t.Errorf("request line\n got %s\nwant %s", got, want)
		}
	})

	t.Run("POST", func(t *testing.T) {
		app := `name = "main_menu"
type = "rest"
request_type = "POST"
url = "@RECEIVER@/api/calls"
` + case15Params
		s := caseStack(t, app, stackOptions{})
		s.sendFrame(readTestdata(t, "15-form-url-encoding.esl"))
		s.waitSettled()
		req := onlyRequest(t, s, "/api/calls")

		if req.RequestURI != "/api/calls" {
			t.Errorf("request URI = %q, want /api/calls with no query", req.RequestURI)
		}
		if ct := req.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type = %q", ct)
		}
		want := url.Values{"caller": {caller}, "name": {name}}
		if got := req.form(t); !reflect.DeepEqual(got, want) {
			t.Errorf("form = %q, want %q", got, want)
		}
		if got, want := string(req.Body), expectedLine(t, "caller="); got != want {
			t.Errorf("form body\n got %s\nwant %s", got, want)
		}
	})
}

func TestCase16CRLFDelivery(t *testing.T) {
	app := `name = "main_menu"
type = "rest"
request_type = "POST"
url = "@RECEIVER@/api/calls"

[[headers]]
name = "X-Caller-Name"
value = "{{call.caller_name}}"

[[headers]]
name = "X-Ivr-Note"
value = "{{channel.ivr_note}}"

[[params]]
name = "name"
value = "{{call.caller_name}}"

[[params]]
name = "note"
value = "{{channel.ivr_note}}"

[[params]]
name = "id"
value = "{{session.id}}"
`
	s := caseStack(t, app, stackOptions{})
	s.sendFrame(readTestdata(t, "16-crlf-in-caller-name.esl"))
	// A second call after the first shows that the connection to the
	// webservice stayed in step.
	second := esltest.NewUUID()
	s.send(asCall(readEvent(t, "16-crlf-in-caller-name.esl"), second))
	s.waitSettled()

	reqs := s.recv.requests()
	if len(reqs) != 2 {
		t.Fatalf("got %d requests, want 2", len(reqs))
	}
	ids := map[string]bool{}
	for _, req := range reqs {
		if got := req.Header.Values("X-Injected"); len(got) != 0 {
			t.Errorf("the caller name injected a header: X-Injected = %q", got)
		}
		// Header escaping turns CR and LF each into a space.
		if got, want := req.Header.Get("X-Caller-Name"), "Test Caller  X-Injected: yes"; got != want {
			t.Errorf("X-Caller-Name = %q, want %q", got, want)
		}
		if got, want := req.Header.Get("X-Ivr-Note"), "ok bye"; got != want {
			t.Errorf("X-Ivr-Note = %q, want %q", got, want)
		}
		form := req.form(t)
		if got, want := form.Get("name"), "Test Caller\r\nX-Injected: yes"; got != want {
			t.Errorf("form name = %q, want %q", got, want)
		}
		if got, want := form.Get("note"), "ok\nbye"; got != want {
			t.Errorf("form note = %q, want %q", got, want)
		}
		if !strings.Contains(string(req.Body), "%0D%0A") {
			t.Errorf("form body %q does not carry the CR LF as %%0D%%0A", req.Body)
		}
		ids[form.Get("id")] = true
	}
	for _, id := range []string{"a1a1a1a1-0000-4000-8000-000000000016", second} {
		if !ids[id] {
			t.Errorf("no request for call %s", id)
		}
	}
}

func TestCase17JSONBodyDelivery(t *testing.T) {
	app := `name = "main_menu"
type = "rest"
request_type = "POST RAW"
url = "@RECEIVER@/api/calls"
body = '''{"caller":"{{call.caller_name}}","number":"{{session.connection.ani}}","note":"{{channel.ivr_note}}"}'''

[[headers]]
name = "Content-Type"
value = "application/json"
`
	s := caseStack(t, app, stackOptions{})
	s.sendFrame(readTestdata(t, "17-json-body-escaping.esl"))
	s.waitSettled()
	req := onlyRequest(t, s, "/api/calls")

	var want map[string]string
	if err := json.Unmarshal(readTestdata(t, "17-expected-body.json"), &want); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(req.Body) {
		t.Fatalf("the body is not valid JSON: %s", req.Body)
	}
	if got := req.jsonBody(t); !reflect.DeepEqual(got, want) {
		t.Errorf("decoded body = %q, want %q", got, want)
	}
	for i, b := range req.Body {
		if b < 0x20 {
			t.Errorf("raw control byte %#x at offset %d of the body", b, i)
		}
	}
	// A quote escaped twice would arrive as a backslash, a backslash and
	// a quote.
	if strings.Contains(string(req.Body), `\\\"`) {
		t.Errorf("the body has a double escape: %s", req.Body)
	}
}

// redirectHandler responds to /hook-NNN/REST with status NNN and the
// Location /final/REST, to /hook-loop/REST with a redirect to itself, and
// to /final/REST with 200.
func redirectHandler(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, "/final/"):
		io.WriteString(w, "ok")
	case strings.HasPrefix(path, "/hook-loop/"):
		http.Redirect(w, r, path, http.StatusFound)
	case strings.HasPrefix(path, "/hook-"):
		var status int
		var rest string
		if _, err := fmt.Sscanf(strings.TrimPrefix(path, "/hook-"), "%d", &status); err != nil {
			http.Error(w, "unknown route", http.StatusNotFound)
			return
		}
		_, rest, _ = strings.Cut(strings.TrimPrefix(path, "/"), "/")
		w.Header().Set("Location", "/final/"+rest)
		w.WriteHeader(status)
	default:
		http.Error(w, "unknown route", http.StatusNotFound)
	}
}

func TestCase18RedirectNotDelivered(t *testing.T) {
	tests := []struct {
		app       string
		method    string
		route     string
		follow    bool
		delivered bool
	}{
		{app: "post-301", method: "POST", route: "hook-301"},
		{app: "post-302", method: "POST", route: "hook-302"},
		{app: "post-303", method: "POST", route: "hook-303"},
		{app: "put-302", method: "PUT", route: "hook-302"},
		{app: "delete-302", method: "DELETE", route: "hook-302"},
		{app: "post-307", method: "POST", route: "hook-307"},
		{app: "post-307-follow", method: "POST", route: "hook-307", follow: true, delivered: true},
		{app: "put-308-follow", method: "PUT", route: "hook-308", follow: true, delivered: true},
		{app: "get-302", method: "GET", route: "hook-302", delivered: true},
		{app: "get-loop", method: "GET", route: "hook-loop"},
	}
	apps := map[string]string{}
	for _, tt := range tests {
		body := ""
		if tt.method == "PUT" {
			body = "body = \"call {{session.id}}\"\n"
		}
		apps[tt.app] = fmt.Sprintf(`name = %q
type = "rest"
request_type = %q
url = "@RECEIVER@/%s/%s"
follow_redirects = %t
%s
[[params]]
name = "caller"
value = "{{session.connection.ani}}"
`, tt.app, tt.method, tt.route, tt.app, tt.follow, body)
	}
	s := startStack(t, stackOptions{apps: apps, handler: redirectHandler})

	ivrLeg := readEvent(t, "hangup_complete_ivr_exit.json")
	for _, tt := range tests {
		s.send(asCall(ivrLeg, esltest.NewUUID(), esl.Header{Name: "variable_fuse_app", Value: tt.app}))
	}
	s.waitSettled()

	for _, tt := range tests {
		t.Run(tt.app, func(t *testing.T) {
			delivered, dead, _ := s.appStats(tt.app)
			final := s.recv.at("/final/" + tt.app)
			if !tt.delivered {
				if delivered != 0 || dead != 1 {
					t.Errorf("delivered %d and dead %d jobs, want the job dead and never delivered", delivered, dead)
				}
				if tt.route != "hook-loop" && len(final) != 0 {
					t.Errorf("the redirect was followed: /final got %d requests", len(final))
				}
				return
			}
			if delivered != 1 {
				t.Errorf("delivered %d jobs, want 1", delivered)
			}
			if len(final) != 1 {
				t.Fatalf("/final/%s got %d requests, want 1", tt.app, len(final))
			}
			original := s.recv.at("/" + tt.route + "/" + tt.app)
			if len(original) != 1 {
				t.Fatalf("/%s/%s got %d requests, want 1", tt.route, tt.app, len(original))
			}
			if final[0].Method != tt.method {
				t.Errorf("the redirect was followed with %s, want %s", final[0].Method, tt.method)
			}
			if string(final[0].Body) != string(original[0].Body) {
				t.Errorf("the redirect changed the body from %q to %q", original[0].Body, final[0].Body)
			}
		})
	}

	// The dead jobs are logged with the reason, naming where the redirect
	// points, so the operator can update the URL.
	for _, entry := range s.logEntries() {
		if entry["app"] == "post-302" && strings.Contains(fmt.Sprint(entry["msg"]), "dead") {
			if msg := fmt.Sprint(entry["error"]); !strings.Contains(msg, "redirected to") || !strings.Contains(msg, "/final/post-302") {
				t.Errorf("the dead job's error %q does not name the redirect target", msg)
			}
			return
		}
	}
	t.Error("no log entry for the dead job of post-302")
}

// hangingListener accepts TCP connections on 127.0.0.1 and never responds,
// like a webservice that hangs. It reads and discards what the client
// sends only to notice when the client closes the connection. With accept
// false it never accepts, so connections wait in the listen backlog. That
// is how a peer that never responds looks on loopback.
type hangingListener struct {
	ln     net.Listener
	mu     sync.Mutex
	conns  []net.Conn
	open   int // accepted connections the client has not closed
	closed bool
}

func newHangingListener(t *testing.T, accept bool) *hangingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hangingListener{ln: ln}
	if accept {
		go h.acceptLoop()
	}
	t.Cleanup(h.close)
	return h
}

func (h *hangingListener) acceptLoop() {
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			c.Close()
			return
		}
		h.conns = append(h.conns, c)
		h.open++
		h.mu.Unlock()
		go h.drain(c)
	}
}

// drain reads until the client closes c, and counts the close.
func (h *hangingListener) drain(c net.Conn) {
	io.Copy(io.Discard, c)
	h.mu.Lock()
	h.open--
	h.mu.Unlock()
}

// counts returns how many connections were accepted and how many of them
// the client has not closed.
func (h *hangingListener) counts() (accepted, open int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns), h.open
}

func (h *hangingListener) close() {
	h.ln.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, c := range h.conns {
		c.Close()
	}
}

// hangingHandler serves the healthy route /ok and two routes that start a
// response and never finish it: /stall sends headers and 2 of 100 body
// bytes, /drip sends one byte every 300ms. active counts the hanging
// requests still being served.
func hangingHandler(active *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/stall"):
			active.Add(1)
			defer active.Add(-1)
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, "ab")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		case strings.HasPrefix(r.URL.Path, "/drip"):
			active.Add(1)
			defer active.Add(-1)
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			tick := time.NewTicker(300 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-r.Context().Done():
					return
				case <-tick.C:
					if _, err := io.WriteString(w, "x"); err != nil {
						return
					}
					w.(http.Flusher).Flush()
				}
			}
		default:
			io.WriteString(w, "ok")
		}
	}
}

func TestCase20HangingWebserviceDelivery(t *testing.T) {
	const (
		hangTimeout     = 3 * time.Second
		callsPerHanging = 4
		healthyCalls    = 20
		// slack is what an attempt may take beyond its timeout: closing the
		// connection and recording the outcome.
		slack = 2 * time.Second
	)
	acceptor := newHangingListener(t, true)
	backlog := newHangingListener(t, false)

	hangingApp := func(name, url string) string {
		return fmt.Sprintf(`name = %q
type = "rest"
request_type = "POST"
url = %q
timeout = %g
concurrency = 2

[retry]
max_attempts = 1

[[params]]
name = "id"
value = "{{session.id}}"
`, name, url, hangTimeout.Seconds())
	}
	hanging := map[string]string{
		"hang-accept":  "http://" + acceptor.ln.Addr().String() + "/hook",
		"hang-backlog": "http://" + backlog.ln.Addr().String() + "/hook",
		"hang-stall":   "@RECEIVER@/stall",
		"hang-drip":    "@RECEIVER@/drip",
	}
	apps := map[string]string{}
	for name, u := range hanging {
		apps[name] = hangingApp(name, u)
	}
	apps["healthy"] = `name = "healthy"
type = "rest"
request_type = "POST"
url = "@RECEIVER@/ok"
concurrency = 2

[[params]]
name = "id"
value = "{{session.id}}"
`
	// The hanging applications may take 8 attempts in flight, so the 10
	// workers leave room for the healthy one only if per-application
	// limits hold.
	var active atomic.Int64
	s := startStack(t, stackOptions{apps: apps, handler: hangingHandler(&active), workers: 10})

	ivrLeg := readEvent(t, "hangup_complete_ivr_exit.json")
	for name := range hanging {
		for range callsPerHanging {
			s.send(asCall(ivrLeg, esltest.NewUUID(), esl.Header{Name: "variable_fuse_app", Value: name}))
		}
	}
	for range healthyCalls {
		s.send(asCall(ivrLeg, esltest.NewUUID(), esl.Header{Name: "variable_fuse_app", Value: "healthy"}))
	}

	// Every healthy call is delivered while the first attempts to the
	// hanging webservices are still waiting for their timeout.
	sent := time.Now()
	s.waitFor("the healthy calls to be delivered", func() bool {
		delivered, _, _ := s.appStats("healthy")
		return delivered == healthyCalls
	})
	t.Logf("the healthy calls were delivered %s after the last event was sent", time.Since(sent).Round(time.Millisecond))
	for name := range hanging {
		if _, dead, _ := s.appStats(name); dead != 0 {
			t.Errorf("%s: %d jobs already gave up before the healthy calls were delivered", name, dead)
		}
	}

	st := s.waitSettled()
	for name := range hanging {
		delivered, dead, _ := s.appStats(name)
		if delivered != 0 || dead != callsPerHanging {
			t.Errorf("%s: delivered %d and dead %d, want %d dead", name, delivered, dead, callsPerHanging)
		}
	}
	attempts := 0
	for _, a := range st.Recent {
		if _, ok := hanging[a.App]; !ok {
			continue
		}
		attempts++
		if a.Outcome != "retryable" {
			t.Errorf("%s: attempt outcome %q, want retryable", a.App, a.Outcome)
		}
		if limit := hangTimeout + slack; time.Duration(a.DurationMS)*time.Millisecond > limit {
			t.Errorf("%s: attempt took %dms, more than the timeout %s plus %s", a.App, a.DurationMS, hangTimeout, slack)
		}
	}
	if want := len(hanging) * callsPerHanging; attempts != want {
		t.Errorf("status lists %d attempts to the hanging webservices, want %d", attempts, want)
	}

	// Each dead job is logged with a timeout as its reason.
	timedOut := map[string]int{}
	for _, entry := range s.logEntries() {
		app := fmt.Sprint(entry["app"])
		if _, ok := hanging[app]; ok && entry["level"] == "error" && strings.Contains(fmt.Sprint(entry["error"]), "timed out") {
			timedOut[app]++
		}
	}
	for name := range hanging {
		if timedOut[name] != callsPerHanging {
			t.Errorf("%s: %d dead jobs logged with a timeout, want %d", name, timedOut[name], callsPerHanging)
		}
	}

	// Every attempt that timed out closed its connection, so nothing is
	// left holding a socket or a goroutine on either side.
	s.waitFor("the hanging requests to end", func() bool { return active.Load() == 0 })
	s.waitFor("the daemon to close the connections it left hanging", func() bool {
		_, open := acceptor.counts()
		return open == 0
	})
	if accepted, _ := acceptor.counts(); accepted != callsPerHanging {
		t.Errorf("the hanging listener accepted %d connections, want one per attempt: %d", accepted, callsPerHanging)
	}
}
