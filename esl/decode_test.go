package esl_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/postcall/postcall/esl"
)

// readCapture decodes every event of a file in testdata.
func readCapture(t testing.TB, name string) []esl.Event {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	events, err := esl.ReadEvents(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ReadEvents(%s): %v", name, err)
	}
	return events
}

func mustGet(t *testing.T, ev esl.Event, name string) string {
	t.Helper()
	v, ok := ev.Lookup(name)
	if !ok {
		t.Fatalf("event %s has no header %q", ev.Get("Unique-ID"), name)
	}
	return v
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		want     []esl.Header
		wantBody string
	}{
		{
			name: "names keep case and punctuation",
			body: `{"Event-Name":"CUSTOM","variable_fish,(sticks)~_1":"1","lower-case":"x"}`,
			want: []esl.Header{{"Event-Name", "CUSTOM"}, {"variable_fish,(sticks)~_1", "1"}, {"lower-case", "x"}},
		},
		{
			name: "repeated keys stay in order",
			body: `{"Hangup-Cause":"NORMAL_CLEARING","A":"1","Hangup-Cause":"USER_BUSY"}`,
			want: []esl.Header{{"Hangup-Cause", "NORMAL_CLEARING"}, {"A", "1"}, {"Hangup-Cause", "USER_BUSY"}},
		},
		{
			name: "array gives one header per element",
			body: `{"variable_list":["a","b",3],"Z":"z"}`,
			want: []esl.Header{{"variable_list", "a"}, {"variable_list", "b"}, {"variable_list", "3"}, {"Z", "z"}},
		},
		{
			name: "numbers booleans and null keep their literal text",
			body: `{"n":1.50,"big":123456789012345678901234567890,"t":true,"f":false,"z":null}`,
			want: []esl.Header{{"n", "1.50"}, {"big", "123456789012345678901234567890"}, {"t", "true"}, {"f", "false"}, {"z", "null"}},
		},
		{
			name: "values are not URL-decoded",
			body: `{"promo":"100% off %41 +1","to":"%22x%22"}`,
			want: []esl.Header{{"promo", "100% off %41 +1"}, {"to", "%22x%22"}},
		},
		{
			name: "escapes are decoded",
			body: `{"v":"line1\nline2 \"q\" \u00e9 \ud83d\ude42"}`,
			want: []esl.Header{{"v", "line1\nline2 \"q\" é 🙂"}},
		},
		{
			name:     "body member becomes Body",
			body:     `{"Event-Name":"BACKGROUND_JOB","Content-Length":"14","_body":"+OK [Success]\n"}`,
			want:     []esl.Header{{"Event-Name", "BACKGROUND_JOB"}, {"Content-Length", "14"}},
			wantBody: "+OK [Success]\n",
		},
		{
			name: "nested object becomes compact JSON text",
			body: `{"obj": {"a": [1, 2]}}`,
			want: []esl.Header{{"obj", `{"a":[1,2]}`}},
		},
		{
			name: "empty object",
			body: " {} \n",
			want: nil,
		},
		{
			name: "invalid UTF-8 becomes U+FFFD",
			body: "{\"n\xff\":\"a\xfeb\"}",
			want: []esl.Header{{"n\uFFFD", "a\uFFFDb"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := esl.DecodeJSON([]byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeJSON: %v", err)
			}
			if !slices.Equal(ev.Headers, tt.want) {
				t.Errorf("headers = %q, want %q", ev.Headers, tt.want)
			}
			if string(ev.Body) != tt.wantBody {
				t.Errorf("body = %q, want %q", ev.Body, tt.wantBody)
			}
		})
	}
}

func TestDecodeJSONInvalid(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"empty", ""},
		{"array at top", `["a"]`},
		{"string at top", `"a"`},
		{"truncated", `{"a":"b"`},
		{"missing value", `{"a":}`},
		{"trailing data", `{"a":"b"} {"c":"d"}`},
		{"bad array", `{"a":[1,}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := esl.DecodeJSON([]byte(tt.body))
			if !errors.Is(err, esl.ErrInvalidEvent) {
				t.Errorf("DecodeJSON(%q) error = %v, want ErrInvalidEvent", tt.body, err)
			}
		})
	}
}

func TestDecodePlain(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		want     []esl.Header
		wantBody string
	}{
		{
			name: "values are URL-decoded once",
			body: "Event-Name: CHANNEL_HANGUP_COMPLETE\nCaller-Caller-ID-Name: Test%20Caller\nv: %2541\n\n",
			want: []esl.Header{{"Event-Name", "CHANNEL_HANGUP_COMPLETE"}, {"Caller-Caller-ID-Name", "Test Caller"}, {"v", "%41"}},
		},
		{
			name: "split at the first colon and space",
			body: "variable_sip_h_X-Route/Hint: a: b\nvariable_menu@main: 3\n\n",
			want: []esl.Header{{"variable_sip_h_X-Route/Hint", "a: b"}, {"variable_menu@main", "3"}},
		},
		{
			name: "empty value",
			body: "A: \nB:\n\n",
			want: []esl.Header{{"A", ""}, {"B", ""}},
		},
		{
			name: "block without final blank line",
			body: "A: 1\nB: 2",
			want: []esl.Header{{"A", "1"}, {"B", "2"}},
		},
		{
			name:     "inner body counted by Content-Length",
			body:     "Event-Name: BACKGROUND_JOB\nContent-Length: 4\n\n+OK\nignored",
			want:     []esl.Header{{"Event-Name", "BACKGROUND_JOB"}, {"Content-Length", "4"}},
			wantBody: "+OK\n",
		},
		{
			name:     "repeated inner Content-Length uses the last",
			body:     "Content-Length: 2\nContent-Length: 5\n\nabcde",
			want:     []esl.Header{{"Content-Length", "2"}, {"Content-Length", "5"}},
			wantBody: "abcde",
		},
		{
			name:     "bytes after the block without Content-Length are the body",
			body:     "A: 1\n\nrest",
			want:     []esl.Header{{"A", "1"}},
			wantBody: "rest",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := esl.DecodePlain([]byte(tt.body))
			if err != nil {
				t.Fatalf("DecodePlain: %v", err)
			}
			if !slices.Equal(ev.Headers, tt.want) {
				t.Errorf("headers = %q, want %q", ev.Headers, tt.want)
			}
			if string(ev.Body) != tt.wantBody {
				t.Errorf("body = %q, want %q", ev.Body, tt.wantBody)
			}
		})
	}
}

func TestDecodePlainInvalid(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"line without separator", "Event-Name CUSTOM\n\n"},
		{"empty name", ": value\n\n"},
		{"inner body shorter than Content-Length", "Content-Length: 10\n\nabc"},
		{"inner Content-Length not a number", "Content-Length: ten\n\n"},
		{"negative inner Content-Length", "Content-Length: -1\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := esl.DecodePlain([]byte(tt.body))
			if !errors.Is(err, esl.ErrInvalidEvent) {
				t.Errorf("DecodePlain(%q) error = %v, want ErrInvalidEvent", tt.body, err)
			}
		})
	}
}

func TestURLDecode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain text", "abc", "abc"},
		{"space", "Test%20Caller", "Test Caller"},
		{"lower-case hex", "%3a%3A", "::"},
		{"once only", "%2541", "%41"},
		{"plus stays", "+1555010004", "+1555010004"},
		{"percent without hex", "100% off", "100% off"},
		{"percent at end", "50%", "50%"},
		{"percent with one hex digit at end", "50%2", "50%2"},
		{"percent with non-hex", "%zz%4", "%zz%4"},
		{"UTF-8 bytes", "Gr%C3%B6%C3%9Fe", "Größe"},
		{"invalid byte becomes U+FFFD", "TC%B1-7", "TC\uFFFD-7"},
		{"raw invalid byte becomes U+FFFD", "a\xffb", "a\uFFFDb"},
		{"two invalid bytes become two U+FFFD", "%C3%28%FF", "\uFFFD(\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := esl.URLDecode(tt.in); got != tt.want {
				t.Errorf("URLDecode(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestURLEncodeRoundTrip(t *testing.T) {
	values := []string{
		"", "Test Caller & Sons 100% Größe", "a&b=c%d+e?f#g", "50%2B10 = 100%",
		"line\nbreak\r\x00", `"5000" <sip:5000@192.0.2.10;user=phone>`, "Тест Коллер 🙂", "a,b/c'd",
	}
	for _, v := range values {
		enc := esl.URLEncode(v)
		if strings.ContainsAny(enc, " \n\r+") {
			t.Errorf("URLEncode(%q) = %q, contains a byte that must be escaped", v, enc)
		}
		if got := esl.URLDecode(enc); got != v {
			t.Errorf("URLDecode(URLEncode(%q)) = %q", v, got)
		}
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	ev := esl.Event{
		Headers: []esl.Header{
			{"Event-Name", "CUSTOM"},
			{"Event-Subclass", "fuse::exit"},
			{"Hangup-Cause", "NORMAL_CLEARING"},
			{"Hangup-Cause", "NORMAL_CLEARING"},
			{"variable_fish,(sticks)~_1", "a&b=c%d+e?f#g"},
			{"variable_name", "Тест Коллер 🙂"},
			{"empty", ""},
		},
		Body: []byte("SIP/2.0 100 Trying\r\n"),
	}
	want := append(slices.Clone(ev.Headers), esl.Header{Name: "Content-Length", Value: "20"})

	for _, format := range []string{"json", "plain"} {
		t.Run(format, func(t *testing.T) {
			var got esl.Event
			var err error
			if format == "json" {
				got, err = esl.DecodeJSON(esl.EncodeJSON(ev))
			} else {
				got, err = esl.DecodePlain(esl.EncodePlain(ev))
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !slices.Equal(got.Headers, want) {
				t.Errorf("headers = %q, want %q", got.Headers, want)
			}
			if !bytes.Equal(got.Body, ev.Body) {
				t.Errorf("body = %q, want %q", got.Body, ev.Body)
			}
		})
	}
}

func TestReadEventsSkipsOtherFrames(t *testing.T) {
	stream := "Content-Type: auth/request\n\n" +
		"Content-Type: command/reply\nReply-Text: +OK accepted\n\n" +
		"Content-Type: log/data\nContent-Length: 5\nLog-Level: 7\n\nhello" +
		"Content-Length: 27\nContent-Type: text/event-json\n\n{\"Event-Name\":\"HEARTBEAT\"}\n" +
		"Content-Type: api/response\nContent-Length: 3\n\n+OK" +
		"Content-Length: 22\nContent-Type: text/event-plain\n\nEvent-Name: HEARTBEAT\n"
	events, err := esl.ReadEvents(strings.NewReader(stream))
	if err != nil {
		t.Fatalf("ReadEvents: %v", err)
	}
	if len(events) != 2 {
		t.Fatalf("got %d events, want 2", len(events))
	}
	for i, ev := range events {
		if ev.Name() != "HEARTBEAT" {
			t.Errorf("event %d name = %q, want HEARTBEAT", i, ev.Name())
		}
	}
}

func TestReadEventsReportsError(t *testing.T) {
	stream := "Content-Length: 27\nContent-Type: text/event-json\n\n{\"Event-Name\":\"HEARTBEAT\"}\n" +
		"Content-Length: 5\nContent-Type: text/event-json\n\n{\"a\":"
	events, err := esl.ReadEvents(strings.NewReader(stream))
	if err == nil {
		t.Fatal("ReadEvents returned no error for an invalid second event")
	}
	if len(events) != 1 {
		t.Errorf("got %d events before the error, want 1", len(events))
	}
}

func TestCase02NestedContentLength(t *testing.T) {
	events := readCapture(t, "02-esl-nested-content-length.esl")
	if len(events) != 3 {
		t.Fatalf("got %d events, want 3", len(events))
	}

	job, refer, hangup := events[0], events[1], events[2]
	if job.Name() != "BACKGROUND_JOB" {
		t.Errorf("event 1 name = %q, want BACKGROUND_JOB", job.Name())
	}
	if want := "+OK a1a1a1a1-0000-4000-8000-000000000003\n"; string(job.Body) != want {
		t.Errorf("event 1 body = %q, want %q", job.Body, want)
	}
	if len(job.Body) != 41 {
		t.Errorf("event 1 body is %d bytes, want 41", len(job.Body))
	}

	if refer.Subclass() != "sofia::notify_refer" {
		t.Errorf("event 2 subclass = %q, want sofia::notify_refer", refer.Subclass())
	}
	if want := "SIP/2.0 100 Trying\r\n"; string(refer.Body) != want {
		t.Errorf("event 2 body = %q, want %q", refer.Body, want)
	}
	if len(refer.Body) != 20 {
		t.Errorf("event 2 body is %d bytes, want 20", len(refer.Body))
	}
	if got := refer.Values("Content-Length"); !slices.Equal(got, []string{"20", "20"}) {
		t.Errorf("event 2 Content-Length values = %q, want both kept", got)
	}
	if got := refer.Get("content-type"); got != "message/sipfrag" {
		t.Errorf("event 2 content-type = %q, want message/sipfrag", got)
	}

	if hangup.Name() != "CHANNEL_HANGUP_COMPLETE" {
		t.Errorf("event 3 name = %q, want CHANNEL_HANGUP_COMPLETE", hangup.Name())
	}
	if got := hangup.Get("Unique-ID"); got != "a1a1a1a1-0000-4000-8000-000000000003" {
		t.Errorf("event 3 Unique-ID = %q", got)
	}
}

func TestCase03JSONUTF8ContentLength(t *testing.T) {
	events := readCapture(t, "03-esl-json-utf8-content-length.esl")
	if len(events) != 2 {
		t.Fatalf("got %d events, want 2", len(events))
	}
	ev := events[0]
	if got := mustGet(t, ev, "Caller-Caller-ID-Name"); got != "Тест Коллер 🙂" {
		t.Errorf("caller name = %q, want %q", got, "Тест Коллер 🙂")
	}
	if got := mustGet(t, ev, "Caller-Caller-ID-Number"); got != "+1555010004" {
		t.Errorf("caller number = %q, want +1555010004", got)
	}
	if got := mustGet(t, ev, "variable_promo"); got != "100% off %41 +1" {
		t.Errorf("promo = %q, want %q", got, "100% off %41 +1")
	}
	if got := mustGet(t, ev, "variable_effective_caller_id_name"); got != "Tést Cállér" {
		t.Errorf("effective caller name = %q", got)
	}
	if got := events[1].Get("Unique-ID"); got != "a1a1a1a1-0000-4000-8000-000000000005" {
		t.Errorf("event 2 Unique-ID = %q", got)
	}
}

func TestCase05PercentDecodeOnce(t *testing.T) {
	events := readCapture(t, "05-esl-percent-decode-once.esl")
	if len(events) != 1 {
		t.Fatalf("got %d events, want 1", len(events))
	}
	ev := events[0]
	if got := mustGet(t, ev, "Caller-Caller-ID-Name"); got != "50% off Test Caller" {
		t.Errorf("caller name = %q, want %q", got, "50% off Test Caller")
	}
	if got := mustGet(t, ev, "variable_promo_code"); got != "%41" {
		t.Errorf("promo code = %q, want %%41", got)
	}

	ambiguous := map[string]string{
		"variable_sip_call_id_raw_pct": "u{cX1555010007\uFFFDkJulHgQiB0e@example.com",
		"variable_account_tag":         "TC\uFFFD-7",
	}
	for name, want := range ambiguous {
		got := mustGet(t, ev, name)
		if got == "" {
			t.Errorf("%s is blank", name)
		}
		if !utf8.ValidString(got) {
			t.Errorf("%s = %q is not valid UTF-8", name, got)
		}
		if got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestCase07NonTokenHeaderNames(t *testing.T) {
	events := readCapture(t, "07-esl-nontoken-header-names.esl")
	if len(events) != 1 {
		t.Fatalf("got %d events, want 1", len(events))
	}
	ev := events[0]
	want := map[string]string{
		"variable_fish,(sticks)~_1":   "1",
		"variable_sip_h_X-Route/Hint": "queue-a",
		"variable_menu@main":          "3",
		"variable_ivr_result":         "completed",
	}
	for name, value := range want {
		if got := mustGet(t, ev, name); got != value {
			t.Errorf("%s = %q, want %q", name, got, value)
		}
	}
}

// TestRealCapturesDecode decodes every frame recorded from FreeSWITCH
// 1.10.12.
func TestRealCapturesDecode(t *testing.T) {
	files, err := filepath.Glob("testdata/real-freeswitch-1.10.12/*.*")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, file := range files {
		ext := filepath.Ext(file)
		if ext != ".json" && ext != ".plain" {
			continue
		}
		t.Run(filepath.Base(file), func(t *testing.T) {
			events := readCapture(t, strings.TrimPrefix(file, "testdata/"))
			if len(events) != 1 {
				t.Fatalf("got %d events, want 1", len(events))
			}
			ev := events[0]
			for _, name := range []string{"Event-Name", "Core-UUID", "Unique-ID", "Event-Sequence"} {
				if ev.Get(name) == "" {
					t.Errorf("header %s is missing or empty", name)
				}
			}
			if ev.Name() == "CHANNEL_HANGUP_COMPLETE" && len(ev.Values("Hangup-Cause")) != 2 {
				t.Errorf("Hangup-Cause appears %d times, want 2 (FreeSWITCH repeats it)", len(ev.Values("Hangup-Cause")))
			}
		})
		checked++
	}
	if checked < 28 {
		t.Errorf("checked %d capture files, want at least 28", checked)
	}
}

// TestRealCapturesJSONPlainAgree compares the JSON and plain capture of the
// same event header by header. They agree exactly except where the raw
// value contains a %XX sequence: FreeSWITCH does not escape such a %, so the
// plain form of "50%2B10" reads back as "50+10", the value decoded once.
func TestRealCapturesJSONPlainAgree(t *testing.T) {
	files, err := filepath.Glob("testdata/real-freeswitch-1.10.12/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 14 {
		t.Fatalf("found %d JSON captures, want at least 14", len(files))
	}
	for _, file := range files {
		base := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(base, func(t *testing.T) {
			jsonEvent := readCapture(t, "real-freeswitch-1.10.12/"+base+".json")[0]
			plainEvent := readCapture(t, "real-freeswitch-1.10.12/"+base+".plain")[0]
			if len(jsonEvent.Headers) != len(plainEvent.Headers) {
				t.Fatalf("JSON has %d headers, plain has %d", len(jsonEvent.Headers), len(plainEvent.Headers))
			}
			for i, jh := range jsonEvent.Headers {
				ph := plainEvent.Headers[i]
				if jh.Name != ph.Name {
					t.Errorf("header %d: JSON name %q, plain name %q", i, jh.Name, ph.Name)
					continue
				}
				want := jh.Value
				if esl.URLDecode(jh.Value) != jh.Value {
					want = esl.URLDecode(jh.Value)
				}
				if ph.Value != want {
					t.Errorf("%s: plain %q, JSON %q", jh.Name, ph.Value, jh.Value)
				}
			}
		})
	}
}

func TestPublicCapturesDecode(t *testing.T) {
	tests := []struct {
		file      string
		events    int
		firstName string
		bodyLen   int
	}{
		{"public/background_job_plain_1.txt", 1, "BACKGROUND_JOB", 14},
		{"public/custom_plain_1_with_json_body.txt", 1, "CUSTOM", -1},
		{"public/heartbeat_plain_1.txt", 1, "HEARTBEAT", 0},
		{"public/channel_destroy_json_1.txt", 1, "CHANNEL_DESTROY", 0},
		{"public/hangup_complete_plain_1.txt", 1, "CHANNEL_HANGUP_COMPLETE", 0},
		{"public/log_data_1.txt", 0, "", 0},
		{"public/disconnect_notice_1.txt", 0, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			events := readCapture(t, tt.file)
			if len(events) != tt.events {
				t.Fatalf("got %d events, want %d", len(events), tt.events)
			}
			if tt.events == 0 {
				return
			}
			if got := events[0].Name(); got != tt.firstName {
				t.Errorf("name = %q, want %q", got, tt.firstName)
			}
			if tt.bodyLen >= 0 && len(events[0].Body) != tt.bodyLen {
				t.Errorf("body is %d bytes, want %d", len(events[0].Body), tt.bodyLen)
			}
			if tt.bodyLen < 0 && len(events[0].Body) == 0 {
				t.Error("body is empty, want the event's own body")
			}
		})
	}
}
