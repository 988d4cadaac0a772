package render

import (
	"encoding/json"
	"encoding/xml"
	"net/url"
	"strings"
	"testing"
)

// mixed contains every character the escapers treat specially.
const mixed = "a+b & c%d/e#f?g h é \"q\" \\ 'x' <t>;,=@$:~\n2"

func TestEscapers(t *testing.T) {
	tests := []struct {
		name  string
		esc   Escaper
		value string
		want  string
	}{
		{"plain keeps everything", EscapePlain, mixed, mixed},
		{"plain repairs utf-8", EscapePlain, "a\xffb", "a\uFFFDb"},

		{"path mixed", EscapePathSegment, mixed,
			"a+b%20&%20c%25d%2Fe%23f%3Fg%20h%20%C3%A9%20%22q%22%20%5C%20%27x%27%20%3Ct%3E%3B%2C=@$:~%0A2"},
		{"path account ref", EscapePathSegment, "AB/12?x=1#frag", "AB%2F12%3Fx=1%23frag"},
		{"path dot", EscapePathSegment, ".", "%2E"},
		{"path dot dot", EscapePathSegment, "..", "%2E%2E"},
		{"path dots inside kept", EscapePathSegment, "v1.2..3", "v1.2..3"},
		{"path invalid utf-8", EscapePathSegment, "\xff", "%EF%BF%BD"},
		{"path empty", EscapePathSegment, "", ""},

		{"query mixed", EscapeQuery, mixed,
			"a%2Bb+%26+c%25d%2Fe%23f%3Fg+h+%C3%A9+%22q%22+%5C+%27x%27+%3Ct%3E%3B%2C%3D%40%24%3A~%0A2"},
		{"query phone number", EscapeQuery, "+1555010017", "%2B1555010017"},
		{"query name", EscapeQuery, "Test Caller & Sons 100% Größe", "Test+Caller+%26+Sons+100%25+Gr%C3%B6%C3%9Fe"},
		{"query crlf", EscapeQuery, "a\r\nb", "a%0D%0Ab"},
		{"query invalid utf-8", EscapeQuery, "a\xc3", "a%EF%BF%BD"},

		{"header crlf", EscapeHeader, "Test Caller\r\nX-Injected: yes", "Test Caller  X-Injected: yes"},
		{"header nul and controls", EscapeHeader, "a\x00b\x01c\x7fd\te", "a b c d\te"},
		{"header keeps utf-8", EscapeHeader, "Größe", "Größe"},
		{"header invalid utf-8", EscapeHeader, "a\x80", "a\uFFFD"},

		{"json quotes and backslash", EscapeJSON, `Test "TC" Caller\`, `Test \"TC\" Caller\\`},
		{"json controls", EscapeJSON, "l1\nl2\tt\r\b\f\x00\x1f", `l1\nl2\tt\r\b\f\u0000\u001f`},
		{"json line separators", EscapeJSON, "a\u2028b\u2029c", `a\u2028b\u2029c`},
		{"json html kept", EscapeJSON, "</script> & <b>", "</script> & <b>"},
		{"json invalid utf-8", EscapeJSON, "\xfe", "\uFFFD"},

		{"xml entities", EscapeXML, `<a href="x">Tom & Jerry's</a>`,
			"&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&apos;s&lt;/a&gt;"},
		{"xml whitespace as references", EscapeXML, "a\tb\nc\rd", "a&#x9;b&#xA;c&#xD;d"},
		{"xml forbidden removed", EscapeXML, "a\x00b\x08c\x1fd\uFFFEe\uFFFFf", "abcdef"},
		{"xml keeps utf-8", EscapeXML, "café 🙂", "café 🙂"},
		{"xml invalid utf-8", EscapeXML, "a\xff", "a\uFFFD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(tc.esc(nil, tc.value))
			if got != tc.want {
				t.Errorf("escape(%q) = %q, want %q", tc.value, got, tc.want)
			}
		})
	}
}

func TestEscapeAppendsToDst(t *testing.T) {
	got := string(EscapeQuery([]byte("name="), "a b"))
	if got != "name=a+b" {
		t.Errorf("EscapeQuery kept %q, want %q", got, "name=a+b")
	}
}

// TestEscapeMatchesStdlib checks the percent-encoders against net/url on
// valid UTF-8, where both must agree byte for byte.
func TestEscapeMatchesStdlib(t *testing.T) {
	values := []string{mixed, "", "plain", "!*'();:@&=+$,/?#[]", "\x00\x7f", "🙂 ü", "%zz%41"}
	for _, v := range values {
		if got, want := string(EscapeQuery(nil, v)), url.QueryEscape(v); got != want {
			t.Errorf("EscapeQuery(%q) = %q, url.QueryEscape gives %q", v, got, want)
		}
		if got, want := string(EscapePathSegment(nil, v)), url.PathEscape(v); got != want {
			t.Errorf("EscapePathSegment(%q) = %q, url.PathEscape gives %q", v, got, want)
		}
	}
}

func TestBodyFormatOf(t *testing.T) {
	tests := []struct {
		contentType string
		want        BodyFormat
	}{
		{"application/json", BodyJSON},
		{"Application/JSON; charset=utf-8", BodyJSON},
		{"application/vnd.api+json", BodyJSON},
		{"application/merge-patch+json;charset=utf-8", BodyJSON},
		{"application/xml", BodyXML},
		{"text/xml; charset=utf-8", BodyXML},
		{"application/soap+xml; action=\"x\"", BodyXML},
		{"application/atom+xml", BodyXML},
		{"text/plain; charset=utf-8", BodyText},
		{"application/x-www-form-urlencoded", BodyText},
		{"text/json-ish", BodyText},
		{"", BodyText},
		{"application/json; charset", BodyJSON},
		{";;", BodyText},
	}
	for _, tc := range tests {
		t.Run(tc.contentType, func(t *testing.T) {
			if got := BodyFormatOf(tc.contentType); got != tc.want {
				t.Errorf("BodyFormatOf(%q) = %v, want %v", tc.contentType, got, tc.want)
			}
		})
	}
}

func TestBodyFormatEscaper(t *testing.T) {
	value := "a\"<b>\n"
	tests := []struct {
		format BodyFormat
		want   string
	}{
		{BodyText, value},
		{BodyJSON, `a\"<b>\n`},
		{BodyXML, "a&quot;&lt;b&gt;&#xA;"},
	}
	for _, tc := range tests {
		t.Run(tc.format.String(), func(t *testing.T) {
			if got := string(tc.format.Escaper()(nil, value)); got != tc.want {
				t.Errorf("%v escaper gave %q, want %q", tc.format, got, tc.want)
			}
		})
	}
}

// jsonRoundTrip decodes the escaped value as a JSON string.
func jsonRoundTrip(t *testing.T, value string) string {
	t.Helper()
	doc := `"` + string(EscapeJSON(nil, value)) + `"`
	var got string
	if err := json.Unmarshal([]byte(doc), &got); err != nil {
		t.Fatalf("escaped %q is not a JSON string: %v (%s)", value, err, doc)
	}
	return got
}

// xmlRoundTrip decodes the escaped value as an element's text and as an
// attribute value, and fails unless both give the same string.
func xmlRoundTrip(t *testing.T, value string) string {
	t.Helper()
	escaped := string(EscapeXML(nil, value))
	doc := `<v a="` + escaped + `">` + escaped + `</v>`
	var parsed struct {
		Attr string `xml:"a,attr"`
		Text string `xml:",chardata"`
	}
	if err := xml.Unmarshal([]byte(doc), &parsed); err != nil {
		t.Fatalf("escaped %q is not XML: %v (%s)", value, err, doc)
	}
	if parsed.Attr != parsed.Text {
		t.Fatalf("attribute %q and text %q differ for %q", parsed.Attr, parsed.Text, value)
	}
	return parsed.Text
}

// xmlAllowed is value without the characters XML 1.0 forbids, with invalid
// UTF-8 repaired: what an XML parser must read back.
func xmlAllowed(value string) string {
	value = string([]rune(value))
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
			return -1
		}
		return r
	}, value)
}

func TestEscapeRoundTrips(t *testing.T) {
	values := []string{mixed, "", "Test \"TC\" Caller\\", "line1\nline2\ttab \u2028 end </script>", "a\rb\r\nc", "\x01\x02ok"}
	for _, v := range values {
		checkRoundTrips(t, v)
	}
}

// checkRoundTrips checks that each escaper's output decodes to the value,
// as the receiving side decodes it.
func checkRoundTrips(t *testing.T, value string) {
	t.Helper()
	valid := string([]rune(value))

	if got, err := url.QueryUnescape(string(EscapeQuery(nil, value))); err != nil || got != valid {
		t.Errorf("query round trip of %q gave %q, %v", value, got, err)
	}
	if got, err := url.PathUnescape(string(EscapePathSegment(nil, value))); err != nil || got != valid {
		t.Errorf("path round trip of %q gave %q, %v", value, got, err)
	}
	if strings.Contains(string(EscapePathSegment(nil, value)), "/") {
		t.Errorf("path escape of %q contains a slash", value)
	}
	if got := jsonRoundTrip(t, value); got != valid {
		t.Errorf("JSON round trip of %q gave %q", value, got)
	}
	if got := xmlRoundTrip(t, value); got != xmlAllowed(value) {
		t.Errorf("XML round trip of %q gave %q, want %q", value, got, xmlAllowed(value))
	}
	header := string(EscapeHeader(nil, value))
	if !validHeaderValue(header) {
		t.Errorf("header escape of %q gave %q, which net/http rejects", value, header)
	}
}

// validHeaderValue applies the rule net/http uses for outgoing header
// values: no control character other than tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
