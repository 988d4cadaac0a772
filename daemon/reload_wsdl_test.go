package daemon_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postcall/postcall/esl"
)

// wsdlServer serves testdata/ticketing.wsdl with its address pointing at
// endpoint, and responds 503 while down is set.
func wsdlServer(t *testing.T, endpoint string, down *atomic.Bool, reads *atomic.Int32) *httptest.Server {
	t.Helper()
	doc := bytes.ReplaceAll(readTestdata(t, "ticketing.wsdl"), []byte("{{ADDRESS}}"), []byte(endpoint))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reads.Add(1)
		if down.Load() {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.Write(doc)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// soapOK responds to every request with an empty SOAP 1.1 response.
func soapOK(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	fmt.Fprint(w, `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>`+
		`<t:CloseTicketResponse xmlns:t="urn:postcall:demo:ticketing"><t:Status>closed</t:Status></t:CloseTicketResponse>`+
		`</s:Body></s:Envelope>`)
}

func ticketingApp(wsdl, method, note string) string {
	return fmt.Sprintf(`name = "ticketing"
type = "soap"
wsdl = %q
method = %q
soap_version = "1.1"

[[params]]
name = "CallId"
value = "{{session.id}}"

[[params]]
name = "Caller"
value = "{{session.connection.ani}}"

[[params]]
name = "Outcome"
value = "{{call.termination}}"

[[params]]
name = "Seconds"
value = "{{call.duration}}"

[[params]]
name = "Note"
value = %q
`, wsdl, method, note)
}

func TestReloadKeepsWSDLWhenUnreadable(t *testing.T) {
	var down atomic.Bool
	var reads atomic.Int32
	s := startStack(t, stackOptions{handler: soapOK, apps: map[string]string{}})
	wsdl := wsdlServer(t, s.recv.URL(), &down, &reads)

	s.writeApp("ticketing", ticketingApp(wsdl.URL, "CloseTicket", "before"))
	if err := s.d.ReloadFile(); err != nil {
		t.Fatalf("reload adding the SOAP application: %v", err)
	}
	template := readEvent(t, "hangup_complete_ivr_exit.json")
	s.send(asCall(template, "00000000-0000-4000-8000-00000000a001", esl.Header{Name: "variable_fuse_app", Value: "ticketing"}))
	first := s.waitRequests("/soap/ticketing", 1)
	if !strings.Contains(string(first[0].Body), "<tns:Note>before</tns:Note>") {
		t.Fatalf("first request lacks the note of the first configuration:\n%s", first[0].Body)
	}

	// The WSDL server goes down, then the application file changes.
	down.Store(true)
	readsBefore := reads.Load()
	s.writeApp("ticketing", ticketingApp(wsdl.URL, "CloseTicket", "after"))
	if err := s.d.ReloadFile(); err != nil {
		t.Fatalf("reload with the WSDL unreadable failed: %v", err)
	}
	if reads.Load() == readsBefore {
		t.Errorf("the reload did not try to read the WSDL again")
	}
	if !strings.Contains(s.logs.String(), "keeping the WSDL read before") {
		t.Errorf("the log does not say the old WSDL is kept:\n%s", s.logs.String())
	}

	s.send(asCall(template, "00000000-0000-4000-8000-00000000a002", esl.Header{Name: "variable_fuse_app", Value: "ticketing"}))
	second := s.waitRequests("/soap/ticketing", 2)
	if !strings.Contains(string(second[1].Body), "<tns:Note>after</tns:Note>") {
		t.Errorf("the call after the reload was not sent with the new file and the kept WSDL:\n%s", second[1].Body)
	}
}

func TestReloadRejectsMethodMissingFromWSDL(t *testing.T) {
	var down atomic.Bool
	var reads atomic.Int32
	s := startStack(t, stackOptions{handler: soapOK, apps: map[string]string{}})
	wsdl := wsdlServer(t, s.recv.URL(), &down, &reads)
	s.writeApp("ticketing", ticketingApp(wsdl.URL, "CloseTicket", "kept"))
	if err := s.d.ReloadFile(); err != nil {
		t.Fatalf("first reload: %v", err)
	}

	s.writeApp("ticketing", ticketingApp(wsdl.URL, "OpenTicket", "rejected"))
	err := s.d.ReloadFile()
	if err == nil || !strings.Contains(err.Error(), "OpenTicket") {
		t.Fatalf("reload with a method the WSDL lacks: err = %v, want an error naming OpenTicket", err)
	}

	template := readEvent(t, "hangup_complete_ivr_exit.json")
	s.send(asCall(template, "00000000-0000-4000-8000-00000000a003", esl.Header{Name: "variable_fuse_app", Value: "ticketing"}))
	got := s.waitRequests("/soap/ticketing", 1)
	if !strings.Contains(string(got[0].Body), "<tns:Note>kept</tns:Note>") {
		t.Errorf("after a rejected reload the old configuration does not serve:\n%s", got[0].Body)
	}
}

func TestReloadBurstCoalesces(t *testing.T) {
	s := startStack(t, stackOptions{apps: map[string]string{}})
	for range 50 {
		s.d.RequestReload()
	}
	reloads := func() int { return strings.Count(s.logs.String(), "configuration reloaded") }
	s.waitFor("a reload after the burst", func() bool { return reloads() >= 1 })
	// The burst ends well within the time a request waits for others to
	// join it; give a second reload time to show up before counting.
	time.Sleep(500 * time.Millisecond)
	if n := reloads(); n != 1 {
		t.Errorf("50 reload requests in a burst caused %d reloads, want 1", n)
	}
}
