package daemon_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/esl/esltest"
)

// surveyApp is the application of the real captures (fuse_app=survey): a
// JSON body with the call's identity, why it ended and the exit event's
// headers.
var surveyApp = jsonApp("survey", map[string]string{
	"id":          "session.id",
	"ani":         "session.connection.ani",
	"termination": "call.termination",
	"end":         "call.end",
	"score":       "exit.fuse_score",
	"note":        "exit.fuse_note",
	"q1":          "q1",
})

// captureMode is one way of feeding a real capture to the daemon.
type captureMode struct {
	name   string
	format string // the daemon's event_format
	// raw sends the capture's own .plain frames with SendFrame. Otherwise
	// the .json events are decoded and the fake encodes them in format.
	raw bool
}

var captureModes = []captureMode{
	{name: "json", format: "json"},
	{name: "plain", format: "plain"},
	{name: "plain_raw_frames", format: "plain", raw: true},
}

// replayCapture starts a stack for mode and replays the named captures
// (without extension) in order.
func replayCapture(t *testing.T, mode captureMode, opts stackOptions, names ...string) *stack {
	t.Helper()
	opts.eventFormat = mode.format
	s := startStack(t, opts)
	for _, name := range names {
		if mode.raw {
			s.sendFrame(readTestdata(t, name+".plain"))
			continue
		}
		s.send(readEvents(t, name+".json")...)
	}
	return s
}

// microsToRFC3339 formats a microsecond epoch header value the way
// docs/variables.md describes call.end: RFC 3339 in UTC, trailing zeros
// dropped.
func microsToRFC3339(t *testing.T, micros string) string {
	t.Helper()
	n, err := strconv.ParseInt(micros, 10, 64)
	if err != nil {
		t.Fatalf("invalid microsecond epoch %q: %v", micros, err)
	}
	return time.UnixMicro(n).UTC().Format(time.RFC3339Nano)
}

// testOneCallTermination replays a captured call, IVR leg and originator
// leg, and checks the single request it produces.
func testOneCallTermination(t *testing.T, scenario, termination string) {
	ivrLeg := readEvent(t, "hangup_complete_"+scenario+".json")
	for _, mode := range captureModes {
		t.Run(mode.name, func(t *testing.T) {
			s := replayCapture(t, mode, stackOptions{apps: map[string]string{"survey": surveyApp}},
				"hangup_complete_"+scenario+"_originator_leg", "hangup_complete_"+scenario)

			s.waitSettled()
			reqs := s.recv.requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want exactly 1", len(reqs))
			}
			body := reqs[0].jsonBody(t)
			if got := body["termination"]; got != termination {
				t.Errorf("call.termination = %q, want %q", got, termination)
			}
			if got, want := body["id"], ivrLeg.Get("Unique-ID"); got != want {
				t.Errorf("session.id = %q, want the IVR leg's %q", got, want)
			}
			if got, want := body["ani"], ivrLeg.Get("Caller-Caller-ID-Number"); got != want {
				t.Errorf("session.connection.ani = %q, want %q", got, want)
			}
			if got, want := body["end"], microsToRFC3339(t, ivrLeg.Get("variable_end_uepoch")); got != want {
				t.Errorf("call.end = %q, want %q", got, want)
			}
		})
	}
}

func TestEndToEndIvrExit(t *testing.T) {
	testOneCallTermination(t, "ivr_exit", "ivr_exit")
}

func TestEndToEndCallerHangup(t *testing.T) {
	testOneCallTermination(t, "caller_hangup", "caller_hangup")
}

func TestEndToEndBusy(t *testing.T) {
	testOneCallTermination(t, "busy", "not_answered")
}

func TestEndToEndOriginatorLegsFireNothing(t *testing.T) {
	legs := []string{
		"hangup_complete_ivr_exit_originator_leg",
		"hangup_complete_caller_hangup_originator_leg",
		"hangup_complete_busy_originator_leg",
		"hangup_complete_custom_exit_originator_leg",
	}
	for _, mode := range captureModes {
		t.Run(mode.name, func(t *testing.T) {
			s := replayCapture(t, mode, stackOptions{apps: map[string]string{"survey": surveyApp}}, legs...)
			st := s.waitSettled()
			if st.Calls["fired"] != 0 {
				t.Errorf("the originator legs fired %d calls, want 0", st.Calls["fired"])
			}

			// A call that does fire afterwards shows that the legs were
			// handled, not just slow: it must be the only request.
			sentinel := readEvent(t, "hangup_complete_ivr_exit.json")
			s.send(sentinel)
			s.waitSettled()
			reqs := s.recv.requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want only the one of the IVR leg", len(reqs))
			}
			if got := reqs[0].jsonBody(t)["id"]; got != sentinel.Get("Unique-ID") {
				t.Errorf("the request is for %q, want the IVR leg %q", got, sentinel.Get("Unique-ID"))
			}
		})
	}
}

func TestEndToEndCustomExit(t *testing.T) {
	hangup := readEvent(t, "hangup_complete_custom_exit.json")
	for _, mode := range captureModes {
		t.Run(mode.name, func(t *testing.T) {
			// A long grace keeps a slow machine from firing the exit event
			// on its own before its hangup is handled.
			opts := stackOptions{apps: map[string]string{"survey": surveyApp}, exitGrace: "10s"}
			s := replayCapture(t, mode, opts,
				"custom_fuse_exit", "hangup_complete_custom_exit", "hangup_complete_custom_exit_originator_leg")

			st := s.waitSettled()
			if st.Calls["fired"] != 1 {
				t.Errorf("fired %d calls, want 1", st.Calls["fired"])
			}
			reqs := s.recv.requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want exactly 1", len(reqs))
			}
			body := reqs[0].jsonBody(t)
			checks := map[string]string{
				"score":       "7",
				"note":        "done ok",
				"termination": "ivr_exit",
				"id":          hangup.Get("Unique-ID"),
				"end":         microsToRFC3339(t, hangup.Get("variable_end_uepoch")),
				"q1":          "4",
			}
			for field, want := range checks {
				if got := body[field]; got != want {
					t.Errorf("%s = %q, want %q", field, got, want)
				}
			}
		})
	}
}

// ivrExitValues are the fuse_var_* values of the ivr_exit capture, as the
// dialplan set them.
var ivrExitValues = map[string]string{
	"q1":        "5",
	"q2":        "yes",
	"comment":   "great service, would call again",
	"city":      "café",
	"special":   "a&b=c%d+e?f#g",
	"pct":       "50%2B10 = 100%",
	"quote":     `say "hi" \ bye; it's <ok>`,
	"multiline": "line1\nline2",
}

// headerName returns the request header that carries an IVR variable.
func headerName(variable string) string { return "X-Var-" + variable }

// variableApps returns one application per place a value can land: a
// form body, a query string (and a path segment), a JSON body and headers.
func variableApps() map[string]string {
	var params, headers strings.Builder
	jsonFields := map[string]string{}
	for name := range ivrExitValues {
		fmt.Fprintf(&params, "\n[[params]]\nname = %q\nvalue = \"{{%s}}\"\n", name, name)
		fmt.Fprintf(&headers, "\n[[headers]]\nname = %q\nvalue = \"{{%s}}\"\n", headerName(name), name)
		jsonFields[name] = name
	}
	return map[string]string{
		"form": "name = \"form\"\ntype = \"rest\"\nrequest_type = \"POST\"\nurl = \"@RECEIVER@/form\"\n" + params.String(),
		"query": "name = \"query\"\ntype = \"rest\"\nrequest_type = \"GET\"\n" +
			"url = \"@RECEIVER@/query/{{special}}/{{pct}}/{{city}}\"\n" + params.String(),
		"json":   jsonApp("json", jsonFields),
		"header": "name = \"header\"\ntype = \"rest\"\nrequest_type = \"GET\"\nurl = \"@RECEIVER@/header\"\n" + headers.String(),
	}
}

func TestEndToEndVariablesByteExact(t *testing.T) {
	ivrLeg := readEvent(t, "hangup_complete_ivr_exit.json")
	for name, want := range ivrExitValues {
		if got := ivrLeg.Get("variable_fuse_var_" + name); got != want {
			t.Fatalf("the capture's fuse_var_%s is %q, want %q: testdata changed", name, got, want)
		}
	}

	for _, mode := range captureModes {
		t.Run(mode.name, func(t *testing.T) {
			s := startStack(t, stackOptions{apps: variableApps(), eventFormat: mode.format})
			for _, app := range []string{"form", "query", "json", "header"} {
				if mode.raw {
					frame := bytes.Replace(readTestdata(t, "hangup_complete_ivr_exit.plain"),
						[]byte("variable_fuse_app: survey\n"), []byte("variable_fuse_app: "+app+"\n"), 1)
					frame = fixContentLength(t, frame)
					frame = bytes.ReplaceAll(frame, []byte(ivrLeg.Get("Unique-ID")), []byte(esltest.NewUUID()))
					s.sendFrame(frame)
					continue
				}
				s.send(asCall(ivrLeg, esltest.NewUUID(), esl.Header{Name: "variable_fuse_app", Value: app}))
			}
			s.waitSettled()

			want := func(name string) string {
				// FreeSWITCH 1.10.12 leaves "%2B" unencoded in a plain event,
				// so the receiver of a raw plain frame decodes it once more,
				// as docs/variables.md states.
				if mode.raw && name == "pct" {
					return "50+10 = 100%"
				}
				return ivrExitValues[name]
			}
			checkForm(t, s, want)
			checkQuery(t, s, want)
			checkJSON(t, s, want)
			checkHeaders(t, s, want)
		})
	}
}

// fixContentLength recomputes the outer Content-Length of one plain frame
// after its body was edited.
func fixContentLength(t *testing.T, frame []byte) []byte {
	t.Helper()
	head, body, ok := bytes.Cut(frame, []byte("\n\n"))
	if !ok {
		t.Fatal("no blank line after the frame's headers")
	}
	var lines []string
	for _, line := range strings.Split(string(head), "\n") {
		if strings.HasPrefix(line, "Content-Length: ") {
			line = "Content-Length: " + strconv.Itoa(len(body))
		}
		lines = append(lines, line)
	}
	return append([]byte(strings.Join(lines, "\n")+"\n\n"), body...)
}

func onlyRequest(t *testing.T, s *stack, prefix string) received {
	t.Helper()
	reqs := s.recv.matching(prefix)
	if len(reqs) != 1 {
		t.Fatalf("got %d requests to %s, want 1", len(reqs), prefix)
	}
	return reqs[0]
}

func checkForm(t *testing.T, s *stack, want func(string) string) {
	req := onlyRequest(t, s, "/form")
	if ct := req.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("form Content-Type = %q", ct)
	}
	form := req.form(t)
	for name := range ivrExitValues {
		if got := form[name]; len(got) != 1 || got[0] != want(name) {
			t.Errorf("form %s = %q, want [%q]", name, got, want(name))
		}
	}
	if len(form) != len(ivrExitValues) {
		t.Errorf("form has %d names, want %d: a value split the body: %q", len(form), len(ivrExitValues), req.Body)
	}
}

func checkQuery(t *testing.T, s *stack, want func(string) string) {
	req := onlyRequest(t, s, "/query/")
	u, err := url.ParseRequestURI(req.RequestURI)
	if err != nil {
		t.Fatalf("request URI %q: %v", req.RequestURI, err)
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		t.Fatalf("query %q: %v", u.RawQuery, err)
	}
	for name := range ivrExitValues {
		if got := query[name]; len(got) != 1 || got[0] != want(name) {
			t.Errorf("query %s = %q, want [%q]", name, got, want(name))
		}
	}
	if len(query) != len(ivrExitValues) {
		t.Errorf("query has %d names, want %d: %q", len(query), len(ivrExitValues), u.RawQuery)
	}

	segments := strings.Split(strings.TrimPrefix(req.Path, "/query/"), "/")
	wantSegments := []string{want("special"), want("pct"), want("city")}
	if len(segments) != len(wantSegments) {
		t.Fatalf("path %q has %d segments after /query/, want %d", req.Path, len(segments), len(wantSegments))
	}
	for i, seg := range segments {
		got, err := url.PathUnescape(seg)
		if err != nil || got != wantSegments[i] {
			t.Errorf("path segment %d = %q (decoded %q, %v), want %q", i, seg, got, err, wantSegments[i])
		}
	}
}

func checkJSON(t *testing.T, s *stack, want func(string) string) {
	req := onlyRequest(t, s, "/json")
	body := req.jsonBody(t)
	for name := range ivrExitValues {
		if got := body[name]; got != want(name) {
			t.Errorf("JSON %s = %q, want %q", name, got, want(name))
		}
	}
}

// checkHeaders checks the header escaping that package render documents:
// every control character except tab becomes a space, everything else is
// sent as it is.
func checkHeaders(t *testing.T, s *stack, want func(string) string) {
	req := onlyRequest(t, s, "/header")
	for name := range ivrExitValues {
		expected := strings.ReplaceAll(want(name), "\n", " ")
		if got := req.Header.Values(headerName(name)); len(got) != 1 || got[0] != expected {
			t.Errorf("header %s = %q, want [%q]", headerName(name), got, expected)
		}
	}
	if got := req.Header.Get("line2"); got != "" {
		t.Errorf("the newline split a header: line2 = %q", got)
	}
}

func TestEndToEndInterleavedOrder(t *testing.T) {
	const (
		rounds        = 100
		callsPerRound = 10
	)
	exit := readEvent(t, "custom_fuse_exit.json")
	hangup := readEvent(t, "hangup_complete_custom_exit.json")
	if exit.Get("Unique-ID") != hangup.Get("Unique-ID") {
		t.Fatal("the exit event and the hangup capture belong to different channels: testdata changed")
	}

	// A long grace keeps a slow machine from firing an exit event on its
	// own before its hangup is handled. With the merge working, no call
	// waits for it.
	s := startStack(t, stackOptions{apps: map[string]string{"survey": surveyApp}, exitGrace: "10s", perApp: 16, workers: 16})
	rng := rand.New(rand.NewPCG(20261204, 1))
	scores := map[string]string{} // call id to its fuse_score

	for round := range rounds {
		// Each call is two events, exit first. A random merge of the calls
		// keeps each call's order and interleaves the calls.
		type call struct{ events []esl.Event }
		calls := make([]*call, callsPerRound)
		for i := range calls {
			id := esltest.NewUUID()
			score := fmt.Sprintf("r%dc%d", round, i)
			scores[id] = score
			calls[i] = &call{events: []esl.Event{
				asCall(exit, id, esl.Header{Name: "fuse_score", Value: score}),
				asCall(hangup, id),
			}}
		}
		for left := 2 * callsPerRound; left > 0; left-- {
			var ready []*call
			for _, c := range calls {
				if len(c.events) > 0 {
					ready = append(ready, c)
				}
			}
			c := ready[rng.IntN(len(ready))]
			s.send(c.events[0])
			c.events = c.events[1:]
		}
	}

	total := rounds * callsPerRound
	st := s.waitSettled()
	if st.Calls["fired"] != uint64(total) {
		t.Errorf("fired %d calls, want %d", st.Calls["fired"], total)
	}
	if d := s.fake.Dropped(); d != 0 {
		t.Errorf("the fake dropped %d events", d)
	}

	seen := map[string]bool{}
	for _, req := range s.recv.requests() {
		body := req.jsonBody(t)
		id := body["id"]
		if seen[id] {
			t.Errorf("call %s got more than one request", id)
		}
		seen[id] = true
		want, ok := scores[id]
		if !ok {
			t.Errorf("request for unknown call %q", id)
			continue
		}
		if body["score"] != want {
			t.Errorf("call %s carries fuse_score %q, want its own %q", id, body["score"], want)
		}
		if body["end"] == "" {
			t.Errorf("call %s has no call.end: its exit event fired without the hangup", id)
		}
	}
	if len(seen) != total {
		t.Errorf("got requests for %d calls, want %d", len(seen), total)
	}
}

func TestEndToEndParamLiteralEscaped(t *testing.T) {
	// A parameter value is one value: the text written around its
	// placeholders must reach the webservice as written, like the value
	// the placeholder renders.
	const want = "a b&c=d%e+f yes"
	for _, requestType := range []string{"GET", "POST"} {
		t.Run(requestType, func(t *testing.T) {
			app := fmt.Sprintf(`name = "survey"
type = "rest"
request_type = %q
url = "@RECEIVER@/params"

[[params]]
name = "v"
value = "a b&c=d%%e+f {{q2}}"
`, requestType)
			s := startStack(t, stackOptions{apps: map[string]string{"survey": app}})
			s.send(readEvent(t, "hangup_complete_ivr_exit.json"))
			s.waitSettled()

			if delivered, _, _ := s.appStats("survey"); delivered != 1 {
				t.Fatalf("delivered %d jobs, want 1\nlog:\n%s", delivered, s.logs.String())
			}
			req := onlyRequest(t, s, "/params")
			values := req.form(t)
			if requestType == "GET" {
				u, err := url.ParseRequestURI(req.RequestURI)
				if err != nil {
					t.Fatal(err)
				}
				values = u.Query()
			}
			if got := values["v"]; len(got) != 1 || got[0] != want {
				t.Errorf("parameter v = %q, want [%q]; all parameters: %q", got, want, values)
			}
		})
	}
}
