package soap

import (
	"bytes"
	"encoding/xml"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postcall/postcall/delivery"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// renderRequest writes req as the HTTP/1.1 request text a server reads,
// without the headers the Sender adds (idempotency key, User-Agent).
func renderRequest(t testing.TB, req *delivery.Request) []byte {
	t.Helper()
	u, err := url.Parse(req.URL)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", req.Method, u.RequestURI(), u.Host)
	for _, h := range req.Header {
		fmt.Fprintf(&b, "%s: %s\r\n", h.Name, h.Value)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(req.Body))
	b.Write(req.Body)
	return b.Bytes()
}

func TestBuildGolden(t *testing.T) {
	tests := []struct {
		name    string
		wsdl    string
		method  string
		version string
		params  []delivery.Field
	}{
		{
			name: "soap11-qualified", wsdl: "calllog.wsdl", method: "LogCall", version: "1.1",
			params: fields("Comment", "Kunde zufrieden: Größe ✓", "Duration", "42", "CallId", "a1a1a1a1-0000-4000-8000-000000000001",
				"SurveyScore", "5", "Dnis", "5000", "Ani", "+15550100"),
		},
		{
			name: "soap12-qualified", wsdl: "calllog.wsdl", method: "LogCall", version: "1.2",
			params: fields("Dnis", "5000", "Ani", "+15550100", "Duration", "7", "CallId", "a1a1a1a1-0000-4000-8000-000000000002"),
		},
		{
			name: "soap12-binding", wsdl: "23-soap12-binding.wsdl", method: "LogCall", version: "1.2",
			params: fields("callId", "a1a1a1a1-0000-4000-8000-000000000023", "callerNumber", "1555010023", "durationSeconds", "42"),
		},
		{
			name: "unqualified", wsdl: "26-element-form-unqualified.wsdl", method: "LogCall", version: "1.1",
			params: case26Params(),
		},
		{
			name: "extension-inherited", wsdl: "25-sequence-order.wsdl", method: "LogCall", version: "1.1",
			params: case25Params(),
		},
		{
			name: "optional-omitted", wsdl: "calllog.wsdl", method: "LogCall", version: "1.1",
			params: fields("CallId", "a1a1a1a1-0000-4000-8000-000000000003", "Ani", "1555010003", "Dnis", "5000", "Duration", "0", "Comment", ""),
		},
		{
			name: "xml-escaping", wsdl: "27-xml-escaping.wsdl", method: "LogCall", version: "1.1",
			params: case27Params(),
		},
		{
			name: "empty-input", wsdl: "27-xml-escaping.wsdl", method: "Ping", version: "1.1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := loadTestdata(t, tt.wsdl)
			req, err := svc.Build(tt.method, tt.version, tt.params)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			got := renderRequest(t, req)
			path := filepath.Join("testdata", "golden", tt.name+".http")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestBuildGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("request differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
			}
			canonicalXML(t, req.Body) // fails the test when the body is not well-formed
		})
	}
}

// TestCase23GoldenMatchesExpected compares the SOAP 1.2 request with the
// request the case's server expects, byte for byte.
func TestCase23GoldenMatchesExpected(t *testing.T) {
	svc := loadTestdata(t, "23-soap12-binding.wsdl")
	req, err := svc.Build("LogCall", "1.2",
		fields("durationSeconds", "42", "callerNumber", "1555010023", "callId", "a1a1a1a1-0000-4000-8000-000000000023"))
	if err != nil {
		t.Fatal(err)
	}
	got := renderRequest(t, req)
	want := readTestdata(t, "23-expected-request.http")
	if !bytes.Equal(got, want) {
		t.Errorf("request differs from the expected one:\n--- got\n%s\n--- want\n%s", got, want)
	}
}

// case25Params are the parameters of the case 25 application file, in the
// file's order, which differs from the schema's; ivrResult is not set.
func case25Params() []delivery.Field {
	return fields(
		"durationSeconds", "42",
		"callerName", "Test Caller One",
		"startedAt", "2024-05-14T14:15:00Z",
		"callerNumber", "1555010001",
		"agentId", "ivr-main",
	)
}

func TestCase25SequenceOrder(t *testing.T) {
	svc := loadTestdata(t, "25-sequence-order.wsdl")
	want := bodyElement(t, readTestdata(t, "25-expected-body.xml"))

	var first []byte
	rng := rand.New(rand.NewPCG(25, 25))
	for run := 0; run < 100; run++ {
		params := case25Params()
		rng.Shuffle(len(params), func(i, j int) { params[i], params[j] = params[j], params[i] })
		req, err := svc.Build("LogCall", "1.1", params)
		if err != nil {
			t.Fatalf("run %d: Build: %v", run, err)
		}
		if first == nil {
			first = req.Body
		}
		if !bytes.Equal(req.Body, first) {
			t.Fatalf("run %d: body differs from run 0:\n%s\n--- run 0\n%s", run, req.Body, first)
		}
		if got := bodyElement(t, req.Body); got != want {
			t.Fatalf("run %d: body element differs from the expected one:\n--- got\n%s\n--- want\n%s", run, got, want)
		}
	}
	if bytes.Contains(first, []byte("ivrResult")) {
		t.Errorf("optional ivrResult was sent although no parameter sets it:\n%s", first)
	}
	order := []string{"agentId", "callerNumber", "callerName", "startedAt", "durationSeconds"}
	last := -1
	for _, name := range order {
		i := bytes.Index(first, []byte("<tns:"+name+">"))
		if i <= last {
			t.Errorf("element %s is not after the previous one in %v:\n%s", name, order, first)
		}
		last = i
	}
}

func case26Params() []delivery.Field {
	return fields(
		"routing.priority", "2",
		"callerNumber", "1555010026",
		"routing.queue", "sales",
		"callId", "a1a1a1a1-0000-4000-8000-000000000026",
	)
}

func TestCase26ElementFormUnqualified(t *testing.T) {
	svc := loadTestdata(t, "26-element-form-unqualified.wsdl")
	req, err := svc.Build("LogCall", "1.1", case26Params())
	if err != nil {
		t.Fatal(err)
	}
	want := bodyElement(t, readTestdata(t, "26-expected-body.xml"))
	if got := bodyElement(t, req.Body); got != want {
		t.Errorf("body element differs from the expected one:\n--- got\n%s\n--- want\n%s", got, want)
	}
	if bytes.Contains(req.Body, []byte(` xmlns="`)) {
		t.Errorf("body declares a default namespace, which would qualify the local elements:\n%s", req.Body)
	}
	for _, s := range []string{"<tns:LogCall>", "<callId>", "<routing>", "<queue>sales</queue>", "<tns:priority>2</tns:priority>"} {
		if !bytes.Contains(req.Body, []byte(s)) {
			t.Errorf("body lacks %s:\n%s", s, req.Body)
		}
	}
}

// case27Params are the values of the case 27 event: a caller name and an
// IVR note full of XML metacharacters, with U+0001 in the name.
func case27Params() []delivery.Field {
	return fields(
		"callId", "a1a1a1a1-0000-4000-8000-000000000027",
		"callerNumber", "1555010027",
		"callerName", "Test & Sons <VIP> \"A\" \x01",
		"note", "]]> & <b>",
	)
}

func TestCase27XMLEscaping(t *testing.T) {
	svc := loadTestdata(t, "27-xml-escaping.wsdl")
	req, err := svc.Build("LogCall", "1.1", case27Params())
	if err != nil {
		t.Fatal(err)
	}
	body := req.Body

	var parsed struct {
		Name string `xml:"Body>LogCall>callerName"`
		Note string `xml:"Body>LogCall>note"`
	}
	if err := xml.Unmarshal(body, &parsed); err != nil {
		t.Fatalf("body is not well-formed: %v\n%s", err, body)
	}
	if want := "Test & Sons <VIP> \"A\" "; parsed.Name != want {
		t.Errorf("callerName reads back as %q, want %q", parsed.Name, want)
	}
	if want := "]]> & <b>"; parsed.Note != want {
		t.Errorf("note reads back as %q, want %q", parsed.Note, want)
	}
	for _, s := range []string{
		"<tns:callerName>Test &amp; Sons &lt;VIP&gt; &#34;A&#34; </tns:callerName>",
		"<tns:note>]]&gt; &amp; &lt;b&gt;</tns:note>",
	} {
		if !bytes.Contains(body, []byte(s)) {
			t.Errorf("body lacks %s:\n%s", s, body)
		}
	}
	if bytes.Contains(body, []byte{0x01}) || bytes.Contains(body, []byte("&#1;")) || bytes.Contains(body, []byte("&#x1;")) {
		t.Errorf("body still carries U+0001:\n%q", body)
	}
	if bytes.Contains(body, []byte("CDATA")) {
		t.Errorf("body uses CDATA:\n%s", body)
	}

	// The request is still sent.
	srv := newRawServer(t, rawResponse(parseHTTPFile(t, []byte(
		"HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\n\r\n"+
			`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><LogCallResponse xmlns="urn:example:calllog"><ticket>T-27</ticket></LogCallResponse></soap:Body></soap:Envelope>`))))
	logger, _ := testLogger()
	sender, _ := senderFor(wsdlAt(t, "27-xml-escaping.wsdl", srv.URL), "LogCall", "1.1", false, logger)
	out := sender.Send(t.Context(), job(case27Params()))
	if out.Class != delivery.Delivered {
		t.Fatalf("outcome %s (%v), want delivered", out.Class, out.Err)
	}
	got := srv.received()
	if len(got) != 1 {
		t.Fatalf("server received %d requests, want 1", len(got))
	}
	if !bytes.Equal(got[0].body, body) {
		t.Errorf("server received a different body:\n%s\n--- built\n%s", got[0].body, body)
	}
}

func TestEscapeXML(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "plain", in: "abc", want: "abc"},
		{name: "metacharacters", in: `a&b<c>d"e'f`, want: "a&amp;b&lt;c&gt;d&#34;e'f"},
		{name: "cdata end", in: "]]>", want: "]]&gt;"},
		{name: "control characters dropped", in: "a\x00b\x01c\x1fd\x7fe", want: "abcd\x7fe"},
		{name: "whitespace kept", in: "a\tb\nc", want: "a\tb\nc"},
		{name: "carriage return as reference", in: "a\r\nb", want: "a&#xD;\nb"},
		{name: "non-characters dropped", in: "a\uFFFEb\uFFFFc", want: "abc"},
		{name: "invalid UTF-8 replaced", in: "a\xffb", want: "a\uFFFDb"},
		{name: "non-ASCII kept", in: "é ü 日本 😀", want: "é ü 日本 😀"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			escapeXML(&b, tt.in, false)
			if got := b.String(); got != tt.want {
				t.Errorf("escapeXML(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestBuildHeaders(t *testing.T) {
	svc := loadTestdata(t, "calllog.wsdl")
	params := fields("CallId", "1", "Ani", "2", "Dnis", "3", "Duration", "4")
	tests := []struct {
		version string
		url     string
		header  []delivery.Field
		ns      string
	}{
		{
			version: "1.1", url: "http://127.0.0.1:18081/crm/soap11", ns: envelope11,
			header: fields("Content-Type", "text/xml; charset=utf-8", "SOAPAction", `"http://crm.example.com/postcall/v1/LogCall"`),
		},
		{
			version: "", url: "http://127.0.0.1:18081/crm/soap11", ns: envelope11,
			header: fields("Content-Type", "text/xml; charset=utf-8", "SOAPAction", `"http://crm.example.com/postcall/v1/LogCall"`),
		},
		{
			version: "1.2", url: "http://127.0.0.1:18081/crm/soap12", ns: envelope12,
			header: fields("Content-Type", `application/soap+xml; charset=utf-8; action="http://crm.example.com/postcall/v1/LogCall"`),
		},
	}
	for _, tt := range tests {
		t.Run("version "+tt.version, func(t *testing.T) {
			req, err := svc.Build("LogCall", tt.version, params)
			if err != nil {
				t.Fatal(err)
			}
			if req.Method != "POST" || req.URL != tt.url {
				t.Errorf("request line %s %s, want POST %s", req.Method, req.URL, tt.url)
			}
			if fmt.Sprint(req.Header) != fmt.Sprint(tt.header) {
				t.Errorf("header %v, want %v", req.Header, tt.header)
			}
			if !bytes.Contains(req.Body, []byte(`xmlns:soap="`+tt.ns+`"`)) {
				t.Errorf("envelope namespace is not %s:\n%s", tt.ns, req.Body)
			}
		})
	}
}

func TestBuildEmptyAction(t *testing.T) {
	svc := loadTestdata(t, "27-xml-escaping.wsdl")
	req, err := svc.Build("Ping", "1.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := req.Header[1]; v.Name != "SOAPAction" || v.Value != `""` {
		t.Errorf("SOAPAction header %v, want \"\" for an empty action", v)
	}
}

func TestBuildRepeatedAndNested(t *testing.T) {
	wsdl := strings.ReplaceAll(string(readTestdata(t, "26-element-form-unqualified.wsdl")),
		`<xsd:element name="callerNumber" type="xsd:string"/>`,
		`<xsd:element name="callerNumber" type="xsd:string"/><xsd:element name="tag" type="xsd:string" minOccurs="0" maxOccurs="unbounded"/>`)
	path := filepath.Join(t.TempDir(), "repeated.wsdl")
	if err := os.WriteFile(path, []byte(wsdl), 0o600); err != nil {
		t.Fatal(err)
	}
	svc, err := Load(t.Context(), path, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	params := append(case26Params(), fields("tag", "one", "tag", "two")...)
	req, err := svc.Build("LogCall", "1.1", params)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(req.Body, []byte("<tag>one</tag>\n      <tag>two</tag>\n      <routing>")) {
		t.Errorf("repeated elements are not in parameter order before routing:\n%s", req.Body)
	}
}

func BenchmarkBuildEnvelope(b *testing.B) {
	svc := loadTestdata(b, "25-sequence-order.wsdl")
	params := case25Params()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Build("LogCall", "1.1", params); err != nil {
			b.Fatal(err)
		}
	}
}
