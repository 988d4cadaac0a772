package daemon_test

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The case inputs name their application with variable_ivr_app, and every
// one of them is the application main_menu.
const caseApp = "main_menu"

// caseStack starts a stack whose application variable is ivr_app and whose
// one application, main_menu, is given by appText.
func caseStack(t *testing.T, appText string, opts stackOptions) *stack {
	t.Helper()
	opts.appVar = "ivr_app"
	opts.apps = map[string]string{caseApp: appText}
	return startStack(t, opts)
}

// caseJSONApp is main_menu posting the given variables as a JSON object.
func caseJSONApp(fields map[string]string) string {
	return jsonApp(caseApp, fields)
}

// readChunks returns the pieces of data whose sizes the chunks file lists,
// one number a line, with # comments.
func readChunks(t *testing.T, data []byte, chunksFile string) [][]byte {
	t.Helper()
	var chunks [][]byte
	sc := bufio.NewScanner(bytes.NewReader(readTestdata(t, chunksFile)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n, err := strconv.Atoi(line)
		if err != nil || n <= 0 || n > len(data) {
			t.Fatalf("%s: invalid chunk size %q for %d bytes left", chunksFile, line, len(data))
		}
		chunks = append(chunks, data[:n])
		data = data[n:]
	}
	if len(data) != 0 {
		t.Fatalf("%s leaves %d bytes unsent", chunksFile, len(data))
	}
	return chunks
}

func TestCase01SplitAndCoalescedDelivery(t *testing.T) {
	s := caseStack(t, caseJSONApp(map[string]string{
		"id":      "session.id",
		"name":    "call.caller_name",
		"ani":     "session.connection.ani",
		"sip_to":  "channel.sip_full_to",
		"call_id": "channel.sip_call_id",
	}), stackOptions{})
	data := readTestdata(t, "01-esl-split-and-coalesced.esl")
	chunks := readChunks(t, data, "01-esl-split-and-coalesced.chunks.txt")
	if len(chunks) != 4 {
		t.Fatalf("got %d chunks, want 4", len(chunks))
	}

	// The first write holds a reply, the whole first event and the start of
	// the second. Its request must arrive before any more data is sent.
	if n := s.fake.SendChunks(chunks[:1], 0); n != 1 {
		t.Fatalf("SendChunks reached %d clients, want 1", n)
	}
	first := s.waitRequests("/"+caseApp, 1)[0].jsonBody(t)
	if got, want := first["id"], "a1a1a1a1-0000-4000-8000-000000000001"; got != want {
		t.Errorf("first request session.id = %q, want %q", got, want)
	}
	if got, want := first["name"], "Test Caller One"; got != want {
		t.Errorf("first request call.caller_name = %q, want %q", got, want)
	}

	if n := s.fake.SendChunks(chunks[1:], 50*time.Millisecond); n != 1 {
		t.Fatalf("SendChunks reached %d clients, want 1", n)
	}
	s.waitSettled()
	reqs := s.recv.requests()
	if len(reqs) != 2 {
		t.Fatalf("got %d requests, want exactly 2", len(reqs))
	}
	second := reqs[1].jsonBody(t)
	checks := map[string]string{
		"id":      "a1a1a1a1-0000-4000-8000-000000000002",
		"name":    "Test Caller Two",
		"ani":     "1555010002",
		"sip_to":  `"5000" <sip:5000@192.0.2.10;user=phone>`,
		"call_id": "a1a1a1a1@192.0.2.21",
	}
	for field, want := range checks {
		if got := second[field]; got != want {
			t.Errorf("second request %s = %q, want %q", field, got, want)
		}
	}
}

func TestCase02NestedContentLengthDelivery(t *testing.T) {
	s := caseStack(t, caseJSONApp(map[string]string{"id": "session.id", "name": "call.caller_name"}), stackOptions{})
	s.sendFrame(readTestdata(t, "02-esl-nested-content-length.esl"))

	// BACKGROUND_JOB, CUSTOM sofia::notify_refer and the hangup.
	st := s.waitSettled()
	if got := s.d.ESLStatus().Undecodable; got != 0 {
		t.Errorf("%d frames could not be decoded", got)
	}
	if st.Calls["fired"] != 1 {
		t.Errorf("fired %d calls, want 1", st.Calls["fired"])
	}
	reqs := s.recv.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want exactly 1", len(reqs))
	}
	body := reqs[0].jsonBody(t)
	if got, want := body["id"], "a1a1a1a1-0000-4000-8000-000000000003"; got != want {
		t.Errorf("session.id = %q, want %q", got, want)
	}
	if got, want := body["name"], "Test Caller Three"; got != want {
		t.Errorf("call.caller_name = %q, want %q", got, want)
	}
}

func TestCase03UTF8Delivery(t *testing.T) {
	app := `name = "main_menu"
type = "rest"
request_type = "POST"
url = "@RECEIVER@/main_menu"

[[headers]]
name = "X-Caller-Name"
value = "{{call.caller_name}}"

[[params]]
name = "name"
value = "{{call.caller_name}}"

[[params]]
name = "number"
value = "{{session.connection.ani}}"

[[params]]
name = "promo"
value = "{{channel.promo}}"

[[params]]
name = "id"
value = "{{session.id}}"
`
	s := caseStack(t, app, stackOptions{})
	s.sendFrame(readTestdata(t, "03-esl-json-utf8-content-length.esl"))
	s.waitSettled()

	reqs := s.recv.requests()
	if len(reqs) != 2 {
		t.Fatalf("got %d requests, want 2", len(reqs))
	}
	var first received
	for _, req := range reqs {
		if req.Length != int64(len(req.Body)) {
			t.Errorf("Content-Length %d, but the body has %d bytes", req.Length, len(req.Body))
		}
		if req.form(t).Get("id") == "a1a1a1a1-0000-4000-8000-000000000004" {
			first = req
		}
	}
	if first.Body == nil {
		t.Fatal("no request for a1a1a1a1-0000-4000-8000-000000000004")
	}
	form := first.form(t)
	checks := map[string]string{
		"name":   "Тест Коллер 🙂",
		"number": "+1555010004",
		"promo":  "100% off %41 +1",
	}
	for field, want := range checks {
		if got := form.Get(field); got != want {
			t.Errorf("form %s = %q, want %q", field, got, want)
		}
	}
	if got, want := first.Header.Get("X-Caller-Name"), "Тест Коллер 🙂"; got != want {
		t.Errorf("X-Caller-Name = %q, want %q", got, want)
	}
}

func TestCase05DecodeOnceDelivery(t *testing.T) {
	s := caseStack(t, caseJSONApp(map[string]string{
		"name":    "call.caller_name",
		"promo":   "channel.promo_code",
		"call_id": "channel.sip_call_id_raw_pct",
		"tag":     "channel.account_tag",
	}), stackOptions{})
	s.sendFrame(readTestdata(t, "05-esl-percent-decode-once.esl"))
	s.waitSettled()

	if delivered, dead, _ := s.appStats(caseApp); delivered != 1 || dead != 0 {
		t.Errorf("delivered %d and dead %d jobs, want 1 delivered", delivered, dead)
	}
	reqs := s.recv.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	body := reqs[0].jsonBody(t)
	if got, want := body["name"], "50% off Test Caller"; got != want {
		t.Errorf("call.caller_name = %q, want %q", got, want)
	}
	if got, want := body["promo"], "%41"; got != want {
		t.Errorf("promo_code = %q, want %q (decoded once)", got, want)
	}

	// The ambiguous values contain a "%" that starts no valid escape and an
	// escape of a lone byte that is not UTF-8. docs/variables.md states that
	// each invalid byte becomes U+FFFD.
	ambiguous := map[string]string{
		"call_id": "u{cX1555010007\uFFFDkJulHgQiB0e@example.com",
		"tag":     "TC\uFFFD-7",
	}
	for field, want := range ambiguous {
		got := body[field]
		if got == "" {
			t.Errorf("%s is blank", field)
		}
		if !utf8.ValidString(got) {
			t.Errorf("%s = %q is not valid UTF-8", field, got)
		}
		if got != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
}

func TestCase07OddNamesDelivery(t *testing.T) {
	want := map[string]string{
		"result":    "completed",
		"fish":      "1",
		"route":     "queue-a",
		"route_raw": "queue-a",
		"menu":      "3",
	}
	tests := []struct {
		name string
		skip string
		app  string
	}{
		{
			// The application's [variables] table reads channel variables
			// by their exact names, punctuation included.
			name: "variables_table",
			app: caseJSONApp(map[string]string{
				"result": "result", "fish": "fish", "route": "route", "route_raw": "route_raw", "menu": "menu",
			}) + `
[variables]
result = "channel:ivr_result"
fish = "channel:fish,(sticks)~_1"
route = "channel:sip_h_X-Route/Hint"
route_raw = "channel:sip_h_X-Route/Hint"
menu = "channel:menu@main"
`,
		},
		{
			// docs/variables.md names these variables channel.NAME and
			// session.connection.protocol.sip.headers.NAME with NAME kept
			// exactly, so a template should reach them directly.
			name: "placeholders",
			app: caseJSONApp(map[string]string{
				"result":    "channel.ivr_result",
				"fish":      "channel.fish,(sticks)~_1",
				"route":     "session.connection.protocol.sip.headers.X-Route/Hint",
				"route_raw": "channel.sip_h_X-Route/Hint",
				"menu":      "channel.menu@main",
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			s := caseStack(t, tt.app, stackOptions{})
			s.sendFrame(readTestdata(t, "07-esl-nontoken-header-names.esl"))
			s.waitSettled()

			reqs := s.recv.requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			body := reqs[0].jsonBody(t)
			for field, value := range want {
				if got := body[field]; got != value {
					t.Errorf("%s = %q, want %q", field, got, value)
				}
			}
		})
	}
}

func TestCase11DuplicateHangupDelivery(t *testing.T) {
	s := caseStack(t, caseJSONApp(map[string]string{"id": "session.id"}), stackOptions{})
	s.sendFrame(readTestdata(t, "11-esl-duplicate-hangup.esl"))

	st := s.waitSettled()
	if st.Calls["fired"] != 1 {
		t.Errorf("fired %d calls, want 1", st.Calls["fired"])
	}
	if st.Calls["duplicates"] != 1 {
		t.Errorf("counted %d duplicates, want 1", st.Calls["duplicates"])
	}
	reqs := s.recv.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want exactly 1", len(reqs))
	}
	if got, want := reqs[0].jsonBody(t)["id"], "a1a1a1a1-0000-4000-8000-000000000012"; got != want {
		t.Errorf("session.id = %q, want %q", got, want)
	}
}

func TestCase12BridgedLegsDelivery(t *testing.T) {
	app := caseJSONApp(map[string]string{
		"id":         "session.id",
		"other_dnis": "call.other_leg.dnis",
		"other_ani":  "call.other_leg.ani",
	})
	legs := readEvents(t, "12-esl-bridged-a-b-legs.esl")
	if len(legs) != 2 || legs[0].Get("Call-Direction") != "outbound" {
		t.Fatal("the case file no longer holds the B leg, then the A leg")
	}

	tests := []struct {
		name string
		send func(s *stack)
	}{
		{name: "b_leg_first", send: func(s *stack) { s.sendFrame(readTestdata(t, "12-esl-bridged-a-b-legs.esl")) }},
		{name: "a_leg_first", send: func(s *stack) { s.send(legs[1], legs[0]) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := caseStack(t, app, stackOptions{})
			tt.send(s)

			st := s.waitSettled()
			if st.Calls["legs_skipped"] != 1 {
				t.Errorf("skipped %d legs, want 1", st.Calls["legs_skipped"])
			}
			reqs := s.recv.requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want exactly 1", len(reqs))
			}
			body := reqs[0].jsonBody(t)
			if got, want := body["id"], "a1a1a1a1-0000-4000-8000-0000000000aa"; got != want {
				t.Errorf("session.id = %q, want the A leg %q", got, want)
			}
			if got, want := body["other_dnis"], "1555010099"; got != want {
				t.Errorf("call.other_leg.dnis = %q, want %q", got, want)
			}
			if got, want := body["other_ani"], "1555010013"; got != want {
				t.Errorf("call.other_leg.ani = %q, want %q", got, want)
			}
		})
	}
}
