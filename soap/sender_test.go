package soap

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postcall/postcall/delivery"
)

// calllogParams are valid parameters for LogCall of calllog.wsdl.
func calllogParams() []delivery.Field {
	return fields("CallId", "a1a1a1a1-0000-4000-8000-000000000099", "Ani", "1555010099", "Dnis", "5000", "Duration", "42")
}

// sendCase posts a job to a raw server that responds with response, a
// raw HTTP message, and returns the outcome, the server and the log.
func sendCase(t *testing.T, wsdl, version string, params []delivery.Field, response []byte, private bool) (delivery.Outcome, *rawServer, *safeBuffer) {
	t.Helper()
	srv := newRawServer(t, rawResponse(parseHTTPFile(t, response)))
	logger, logs := testLogger()
	sender, _ := senderFor(wsdlAt(t, wsdl, srv.URL), "LogCall", version, private, logger)
	j := job(params)
	j.Private = private
	return sender.Send(t.Context(), j), srv, logs
}

func TestCase21SOAP11Fault500(t *testing.T) {
	tests := []struct {
		name      string
		response  []byte
		class     delivery.Class
		code      string
		retryWait time.Duration
	}{
		{
			name: "client fault is permanent", response: readTestdata(t, "21-soap11-fault-500.http"),
			class: delivery.Permanent, code: "Client",
		},
		{
			name: "server fault is retried",
			response: bytes.Replace(
				bytes.Replace(readTestdata(t, "21-soap11-fault-500.http"), []byte("soap:Client"), []byte("soap:Server"), 1),
				[]byte("Server: Test-SOAP/1.0\r\n"), []byte("Server: Test-SOAP/1.0\r\nRetry-After: 7\r\n"), 1),
			class: delivery.Retryable, code: "Server", retryWait: 7 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, logs := sendCase(t, "27-xml-escaping.wsdl", "1.1", case27Params(), tt.response, false)
			if out.Class != tt.class {
				t.Errorf("class %s, want %s (%v)", out.Class, tt.class, out.Err)
			}
			if out.Status != 500 {
				t.Errorf("status %d, want 500", out.Status)
			}
			if out.RetryAfter != tt.retryWait {
				t.Errorf("RetryAfter %s, want %s", out.RetryAfter, tt.retryWait)
			}
			var f *Fault
			if !errors.As(out.Err, &f) {
				t.Fatalf("error %v is not a *Fault", out.Err)
			}
			if f.Version != "1.1" || f.HTTPStatus != 500 || f.Code != tt.code {
				t.Errorf("fault version %q status %d code %q, want 1.1, 500, %q", f.Version, f.HTTPStatus, f.Code, tt.code)
			}
			if want := "callerNumber '1555010021' is not a valid account number"; f.Reason != want {
				t.Errorf("reason %q, want %q", f.Reason, want)
			}
			if !strings.HasPrefix(f.Detail, `<e:ValidationError xmlns:e="urn:example:calllog">`) || !strings.Contains(f.Detail, "<e:code>ACCT-404</e:code>") {
				t.Errorf("detail %q lacks the ValidationError element", f.Detail)
			}
			if want := "SOAP 1.1 fault " + tt.code + ": callerNumber '1555010021' is not a valid account number"; f.Error() != want {
				t.Errorf("Error() = %q, want %q", f.Error(), want)
			}

			entries := logs.withMessage(t, "SOAP fault received")
			if len(entries) != 1 {
				t.Fatalf("%d fault log entries, want 1: %s", len(entries), logs)
			}
			e := entries[0]
			if e["level"] != "warning" || e["app"] != "calllog" || e["status"] != float64(500) {
				t.Errorf("log entry %v lacks level warning, app or status", e)
			}
			if e["attempt"] != float64(1) {
				t.Errorf("log entry attempt %v, want 1 for a job the spool has not counted", e["attempt"])
			}
			if d, _ := e["detail"].(string); !strings.Contains(d, "ACCT-404") {
				t.Errorf("log entry detail %q lacks the fault detail", d)
			}
			if msg, _ := e["error"].(string); !strings.Contains(msg, "is not a valid account number") {
				t.Errorf("log entry error %q lacks the fault string", msg)
			}
		})
	}
}

func TestCase21NonSOAPHTML502(t *testing.T) {
	out, _, _ := sendCase(t, "27-xml-escaping.wsdl", "1.1", case27Params(), readTestdata(t, "21-non-soap-html-502.http"), false)
	if out.Class != delivery.Retryable || out.Status != 502 {
		t.Errorf("outcome %s status %d, want retryable 502", out.Class, out.Status)
	}
	var ns *NonSOAPError
	if !errors.As(out.Err, &ns) {
		t.Fatalf("error %v is not a *NonSOAPError", out.Err)
	}
	if ns.ContentType != "text/html" || ns.Status != 502 {
		t.Errorf("content type %q status %d, want text/html 502", ns.ContentType, ns.Status)
	}
	msg := out.Err.Error()
	for _, s := range []string{"non-SOAP response", "status 502 Bad Gateway", `content type "text/html"`, "<title>502 Bad Gateway</title>"} {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q lacks %q", msg, s)
		}
	}
}

func TestCase21NonSOAPHTML200(t *testing.T) {
	t.Run("short page", func(t *testing.T) {
		out, _, _ := sendCase(t, "27-xml-escaping.wsdl", "1.1", case27Params(), readTestdata(t, "21-non-soap-html-200.http"), false)
		if out.Class == delivery.Delivered {
			t.Fatalf("an HTML page with status 200 counted as delivered")
		}
		if out.Class != delivery.Retryable || out.Status != 200 {
			t.Errorf("outcome %s status %d, want retryable 200", out.Class, out.Status)
		}
		msg := out.Err.Error()
		for _, s := range []string{"non-SOAP response", "status 200", `content type "text/html; charset=UTF-8"`, "SoapServer::handle(): invalid XML"} {
			if !strings.Contains(msg, s) {
				t.Errorf("error %q lacks %q", msg, s)
			}
		}
		if strings.Contains(msg, "(truncated)") {
			t.Errorf("error %q says truncated for a short body", msg)
		}
	})
	t.Run("long page is truncated", func(t *testing.T) {
		page := "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><body>" + strings.Repeat("é maintenance ", 200) + "</body></html>"
		out, _, _ := sendCase(t, "27-xml-escaping.wsdl", "1.1", case27Params(), []byte(page), false)
		var ns *NonSOAPError
		if !errors.As(out.Err, &ns) {
			t.Fatalf("error %v is not a *NonSOAPError", out.Err)
		}
		if !ns.Truncated || len(ns.Snippet) > snippetBytes || !strings.HasPrefix(ns.Snippet, "<html><body>é maintenance") {
			t.Errorf("snippet %q (%d bytes, truncated %v), want the page's start cut at %d bytes", ns.Snippet, len(ns.Snippet), ns.Truncated, snippetBytes)
		}
		if !strings.Contains(out.Err.Error(), "(truncated)") {
			t.Errorf("error %q does not say the body was truncated", out.Err)
		}
	})
}

func TestCase22SOAP12Fault(t *testing.T) {
	out, _, logs := sendCase(t, "23-soap12-binding.wsdl", "1.2",
		fields("callId", "a1a1a1a1-0000-4000-8000-000000000022", "callerNumber", "1555010022", "durationSeconds", "42"),
		readTestdata(t, "22-soap12-fault-500.http"), false)
	if out.Class != delivery.Permanent || out.Status != 500 {
		t.Errorf("outcome %s status %d, want permanent 500", out.Class, out.Status)
	}
	var f *Fault
	if !errors.As(out.Err, &f) {
		t.Fatalf("error %v is not a *Fault", out.Err)
	}
	if want := "SOAP 1.2 fault Sender / {urn:example:calllog}DuplicateCall: Call a1a1a1a1-0000-4000-8000-000000000022 already logged"; f.Error() != want {
		t.Errorf("Error() = %q, want %q", f.Error(), want)
	}
	if f.Code != "Sender" {
		t.Errorf("code %q, want Sender", f.Code)
	}
	if len(f.Subcode) != 1 || f.Subcode[0] != "{urn:example:calllog}DuplicateCall" {
		t.Errorf("subcode %q, want [{urn:example:calllog}DuplicateCall]", f.Subcode)
	}
	if f.Reason != "Call a1a1a1a1-0000-4000-8000-000000000022 already logged" {
		t.Errorf("reason %q is not the English text", f.Reason)
	}
	if f.Detail != "<e:existingTicket>TCK-000022</e:existingTicket>" {
		t.Errorf("detail %q, want the existingTicket element", f.Detail)
	}
	if strings.Contains(f.Error(), "undefined") || strings.Contains(logs.String(), "undefined") {
		t.Errorf("fault reported as undefined: %q", f.Error())
	}
	if !strings.Contains(logs.String(), "TCK-000022") {
		t.Errorf("log lacks the fault detail: %s", logs)
	}
}

func TestParseFault12Reason(t *testing.T) {
	envelope := func(texts string) []byte {
		return []byte(`<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault>` +
			`<env:Code><env:Value>env:Receiver</env:Value><env:Subcode><env:Value xmlns:a="urn:a">a:One</env:Value>` +
			`<env:Subcode><env:Value>Two</env:Value></env:Subcode></env:Subcode></env:Code>` +
			`<env:Reason>` + texts + `</env:Reason><env:Node>urn:node</env:Node><env:Role>urn:role</env:Role>` +
			`</env:Fault></env:Body></env:Envelope>`)
	}
	tests := []struct {
		name, texts, want string
	}{
		{name: "en chosen over others", texts: `<env:Text xml:lang="fr">Non</env:Text><env:Text xml:lang="en">No</env:Text>`, want: "No"},
		{name: "en over en-GB", texts: `<env:Text xml:lang="en-GB">Colour</env:Text><env:Text xml:lang="EN">Color</env:Text>`, want: "Color"},
		{name: "en-GB over other languages", texts: `<env:Text xml:lang="de">Nein</env:Text><env:Text xml:lang="en-GB">No</env:Text>`, want: "No"},
		{name: "first when no English", texts: `<env:Text xml:lang="de">Nein</env:Text><env:Text xml:lang="fr">Non</env:Text>`, want: "Nein"},
		{name: "no text", texts: ``, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseReply(envelope(tt.texts), false)
			if err != nil || f == nil {
				t.Fatalf("parseReply: fault %v, error %v", f, err)
			}
			if f.Reason != tt.want {
				t.Errorf("reason %q, want %q", f.Reason, tt.want)
			}
			if f.Code != "Receiver" || strings.Join(f.Subcode, ",") != "{urn:a}One,Two" {
				t.Errorf("code %q subcode %q, want Receiver and {urn:a}One,Two", f.Code, f.Subcode)
			}
			if f.Node != "urn:node" || f.Actor != "urn:role" {
				t.Errorf("node %q role %q, want urn:node and urn:role", f.Node, f.Actor)
			}
			if f.Permanent() {
				t.Errorf("Receiver fault is permanent, want retryable")
			}
		})
	}
}

func TestFaultPermanent(t *testing.T) {
	tests := []struct {
		code      string
		permanent bool
	}{
		{"Client", true}, {"Client.Authentication", true}, {"Sender", true},
		{"VersionMismatch", true}, {"MustUnderstand", true}, {"DataEncodingUnknown", true},
		{"soapenv:Client", true}, {"Server", false}, {"Receiver", false},
		{"{urn:x}Busy", false}, {"", false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := (&Fault{Code: tt.code}).Permanent(); got != tt.permanent {
				t.Errorf("Permanent() = %v, want %v", got, tt.permanent)
			}
		})
	}
}

func TestCase23SOAP12Binding(t *testing.T) {
	out, srv, logs := sendCase(t, "23-soap12-binding.wsdl", "1.2",
		fields("callId", "a1a1a1a1-0000-4000-8000-000000000023", "callerNumber", "1555010023", "durationSeconds", "42"),
		readTestdata(t, "23-wcf-415-response.http"), false)

	reqs := srv.received()
	if len(reqs) != 1 {
		t.Fatalf("server received %d requests, want 1", len(reqs))
	}
	req := reqs[0]
	if req.startLine != "POST /CallLog.svc HTTP/1.1" {
		t.Errorf("request line %q, want POST /CallLog.svc HTTP/1.1", req.startLine)
	}
	if ct, _ := req.header("Content-Type"); len(ct) != 1 || ct[0] != `application/soap+xml; charset=utf-8; action="urn:example:calllog/LogCall"` {
		t.Errorf("Content-Type %q, want the SOAP 1.2 type with the action", ct)
	}
	if sa, _ := req.header("SOAPAction"); len(sa) != 0 {
		t.Errorf("SOAP 1.2 request has a SOAPAction header %q", sa)
	}
	if !bytes.Contains(req.body, []byte(`xmlns:soap="http://www.w3.org/2003/05/soap-envelope"`)) {
		t.Errorf("body does not use the SOAP 1.2 envelope namespace:\n%s", req.body)
	}
	expected := parseHTTPFile(t, readTestdata(t, "23-expected-request.http"))
	if !bytes.Equal(req.body, expected.body) {
		t.Errorf("body differs from the expected request:\n%s\n--- want\n%s", req.body, expected.body)
	}

	if out.Class != delivery.Permanent || out.Status != 415 {
		t.Errorf("outcome %s status %d, want permanent 415", out.Class, out.Status)
	}
	reason := "Cannot process the message because the content type 'text/xml; charset=utf-8' was not the expected type 'application/soap+xml; charset=utf-8'."
	if out.Err == nil || !strings.Contains(out.Err.Error(), reason) {
		t.Errorf("error %v lacks the reason phrase", out.Err)
	}
	entries := logs.withMessage(t, "webservice rejected the request's content type; the error holds its reason phrase")
	if len(entries) != 1 || entries[0]["level"] != "warning" || !strings.Contains(entries[0]["error"].(string), reason) {
		t.Errorf("log %v lacks a warning with the reason phrase", entries)
	}
}

// TestSendWireHeaders checks the headers the server receives: the action
// header keeps its spelling, the idempotency key and User-Agent are sent.
func TestSendWireHeaders(t *testing.T) {
	srv := newRawServer(t, rawResponse(parseHTTPFile(t, []byte("HTTP/1.1 202 Accepted\r\n\r\n"))))
	logger, _ := testLogger()
	text := strings.ReplaceAll(string(readTestdata(t, "calllog.wsdl")), "http://127.0.0.1:18081", srv.URL)
	sender, _ := senderFor(writeTemp(t, "calllog.wsdl", text), "LogCall", "1.1", false, logger)

	j := job(calllogParams())
	out := sender.Send(t.Context(), j)
	if out.Class != delivery.Delivered {
		t.Fatalf("outcome %s (%v), want delivered for 202 with an empty body", out.Class, out.Err)
	}
	req := srv.received()[0]
	if _, names := req.header("SOAPAction"); len(names) != 1 || names[0] != "SOAPAction" {
		t.Errorf("SOAPAction header sent as %q, want the spelling SOAPAction", names)
	}
	if v, _ := req.header("Idempotency-Key"); len(v) != 1 || v[0] != j.Key {
		t.Errorf("Idempotency-Key %q, want %q", v, j.Key)
	}
	if v, _ := req.header("User-Agent"); len(v) != 1 || v[0] != DefaultUserAgent {
		t.Errorf("User-Agent %q, want %q", v, DefaultUserAgent)
	}
}

func writeTemp(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSendClassification covers the replies that are not cases of their
// own, each from a fresh server.
func TestSendClassification(t *testing.T) {
	const (
		ok11   = `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><r:LogCallResponse xmlns:r="http://crm.example.com/postcall/v1"><r:Result>OK</r:Result></r:LogCallResponse></s:Body></s:Envelope>`
		fault1 = `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Server</faultcode><faultstring>database down</faultstring></s:Fault></s:Body></s:Envelope>`
		fault2 = `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><e:Fault><e:Code><e:Value>e:Receiver</e:Value></e:Code><e:Reason><e:Text xml:lang="en">busy</e:Text></e:Reason></e:Fault></e:Body></e:Envelope>`
	)
	tests := []struct {
		name        string
		status      int
		contentType string
		retryAfter  string
		body        string
		class       delivery.Class
		wait        time.Duration
		errText     string
	}{
		{name: "200 envelope", status: 200, contentType: "text/xml; charset=utf-8", body: ok11, class: delivery.Delivered},
		{name: "200 envelope without content type", status: 200, body: ok11, class: delivery.Delivered},
		{name: "200 envelope application/soap+xml", status: 200, contentType: "application/soap+xml", body: ok11, class: delivery.Delivered},
		{name: "204 empty", status: 204, class: delivery.Delivered},
		{name: "200 large envelope cut at the read limit", status: 200, contentType: "text/xml",
			body: strings.Replace(ok11, "OK", strings.Repeat("x", DefaultMaxResponseBytes*2), 1), class: delivery.Delivered},
		{name: "200 fault is still a fault", status: 200, contentType: "text/xml", body: fault1, class: delivery.Retryable, errText: "SOAP 1.1 fault Server: database down"},
		{name: "500 fault 1.2 receiver with Retry-After", status: 500, contentType: "application/soap+xml", retryAfter: "30", body: fault2,
			class: delivery.Retryable, wait: 30 * time.Second, errText: "SOAP 1.2 fault Receiver: busy"},
		{name: "503 empty with Retry-After", status: 503, retryAfter: "12", class: delivery.Retryable, wait: 12 * time.Second, errText: "status 503"},
		{name: "Retry-After capped", status: 429, retryAfter: "999999", class: delivery.Retryable, wait: DefaultMaxRetryAfter},
		{name: "408 retried", status: 408, class: delivery.Retryable},
		{name: "425 retried", status: 425, class: delivery.Retryable},
		{name: "404 html permanent", status: 404, contentType: "text/html", body: "<html>not here</html>", class: delivery.Permanent, errText: "non-SOAP response: status 404"},
		{name: "400 envelope without fault", status: 400, contentType: "text/xml", body: ok11, class: delivery.Permanent, errText: "status 400"},
		{name: "200 wrong content type", status: 200, contentType: "text/plain", body: ok11, class: delivery.Retryable, errText: `content type "text/plain"`},
		{name: "200 XML that is not an envelope", status: 200, contentType: "text/xml", body: "<result>ok</result>", class: delivery.Retryable, errText: "non-SOAP response"},
		{name: "200 broken XML", status: 200, contentType: "text/xml", body: "<s:Envelope", class: delivery.Retryable, errText: "non-SOAP response"},
		{name: "302 not followed", status: 302, class: delivery.Permanent, errText: "redirect not followed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/wsdl" {
					text := strings.ReplaceAll(string(readTestdata(t, "calllog.wsdl")), "http://127.0.0.1:18081", "http://"+r.Host)
					_, _ = w.Write([]byte(text))
					return
				}
				hits.Add(1)
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				} else {
					w.Header()["Content-Type"] = nil // no sniffed type either
				}
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				if tt.status == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			logger, _ := testLogger()
			sender, _ := senderFor(srv.URL+"/wsdl", "LogCall", "1.1", false, logger)

			out := sender.Send(t.Context(), job(calllogParams()))
			if out.Class != tt.class {
				t.Errorf("class %s, want %s (%v)", out.Class, tt.class, out.Err)
			}
			if out.Status != tt.status {
				t.Errorf("status %d, want %d", out.Status, tt.status)
			}
			if out.RetryAfter != tt.wait {
				t.Errorf("RetryAfter %s, want %s", out.RetryAfter, tt.wait)
			}
			if tt.errText != "" && (out.Err == nil || !strings.Contains(out.Err.Error(), tt.errText)) {
				t.Errorf("error %v lacks %q", out.Err, tt.errText)
			}
			if tt.class == delivery.Delivered && out.Err != nil {
				t.Errorf("delivered outcome carries error %v", out.Err)
			}
			if n := hits.Load(); n != 1 {
				t.Errorf("endpoint received %d requests, want 1", n)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name, value string
		want        time.Duration
	}{
		{name: "empty", value: "", want: 0},
		{name: "seconds", value: "120", want: 2 * time.Minute},
		{name: "zero", value: "0", want: 0},
		{name: "negative", value: "-5", want: 0},
		{name: "capped", value: "86400", want: time.Hour},
		{name: "http date", value: now.Add(90 * time.Second).Format(http.TimeFormat), want: 90 * time.Second},
		{name: "past date", value: now.Add(-time.Minute).Format(http.TimeFormat), want: 0},
		{name: "garbage", value: "soon", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryAfter(tt.value, time.Hour, now); got != tt.want {
				t.Errorf("retryAfter(%q) = %s, want %s", tt.value, got, tt.want)
			}
		})
	}
}

// TestSendTimeoutCoversBody checks that a server that sends its headers
// and then stalls is cut off by the attempt's timeout.
func TestSendTimeoutCoversBody(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/wsdl" {
			text := strings.ReplaceAll(string(readTestdata(t, "calllog.wsdl")), "http://127.0.0.1:18081", "http://"+r.Host)
			_, _ = w.Write([]byte(text))
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(200)
		_, _ = w.Write([]byte("<s:Envelope "))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	logger, _ := testLogger()
	hc := loopbackClient()
	client := NewClient(ClientOptions{App: "calllog", WSDL: srv.URL + "/wsdl", Method: "LogCall", Timeout: 300 * time.Millisecond, HTTPClient: hc, Logger: logger})
	sender := NewSender(Options{Clients: func(string) *Client { return client }, Logger: logger})
	out := sender.Send(t.Context(), job(calllogParams()))
	if out.Class != delivery.Retryable {
		t.Errorf("class %s, want retryable (%v)", out.Class, out.Err)
	}
	if !errors.Is(out.Err, context.DeadlineExceeded) {
		t.Errorf("error %v does not report the deadline", out.Err)
	}
}

func TestSendConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	deadURL := srv.URL
	srv.Close()

	logger, _ := testLogger()
	text := strings.ReplaceAll(string(readTestdata(t, "calllog.wsdl")), "http://127.0.0.1:18081", deadURL)
	sender, _ := senderFor(writeTemp(t, "calllog.wsdl", text), "LogCall", "1.1", false, logger)
	out := sender.Send(t.Context(), job(calllogParams()))
	if out.Class != delivery.Retryable || out.Status != 0 {
		t.Errorf("outcome %s status %d, want retryable with no status (%v)", out.Class, out.Status, out.Err)
	}
}

func TestSendPermanentSetupErrors(t *testing.T) {
	logger, _ := testLogger()
	sender, _ := senderFor(writeTemp(t, "calllog.wsdl", string(readTestdata(t, "calllog.wsdl"))), "LogCall", "1.1", false, logger)
	tests := []struct {
		name    string
		job     *delivery.Job
		errText string
	}{
		{name: "no SOAP parameters", job: &delivery.Job{App: "calllog"}, errText: "job has no SOAP parameters"},
		{name: "unknown application", job: func() *delivery.Job { j := job(calllogParams()); j.App = "gone"; return j }(), errText: `application "gone" has no SOAP settings`},
		{name: "parameter names no element", job: job(append(calllogParams(), fields("Colour", "red")...)), errText: `parameter "Colour" names no input element`},
		{name: "required element missing", job: job(calllogParams()[1:]), errText: `required element "CallId"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := sender.Send(t.Context(), tt.job)
			if out.Class != delivery.Permanent {
				t.Errorf("class %s, want permanent", out.Class)
			}
			if out.Err == nil || !strings.Contains(out.Err.Error(), tt.errText) {
				t.Errorf("error %v lacks %q", out.Err, tt.errText)
			}
		})
	}
}

// TestSendWSDLUnavailable checks that a WSDL that cannot be read makes the
// attempt retryable, is not read again while the wait lasts, and is read
// again after it.
func TestSendWSDLUnavailable(t *testing.T) {
	var wsdlHits, calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/wsdl" {
			if wsdlHits.Add(1) == 1 {
				http.Error(w, "starting up", http.StatusServiceUnavailable)
				return
			}
			text := strings.ReplaceAll(string(readTestdata(t, "calllog.wsdl")), "http://127.0.0.1:18081", "http://"+r.Host)
			_, _ = w.Write([]byte(text))
			return
		}
		calls.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()

	logger, logs := testLogger()
	sender, client := senderFor(srv.URL+"/wsdl", "LogCall", "1.1", false, logger)
	clock := time.Now()
	client.now = func() time.Time { return clock }

	out := sender.Send(t.Context(), job(calllogParams()))
	var ue *UnavailableError
	if out.Class != delivery.Retryable || !errors.As(out.Err, &ue) {
		t.Fatalf("first attempt: outcome %s (%v), want retryable with *UnavailableError", out.Class, out.Err)
	}
	if !strings.Contains(out.Err.Error(), "not available yet") || !strings.Contains(out.Err.Error(), "503") {
		t.Errorf("error %q does not say the WSDL is not available yet with its status", out.Err)
	}
	if out.RetryAfter <= 0 || out.RetryAfter > 2*DefaultWSDLRetryMin {
		t.Errorf("RetryAfter %s, want the WSDL wait of about %s", out.RetryAfter, DefaultWSDLRetryMin)
	}

	out = sender.Send(t.Context(), job(calllogParams()))
	if out.Class != delivery.Retryable || wsdlHits.Load() != 1 {
		t.Errorf("attempt during the wait: outcome %s, WSDL read %d times, want retryable and 1 read", out.Class, wsdlHits.Load())
	}

	clock = clock.Add(DefaultWSDLRetryMax)
	out = sender.Send(t.Context(), job(calllogParams()))
	if out.Class != delivery.Delivered {
		t.Fatalf("attempt after the wait: outcome %s (%v), want delivered", out.Class, out.Err)
	}
	if wsdlHits.Load() != 2 || calls.Load() != 1 {
		t.Errorf("WSDL read %d times and endpoint called %d times, want 2 and 1", wsdlHits.Load(), calls.Load())
	}
	if n := strings.Count(logs.String(), "WSDL not available"); n != 1 {
		t.Errorf("WSDL failure logged %d times, want once for one error:\n%s", n, logs)
	}
}

func TestClientBackoffGrows(t *testing.T) {
	c := NewClient(ClientOptions{WSDLRetryMin: time.Second, WSDLRetryMax: 10 * time.Second})
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, base := range want {
		c.failures = i + 1
		got := c.backoff()
		if got < base || got > base+base/5 {
			t.Errorf("after %d failures: backoff %s, want %s plus at most 20%%", i+1, got, base)
		}
	}
}

func TestClientRefreshKeepsServiceOnFailure(t *testing.T) {
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			http.Error(w, "gone", http.StatusNotFound)
			return
		}
		_, _ = w.Write(readTestdata(t, "calllog.wsdl"))
	}))
	defer srv.Close()
	logger, _ := testLogger()
	c := NewClient(ClientOptions{WSDL: srv.URL, Method: "LogCall", HTTPClient: loopbackClient(), Logger: logger})
	first, err := c.Service(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	if _, err := c.Refresh(t.Context()); err == nil {
		t.Fatal("Refresh of a missing WSDL succeeded")
	}
	again, err := c.Service(t.Context())
	if err != nil || again != first {
		t.Errorf("after a failed refresh: service %p (%v), want the earlier %p", again, err, first)
	}
	fail.Store(false)
	fresh, err := c.Refresh(t.Context())
	if err != nil || fresh == first {
		t.Errorf("Refresh: service %p (%v), want a new one", fresh, err)
	}
}

// TestClientsInParallel runs two services at once, so that the race
// detector reports any state they share.
func TestClientsInParallel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	logger, _ := testLogger()
	text := strings.ReplaceAll(string(readTestdata(t, "calllog.wsdl")), "http://127.0.0.1:18081", srv.URL)
	hc := loopbackClient()
	clients := map[string]*Client{
		"v11": NewClient(ClientOptions{App: "v11", WSDL: writeTemp(t, "a.wsdl", text), Method: "LogCall", Version: "1.1", HTTPClient: hc, Logger: logger}),
		"v12": NewClient(ClientOptions{App: "v12", WSDL: writeTemp(t, "b.wsdl", text), Method: "LogCall", Version: "1.2", HTTPClient: hc, Logger: logger}),
	}
	sender := NewSender(Options{Clients: func(app string) *Client { return clients[app] }, Logger: logger})

	done := make(chan delivery.Outcome, 40)
	for i := 0; i < 40; i++ {
		app := "v11"
		if i%2 == 1 {
			app = "v12"
		}
		go func() {
			j := job(calllogParams())
			j.App = app
			done <- sender.Send(context.Background(), j)
		}()
	}
	for i := 0; i < 40; i++ {
		if out := <-done; out.Class != delivery.Delivered {
			t.Errorf("outcome %s (%v), want delivered", out.Class, out.Err)
		}
	}
}
