package soap

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postcall/postcall/delivery"
)

// interopDir holds the node-soap server (npm soap 1.13.0) that judges
// every request strictly and reports its verdict in X-Strict-Verdict.
var interopDir = filepath.Join("..", "interop", "soap")

// exchange is one SOAP request and its reply, as the test transport saw
// them.
type exchange struct {
	url         string
	verdict     string
	contentType string
	status      int
	body        []byte
}

// recordingTransport records the verdict and reply of every POST.
type recordingTransport struct {
	next      http.RoundTripper
	mu        sync.Mutex
	exchanges []exchange
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodPost {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	rt.mu.Lock()
	rt.exchanges = append(rt.exchanges, exchange{
		url: req.URL.String(), verdict: resp.Header.Get("X-Strict-Verdict"), contentType: resp.Header.Get("Content-Type"),
		status: resp.StatusCode, body: body,
	})
	rt.mu.Unlock()
	return resp, nil
}

// last returns the exchange recorded last.
func (rt *recordingTransport) last(t *testing.T) exchange {
	t.Helper()
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if len(rt.exchanges) == 0 {
		t.Fatalf("no SOAP request was recorded")
	}
	return rt.exchanges[len(rt.exchanges)-1]
}

// startInteropServer runs node server.js on a free loopback port and
// returns its base URL. The process is killed by its pid when the test
// ends.
func startInteropServer(t *testing.T, node string) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(interopDir, "node_modules")); errors.Is(err, os.ErrNotExist) {
		npm, err := exec.LookPath("npm")
		if err != nil {
			t.Fatalf("interop/soap/node_modules is missing and npm is not on PATH to install it: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = interopDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in interop/soap failed: %v\n%s", err, out)
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()

	var output safeBuffer
	cmd := exec.Command(node, "server.js")
	cmd.Dir = interopDir
	cmd.Env = append(os.Environ(), "PORT="+port, "LOG="+filepath.Join(t.TempDir(), "exchanges.jsonl"))
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node server.js: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("interop server output:\n%s", output.String())
		}
	})

	base := "http://127.0.0.1:" + port
	client := loopbackClient()
	ready := func() bool {
		select {
		case <-exited:
			t.Fatalf("node server.js exited early:\n%s", output.String())
		default:
		}
		resp, err := client.Get(base + "/wsdl/main.wsdl")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	waitFor(t, "the interop server to respond", 30*time.Second, ready)
	return base
}

// interopParams are LogCall parameters with XML metacharacters, quotes
// and non-ASCII text, in an order that differs from the schema's.
func interopParams(callID, comment string) []delivery.Field {
	return fields(
		"Comment", comment,
		"Duration", "42",
		"Dnis", `5000 "main" 'menu'`,
		"SurveyScore", "5",
		"Ani", "+1 555 & <0100>",
		"CallId", callID,
	)
}

// echoOf returns the Echo element of a LogCallResponse.
func echoOf(t *testing.T, body []byte, contentType string) string {
	t.Helper()
	text, err := toUTF8(body, contentType)
	if err != nil {
		t.Fatal(err)
	}
	var reply struct {
		Echo string `xml:"Body>LogCallResponse>Echo"`
	}
	d := newDecoder(text)
	if err := d.Decode(&reply); err != nil {
		t.Fatalf("reply is not a LogCallResponse: %v\n%s", err, body)
	}
	return reply.Echo
}

func TestInteropNodeSOAP(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH: the SOAP interop test runs interop/soap/server.js with Node.js")
	}
	base := startInteropServer(t, node)
	const comment = `é ü 日本 & <b> "quoted" 'single'`

	variants := []struct {
		name     string
		versions []string
		latin1   bool
	}{
		{name: "main", versions: []string{"1.1", "1.2"}},
		{name: "v12only", versions: []string{"1.2"}},
		{name: "v12first", versions: []string{"1.1", "1.2"}},
		{name: "unq", versions: []string{"1.1"}},
		{name: "latin1", versions: []string{"1.1"}, latin1: true},
		{name: "latin1nodecl", versions: []string{"1.1"}, latin1: true},
		{name: "split", versions: []string{"1.1", "1.2"}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			svc, err := Load(t.Context(), base+"/wsdl/"+v.name+".wsdl", LoadOptions{HTTPClient: loopbackClient()})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			ops := svc.Operations()
			if len(ops) != 1 || ops[0].Name != "LogCall" || !reflect.DeepEqual(ops[0].Versions, v.versions) {
				t.Fatalf("operations %+v, want LogCall bound to %v", ops, v.versions)
			}
			for _, version := range v.versions {
				t.Run("SOAP "+version, func(t *testing.T) {
					rt := &recordingTransport{next: loopbackClient().Transport}
					logger, _ := testLogger()
					client := NewClient(ClientOptions{
						App: "calllog", WSDL: base + "/wsdl/" + v.name + ".wsdl", Method: "LogCall", Version: version,
						HTTPClient: &http.Client{Transport: rt}, Logger: logger,
					})
					sender := NewSender(Options{Clients: func(string) *Client { return client }, Logger: logger})
					callID := "interop-" + v.name + "-" + version
					out := sender.Send(t.Context(), job(interopParams(callID, comment)))
					ex := rt.last(t)
					if ex.verdict != "ok" {
						t.Errorf("X-Strict-Verdict %q, want ok", ex.verdict)
					}
					if out.Class != delivery.Delivered {
						t.Fatalf("outcome %s (%v), want delivered", out.Class, out.Err)
					}
					echo := echoOf(t, ex.body, ex.contentType)
					if v.latin1 {
						if want := "Observação: ligação concluída, São Paulo"; echo != want {
							t.Errorf("ISO-8859-1 reply decoded as %q, want %q", echo, want)
						}
						return
					}
					for _, want := range []string{"CallId=" + callID, "Comment=" + comment, "Ani=+1 555 & <0100>", `Dnis=5000 "main" 'menu'`} {
						if !strings.Contains(echo, want) {
							t.Errorf("server echo %q lacks %q", echo, want)
						}
					}
				})
			}
		})
	}

	t.Run("flaky", func(t *testing.T) {
		rt := &recordingTransport{next: loopbackClient().Transport}
		logger, _ := testLogger()
		client := NewClient(ClientOptions{
			App: "calllog", WSDL: base + "/wsdl/flaky.wsdl", Method: "LogCall", Version: "1.2",
			HTTPClient: &http.Client{Transport: rt}, Logger: logger,
		})
		clock := time.Now()
		client.now = func() time.Time { return clock }
		sender := NewSender(Options{Clients: func(string) *Client { return client }, Logger: logger})

		out := sender.Send(t.Context(), job(interopParams("interop-flaky", comment)))
		var ue *UnavailableError
		if out.Class != delivery.Retryable || !errors.As(out.Err, &ue) || !strings.Contains(out.Err.Error(), "status 503") {
			t.Fatalf("first attempt: outcome %s (%v), want retryable, WSDL not available with status 503", out.Class, out.Err)
		}
		clock = clock.Add(DefaultWSDLRetryMax)
		out = sender.Send(t.Context(), job(interopParams("interop-flaky", comment)))
		if out.Class != delivery.Delivered {
			t.Fatalf("attempt after the WSDL wait: outcome %s (%v), want delivered", out.Class, out.Err)
		}
		if ex := rt.last(t); ex.verdict != "ok" {
			t.Errorf("X-Strict-Verdict %q, want ok", ex.verdict)
		}
	})

	faults := []struct {
		version, comment string
		status           int
		code             string
		subcode          []string
	}{
		{version: "1.1", comment: "FAULT500", status: 500, code: "Client"},
		{version: "1.1", comment: "FAULT200", status: 200, code: "Client"},
		{version: "1.2", comment: "FAULT500", status: 500, code: "Sender", subcode: []string{"CallRejected"}},
		{version: "1.2", comment: "FAULT200", status: 200, code: "Sender", subcode: []string{"CallRejected"}},
	}
	for _, f := range faults {
		t.Run("SOAP "+f.version+" "+f.comment, func(t *testing.T) {
			rt := &recordingTransport{next: loopbackClient().Transport}
			logger, logs := testLogger()
			client := NewClient(ClientOptions{
				App: "calllog", WSDL: base + "/wsdl/main.wsdl", Method: "LogCall", Version: f.version,
				HTTPClient: &http.Client{Transport: rt}, Logger: logger,
			})
			sender := NewSender(Options{Clients: func(string) *Client { return client }, Logger: logger})
			out := sender.Send(t.Context(), job(interopParams("interop-fault", f.comment)))
			if ex := rt.last(t); ex.verdict != "ok" || ex.status != f.status {
				t.Errorf("verdict %q status %d, want ok and %d", ex.verdict, ex.status, f.status)
			}
			var fault *Fault
			if !errors.As(out.Err, &fault) {
				t.Fatalf("error %v is not a *Fault", out.Err)
			}
			if fault.Version != f.version || fault.HTTPStatus != f.status || fault.Code != f.code || !reflect.DeepEqual(fault.Subcode, f.subcode) {
				t.Errorf("fault %+v, want version %s status %d code %s subcode %v", fault, f.version, f.status, f.code, f.subcode)
			}
			if fault.Reason != "Call rejected by CRM" || !strings.Contains(fault.Detail, "E-DUP") {
				t.Errorf("reason %q detail %q, want the CRM's reason and the E-DUP detail", fault.Reason, fault.Detail)
			}
			if out.Class != delivery.Permanent {
				t.Errorf("class %s, want permanent for a %s fault", out.Class, f.code)
			}
			if !strings.Contains(logs.String(), "E-DUP") {
				t.Errorf("log lacks the fault detail:\n%s", logs)
			}
		})
	}
}
