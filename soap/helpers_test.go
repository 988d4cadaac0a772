package soap

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/delivery"
)

// exampleHost is the endpoint host the case WSDLs name. Tests replace it
// with a loopback server before anything is sent.
const exampleHost = "http://soap.example.com"

// loopbackClient returns an HTTP client that can only dial loopback
// addresses, so a mistake in a test can never send traffic elsewhere.
func loopbackClient() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return nil, fmt.Errorf("test dialer: %s is not a loopback address", addr)
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}
	return &http.Client{Transport: transport}
}

// readTestdata returns the content of a file in testdata.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wsdlAt writes the testdata WSDL name into a temporary folder, with the
// example endpoint host replaced by baseURL, and returns its path.
func wsdlAt(t testing.TB, name, baseURL string) string {
	t.Helper()
	text := strings.ReplaceAll(string(readTestdata(t, name)), exampleHost, baseURL)
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadTestdata loads a testdata WSDL from its file.
func loadTestdata(t testing.TB, name string) *Service {
	t.Helper()
	svc, err := Load(context.Background(), filepath.Join("testdata", name), LoadOptions{})
	if err != nil {
		t.Fatalf("Load(%s): %v", name, err)
	}
	return svc
}

// fields builds parameters from name/value pairs.
func fields(pairs ...string) []delivery.Field {
	out := make([]delivery.Field, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, delivery.Field{Name: pairs[i], Value: pairs[i+1]})
	}
	return out
}

// httpMessage is a parsed .http file or a captured request: the start
// line, the header lines as written, and the body.
type httpMessage struct {
	startLine string
	headers   []string
	body      []byte
}

// header returns the values of the header called name, compared without
// case, and the names as written.
func (m httpMessage) header(name string) (values, names []string) {
	for _, line := range m.headers {
		k, v, _ := strings.Cut(line, ":")
		if strings.EqualFold(strings.TrimSpace(k), name) {
			values = append(values, strings.TrimSpace(v))
			names = append(names, k)
		}
	}
	return values, names
}

// parseHTTPFile reads a raw HTTP message whose header lines end in CRLF
// and whose body runs to the end of the file.
func parseHTTPFile(t testing.TB, raw []byte) httpMessage {
	t.Helper()
	head, body, found := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !found {
		t.Fatalf("HTTP file has no blank line after its headers")
	}
	lines := strings.Split(string(head), "\r\n")
	return httpMessage{startLine: lines[0], headers: lines[1:], body: body}
}

// rawResponse renders m as a response with a Content-Length that matches
// its body and a Connection: close header.
func rawResponse(m httpMessage) []byte {
	var b bytes.Buffer
	b.WriteString(m.startLine + "\r\n")
	for _, h := range m.headers {
		k, _, _ := strings.Cut(h, ":")
		if strings.EqualFold(k, "Content-Length") || strings.EqualFold(k, "Connection") {
			continue
		}
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\nConnection: close\r\n\r\n", len(m.body))
	b.Write(m.body)
	return b.Bytes()
}

// rawServer is a loopback HTTP/1.1 server that records each request with
// its header names as sent and responds with fixed bytes, so a test can
// send a status line with any reason phrase.
type rawServer struct {
	URL      string
	ln       net.Listener
	response []byte
	mu       sync.Mutex
	requests []httpMessage
	wg       sync.WaitGroup
}

func newRawServer(t testing.TB, response []byte) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{URL: "http://" + ln.Addr().String(), ln: ln, response: response}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *rawServer) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			req, err := readRawRequest(bufio.NewReader(conn))
			if err != nil {
				return
			}
			s.mu.Lock()
			s.requests = append(s.requests, req)
			s.mu.Unlock()
			_, _ = conn.Write(s.response)
		}()
	}
}

// received returns the requests recorded so far.
func (s *rawServer) received() []httpMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]httpMessage(nil), s.requests...)
}

func readRawRequest(r *bufio.Reader) (httpMessage, error) {
	var m httpMessage
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return m, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if m.startLine == "" {
			m.startLine = line
		} else {
			m.headers = append(m.headers, line)
		}
	}
	if v, _ := m.header("Content-Length"); len(v) == 1 {
		n, err := strconv.Atoi(v[0])
		if err != nil {
			return m, err
		}
		m.body = make([]byte, n)
		if _, err := io.ReadFull(r, m.body); err != nil {
			return m, err
		}
	}
	return m, nil
}

// safeBuffer is a bytes.Buffer for log output written from several
// goroutines.
type safeBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// entries parses the JSON log lines written so far.
func (b *safeBuffer) entries(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

// withMessage returns the log entries whose message is msg.
func (b *safeBuffer) withMessage(t testing.TB, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, e := range b.entries(t) {
		if e["msg"] == msg {
			out = append(out, e)
		}
	}
	return out
}

// testLogger returns a debug-level JSON logger writing into a buffer.
func testLogger() (*logrus.Logger, *safeBuffer) {
	buf := &safeBuffer{}
	l := logrus.New()
	l.SetOutput(buf)
	l.SetFormatter(&logrus.JSONFormatter{})
	l.SetLevel(logrus.DebugLevel)
	return l, buf
}

// senderFor returns a Sender whose only application, "calllog", calls
// method over version from the WSDL at location.
func senderFor(location, method, version string, private bool, logger logrus.FieldLogger) (*Sender, *Client) {
	hc := loopbackClient()
	client := NewClient(ClientOptions{
		App: "calllog", Private: private, WSDL: location, Method: method, Version: version,
		Timeout: 5 * time.Second, HTTPClient: hc, Logger: logger,
	})
	sender := NewSender(Options{
		Clients: func(app string) *Client {
			if app == "calllog" {
				return client
			}
			return nil
		},
		HTTPClient: hc,
		Logger:     logger,
	})
	return sender, client
}

// job returns a SOAP job of the application "calllog".
func job(params []delivery.Field) *delivery.Job {
	return &delivery.Job{
		Key: "c0c0c0c0-0000-4000-8000-00000000c0e1/a1a1a1a1-0000-4000-8000-000000000099",
		App: "calllog", CallID: "a1a1a1a1-0000-4000-8000-000000000099",
		Kind: delivery.KindSOAP, SOAP: &delivery.SOAPCall{Params: params},
	}
}

// xmlNode is a namespace-resolved element for canonical comparison.
type xmlNode struct {
	name     xml.Name
	text     string
	children []*xmlNode
}

// canonicalXML renders a document with resolved names, without prefixes,
// comments, processing instructions and whitespace-only text, so that two
// documents with the same meaning compare equal.
func canonicalXML(t testing.TB, doc []byte) string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	var stack []*xmlNode
	var root *xmlNode
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("document is not well-formed XML: %v\n%s", err, doc)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			n := &xmlNode{name: tk.Name}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tk)
			}
		}
	}
	var b strings.Builder
	var write func(n *xmlNode, depth int)
	write = func(n *xmlNode, depth int) {
		fmt.Fprintf(&b, "%s{%s}%s", strings.Repeat("  ", depth), n.name.Space, n.name.Local)
		if text := strings.TrimSpace(n.text); text != "" {
			fmt.Fprintf(&b, " = %q", text)
		}
		b.WriteString("\n")
		for _, c := range n.children {
			write(c, depth+1)
		}
	}
	write(root, 0)
	return b.String()
}

// bodyElement returns the first child of the SOAP Body of an envelope,
// canonically rendered.
func bodyElement(t testing.TB, envelope []byte) string {
	t.Helper()
	full := canonicalXML(t, envelope)
	lines := strings.Split(full, "\n")
	var out []string
	for _, l := range lines[2:] {
		if !strings.HasPrefix(l, "    ") {
			break
		}
		out = append(out, strings.TrimPrefix(l, "    "))
	}
	return strings.Join(out, "\n")
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, deadline time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %s waiting for %s", deadline, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
