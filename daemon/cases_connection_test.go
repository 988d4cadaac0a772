package daemon_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/esl/esltest"
)

func TestCase08NotReady(t *testing.T) {
	// The password is distinctive so that a log line quoting it is found.
	const password = "Pw0rdMarker4410"
	tests := []struct {
		name     string
		fake     esltest.Options
		cause    error
		wantText string
		// otherText is the text of the other failure. It must not appear,
		// because the two causes get distinct errors.
		otherText string
	}{
		{
			name:      "acl_rejection",
			fake:      esltest.Options{RejectACL: true},
			cause:     esl.ErrACLRejected,
			wantText:  "rejected by FreeSWITCH ACL",
			otherText: "authentication failed",
		},
		{
			name:      "wrong_password",
			fake:      esltest.Options{},
			cause:     esl.ErrAuthFailed,
			wantText:  "authentication failed",
			otherText: "ACL",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const reconnectMax = 200 * time.Millisecond
			s := caseStack(t, caseJSONApp(map[string]string{"id": "session.id"}), stackOptions{
				fake:            tt.fake,
				password:        password,
				reconnectMax:    reconnectMax.String(),
				debug:           true,
				noSubscribeWait: true,
			})

			// By the seventh connection the backoff has reached its cap.
			s.waitFor("seven connection attempts", func() bool { return s.fake.Connections() >= 7 })
			err := s.d.Ready()
			if err == nil {
				t.Fatal("Ready() = nil while FreeSWITCH rejects the daemon")
			}
			msg := err.Error()
			if !strings.Contains(msg, "not connected") {
				t.Errorf("Ready() = %q, want it to say not connected", msg)
			}
			if !strings.Contains(msg, tt.wantText) {
				t.Errorf("Ready() = %q, want it to name the cause %q", msg, tt.wantText)
			}
			if strings.Contains(msg, tt.otherText) {
				t.Errorf("Ready() = %q names the other failure %q", msg, tt.otherText)
			}
			st := s.d.ESLStatus()
			if st.Connected {
				t.Error("ESLStatus().Connected = true")
			}
			if !errors.Is(st.Cause, tt.cause) {
				t.Errorf("ESLStatus().Cause = %v, want %v", st.Cause, tt.cause)
			}
			if snap := s.d.Snapshot(); snap.Ready || snap.NotReady == "" {
				t.Errorf("Snapshot() ready=%t not_ready=%q, want not ready with a reason", snap.Ready, snap.NotReady)
			}

			// Watch the attempts for a second: after a failure the client
			// waits at least half of reconnect_max, so a tight loop shows as
			// many more connections than that allows.
			start, before := time.Now(), s.fake.Connections()
			s.waitFor("a second of reconnect attempts", func() bool { return time.Since(start) >= time.Second })
			made := s.fake.Connections() - before
			allowed := int(time.Since(start)/(reconnectMax/2)) + 2
			if made > allowed {
				t.Errorf("%d connections in %s, want at most %d with backoff", made, time.Since(start).Round(time.Millisecond), allowed)
			}

			if logs := s.logs.String(); strings.Contains(logs, password) {
				t.Errorf("the password is in the log:\n%s", logs)
			}
			snapshot, _ := json.Marshal(s.d.Snapshot())
			if strings.Contains(string(snapshot), password) {
				t.Errorf("the password is in the status: %s", snapshot)
			}
		})
	}
}

// eventCommands returns the event subscription commands the fake received.
func eventCommands(fake *esltest.Server) []string {
	var out []string
	for _, c := range fake.Commands() {
		if strings.HasPrefix(c, "event ") {
			out = append(out, c)
		}
	}
	return out
}

func TestCase09DisconnectResubscribe(t *testing.T) {
	const (
		firstID  = "a1a1a1a1-0000-4000-8000-000000000011"
		secondID = "a1a1a1a1-0000-4000-8000-000000000912"
		// reconnectBound is far below the 30 s a held-open socket stays
		// open in the case, and far above the 200ms backoff cap.
		reconnectBound = 10 * time.Second
	)
	variants := []struct {
		name string
		drop func(*esltest.Server)
		// writtenFirst waits until the daemon has handled the first call
		// before the drop, because the fake discards frames still queued
		// when it closes a connection without a notice.
		writtenFirst bool
	}{
		{name: "notice_then_close", drop: (*esltest.Server).Disconnect},
		{name: "close_without_notice", drop: (*esltest.Server).CloseConnections, writtenFirst: true},
		{name: "notice_socket_held_open", drop: (*esltest.Server).DisconnectHoldOpen},
	}
	first := readEvent(t, "09-esl-disconnect-notice.esl")
	if first.Get("Unique-ID") != firstID {
		t.Fatalf("the case file's call is %s, want %s", first.Get("Unique-ID"), firstID)
	}

	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			s := caseStack(t, caseJSONApp(map[string]string{"id": "session.id"}), stackOptions{})
			subscription := eventCommands(s.fake)
			if len(subscription) != 1 {
				t.Fatalf("event commands before the drop: %q, want one", subscription)
			}

			s.send(first)
			if v.writtenFirst {
				s.barrier()
			}
			dropped := time.Now()
			v.drop(s.fake)
			s.waitSubscribed()
			if took := time.Since(dropped); took > reconnectBound {
				t.Errorf("subscribed again %s after the drop, want within %s", took.Round(time.Millisecond), reconnectBound)
			}

			again := eventCommands(s.fake)
			if len(again) != 2 {
				t.Fatalf("event commands %q, want the subscription sent again once", again)
			}
			if again[1] != again[0] {
				t.Errorf("subscribed with %q after the reconnect, want the same %q", again[1], again[0])
			}

			s.send(asCall(first, secondID))
			s.waitSettled()
			reqs := s.recv.requests()
			count := map[string]int{}
			for _, req := range reqs {
				count[req.jsonBody(t)["id"]]++
			}
			if count[firstID] != 1 || count[secondID] != 1 || len(reqs) != 2 {
				t.Errorf("requests per call %v, want exactly one for %s and one for %s", count, firstID, secondID)
			}
			if st := s.d.ESLStatus(); st.Reconnects != 1 {
				t.Errorf("ESLStatus().Reconnects = %d, want 1", st.Reconnects)
			}
		})
	}
}

func TestCase10SlowWebservice(t *testing.T) {
	// The case sends 5000 hangups 1 ms apart. Here they go as fast as the
	// fake writes them, which is harder on the reader.
	const (
		calls     = 5000
		slowReply = 2 * time.Second
	)
	// The webservice responds after 2 s until every event has been read,
	// and at once afterwards, so the test ends soon after the backlog is
	// delivered.
	slow := make(chan struct{})
	handler := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-slow:
		default:
			select {
			case <-time.After(slowReply):
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, "ok")
	}
	s := caseStack(t, `name = "main_menu"
type = "rest"
request_type = "POST"
url = "@RECEIVER@/main_menu/{{session.id}}"
`, stackOptions{
		handler: handler,
		workers: 64,
		perApp:  64,
		// Like mod_event_socket, the fake drops events for a client that
		// reads too slowly and closes it after 1000 drops.
		fake: esltest.Options{MaxDrops: 1000, SendBuffer: 2 << 20},
		wait: 3 * time.Minute,
	})

	template := readEvents(t, "11-esl-duplicate-hangup.esl")[0]
	ids := make(map[string]bool, calls)
	for i := range calls {
		id := esltest.NewUUID()
		ids[id] = true
		s.send(asCall(template, id, esl.Header{Name: "Event-Sequence", Value: strconv.Itoa(10000 + i)}))
	}
	s.waitFor("every event handled", func() bool { return s.d.Snapshot().Calls["events"] >= calls })

	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	t.Logf("all %d events handled: heap in use %.1f MiB, %d goroutines", calls, float64(mem.HeapInuse)/(1<<20), runtime.NumGoroutine())
	// The case allows 200 MiB of memory growth for 5000 queued deliveries.
	// The heap in use of the whole test process is the measure here: an
	// estimate that leaves out goroutine stacks and runtime overhead.
	if limit := uint64(200 << 20); mem.HeapInuse > limit {
		t.Errorf("heap in use %d MiB with the backlog queued, want under %d MiB", mem.HeapInuse>>20, limit>>20)
	}

	if d := s.fake.Dropped(); d != 0 {
		t.Errorf("the fake dropped %d events: the daemon did not read at wire speed", d)
	}
	if c := s.fake.Connections(); c != 1 {
		t.Errorf("the fake saw %d connections, want the first one kept", c)
	}
	if st := s.d.ESLStatus(); st.Dropped != 0 {
		t.Errorf("the daemon's event queue dropped %d events (last %q)", st.Dropped, st.LastDropped)
	}
	close(slow)

	st := s.waitSettled()
	if st.Calls["fired"] != calls {
		t.Errorf("fired %d calls, want %d", st.Calls["fired"], calls)
	}
	if delivered, dead, _ := s.appStats(caseApp); delivered != calls || dead != 0 {
		t.Errorf("delivered %d and dead %d, want all %d delivered", delivered, dead, calls)
	}
	got := map[string]bool{}
	for _, req := range s.recv.requests() {
		got[strings.TrimPrefix(req.Path, "/main_menu/")] = true
	}
	var missing []string
	for id := range ids {
		if !got[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d calls were never delivered, for example %q", len(missing), missing[:min(len(missing), 5)])
	}
	runtime.ReadMemStats(&mem)
	t.Logf("after delivery: heap in use %.1f MiB", float64(mem.HeapInuse)/(1<<20))
}
