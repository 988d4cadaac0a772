package soap

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
)

func TestCheck(t *testing.T) {
	unq := loadTestdata(t, "26-element-form-unqualified.wsdl")
	v12 := loadTestdata(t, "23-soap12-binding.wsdl")
	all := []string{"callId", "callerNumber", "routing.queue", "routing.priority"}
	tests := []struct {
		name    string
		svc     *Service
		method  string
		version string
		params  []string
		want    []string // substrings of the error; none means no error
	}{
		{name: "all fine", svc: unq, method: "LogCall", version: "1.1", params: all},
		{name: "all fine in another order", svc: unq, method: "LogCall", version: "", params: []string{"routing.priority", "callId", "routing.queue", "callerNumber"}},
		{name: "unknown method", svc: unq, method: "LogCalls", version: "1.1", params: all,
			want: []string{`soap method "LogCalls" not found`, "set method to one of LogCall"}},
		{name: "no binding for version", svc: v12, method: "LogCall", version: "1.1", params: []string{"callId", "callerNumber", "durationSeconds"},
			want: []string{`has no SOAP 1.1 binding`, `set soap_version to "1.2"`}},
		{name: "invalid version", svc: unq, method: "LogCall", version: "2.0", params: all,
			want: []string{`invalid soap_version "2.0"`}},
		{name: "parameter names no element", svc: unq, method: "LogCall", version: "1.1", params: append(all, "routing.queues"),
			want: []string{`parameter "routing.queues" names no input element of LogCall`, "use one of callId, callerNumber, routing.queue, routing.priority"}},
		{name: "required element missing", svc: unq, method: "LogCall", version: "1.1", params: []string{"callerNumber", "routing.queue", "routing.priority"},
			want: []string{`required element "callId" of LogCall has no parameter`, `add a parameter named "callId"`}},
		{name: "required nested element missing", svc: unq, method: "LogCall", version: "1.1", params: []string{"callId", "callerNumber", "routing.queue"},
			want: []string{`required element "routing.priority"`}},
		{name: "complex element named", svc: unq, method: "LogCall", version: "1.1", params: append(all, "routing"),
			want: []string{`parameter "routing" names the complex element routing`, `"routing.queue"`}},
		{name: "parameter given twice", svc: unq, method: "LogCall", version: "1.1", params: append(all, "callId"),
			want: []string{`parameter "callId" is given more than once`}},
		{name: "problems are joined", svc: unq, method: "LogCall", version: "1.1", params: []string{"callerNumber", "routing.queue", "routing.priority", "colour"},
			want: []string{`parameter "colour" names no input element`, `required element "callId"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.svc.Check(tt.method, tt.version, tt.params)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check succeeded, want an error with %q", tt.want)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
}

func TestOperations(t *testing.T) {
	t.Run("both versions", func(t *testing.T) {
		ops := loadTestdata(t, "calllog.wsdl").Operations()
		if len(ops) != 1 {
			t.Fatalf("%d operations, want 1", len(ops))
		}
		op := ops[0]
		if op.Name != "LogCall" || !reflect.DeepEqual(op.Versions, []string{"1.1", "1.2"}) {
			t.Errorf("operation %s versions %v, want LogCall [1.1 1.2]", op.Name, op.Versions)
		}
		for v, addr := range map[string]string{"1.1": "http://127.0.0.1:18081/crm/soap11", "1.2": "http://127.0.0.1:18081/crm/soap12"} {
			if op.Address[v] != addr || op.Action[v] != "http://crm.example.com/postcall/v1/LogCall" {
				t.Errorf("version %s: address %q action %q", v, op.Address[v], op.Action[v])
			}
		}
		want := []Element{
			{Name: "CallId", Namespace: "http://crm.example.com/postcall/v1", Type: "string"},
			{Name: "Ani", Namespace: "http://crm.example.com/postcall/v1", Type: "string"},
			{Name: "Dnis", Namespace: "http://crm.example.com/postcall/v1", Type: "string"},
			{Name: "Duration", Namespace: "http://crm.example.com/postcall/v1", Type: "int"},
			{Name: "SurveyScore", Namespace: "http://crm.example.com/postcall/v1", Type: "int", Optional: true},
			{Name: "Comment", Namespace: "http://crm.example.com/postcall/v1", Type: "string", Optional: true},
		}
		if !reflect.DeepEqual(op.Input, want) {
			t.Errorf("input %+v, want %+v", op.Input, want)
		}
	})
	t.Run("SOAP 1.2 port first", func(t *testing.T) {
		text := string(readTestdata(t, "calllog.wsdl"))
		i11 := strings.Index(text, `    <wsdl:port name="PostCallSoap11Port"`)
		i12 := strings.Index(text, `    <wsdl:port name="PostCallSoap12Port"`)
		end := strings.Index(text, "  </wsdl:service>")
		swapped := text[:i11] + text[i12:end] + text[i11:i12] + text[end:]
		svc, err := Load(t.Context(), writeTemp(t, "v12first.wsdl", swapped), LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		op := svc.Operations()[0]
		if !reflect.DeepEqual(op.Versions, []string{"1.1", "1.2"}) || op.Address["1.1"] != "http://127.0.0.1:18081/crm/soap11" {
			t.Errorf("versions %v address 1.1 %q, want both versions with the 1.1 port's address", op.Versions, op.Address["1.1"])
		}
	})
	t.Run("inherited members and nested elements", func(t *testing.T) {
		op := loadTestdata(t, "25-sequence-order.wsdl").Operations()[0]
		var names []string
		for _, e := range op.Input {
			names = append(names, e.Name+":"+e.Type)
		}
		want := "agentId:string callerNumber:string callerName:string startedAt:dateTime ivrResult:string durationSeconds:int"
		if got := strings.Join(names, " "); got != want {
			t.Errorf("input %s, want %s", got, want)
		}
		op = loadTestdata(t, "26-element-form-unqualified.wsdl").Operations()[0]
		routing := op.Input[2]
		if routing.Name != "routing" || routing.Namespace != "" || len(routing.Children) != 2 ||
			routing.Children[1].Namespace != "urn:example:calllog" || routing.Children[0].Namespace != "" {
			t.Errorf("routing %+v, want unqualified routing with unqualified queue and qualified priority", routing)
		}
	})
	t.Run("copies are independent", func(t *testing.T) {
		svc := loadTestdata(t, "26-element-form-unqualified.wsdl")
		ops := svc.Operations()
		ops[0].Input[2].Children[0].Name = "changed"
		ops[0].Address["1.1"] = "changed"
		again := svc.Operations()[0]
		if again.Input[2].Children[0].Name != "queue" || again.Address["1.1"] == "changed" {
			t.Errorf("changing a returned operation changed the service")
		}
	})
}

func TestWriteOperations(t *testing.T) {
	svc := loadTestdata(t, "26-element-form-unqualified.wsdl")
	var b bytes.Buffer
	if err := WriteOperations(&b, svc); err != nil {
		t.Fatal(err)
	}
	want := `WSDL testdata/26-element-form-unqualified.wsdl

LogCall (SOAP 1.1)
  SOAP 1.1: action "urn:example:calllog#LogCall", address http://soap.example.com/calllog
  input {urn:example:calllog}LogCall, parameters in schema order:
    callId            string
    callerNumber      string
    routing           complex
    routing.queue     string
    routing.priority  int
`
	if b.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	if err := WriteOperations(&b, loadTestdata(t, "27-xml-escaping.wsdl")); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"LogCall (SOAP 1.1)", "callerName    string", "Ping (SOAP 1.1)", `action ""`, "(none)"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, b.String())
		}
	}
	b.Reset()
	_ = WriteOperations(&b, loadTestdata(t, "25-sequence-order.wsdl"))
	if !strings.Contains(b.String(), "ivrResult        string  optional\n") {
		t.Errorf("output does not mark ivrResult optional:\n%s", b.String())
	}
}

// importTree is a WSDL split over five files: a wsdl:import with a
// relative path, xsd:import up and down the tree, a chameleon xsd:include,
// imports without a location, and two import cycles.
var importTree = map[string]string{
	"service.wsdl": `<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions targetNamespace="urn:svc" xmlns:tns="urn:svc" xmlns:abs="urn:svc:abstract"
    xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/">
  <wsdl:import namespace="urn:svc:abstract" location="abstract/messages.wsdl"/>
  <wsdl:import namespace="urn:nowhere"/>
  <wsdl:binding name="B" type="abs:PT">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="Submit"><soap:operation soapAction="urn:svc/Submit"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input></wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="S"><wsdl:port name="P" binding="tns:B"><soap:address location="http://127.0.0.1:9/submit"/></wsdl:port></wsdl:service>
</wsdl:definitions>`,
	"abstract/messages.wsdl": `<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions targetNamespace="urn:svc:abstract" xmlns:tns="urn:svc:abstract" xmlns:m="urn:model"
    xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <wsdl:import namespace="urn:svc" location="../service.wsdl"/>
  <wsdl:types>
    <xsd:schema targetNamespace="urn:svc:abstract/imports">
      <xsd:import namespace="urn:model" schemaLocation="../schemas/model.xsd"/>
      <xsd:import namespace="http://www.w3.org/XML/1998/namespace"/>
    </xsd:schema>
  </wsdl:types>
  <wsdl:message name="SubmitIn"><wsdl:part name="p" element="m:Submit"/></wsdl:message>
  <wsdl:portType name="PT"><wsdl:operation name="Submit"><wsdl:input message="tns:SubmitIn"/></wsdl:operation></wsdl:portType>
</wsdl:definitions>`,
	"schemas/model.xsd": `<?xml version="1.0" encoding="UTF-8"?>
<xsd:schema targetNamespace="urn:model" xmlns:m="urn:model" xmlns:x="urn:extra"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified">
  <xsd:include schemaLocation="common/base.xsd"/>
  <xsd:import namespace="urn:extra" schemaLocation="extra.xsd"/>
  <xsd:element name="Submit">
    <xsd:complexType><xsd:complexContent><xsd:extension base="m:Base">
      <xsd:sequence>
        <xsd:element name="note" type="xsd:string" minOccurs="0"/>
        <xsd:element ref="x:flag"/>
      </xsd:sequence>
    </xsd:extension></xsd:complexContent></xsd:complexType>
  </xsd:element>
</xsd:schema>`,
	"schemas/common/base.xsd": `<?xml version="1.0" encoding="UTF-8"?>
<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified">
  <xsd:complexType name="Root"><xsd:sequence><xsd:element name="id" type="xsd:string"/></xsd:sequence></xsd:complexType>
  <xsd:complexType name="Base"><xsd:complexContent><xsd:extension base="Root">
    <xsd:sequence><xsd:element name="level" type="Level"/></xsd:sequence>
  </xsd:extension></xsd:complexContent></xsd:complexType>
  <xsd:simpleType name="Level"><xsd:restriction base="xsd:int"/></xsd:simpleType>
</xsd:schema>`,
	"schemas/extra.xsd": `<?xml version="1.0" encoding="UTF-8"?>
<xsd:schema targetNamespace="urn:extra" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <xsd:import namespace="urn:model" schemaLocation="model.xsd"/>
  <xsd:element name="flag" type="xsd:boolean"/>
</xsd:schema>`,
}

// writeTree writes files under a new temporary folder and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestLoadImports reads importTree from files and over HTTP, then checks
// the limits of a load.
func TestLoadImports(t *testing.T) {
	dir := writeTree(t, importTree)
	var mu sync.Mutex
	fetched := map[string]int{}
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetched[r.URL.Path]++
		mu.Unlock()
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()
	fileURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(dir, "service.wsdl"))}).String()

	locations := map[string]string{
		"local path": filepath.Join(dir, "service.wsdl"),
		"file URL":   fileURL,
		"http":       srv.URL + "/service.wsdl",
	}
	for name, location := range locations {
		t.Run(name, func(t *testing.T) {
			svc, err := Load(t.Context(), location, LoadOptions{HTTPClient: loopbackClient()})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			ops := svc.Operations()
			if len(ops) != 1 || ops[0].Name != "Submit" || ops[0].Action["1.1"] != "urn:svc/Submit" {
				t.Fatalf("operations %+v, want Submit with action urn:svc/Submit", ops)
			}
			var got []string
			for _, e := range ops[0].Input {
				got = append(got, "{"+e.Namespace+"}"+e.Name+":"+e.Type)
			}
			want := "{urn:model}id:string {urn:model}level:Level {urn:model}note:string {urn:extra}flag:boolean"
			if strings.Join(got, " ") != want {
				t.Errorf("input %s, want %s", strings.Join(got, " "), want)
			}
			req, err := svc.Build("Submit", "1.1", fields("flag", "true", "level", "3", "id", "x1"))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{`xmlns:tns="urn:model" xmlns:ns1="urn:extra"`, "<tns:id>x1</tns:id>", "<tns:level>3</tns:level>", "<ns1:flag>true</ns1:flag>"} {
				if !bytes.Contains(req.Body, []byte(s)) {
					t.Errorf("body lacks %s:\n%s", s, req.Body)
				}
			}
		})
	}

	// The tree has two import cycles; each document must be read once.
	mu.Lock()
	for path := range importTree {
		if n := fetched["/"+path]; n != 1 {
			t.Errorf("%s fetched %d times over HTTP, want once", path, n)
		}
	}
	if len(fetched) != len(importTree) {
		t.Errorf("fetched %v, want exactly the %d documents of the tree", fetched, len(importTree))
	}
	mu.Unlock()

	t.Run("limits", func(t *testing.T) { checkLoadLimits(t, filepath.Join(dir, "service.wsdl")) })
}

// checkLoadLimits checks the errors of loads that exceed a limit or fail,
// with root the service.wsdl of importTree.
func checkLoadLimits(t *testing.T, root string) {
	dir := filepath.Dir(root)

	t.Run("size cap", func(t *testing.T) {
		_, err := Load(t.Context(), root, LoadOptions{MaxBytes: 512})
		var le *LoadError
		if !errors.As(err, &le) || !strings.Contains(err.Error(), "larger than the limit of 512 bytes") {
			t.Fatalf("error %v, want a *LoadError about the 512 byte limit", err)
		}
	})
	t.Run("document count", func(t *testing.T) {
		_, err := Load(t.Context(), root, LoadOptions{MaxDocuments: 3})
		if err == nil || !strings.Contains(err.Error(), "more than 3 documents") {
			t.Fatalf("error %v, want one about more than 3 documents", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}))
		defer srv.Close()
		_, err := Load(t.Context(), srv.URL+"/slow.wsdl", LoadOptions{Timeout: 200 * time.Millisecond, HTTPClient: loopbackClient()})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want a deadline error", err)
		}
	})
	t.Run("status", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		defer srv.Close()
		_, err := Load(t.Context(), srv.URL+"/missing.wsdl", LoadOptions{HTTPClient: loopbackClient()})
		var le *LoadError
		if !errors.As(err, &le) || le.Status != 404 || le.Location != srv.URL+"/missing.wsdl" {
			t.Fatalf("error %v, want a *LoadError with status 404 and the location", err)
		}
	})
	t.Run("remote document cannot import a local file", func(t *testing.T) {
		text := strings.Replace(importTree["service.wsdl"], `location="abstract/messages.wsdl"`, `location="file:///etc/hostname"`, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(text)) }))
		defer srv.Close()
		_, err := Load(t.Context(), srv.URL, LoadOptions{HTTPClient: loopbackClient()})
		if err == nil || !strings.Contains(err.Error(), "cannot import a local file") {
			t.Fatalf("error %v, want a refusal to import a local file", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := Load(t.Context(), filepath.Join(dir, "nope.wsdl"), LoadOptions{})
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("error %v, want not exist", err)
		}
	})
	t.Run("folder", func(t *testing.T) {
		_, err := Load(t.Context(), dir, LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("error %v, want not a regular file", err)
		}
	})
	for name, tc := range map[string]struct{ text, want string }{
		"not WSDL":        {text: `<html><body/></html>`, want: "not a WSDL 1.1 or XML Schema document"},
		"WSDL 2.0":        {text: `<description xmlns="http://www.w3.org/ns/wsdl"/>`, want: "WSDL 2.0 is not supported"},
		"invalid XML":     {text: `<wsdl:definitions`, want: "invalid XML"},
		"no port":         {text: `<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"/>`, want: "has no wsdl:service port"},
		"unknown charset": {text: `<?xml version="1.0" encoding="KOI8-R"?><a/>`, want: `unsupported charset "KOI8-R"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(t.Context(), writeTemp(t, "bad.wsdl", tc.text), LoadOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("unsupported scheme", func(t *testing.T) {
		_, err := Load(t.Context(), "ftp://127.0.0.1/a.wsdl", LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), `unsupported scheme "ftp"`) {
			t.Fatalf("error %v, want unsupported scheme", err)
		}
	})
}

// charsetWSDL is a WSDL whose input element has a non-ASCII name, so that
// a wrong decoding shows in the element name.
func charsetWSDL(decl, name string) string {
	return decl + `<wsdl:definitions targetNamespace="urn:cs" xmlns:tns="urn:cs" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <wsdl:types><xsd:schema targetNamespace="urn:cs" elementFormDefault="qualified">
    <xsd:element name="Op"><xsd:complexType><xsd:sequence><xsd:element name="` + name + `" type="xsd:string"/></xsd:sequence></xsd:complexType></xsd:element>
  </xsd:schema></wsdl:types>
  <wsdl:message name="In"><wsdl:part name="p" element="tns:Op"/></wsdl:message>
  <wsdl:portType name="PT"><wsdl:operation name="Op"><wsdl:input message="tns:In"/></wsdl:operation></wsdl:portType>
  <wsdl:binding name="B" type="tns:PT"><soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="Op"><soap:operation soapAction=""/><wsdl:input><soap:body use="literal"/></wsdl:input></wsdl:operation></wsdl:binding>
  <wsdl:service name="S"><wsdl:port name="P" binding="tns:B"><soap:address location="http://127.0.0.1:9/op"/></wsdl:port></wsdl:service>
</wsdl:definitions>`
}

func encodeLatin1(s string) []byte {
	var out []byte
	for _, r := range s {
		out = append(out, byte(r))
	}
	return out
}

func encodeWindows1252(s string) []byte {
	var out []byte
	for _, r := range s {
		b := byte(r)
		for i, h := range windows1252High {
			if h == r {
				b = byte(0x80 + i)
			}
		}
		out = append(out, b)
	}
	return out
}

func encodeUTF16(s string, bigEndian, bom bool) []byte {
	var out []byte
	units := utf16.Encode([]rune(s))
	if bom {
		units = append([]uint16{0xFEFF}, units...)
	}
	for _, u := range units {
		if bigEndian {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	return out
}

func TestLoadCharsets(t *testing.T) {
	tests := []struct {
		name        string
		doc         []byte
		contentType string // served over HTTP when set
		element     string
	}{
		{name: "ISO-8859-1 declared", element: "Observação",
			doc: encodeLatin1(charsetWSDL(`<?xml version="1.0" encoding="ISO-8859-1"?>`, "Observação"))},
		{name: "latin1 declared", element: "Größe",
			doc: encodeLatin1(charsetWSDL(`<?xml version='1.0' encoding='latin1'?>`, "Größe"))},
		{name: "windows-1252 declared", element: "Šírka",
			doc: encodeWindows1252(charsetWSDL(`<?xml version="1.0" encoding="windows-1252"?>`, "Šírka"))},
		{name: "UTF-16LE with byte order mark", element: "日本",
			doc: encodeUTF16(charsetWSDL(`<?xml version="1.0" encoding="UTF-16"?>`, "日本"), false, true)},
		{name: "UTF-16BE without byte order mark", element: "日本",
			doc: encodeUTF16(charsetWSDL(`<?xml version="1.0" encoding="UTF-16"?>`, "日本"), true, false)},
		{name: "UTF-8 with byte order mark", element: "über",
			doc: append([]byte{0xEF, 0xBB, 0xBF}, charsetWSDL(`<?xml version="1.0" encoding="UTF-8"?>`, "über")...)},
		{name: "charset from Content-Type, no declaration", element: "Observação", contentType: "text/xml; charset=ISO-8859-1",
			doc: encodeLatin1(charsetWSDL("", "Observação"))},
		{name: "Content-Type wins over the declaration", element: "Größe", contentType: "text/xml; charset=iso-8859-1",
			doc: encodeLatin1(charsetWSDL(`<?xml version="1.0" encoding="UTF-8"?>`, "Größe"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			location := writeTemp(t, "cs.wsdl", string(tt.doc))
			if tt.contentType != "" {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", tt.contentType)
					_, _ = w.Write(tt.doc)
				}))
				defer srv.Close()
				location = srv.URL
			}
			svc, err := Load(t.Context(), location, LoadOptions{HTTPClient: loopbackClient()})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := svc.Operations()[0].Input[0].Name; got != tt.element {
				t.Errorf("element name %q, want %q", got, tt.element)
			}
		})
	}
}

func TestReplyCharset(t *testing.T) {
	fault := `<?xml version="1.0" encoding="ISO-8859-1"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>` +
		`<faultcode>s:Client</faultcode><faultstring>Ligação recusada em São Paulo</faultstring></s:Fault></s:Body></s:Envelope>`
	for name, contentType := range map[string]string{
		"declared and in Content-Type": "text/xml; charset=ISO-8859-1",
		"declared only":                "text/xml",
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/wsdl" {
					_, _ = w.Write([]byte(strings.ReplaceAll(string(readTestdata(t, "calllog.wsdl")), "http://127.0.0.1:18081", "http://"+r.Host)))
					return
				}
				w.Header().Set("Content-Type", contentType)
				w.WriteHeader(500)
				_, _ = w.Write(encodeLatin1(fault))
			}))
			defer srv.Close()
			logger, _ := testLogger()
			sender, _ := senderFor(srv.URL+"/wsdl", "LogCall", "1.1", false, logger)
			out := sender.Send(t.Context(), job(calllogParams()))
			var f *Fault
			if !errors.As(out.Err, &f) {
				t.Fatalf("error %v is not a *Fault", out.Err)
			}
			if f.Reason != "Ligação recusada em São Paulo" {
				t.Errorf("reason %q, want the decoded ISO-8859-1 text", f.Reason)
			}
		})
	}
}
