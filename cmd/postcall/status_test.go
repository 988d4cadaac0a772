package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/daemon"
	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/esl/esltest"
)

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runningDaemon starts a daemon with three applications whose webservice
// accepts, rejects with 400 and never responds, and the admin listener on.
func runningDaemon(t *testing.T) (configPath string, fake *esltest.Server) {
	t.Helper()
	release := make(chan struct{})
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/accept":
			w.WriteHeader(http.StatusOK)
		case "/reject":
			http.Error(w, "unknown account", http.StatusBadRequest)
		default:
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(recv.Close)
	t.Cleanup(func() { close(release) })
	fake = esltest.NewServer(esltest.Options{})
	t.Cleanup(fake.Close)

	dir := t.TempDir()
	configPath = filepath.Join(dir, "postcall.toml")
	main := fmt.Sprintf(`apps = ["apps.d/*.toml"]
[freeswitch]
address = %q
[spool]
path = %q
[delivery]
timeout = 60
[admin]
listen = %q
`, fake.Addr(), filepath.ToSlash(filepath.Join(dir, "spool.db")), freeAddr(t))
	os.MkdirAll(filepath.Join(dir, "apps.d"), 0o755)
	os.WriteFile(configPath, []byte(main), 0o644)
	for _, name := range []string{"accept", "reject", "hang"} {
		app := fmt.Sprintf("name = %q\ntype = \"rest\"\nrequest_type = \"POST\"\nurl = \"%s/%s\"\n", name, recv.URL, name)
		os.WriteFile(filepath.Join(dir, "apps.d", name+".toml"), []byte(app), 0o644)
	}

	cfg, err := conf.Load(configPath)
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(&bytes.Buffer{})
	d, err := daemon.New(cfg, daemon.Options{Logger: log, Version: "test", ShutdownTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	wait, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	if _, err := fake.WaitSubscribed(wait); err != nil {
		t.Fatal(err)
	}
	return configPath, fake
}

func sendCall(t *testing.T, fake *esltest.Server, app string) {
	t.Helper()
	data, err := os.ReadFile("testdata/hangup_complete_ivr_exit.json")
	if err != nil {
		t.Fatal(err)
	}
	events, err := esl.ReadEvents(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	id := esltest.NewUUID()
	fake.SendEvent(esltest.Clone(events[0],
		esl.Header{Name: "Unique-ID", Value: id},
		esl.Header{Name: "variable_fuse_app", Value: app}))
}

func TestStatusOfRunningDaemon(t *testing.T) {
	configPath, fake := runningDaemon(t)
	for _, app := range []string{"accept", "reject", "hang"} {
		sendCall(t, fake, app)
	}

	// The table lists each application with PENDING, IN FLIGHT, DELIVERED
	// and DEAD; wait until the three jobs have settled there.
	want := map[string]string{"accept": "accept  0  0  1  0", "reject": "reject  0  0  0  1", "hang": "hang    1  1  0  0"}
	var out string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var code int
		code, out, _ = runCommand("status", "-config", configPath)
		if code == 0 && containsAll(out, want) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for app, row := range want {
		if !strings.Contains(squeeze(out), squeeze(row)) {
			t.Errorf("status lacks the row of %s (%q):\n%s", app, row, out)
		}
	}
	for _, text := range []string{"ready", "connected since", "3 fired", "recent attempts", "permanent", "delivered"} {
		if !strings.Contains(out, text) {
			t.Errorf("status lacks %q:\n%s", text, out)
		}
	}

	code, out, errOut := runCommand("spool", "list", "-config", configPath, "-state", "dead")
	if code != 0 || !strings.Contains(out, "reject") || strings.Contains(out, "accept") {
		t.Errorf("spool list -state dead through the running daemon: exit %d\n%s%s", code, out, errOut)
	}

	code, out, errOut = runCommand("reload", "-config", configPath)
	if code != 0 || !strings.Contains(out, "configuration reloaded") {
		t.Errorf("reload of the running daemon: exit %d\n%s%s", code, out, errOut)
	}
}

func TestStatusWithoutDaemon(t *testing.T) {
	path := writeConfig(t, map[string]string{"survey.toml": validREST})
	os.WriteFile(path, []byte("[admin]\nlisten = \""+freeAddr(t)+"\"\n"), 0o644)
	code, _, errOut := runCommand("status", "-config", path)
	if code == 0 || !strings.Contains(errOut, "no response from the daemon") {
		t.Errorf("status without a daemon: exit %d, stderr %q", code, errOut)
	}
}

func containsAll(out string, rows map[string]string) bool {
	for _, row := range rows {
		if !strings.Contains(squeeze(out), squeeze(row)) {
			return false
		}
	}
	return true
}

// squeeze collapses runs of spaces, so table rows compare whatever the
// column widths.
func squeeze(s string) string { return strings.Join(strings.Fields(s), " ") }
