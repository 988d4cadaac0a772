package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
)

// captureValues returns the string values of a CHANNEL_HANGUP_COMPLETE
// event recorded from FreeSWITCH 1.10.12, for use as fuzz seeds.
func captureValues(f *testing.F) []string {
	f.Helper()
	frame, err := os.ReadFile("testdata/hangup_complete_ivr_exit.json")
	if err != nil {
		f.Fatal(err)
	}
	_, body, ok := bytes.Cut(frame, []byte("\n\n"))
	if !ok {
		f.Fatal("capture has no blank line after its frame headers")
	}

	var values []string
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.Fatalf("decoding capture: %v", err)
		}
		if s, ok := tok.(string); ok {
			values = append(values, s)
		}
	}
	if len(values) < 50 {
		f.Fatalf("capture gave %d strings, want a whole event", len(values))
	}
	return values
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		"", "{{", "}}", "{{}}", "{{ a }}", "{{{a}}}", "x{{a}}y{{ b }}z{{a}}",
		`{"caller":"{{caller_name}}","note":"{{ ivr_note }}"}`,
		"<a>{{session.connection.ani}}</a>\n{{exit.fuse_score", "{{\n\tchannel.sip_h_X-Route\n}}",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	for _, v := range captureValues(f) {
		f.Add("{{" + v + "}}")
		f.Add(v)
	}

	f.Fuzz(func(t *testing.T, src string) {
		tmpl, err := Parse(src)
		if err != nil {
			var perr *ParseError
			if !errors.As(err, &perr) || perr.Line < 1 || perr.Column < 1 {
				t.Fatalf("Parse(%q) returned %v, want a *ParseError with a position", src, err)
			}
			return
		}

		// The parts cover the source with no gap and no overlap.
		offset := 0
		for _, p := range tmpl.parts {
			if p.start != offset || p.end <= p.start {
				t.Fatalf("part %+v does not start at %d in %q", p, offset, src)
			}
			offset = p.end
		}
		if offset != len(src) {
			t.Fatalf("parts end at %d, source has %d bytes", offset, len(src))
		}

		// With identity escaping and each value equal to the placeholder's
		// own text, rendering gives back the source, apart from the
		// whitespace trimmed inside braces.
		vars := Vars{}
		var normalized strings.Builder
		for _, p := range tmpl.parts {
			if p.placeholder {
				vars[p.text] = "{{" + p.text + "}}"
				normalized.WriteString(vars[p.text])
			} else {
				normalized.WriteString(p.text)
			}
		}
		out, missing := tmpl.Render(vars, EscapePlain)
		if len(missing) != 0 {
			t.Fatalf("missing %q with every name present", missing)
		}
		if out != normalized.String() {
			t.Fatalf("Render = %q, want %q", out, normalized.String())
		}
		if !strings.Contains(src, "{{ ") && !strings.ContainsAny(src, "\t\r\n") && !strings.Contains(src, " }}") && out != src {
			t.Fatalf("Render = %q, want the source %q", out, src)
		}

		again, err := Parse(out)
		if err != nil {
			t.Fatalf("rendered %q does not parse: %v", out, err)
		}
		if !reflect.DeepEqual(again.Names(), tmpl.Names()) {
			t.Fatalf("names changed from %q to %q", tmpl.Names(), again.Names())
		}
	})
}

func FuzzURLTemplate(f *testing.F) {
	templates := []string{
		"https://crm.example.com/api/accounts/{{account}}/calls?caller={{caller}}",
		"http://127.0.0.1:8080/{{a}}{{b}}/x?{{k}}={{v}}&fixed=1",
		"https://user:pw@[::1]:9443/a/{{x}}#top",
		"http://h/{{x}}?",
		"https://{{host}}/x",
		"HTTPS://crm.example.com:443",
	}
	values := []string{"", "AB/12?x=1#frag", "..", "@evil.example.com:1/", "a b&c=d%zz", "\r\nX: y", "\xff\xfe"}
	for i, tmpl := range templates {
		f.Add(tmpl, values[i%len(values)])
	}
	for i, v := range captureValues(f) {
		f.Add(templates[i%len(templates)], v)
	}

	f.Fuzz(func(t *testing.T, raw, value string) {
		tmpl, err := ParseURL(raw)
		if err != nil {
			return
		}
		vars := Vars{}
		for _, name := range tmpl.Names() {
			vars[name] = value
		}
		extra := "extra=" + string(EscapeQuery(nil, value))
		rendered, missing := tmpl.Render(vars, extra, nil)
		if len(missing) != 0 {
			t.Fatalf("missing %q with every name present", missing)
		}

		parsed, err := url.Parse(rendered)
		if err != nil {
			t.Fatalf("rendered URL %q from %q does not parse: %v", rendered, raw, err)
		}
		if !strings.EqualFold(parsed.Scheme, tmpl.Scheme()) {
			t.Fatalf("scheme of %q is %q, want %q", rendered, parsed.Scheme, tmpl.Scheme())
		}
		if parsed.Host != tmpl.Host() {
			t.Fatalf("host of %q is %q, want %q", rendered, parsed.Host, tmpl.Host())
		}
		fixed, err := url.Parse(raw[:len(raw)-len(strings.TrimPrefix(raw, originOf(tmpl)))])
		if err != nil {
			t.Fatalf("origin of %q does not parse: %v", raw, err)
		}
		if parsed.User.String() != fixed.User.String() || parsed.Port() != fixed.Port() {
			t.Fatalf("userinfo or port of %q changed from %q", rendered, raw)
		}
		if got := parsed.Query()["extra"]; len(got) != 1 || got[0] != string([]rune(value)) {
			t.Fatalf("extra query parameter of %q = %q, want %q", rendered, got, value)
		}
	})
}

func originOf(t *URLTemplate) string { return t.origin }

func FuzzEscapeHeader(f *testing.F) {
	for _, s := range []string{"", "Test Caller\r\nX-Injected: yes", "a\x00b", "\t", "é\x7f\xff"} {
		f.Add(s)
	}
	for _, v := range captureValues(f) {
		f.Add(v)
	}

	f.Fuzz(func(t *testing.T, value string) {
		got := string(EscapeHeader(nil, value))
		if !validHeaderValue(got) {
			t.Fatalf("EscapeHeader(%q) = %q, which net/http rejects", value, got)
		}
		if strings.ContainsAny(got, "\r\n\x00") {
			t.Fatalf("EscapeHeader(%q) = %q still contains CR, LF or NUL", value, got)
		}
		valid := string([]rune(value))
		if validHeaderValue(valid) && got != valid {
			t.Fatalf("EscapeHeader(%q) = %q, want the value unchanged", value, got)
		}
		if len([]rune(got)) != len([]rune(valid)) {
			t.Fatalf("EscapeHeader(%q) = %q changed the number of characters", value, got)
		}
	})
}

func FuzzEscapeRoundTrip(f *testing.F) {
	for _, s := range []string{"", mixed, "\u2028\u2029", "\x00\x01\r\n", "\xff"} {
		f.Add(s)
	}
	for _, v := range captureValues(f) {
		f.Add(v)
	}

	f.Fuzz(func(t *testing.T, value string) {
		checkRoundTrips(t, value)
	})
}
