package rest

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/render"
)

// fuzzValues are caller-controlled values seen in the cases and captures.
var fuzzValues = []string{
	"", "+1555010017", "Test Caller & Sons 100% Größe", "AB/12?x=1#frag",
	"Test Caller\r\nX-Injected: yes", "ok\nbye", `Test "TC" Caller\`,
	"line1\nline2\ttab \u2028 end </script>", "a&b=c%d+e?f#g", "50%2B10 = 100%",
	"..", "@other.example.com:81/", "\x00\xff\xfe", "Тест Коллер 🙂",
}

// FuzzURLTemplate checks that whatever the values, the rendered request
// goes to the configured scheme, host and port, and that the server reads
// back each query parameter as the value.
func FuzzURLTemplate(f *testing.F) {
	templates := []string{
		"https://crm.example.com/api/accounts/{{v}}/calls",
		"http://127.0.0.1:8080/{{v}}{{v}}?fixed=1&q={{v}}",
		"https://user:pw@[::1]:9443/a/{{v}}?",
		"http://crm.example.com:81",
	}
	for i, v := range fuzzValues {
		f.Add(templates[i%len(templates)], v)
	}

	f.Fuzz(func(t *testing.T, rawURL, value string) {
		tmpl, err := NewTemplate(&conf.App{
			Name: "fuzz", Type: "rest", RequestType: "GET", URL: rawURL,
			Params: []conf.Param{{Name: "p", Value: "{{v}}"}},
		})
		if err != nil {
			return
		}
		configured, err := url.Parse(rawURL)
		if err != nil {
			t.Fatalf("NewTemplate accepted %q, which does not parse: %v", rawURL, err)
		}

		req, _ := tmpl.Render(render.Vars{"v": value})
		got, err := url.Parse(req.URL)
		if err != nil {
			t.Fatalf("rendered URL %q does not parse: %v", req.URL, err)
		}
		if !strings.EqualFold(got.Scheme, configured.Scheme) || got.Host != configured.Host || got.User.String() != configured.User.String() {
			t.Fatalf("rendered URL %q leaves %s://%s", req.URL, configured.Scheme, configured.Host)
		}
		if RedactURL(req.URL) != RedactURL(rawURL) {
			t.Fatalf("RedactURL(%q) = %q, want %q", req.URL, RedactURL(req.URL), RedactURL(rawURL))
		}
		if _, err := http.NewRequest(req.Method, req.URL, nil); err != nil {
			t.Fatalf("net/http rejects rendered URL %q: %v", req.URL, err)
		}
		if p := got.Query()["p"]; len(p) != 1 || p[0] != string([]rune(value)) {
			t.Fatalf("parameter p of %q = %q, want [%q]", req.URL, p, value)
		}
	})
}

// FuzzHeaderEscaping checks that a rendered header value passes the check
// net/http makes before sending, and that a request written to the wire
// and read back has exactly the configured headers.
func FuzzHeaderEscaping(f *testing.F) {
	for _, v := range fuzzValues {
		f.Add(v)
	}

	f.Fuzz(func(t *testing.T, value string) {
		tmpl, err := NewTemplate(&conf.App{
			Name: "fuzz", Type: "rest", RequestType: "GET", URL: "http://127.0.0.1:8080/hook",
			Headers: []conf.Header{{Name: "X-Caller-Name", Value: "Name: {{v}}"}, {Name: "X-Fixed", Value: "1"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := tmpl.Render(render.Vars{"v": value})
		rendered := req.Header[0].Value
		if !validHeaderValue(rendered) {
			t.Fatalf("header value %q would be rejected by net/http", rendered)
		}
		if strings.ContainsAny(rendered, "\r\n\x00") {
			t.Fatalf("header value %q contains CR, LF or NUL", rendered)
		}

		httpReq, err := http.NewRequest(req.Method, req.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range req.Header {
			httpReq.Header.Add(h.Name, h.Value)
		}
		var wire bytes.Buffer
		if err := httpReq.Write(&wire); err != nil {
			t.Fatalf("writing the request: %v", err)
		}
		back, err := http.ReadRequest(bufio.NewReader(&wire))
		if err != nil {
			t.Fatalf("reading back %q: %v", wire.String(), err)
		}
		for name := range back.Header {
			switch name {
			case "X-Caller-Name", "X-Fixed", "User-Agent":
			default:
				t.Fatalf("header %q appeared on the wire:\n%s", name, wire.String())
			}
		}
		if got, want := back.Header.Get("X-Caller-Name"), strings.TrimRight(rendered, " \t"); got != want {
			t.Fatalf("X-Caller-Name read back as %q, want %q", got, want)
		}
		if got := back.Header.Get("X-Fixed"); got != "1" {
			t.Fatalf("X-Fixed read back as %q", got)
		}
	})
}
