package demo

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Received is one request the demo receiver got.
type Received struct {
	Method string
	URI    string
	Header http.Header
	Body   []byte
}

// receiver is the demo's stand-in for a customer's webservices: a REST
// endpoint that returns 200 for anything under /rest/, and a SOAP endpoint
// with its WSDL.
type receiver struct {
	srv  *http.Server
	ln   net.Listener
	wsdl []byte

	mu       sync.Mutex
	received []Received
	notify   chan struct{}
}

func startReceiver(wsdlTemplate []byte) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start the demo receiver: %w", err)
	}
	r := &receiver{ln: ln, notify: make(chan struct{}, 1)}
	r.wsdl = bytes.ReplaceAll(wsdlTemplate, []byte("{{ADDRESS}}"), []byte(r.URL()))

	mux := http.NewServeMux()
	mux.HandleFunc("/rest/", r.handleREST)
	mux.HandleFunc("/soap/ticketing", r.handleSOAP)
	mux.HandleFunc("/soap/ticketing.wsdl", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.Write(r.wsdl)
	})
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

// URL returns the receiver's base URL.
func (r *receiver) URL() string { return "http://" + r.ln.Addr().String() }

func (r *receiver) close() { r.srv.Close() }

func (r *receiver) record(req *http.Request) Received {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	got := Received{Method: req.Method, URI: req.RequestURI, Header: req.Header.Clone(), Body: body}
	r.mu.Lock()
	r.received = append(r.received, got)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	return got
}

func (r *receiver) handleREST(w http.ResponseWriter, req *http.Request) {
	r.record(req)
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"status":"stored"}`)
}

func (r *receiver) handleSOAP(w http.ResponseWriter, req *http.Request) {
	got := r.record(req)
	ct := req.Header.Get("Content-Type")
	is12 := strings.HasPrefix(ct, "application/soap+xml")
	envNS := "http://schemas.xmlsoap.org/soap/envelope/"
	if is12 {
		envNS = "http://www.w3.org/2003/05/soap-envelope"
		w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	}
	if !bytes.Contains(got.Body, []byte("CloseTicket")) {
		w.WriteHeader(http.StatusInternalServerError)
	}
	fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><e:Envelope xmlns:e=%q><e:Body>`+
		`<t:CloseTicketResponse xmlns:t="urn:postcall:demo:ticketing"><t:Status>closed</t:Status>`+
		`</t:CloseTicketResponse></e:Body></e:Envelope>`, envNS)
}

// wait blocks until the receiver has n requests or the deadline passes,
// and returns what it has.
func (r *receiver) wait(n int, deadline time.Time) []Received {
	for {
		r.mu.Lock()
		got := append([]Received(nil), r.received...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		left := time.Until(deadline)
		if left <= 0 {
			return got
		}
		select {
		case <-r.notify:
		case <-time.After(left):
		}
	}
}

// format writes one received request the way it arrived on the wire.
func (got Received) format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", got.Method, got.URI)
	names := make([]string, 0, len(got.Header))
	for name := range got.Header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, v := range got.Header[name] {
			fmt.Fprintf(&b, "%s: %s\n", name, v)
		}
	}
	if len(got.Body) > 0 {
		b.WriteString("\n")
		b.Write(got.Body)
		if !bytes.HasSuffix(got.Body, []byte("\n")) {
			b.WriteString("\n")
		}
	}
	return b.String()
}
