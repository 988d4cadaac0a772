package soap

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/postcall/postcall/delivery"
)

// secrets are values of a private application's call; none may show in a
// log line or an error.
var secrets = []string{
	"SECRET-CALL-7731", "SECRET-ANI-5551", "SECRET-COMMENT-é", "SECRET-PATH", "SECRET-TOKEN",
	"SECRET-REASON", "SECRET-DETAIL", "Envelope", "faultstring",
}

func privateParams() []delivery.Field {
	return fields("CallId", "SECRET-CALL-7731", "Ani", "SECRET-ANI-5551", "Dnis", "5000", "Duration", "9", "Comment", "SECRET-COMMENT-é")
}

func TestPrivateSOAPRedaction(t *testing.T) {
	const faultBody = `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode>` +
		`<faultstring>SECRET-REASON for SECRET-ANI-5551</faultstring><detail><d>SECRET-DETAIL SECRET-CALL-7731</d></detail></s:Fault></s:Body></s:Envelope>`
	const okBody = `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><r xmlns="urn:r">SECRET-COMMENT-é</r></s:Body></s:Envelope>`

	tests := []struct {
		name    string
		handler http.HandlerFunc
		class   delivery.Class
		shows   []string // what the error must still show
	}{
		{
			name: "delivered",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/xml")
				_, _ = w.Write([]byte(okBody))
			},
			class: delivery.Delivered,
		},
		{
			name: "fault",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/xml")
				w.WriteHeader(500)
				_, _ = w.Write([]byte(faultBody))
			},
			class: delivery.Permanent, shows: []string{"SOAP 1.1 fault Client", "hidden: private application"},
		},
		{
			name: "non-SOAP reply",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; SECRET-TOKEN=1")
				w.WriteHeader(502)
				_, _ = w.Write([]byte("<html>SECRET-DETAIL SECRET-CALL-7731</html>"))
			},
			class: delivery.Retryable, shows: []string{"non-SOAP response: status 502"},
		},
		{
			name: "empty 415",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(415)
			},
			class: delivery.Permanent, shows: []string{"status 415", "Unsupported Media Type"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var received atomic.Value
			received.Store("")
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/wsdl/SECRET-PATH" {
					text := strings.ReplaceAll(string(readTestdata(t, "calllog.wsdl")), "http://127.0.0.1:18081/crm", "http://"+r.Host+"/SECRET-PATH")
					_, _ = w.Write([]byte(text))
					return
				}
				body := make([]byte, 4096)
				n, _ := r.Body.Read(body)
				received.Store(string(body[:n]))
				tt.handler(w, r)
			}))
			defer srv.Close()

			logger, logs := testLogger()
			sender, _ := senderFor(srv.URL+"/wsdl/SECRET-PATH?SECRET-TOKEN=1", "LogCall", "1.1", true, logger)
			j := job(privateParams())
			j.Private = true
			out := sender.Send(t.Context(), j)

			if !strings.Contains(received.Load().(string), "SECRET-ANI-5551") {
				t.Fatalf("the server did not receive the values; the test proves nothing")
			}
			if out.Class != tt.class {
				t.Errorf("class %s, want %s (%v)", out.Class, tt.class, out.Err)
			}
			text := logs.String()
			if out.Err != nil {
				text += "\n" + out.Err.Error()
			}
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("log or error shows %q:\n%s", s, text)
				}
			}
			for _, s := range tt.shows {
				if out.Err == nil || !strings.Contains(out.Err.Error(), s) {
					t.Errorf("error %v lacks %q", out.Err, s)
				}
			}
			if !strings.Contains(logs.String(), `"call_id":"a1a1a1a1-0000-4000-8000-000000000099"`) || !strings.Contains(logs.String(), `"app":"calllog"`) {
				t.Errorf("log lacks the app and call id:\n%s", logs)
			}
		})
	}
}

func TestPrivateWSDLAndTransportRedaction(t *testing.T) {
	t.Run("WSDL not available", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "SECRET-DETAIL", http.StatusServiceUnavailable)
		}))
		defer srv.Close()
		logger, logs := testLogger()
		sender, _ := senderFor(srv.URL+"/SECRET-PATH.wsdl?SECRET-TOKEN=1", "LogCall", "1.1", true, logger)
		j := job(privateParams())
		j.Private = true
		out := sender.Send(t.Context(), j)
		if out.Class != delivery.Retryable {
			t.Errorf("class %s, want retryable", out.Class)
		}
		text := logs.String() + "\n" + out.Err.Error()
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("log or error shows %q:\n%s", s, text)
			}
		}
		host := strings.TrimPrefix(srv.URL, "http://")
		for _, s := range []string{"not available yet", host, "status 503"} {
			if !strings.Contains(out.Err.Error(), s) {
				t.Errorf("error %q lacks %q", out.Err, s)
			}
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		dead := srv.URL
		srv.Close()
		text := strings.ReplaceAll(string(readTestdata(t, "calllog.wsdl")), "http://127.0.0.1:18081/crm", dead+"/SECRET-PATH")
		logger, logs := testLogger()
		sender, _ := senderFor(writeTemp(t, "p.wsdl", text), "LogCall", "1.1", true, logger)
		j := job(privateParams())
		j.Private = true
		out := sender.Send(t.Context(), j)
		if out.Class != delivery.Retryable {
			t.Errorf("class %s, want retryable", out.Class)
		}
		all := logs.String() + "\n" + out.Err.Error()
		for _, s := range secrets {
			if strings.Contains(all, s) {
				t.Errorf("log or error shows %q:\n%s", s, all)
			}
		}
		if !strings.Contains(out.Err.Error(), "to host "+strings.TrimPrefix(dead, "http://")) {
			t.Errorf("error %q does not name the host", out.Err)
		}
	})
}
