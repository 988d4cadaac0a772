package daemon_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/postcall/postcall/daemon"
	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/esl/esltest"
)

// formApp returns the file of the application name, which posts a form
// to @RECEIVER@/PATH/ID.
func formApp(name, path string) string {
	return `name = "` + name + `"
type = "rest"
request_type = "POST"
url = "@RECEIVER@/` + path + `/{{session.id}}"
`
}

func TestReloadEndToEnd(t *testing.T) {
	s := startStack(t, stackOptions{apps: map[string]string{"survey": formApp("survey", "v1")}})
	ivrLeg := readEvent(t, "hangup_complete_ivr_exit.json")
	call := func() string {
		id := esltest.NewUUID()
		s.send(asCall(ivrLeg, id))
		s.waitSettled()
		return id
	}

	first := call()
	if got := s.recv.at("/v1/" + first); len(got) != 1 {
		t.Fatalf("call before the reload: %d requests to /v1/, want 1", len(got))
	}

	s.writeApp("survey", formApp("survey", "v2"))
	if err := s.d.ReloadFile(); err != nil {
		t.Fatalf("ReloadFile() after a valid change = %v", err)
	}
	second := call()
	if got := s.recv.at("/v2/" + second); len(got) != 1 {
		t.Errorf("call after the reload: %d requests to /v2/, want 1", len(got))
	}
	if got := s.recv.at("/v1/" + second); len(got) != 0 {
		t.Errorf("call after the reload went to the old URL %d times", len(got))
	}

	// An unknown key makes the file invalid: the reload fails, names the
	// key, and the running configuration keeps serving.
	s.writeApp("survey", formApp("survey", "v3")+"methd = \"GET\"\n")
	err := s.d.ReloadFile()
	if err == nil {
		t.Fatal("ReloadFile() after adding an unknown key = nil, want an error")
	}
	if !strings.Contains(err.Error(), "methd") {
		t.Errorf("ReloadFile() = %q, want it to name the key methd", err)
	}
	third := call()
	if got := s.recv.at("/v2/" + third); len(got) != 1 {
		t.Errorf("call after the failed reload: %d requests to /v2/, want 1", len(got))
	}
	if got := s.recv.matching("/v3/"); len(got) != 0 {
		t.Errorf("the rejected file was used for %d requests", len(got))
	}

	failureLogged := false
	for _, entry := range s.logEntries() {
		if entry["level"] == "error" && strings.Contains(fmt.Sprint(entry["msg"]), "reload failed") {
			failureLogged = true
		}
	}
	if !failureLogged {
		t.Errorf("the failed reload was not logged as an error\nlog:\n%s", s.logs.String())
	}
}

func TestStatusEndToEnd(t *testing.T) {
	handler := func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/bad") {
			http.Error(w, "rejected", http.StatusBadRequest)
			return
		}
		w.Write([]byte("ok"))
	}
	s := startStack(t, stackOptions{
		apps: map[string]string{
			"good": formApp("good", "good"),
			"bad":  formApp("bad", "bad"),
		},
		handler: handler,
		admin:   true,
	})

	addr := s.d.AdminAddr()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("AdminAddr() = %q: %v", addr, err)
	}
	if host != "127.0.0.1" || port == "0" || port == "" {
		t.Errorf("AdminAddr() = %q, want 127.0.0.1 with the port the system chose", addr)
	}

	ivrLeg := readEvent(t, "hangup_complete_ivr_exit.json")
	s.send(
		asCall(ivrLeg, esltest.NewUUID(), esl.Header{Name: "variable_fuse_app", Value: "good"}),
		asCall(ivrLeg, esltest.NewUUID(), esl.Header{Name: "variable_fuse_app", Value: "bad"}),
	)
	s.waitSettled()

	var st daemon.Status
	if err := json.Unmarshal([]byte(adminGet(t, s, "/status", http.StatusOK)), &st); err != nil {
		t.Fatalf("/status is not the Status JSON: %v", err)
	}
	if !st.Ready || !st.FreeSWITCH.Connected {
		t.Errorf("/status ready=%t connected=%t, want both true", st.Ready, st.FreeSWITCH.Connected)
	}
	if st.FreeSWITCH.Address != s.fake.Addr() {
		t.Errorf("/status FreeSWITCH address %q, want %q", st.FreeSWITCH.Address, s.fake.Addr())
	}
	apps := map[string]daemon.AppStatus{}
	for _, a := range st.Apps {
		apps[a.Name] = a
	}
	if a := apps["good"]; a.Delivered != 1 || a.Dead != 0 || a.Pending != 0 {
		t.Errorf("/status good = %+v, want 1 delivered", a)
	}
	if a := apps["bad"]; a.Delivered != 0 || a.Dead != 1 || a.Pending != 0 {
		t.Errorf("/status bad = %+v, want 1 dead", a)
	}
	if st.Calls["fired"] != 2 {
		t.Errorf("/status calls fired = %d, want 2", st.Calls["fired"])
	}
	outcomes := map[string]string{}
	for _, r := range st.Recent {
		outcomes[r.App] = r.Outcome
	}
	if outcomes["good"] != "delivered" || outcomes["bad"] != "permanent" {
		t.Errorf("/status recent outcomes = %v, want good delivered and bad permanent", outcomes)
	}

	if body := adminGet(t, s, "/healthz", http.StatusOK); body != "ok\n" {
		t.Errorf("/healthz body %q, want \"ok\\n\"", body)
	}
	if body := adminGet(t, s, "/readyz", http.StatusOK); body != "ok\n" {
		t.Errorf("/readyz body %q, want \"ok\\n\"", body)
	}

	metrics := adminGet(t, s, "/metrics", http.StatusOK)
	for _, line := range []string{
		"postcall_esl_connected 1",
		`postcall_calls_fired_total{app="good"} 1`,
		`postcall_calls_fired_total{app="bad"} 1`,
		`postcall_attempts_total{app="good",outcome="delivered"} 1`,
		`postcall_attempts_total{app="bad",outcome="permanent"} 1`,
		`postcall_dead_letters_total{app="bad"} 1`,
	} {
		if !hasLine(metrics, line) {
			t.Errorf("/metrics lacks the line %q", line)
		}
	}

	// Without FreeSWITCH the daemon is alive but not ready, and /readyz
	// reports why.
	s.fake.Close()
	s.waitFor("the daemon to notice FreeSWITCH is gone", func() bool { return s.d.Ready() != nil })
	if body := adminGet(t, s, "/healthz", http.StatusOK); body != "ok\n" {
		t.Errorf("/healthz body %q while disconnected, want \"ok\\n\"", body)
	}
	if body := adminGet(t, s, "/readyz", http.StatusServiceUnavailable); !strings.Contains(body, "not connected") {
		t.Errorf("/readyz body %q, want it to say not connected", body)
	}
	if !hasLine(adminGet(t, s, "/metrics", http.StatusOK), "postcall_esl_connected 0") {
		t.Error("/metrics lacks postcall_esl_connected 0 while disconnected")
	}
}

// hasLine reports whether text has line as one of its lines.
func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}
