package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/esl/esltest"
	"github.com/postcall/postcall/spool"
)

// crashReceiver is a webservice that is slow and fails at random. It
// records every idempotency key each call arrived with and how often each
// call was accepted.
type crashReceiver struct {
	mu        sync.Mutex
	rand      *rand.Rand
	keys      map[string]map[string]bool // call id -> idempotency keys seen
	delivered map[string]int             // call id -> 2xx responses sent
}

func (r *crashReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	id := strings.TrimPrefix(req.URL.Path, "/calls/")
	r.mu.Lock()
	if r.keys[id] == nil {
		r.keys[id] = map[string]bool{}
	}
	r.keys[id][req.Header.Get("Idempotency-Key")] = true
	delay := time.Duration(r.rand.IntN(8)) * time.Millisecond
	fail := r.rand.IntN(100) < 15
	r.mu.Unlock()

	time.Sleep(delay)
	if fail {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	r.mu.Lock()
	r.delivered[id]++
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *crashReceiver) deliveredCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.delivered)
}

// child is one postcall run process.
type child struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startChild(t *testing.T, configPath string, log *bytes.Buffer, logMu *sync.Mutex) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "run", "-config", configPath, "-log-level", "warn")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	w := &lockedWriter{buf: log, mu: logMu}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(c.done)
	}()
	return c
}

type lockedWriter struct {
	buf *bytes.Buffer
	mu  *sync.Mutex
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// acceptedJobs opens the spool file of a stopped postcall and returns the
// call id of every job in it: the calls postcall had accepted.
func acceptedJobs(t *testing.T, path string) map[string]*delivery.Job {
	t.Helper()
	store, err := spool.OpenBolt(path, spool.BoltOptions{LockTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("reopen the spool after SIGKILL: %v", err)
	}
	defer store.Close()
	jobs, err := store.List(context.Background(), spool.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]*delivery.Job, len(jobs))
	for _, j := range jobs {
		out[j.CallID] = j
	}
	return out
}

// TestCrashLosesNoAcceptedCall runs postcall as a subprocess, sends 2,000
// calls from the fake FreeSWITCH to a slow, randomly failing webservice and
// kills postcall with SIGKILL at five random moments, restarting it after
// each. Every call postcall had accepted (found in the spool after a kill)
// must be delivered, every call must end up delivered, and all attempts of
// one call must carry one idempotency key.
func TestCrashLosesNoAcceptedCall(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash test runs postcall as a subprocess for about a minute")
	}
	const calls = 2000
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))

	recv := &crashReceiver{rand: rand.New(rand.NewPCG(seed, 8)), keys: map[string]map[string]bool{}, delivered: map[string]int{}}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	fake := esltest.NewServer(esltest.Options{SendQueue: 8192})
	defer fake.Close()

	dir := t.TempDir()
	spoolPath := filepath.Join(dir, "spool", "spool.db")
	configPath := filepath.Join(dir, "postcall.toml")
	mainFile := fmt.Sprintf(`apps = ["apps.d/*.toml"]
[freeswitch]
address = %q
reconnect_min = "20ms"
reconnect_max = "200ms"
[spool]
path = %q
[delivery]
workers = 16
timeout = 5
[delivery.retry]
initial_delay = "20ms"
max_delay = "300ms"
max_age = "1h"
[admin]
listen = ""
`, fake.Addr(), filepath.ToSlash(spoolPath))
	app := fmt.Sprintf(`name = "crash"
type = "rest"
request_type = "POST"
url = "%s/calls/{{session.id}}"
[[params]]
name = "caller"
value = "{{session.connection.ani}}"
`, srv.URL)
	os.MkdirAll(filepath.Join(dir, "apps.d"), 0o755)
	if err := os.WriteFile(configPath, []byte(mainFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "apps.d", "crash.toml"), []byte(app), 0o644); err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile("testdata/hangup_complete_ivr_exit.json")
	if err != nil {
		t.Fatal(err)
	}
	events, err := esl.ReadEvents(bytes.NewReader(data))
	if err != nil || len(events) != 1 {
		t.Fatalf("read the template capture: %v (%d events)", err, len(events))
	}
	callIDs := make([]string, calls)
	callEvents := make([]esl.Event, calls)
	for i := range callIDs {
		callIDs[i] = esltest.NewUUID()
		callEvents[i] = esltest.Clone(events[0],
			esl.Header{Name: "Unique-ID", Value: callIDs[i]},
			esl.Header{Name: "Caller-Unique-ID", Value: callIDs[i]},
			esl.Header{Name: "variable_fuse_app", Value: "crash"})
	}

	var logMu sync.Mutex
	var log bytes.Buffer
	defer func() {
		if t.Failed() {
			logMu.Lock()
			t.Logf("postcall output:\n%s", log.String())
			logMu.Unlock()
		}
	}()

	accepted := map[string]*delivery.Job{}
	next := 0 // the next call to send
	sentBeforeLastRun := 0
	for kill := 0; kill <= 5; kill++ {
		proc := startChild(t, configPath, &log, &logMu)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := fake.WaitSubscribed(ctx)
		cancel()
		if err != nil {
			proc.cmd.Process.Kill()
			t.Fatalf("postcall run %d did not subscribe: %v", kill+1, err)
		}
		if kill == 5 {
			// The last run is not killed: it sends the rest and drains.
			sentBeforeLastRun = next
			for ; next < calls; next++ {
				fake.SendEvent(callEvents[next])
			}
			defer func() {
				proc.cmd.Process.Signal(syscall.SIGTERM)
				<-proc.done
			}()
			break
		}

		// Send calls at about 2 per millisecond and kill at a random moment.
		killAt := time.Now().Add(time.Duration(100+rng.IntN(400)) * time.Millisecond)
		for time.Now().Before(killAt) && next < calls {
			fake.SendEvent(callEvents[next])
			next++
			if next%2 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		proc.cmd.Process.Signal(syscall.SIGKILL)
		<-proc.done
		for id, j := range acceptedJobs(t, spoolPath) {
			accepted[id] = j
		}
		t.Logf("kill %d: %d calls sent, %d accepted so far, %d delivered", kill+1, next, len(accepted), recv.deliveredCount())
	}

	// FreeSWITCH keeps no events for a disconnected client, so calls sent
	// just before a kill and never read were not accepted. Send those again
	// so that every call can be delivered; accepted calls are not sent again,
	// so their delivery shows the spool kept them.
	deadline := time.Now().Add(2 * time.Minute)
	resent := 0
	for i, id := range callIDs[:sentBeforeLastRun] {
		if _, ok := accepted[id]; ok {
			continue
		}
		recv.mu.Lock()
		_, done := recv.delivered[id]
		recv.mu.Unlock()
		if !done {
			fake.SendEvent(callEvents[i])
			resent++
		}
	}
	t.Logf("%d of %d calls sent before the last restart were accepted; the other %d were sent again",
		len(accepted), sentBeforeLastRun, resent)

	for recv.deliveredCount() < calls && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}

	recv.mu.Lock()
	defer recv.mu.Unlock()
	for id, j := range accepted {
		if recv.delivered[id] == 0 {
			t.Errorf("call %s was in the spool (state %s) but never delivered", id, j.State)
		}
	}
	missing, duplicates := 0, 0
	for _, id := range callIDs {
		n := recv.delivered[id]
		if n == 0 {
			missing++
		}
		if n > 1 {
			duplicates += n - 1
		}
		if len(recv.keys[id]) > 1 {
			t.Errorf("call %s arrived with %d different idempotency keys", id, len(recv.keys[id]))
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d calls were never delivered", missing, calls)
	}
	t.Logf("duplicates seen by the webservice: %d (at-least-once delivery; each carried its call's idempotency key)", duplicates)
	fmt.Printf("crash test: %d calls, 5 SIGKILLs, %d duplicate deliveries\n", calls, duplicates)
}
