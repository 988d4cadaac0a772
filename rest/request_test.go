package rest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/render"
)

// hardValue contains every character that needs escaping somewhere.
const hardValue = "a+b & c%d/e#f?g h é \"q\" \\ end\nline2"

// The escaped forms of hardValue, written out by hand.
const (
	hardPath   = "a+b%20&%20c%25d%2Fe%23f%3Fg%20h%20%C3%A9%20%22q%22%20%5C%20end%0Aline2"
	hardQuery  = "a%2Bb+%26+c%25d%2Fe%23f%3Fg+h+%C3%A9+%22q%22+%5C+end%0Aline2"
	hardHeader = "a+b & c%d/e#f?g h é \"q\" \\ end line2"
	hardJSON   = `a+b & c%d/e#f?g h é \"q\" \\ end\nline2`
	hardXML    = `a+b &amp; c%d/e#f?g h é &quot;q&quot; \ end&#xA;line2`
)

func TestRequestTypes(t *testing.T) {
	tests := []struct {
		name        string
		requestType string
		contentType string
		body        string
		method      string
		// query, wantContentType and wantBody are what the server must see.
		query           string
		wantContentType string
		wantBody        string
		// decode returns the values the server reads from the body.
		decode func(t *testing.T, body []byte) []string
	}{
		{
			name: "GET", requestType: "GET", method: "GET",
			query: "fixed=1&q=" + hardQuery + "&p=" + hardQuery,
		},
		{
			name: "DELETE", requestType: "DELETE", method: "DELETE",
			query: "fixed=1&q=" + hardQuery + "&p=" + hardQuery,
		},
		{
			name: "POST form", requestType: "POST", method: "POST",
			query:           "fixed=1&q=" + hardQuery,
			wantContentType: "application/x-www-form-urlencoded",
			wantBody:        "p=" + hardQuery,
			decode: func(t *testing.T, body []byte) []string {
				form, err := url.ParseQuery(string(body))
				if err != nil {
					t.Fatalf("form body does not parse: %v", err)
				}
				return form["p"]
			},
		},
		{
			name: "POST RAW json", requestType: "POST RAW", method: "POST",
			contentType: "application/json", body: `{"v":"{{v}}"}`,
			query:           "fixed=1&q=" + hardQuery + "&p=" + hardQuery,
			wantContentType: "application/json",
			wantBody:        `{"v":"` + hardJSON + `"}`,
			decode: func(t *testing.T, body []byte) []string {
				var doc struct{ V string }
				if err := json.Unmarshal(body, &doc); err != nil {
					t.Fatalf("JSON body does not parse: %v", err)
				}
				return []string{doc.V}
			},
		},
		{
			name: "POST RAW xml", requestType: "POST RAW", method: "POST",
			contentType: "text/xml; charset=utf-8", body: `<r a="{{v}}">{{v}}</r>`,
			query:           "fixed=1&q=" + hardQuery + "&p=" + hardQuery,
			wantContentType: "text/xml; charset=utf-8",
			wantBody:        `<r a="` + hardXML + `">` + hardXML + `</r>`,
			decode: func(t *testing.T, body []byte) []string {
				var doc struct {
					A    string `xml:"a,attr"`
					Text string `xml:",chardata"`
				}
				if err := xml.Unmarshal(body, &doc); err != nil {
					t.Fatalf("XML body does not parse: %v", err)
				}
				return []string{doc.A, doc.Text}
			},
		},
		{
			name: "POST RAW text", requestType: "POST RAW", method: "POST",
			body:            "v={{v}}",
			query:           "fixed=1&q=" + hardQuery + "&p=" + hardQuery,
			wantContentType: "text/plain; charset=utf-8",
			wantBody:        "v=" + hardValue,
			decode: func(t *testing.T, body []byte) []string {
				return []string{strings.TrimPrefix(string(body), "v=")}
			},
		},
		{
			name: "PUT json", requestType: "PUT", method: "PUT",
			contentType: "application/vnd.api+json", body: `{"v":"{{v}}"}`,
			query:           "fixed=1&q=" + hardQuery + "&p=" + hardQuery,
			wantContentType: "application/vnd.api+json",
			wantBody:        `{"v":"` + hardJSON + `"}`,
			decode: func(t *testing.T, body []byte) []string {
				var doc struct{ V string }
				if err := json.Unmarshal(body, &doc); err != nil {
					t.Fatalf("JSON body does not parse: %v", err)
				}
				return []string{doc.V}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, rec := newServer(t, nil)
			app := &conf.App{
				RequestType: tc.requestType,
				URL:         srv.URL + "/items/{{v}}/x?fixed=1&q={{v}}",
				Headers:     []conf.Header{{Name: "X-Value", Value: "{{v}}"}},
				Params:      []conf.Param{{Name: "p", Value: "{{v}}"}},
				Body:        tc.body,
			}
			if tc.contentType != "" {
				app.Headers = append(app.Headers, conf.Header{Name: "Content-Type", Value: tc.contentType})
			}
			tmpl := newTestTemplate(t, app)
			out := send(newTestSender(t, Options{}), newJob(t, tmpl, render.Vars{"v": hardValue}))
			wantOutcome(t, out, delivery.Delivered, http.StatusOK)

			seen := rec.only(t)
			if seen.Method != tc.method {
				t.Errorf("method = %q, want %q", seen.Method, tc.method)
			}
			if want := "/items/" + hardPath + "/x?" + tc.query; seen.RequestURI != want {
				t.Errorf("request URI =\n  %s\nwant\n  %s", seen.RequestURI, want)
			}
			if got := seen.Header.Get("Content-Type"); got != tc.wantContentType {
				t.Errorf("Content-Type = %q, want %q", got, tc.wantContentType)
			}
			if string(seen.Body) != tc.wantBody {
				t.Errorf("body =\n  %s\nwant\n  %s", seen.Body, tc.wantBody)
			}

			// The server decodes every value back to the original.
			if want := "/items/" + hardValue + "/x"; seen.Path != want {
				t.Errorf("decoded path = %q, want %q", seen.Path, want)
			}
			if got := seen.Query["q"]; len(got) != 1 || got[0] != hardValue {
				t.Errorf("decoded query q = %q, want [%q]", got, hardValue)
			}
			if tc.requestType != "POST" {
				if got := seen.Query["p"]; len(got) != 1 || got[0] != hardValue {
					t.Errorf("decoded query p = %q, want [%q]", got, hardValue)
				}
			}
			if got := seen.Header.Values("X-Value"); len(got) != 1 || got[0] != hardHeader {
				t.Errorf("X-Value = %q, want [%q]", got, hardHeader)
			}
			if tc.decode != nil {
				for _, got := range tc.decode(t, seen.Body) {
					if got != hardValue {
						t.Errorf("decoded body value = %q, want %q", got, hardValue)
					}
				}
			}
			if got := seen.Header.Get("Idempotency-Key"); got != testKey {
				t.Errorf("Idempotency-Key = %q, want %q", got, testKey)
			}
		})
	}
}

// TestCase15FormURLEncoding checks the exact wire forms of a GET with a
// path segment and query parameters and of a POST form, for values with
// "+", "&", "%", "/", "?", "#" and non-ASCII letters.
func TestCase15FormURLEncoding(t *testing.T) {
	const esl = "testdata/15-form-url-encoding.esl"
	vars := render.Vars{
		"caller_number": eslValue(t, esl, "Caller-Caller-ID-Number"),
		"caller_name":   eslValue(t, esl, "Caller-Caller-ID-Name"),
		"account_ref":   eslValue(t, esl, "variable_account_ref"),
	}
	if vars["caller_number"] != "+1555010017" || vars["account_ref"] != "AB/12?x=1#frag" {
		t.Fatalf("capture decoded to unexpected values %q", vars)
	}
	wantGET, wantPOSTBody := case15Expected(t)
	params := []conf.Param{{Name: "caller", Value: "{{caller_number}}"}, {Name: "name", Value: "{{caller_name}}"}}

	t.Run("GET", func(t *testing.T) {
		srv, rec := newServer(t, nil)
		tmpl := newTestTemplate(t, &conf.App{
			RequestType: "GET",
			URL:         srv.URL + "/api/accounts/{{account_ref}}/calls",
			Params:      params,
		})
		out := send(newTestSender(t, Options{}), newJob(t, tmpl, vars))
		wantOutcome(t, out, delivery.Delivered, http.StatusOK)

		seen := rec.only(t)
		if got := seen.Method + " " + seen.RequestURI; got != wantGET {
			t.Errorf("request line =\n  %s\nwant\n  %s", got, wantGET)
		}
		segments := strings.Split(strings.TrimPrefix(seen.RequestURI[:strings.IndexByte(seen.RequestURI, '?')], "/"), "/")
		if len(segments) != 4 {
			t.Fatalf("path has %d segments, want 4: %q", len(segments), segments)
		}
		if account, _ := url.PathUnescape(segments[2]); account != vars["account_ref"] {
			t.Errorf("account segment decodes to %q, want %q", account, vars["account_ref"])
		}
		wantValues(t, seen.Query, vars)
	})

	t.Run("POST", func(t *testing.T) {
		srv, rec := newServer(t, nil)
		tmpl := newTestTemplate(t, &conf.App{
			RequestType: "POST",
			URL:         srv.URL + "/api/calls",
			Params:      params,
		})
		out := send(newTestSender(t, Options{}), newJob(t, tmpl, vars))
		wantOutcome(t, out, delivery.Delivered, http.StatusOK)

		seen := rec.only(t)
		if seen.RequestURI != "/api/calls" {
			t.Errorf("request URI = %q, want /api/calls", seen.RequestURI)
		}
		if got := seen.Header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type = %q", got)
		}
		if string(seen.Body) != wantPOSTBody {
			t.Errorf("body =\n  %s\nwant\n  %s", seen.Body, wantPOSTBody)
		}
		form, err := url.ParseQuery(string(seen.Body))
		if err != nil {
			t.Fatalf("form body does not parse: %v", err)
		}
		wantValues(t, form, vars)
	})
}

// case15Expected reads the expected GET request line and POST body.
func case15Expected(t *testing.T) (string, string) {
	t.Helper()
	data, err := os.ReadFile("testdata/15-form-url-encoding.expected.txt")
	if err != nil {
		t.Fatal(err)
	}
	var get, body string
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "GET /"):
			get = line
		case strings.HasPrefix(line, "caller="):
			body = line
		}
	}
	if get == "" || body == "" {
		t.Fatal("expected file has no GET line or no form body")
	}
	return get, body
}

func wantValues(t *testing.T, got url.Values, vars render.Vars) {
	t.Helper()
	if len(got) != 2 {
		t.Errorf("server saw %d parameters, want 2: %q", len(got), got)
	}
	if v := got["caller"]; len(v) != 1 || v[0] != vars["caller_number"] {
		t.Errorf("caller = %q, want [%q]", v, vars["caller_number"])
	}
	if v := got["name"]; len(v) != 1 || v[0] != vars["caller_name"] {
		t.Errorf("name = %q, want [%q]", v, vars["caller_name"])
	}
}

// rawServer is a TCP server that reads HTTP/1.1 requests itself, so a test
// can see the exact bytes and every header line. It responds 200 to each.
type rawServer struct {
	listener net.Listener
	mu       sync.Mutex
	conns    int
	raw      bytes.Buffer
	requests []*http.Request
	bodies   [][]byte
}

func newRawServer(t *testing.T) *rawServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &rawServer{listener: l}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			srv.mu.Lock()
			srv.conns++
			srv.mu.Unlock()
			wg.Go(func() { srv.serve(conn) })
		}
	})
	return srv
}

func (srv *rawServer) serve(conn net.Conn) {
	defer conn.Close()
	reader := bufio.NewReader(io.TeeReader(conn, lockedWriter{srv}))
	for {
		req, err := http.ReadRequest(reader)
		if err != nil {
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		srv.mu.Lock()
		srv.requests = append(srv.requests, req)
		srv.bodies = append(srv.bodies, body)
		srv.mu.Unlock()
		if _, err := io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
			return
		}
	}
}

// lockedWriter appends to the server's raw byte log.
type lockedWriter struct{ srv *rawServer }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.srv.mu.Lock()
	defer w.srv.mu.Unlock()
	return w.srv.raw.Write(p)
}

// TestCase16CRLFInCallerName sends a caller name that contains CR LF in a
// header and in a form parameter, twice on one keep-alive connection.
func TestCase16CRLFInCallerName(t *testing.T) {
	const esl = "testdata/16-crlf-in-caller-name.esl"
	vars := render.Vars{
		"caller_name": eslValue(t, esl, "Caller-Caller-ID-Name"),
		"ivr_note":    eslValue(t, esl, "variable_ivr_note"),
	}
	if vars["caller_name"] != "Test Caller\r\nX-Injected: yes" || vars["ivr_note"] != "ok\nbye" {
		t.Fatalf("capture decoded to unexpected values %q", vars)
	}

	srv := newRawServer(t)
	tmpl := newTestTemplate(t, &conf.App{
		RequestType: "POST",
		URL:         "http://" + srv.listener.Addr().String() + "/api/calls",
		Headers: []conf.Header{
			{Name: "X-Caller-Name", Value: "{{caller_name}}"},
			{Name: "X-Ivr-Note", Value: "{{ivr_note}}"},
		},
		Params: []conf.Param{{Name: "name", Value: "{{caller_name}}"}, {Name: "note", Value: "{{ivr_note}}"}},
	})
	sender := newTestSender(t, Options{})
	for i := range 2 {
		out := send(sender, newJob(t, tmpl, vars))
		if out.Class != delivery.Delivered {
			t.Fatalf("request %d: class %v, error %v", i+1, out.Class, out.Err)
		}
	}

	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.requests) != 2 {
		t.Fatalf("server read %d requests, want 2", len(srv.requests))
	}
	if srv.conns != 1 {
		t.Errorf("server accepted %d connections, want 1 kept alive", srv.conns)
	}
	if strings.Contains(strings.ToLower(srv.raw.String()), "\nx-injected") {
		t.Errorf("raw bytes contain an X-Injected header line:\n%s", srv.raw.String())
	}
	for i, req := range srv.requests {
		if _, ok := req.Header["X-Injected"]; ok {
			t.Errorf("request %d has an X-Injected header", i+1)
		}
		if got := req.Header.Get("X-Caller-Name"); got != "Test Caller  X-Injected: yes" {
			t.Errorf("request %d: X-Caller-Name = %q", i+1, got)
		}
		if got := req.Header.Get("X-Ivr-Note"); got != "ok bye" {
			t.Errorf("request %d: X-Ivr-Note = %q", i+1, got)
		}
		if want := "name=Test+Caller%0D%0AX-Injected%3A+yes&note=ok%0Abye"; string(srv.bodies[i]) != want {
			t.Errorf("request %d: body = %q, want %q", i+1, srv.bodies[i], want)
		}
		form, err := url.ParseQuery(string(srv.bodies[i]))
		if err != nil {
			t.Fatalf("request %d: form does not parse: %v", i+1, err)
		}
		if form.Get("name") != vars["caller_name"] || form.Get("note") != vars["ivr_note"] {
			t.Errorf("request %d: form decodes to %q", i+1, form)
		}
	}
}

// TestCase17JSONBodyEscaping sends a JSON body template filled with
// quotes, a trailing backslash, control characters and U+2028.
func TestCase17JSONBodyEscaping(t *testing.T) {
	const esl = "testdata/17-json-body-escaping.esl"
	vars := render.Vars{
		"caller_name":   eslValue(t, esl, "Caller-Caller-ID-Name"),
		"caller_number": eslValue(t, esl, "Caller-Caller-ID-Number"),
		"ivr_note":      eslValue(t, esl, "variable_ivr_note"),
	}
	expected, err := os.ReadFile("testdata/17-expected-body.json")
	if err != nil {
		t.Fatal(err)
	}
	expected = bytes.TrimRight(expected, "\n")

	srv, rec := newServer(t, nil)
	app := &conf.App{
		File:        "apps.d/main_menu.toml",
		RequestType: "POST RAW",
		URL:         srv.URL + "/api/calls",
		Headers:     []conf.Header{{Name: "Content-Type", Value: "application/json"}},
		Body:        `{"caller":"{{caller_name}}","number":"{{caller_number}}","note":"{{ivr_note}}"}`,
	}
	tmpl := newTestTemplate(t, app)
	if err := tmpl.CheckBody(vars); err != nil {
		t.Errorf("CheckBody: %v", err)
	}
	out := send(newTestSender(t, Options{}), newJob(t, tmpl, vars))
	wantOutcome(t, out, delivery.Delivered, http.StatusOK)

	body := rec.only(t).Body
	if !json.Valid(body) {
		t.Fatalf("body is not valid JSON: %s", body)
	}
	var got, want map[string]string
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(expected, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("body decodes to %q, want %q", got, want)
	}
	originals := map[string]string{"caller": vars["caller_name"], "number": vars["caller_number"], "note": vars["ivr_note"]}
	if !reflect.DeepEqual(got, originals) {
		t.Errorf("body decodes to %q, want the original values %q", got, originals)
	}
	for _, c := range body {
		if c < 0x20 {
			t.Errorf("body contains the raw control character %q", c)
		}
	}
	if bytes.Contains(body, []byte(`\\\"`)) || bytes.Contains(body, []byte(`\\n`)) {
		t.Errorf("body contains a double escape: %s", body)
	}
	if !bytes.Equal(body, expected) {
		t.Errorf("body =\n  %s\nwant\n  %s", body, expected)
	}
}
