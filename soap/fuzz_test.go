package soap

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedFiles returns the testdata files whose names end in suffix.
func seedFiles(f *testing.F, suffix string) [][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*"+suffix))
	if err != nil {
		f.Fatal(err)
	}
	golden, err := filepath.Glob(filepath.Join("testdata", "golden", "*"+suffix))
	if err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	for _, p := range append(paths, golden...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		f.Fatalf("no seed files ending in %s", suffix)
	}
	return out
}

// FuzzParseWSDL feeds arbitrary documents through the WSDL reader, the
// operation listing and the envelope builder: none may panic, and a built
// envelope must be well-formed.
func FuzzParseWSDL(f *testing.F) {
	for _, seed := range seedFiles(f, ".wsdl") {
		f.Add(seed, "")
		f.Add(seed, "text/xml; charset=iso-8859-1")
	}
	for _, text := range importTree {
		f.Add([]byte(text), "")
	}
	f.Add(encodeUTF16(charsetWSDL(`<?xml version="1.0" encoding="UTF-16"?>`, "日本"), false, true), "")

	f.Fuzz(func(t *testing.T, doc []byte, contentType string) {
		text, err := toUTF8(doc, contentType)
		if err != nil {
			return
		}
		root, err := parseTree(text)
		if err != nil {
			return
		}
		d := &document{src: source{path: "/fuzz.wsdl"}, root: root}
		if _, err := importsOf(d); err != nil {
			return
		}
		svc, err := newService("/fuzz.wsdl", []*document{d})
		if err != nil {
			return
		}
		var listing bytes.Buffer
		if err := WriteOperations(&listing, svc); err != nil {
			t.Fatalf("WriteOperations: %v", err)
		}
		for _, op := range svc.Operations() {
			for _, v := range op.Versions {
				params := fields(strings.Split(strings.Join(leafPaths(op.Input, 20), ",x,")+",x", ",")...)
				req, err := svc.Build(op.Name, v, params)
				if err != nil {
					continue
				}
				canonicalXML(t, req.Body)
			}
		}
	})
}

// FuzzParseFault feeds arbitrary replies through the reply parser: it may
// reject them but must not panic, with and without truncation.
func FuzzParseFault(f *testing.F) {
	for _, seed := range seedFiles(f, ".http") {
		if _, body, ok := bytes.Cut(seed, []byte("\r\n\r\n")); ok {
			f.Add(body, false)
			if len(body) > 10 {
				f.Add(body[:len(body)/2], true)
			}
		}
	}
	f.Add([]byte(`<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><e:Fault><e:Code><e:Value>e:Receiver</e:Value><e:Subcode><e:Value>x:y</e:Value></e:Subcode></e:Code></e:Fault></e:Body></e:Envelope>`), false)

	f.Fuzz(func(t *testing.T, body []byte, truncated bool) {
		fault, err := parseReply(body, truncated)
		if err != nil && fault != nil {
			t.Fatalf("parseReply returned both a fault and an error: %v", err)
		}
		if fault != nil {
			_ = fault.Error()
			_ = fault.Permanent()
			_ = fault.redact().Error()
		}
	})
}
