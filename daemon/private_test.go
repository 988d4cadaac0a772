package daemon_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/esl/esltest"
)

// Markers placed in every part of a private application's request and in
// the webservice's response. None may reach a log line or status output.
const (
	pathMarker     = "PathMk7301"
	queryMarker    = "QueryMk7302"
	headerMarker   = "HeaderMk7303"
	paramMarker    = "ParamMk7304"
	bodyMarker     = "BodyMk7305"
	responseMarker = "RespMk7306"
)

// privateValues are values of the ivr_exit capture that the private
// application renders into its request: call data, private too.
var privateValues = []string{"would call again", "Test Caller One"}

// privateApp returns a private POST RAW application that puts a marker in
// the path, the query, a header, a parameter and the body.
func privateApp(name, base string) string {
	return `name = "` + name + `"
type = "rest"
request_type = "POST RAW"
private = true
url = "` + base + `/` + name + `/` + pathMarker + `/{{session.id}}?q=` + queryMarker + `"
body = '''{"b":"` + bodyMarker + `","c":"{{comment}}"}'''

[[headers]]
name = "Content-Type"
value = "application/json"

[[headers]]
name = "X-Token"
value = "` + headerMarker + ` {{call.caller_name}}"

[[params]]
name = "p"
value = "` + paramMarker + `-{{q2}}"

[retry]
max_attempts = 2
`
}

func TestPrivateLogsEndToEnd(t *testing.T) {
	okID, failID, downID := esltest.NewUUID(), esltest.NewUUID(), esltest.NewUUID()
	handler := func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, okID) {
			io.WriteString(w, "stored "+responseMarker)
			return
		}
		http.Error(w, "failed "+responseMarker, http.StatusInternalServerError)
	}
	dead := closedPort(t)
	s := startStack(t, stackOptions{
		apps: map[string]string{
			"vault":      privateApp("vault", "@RECEIVER@"),
			"vault-down": privateApp("vault-down", "http://"+dead),
		},
		handler: handler,
		debug:   true,
		admin:   true,
	})

	ivrLeg := readEvent(t, "hangup_complete_ivr_exit.json")
	s.send(asCall(ivrLeg, okID, esl.Header{Name: "variable_fuse_app", Value: "vault"}))
	s.waitRequests("/vault/", 1)
	s.send(
		asCall(ivrLeg, failID, esl.Header{Name: "variable_fuse_app", Value: "vault"}),
		asCall(ivrLeg, downID, esl.Header{Name: "variable_fuse_app", Value: "vault-down"}),
	)
	s.waitSettled()

	if delivered, deadJobs, _ := s.appStats("vault"); delivered != 1 || deadJobs != 1 {
		t.Errorf("vault: delivered %d and dead %d, want 1 and 1", delivered, deadJobs)
	}
	if delivered, deadJobs, _ := s.appStats("vault-down"); delivered != 0 || deadJobs != 1 {
		t.Errorf("vault-down: delivered %d and dead %d, want 0 and 1", delivered, deadJobs)
	}

	// The markers reached the webservice, so their absence below means
	// they were kept out, not that they were never there.
	first := s.recv.matching("/vault/")[0]
	sent := map[string]string{
		"path":   first.Path,
		"query":  first.RequestURI,
		"header": first.Header.Get("X-Token"),
		"param":  first.RequestURI,
		"body":   string(first.Body),
	}
	markerOf := map[string]string{
		"path": pathMarker, "query": queryMarker, "header": headerMarker, "param": paramMarker, "body": bodyMarker,
	}
	for part, text := range sent {
		if !strings.Contains(text, markerOf[part]) {
			t.Fatalf("the request's %s %q lacks the marker %s: the test checks nothing", part, text, markerOf[part])
		}
	}

	forbidden := append([]string{pathMarker, queryMarker, headerMarker, paramMarker, bodyMarker, responseMarker}, privateValues...)
	logs := s.logs.String()
	for _, m := range forbidden {
		if strings.Contains(logs, m) {
			t.Errorf("the log contains %q:\n%s", m, linesWith(logs, m))
		}
	}
	for _, want := range []string{`"app":"vault"`, `"app":"vault-down"`, s.recv.Host(), dead} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q, which an operator needs to find the failing webservice", want)
		}
	}

	snapshot, err := json.Marshal(s.d.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{"Snapshot()": string(snapshot)}
	for _, path := range []string{"/status", "/metrics"} {
		outputs[path] = adminGet(t, s, path, http.StatusOK)
	}
	for name, out := range outputs {
		for _, m := range forbidden {
			if strings.Contains(out, m) {
				t.Errorf("%s contains %q:\n%s", name, m, linesWith(out, m))
			}
		}
	}
}

// linesWith returns the lines of text that contain s.
func linesWith(text, s string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// adminGet fetches path from the stack's admin listener, checks the status
// code and returns the body.
func adminGet(t *testing.T, s *stack, path string, wantStatus int) string {
	t.Helper()
	addr := s.d.AdminAddr()
	if addr == "" {
		t.Fatal("AdminAddr() is empty although the admin listener is on")
	}
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", path, err)
	}
	if resp.StatusCode != wantStatus {
		t.Errorf("GET %s: status %d, want %d; body:\n%s", path, resp.StatusCode, wantStatus, body)
	}
	return string(body)
}
