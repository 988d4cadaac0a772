package daemon_test

import (
	"testing"
	"time"

	"github.com/postcall/postcall/esl/esltest"
)

// testReconnect breaks the daemon's connection with drop and checks that
// it connects and subscribes again within bound, logs the gap, and
// delivers a call that ends afterwards.
func testReconnect(t *testing.T, opts stackOptions, drop func(*esltest.Server), bound time.Duration) {
	t.Helper()
	opts.apps = map[string]string{"survey": surveyApp}
	s := startStack(t, opts)
	before := eventCommands(s.fake)
	if len(before) != 1 {
		t.Fatalf("event commands before the drop: %q, want one", before)
	}

	dropped := time.Now()
	drop(s.fake)
	s.waitFor("the daemon to reconnect", func() bool {
		st := s.d.ESLStatus()
		return st.Connected && st.Reconnects >= 1
	})
	if took := time.Since(dropped); took > bound {
		t.Errorf("reconnected %s after the drop, want within %s", took.Round(time.Millisecond), bound)
	}

	after := eventCommands(s.fake)
	if len(after) != 2 {
		t.Fatalf("event commands %q, want the subscription sent again once", after)
	}
	if after[1] != after[0] {
		t.Errorf("subscribed with %q after the reconnect, want the same %q", after[1], after[0])
	}

	gapLogged := false
	for _, entry := range s.logEntries() {
		if gap, ok := entry["gap_ms"].(float64); ok && gap >= 0 {
			gapLogged = true
		}
	}
	if !gapLogged {
		t.Errorf("no log entry with gap_ms\nlog:\n%s", s.logs.String())
	}
	if gaps := s.d.Snapshot().FreeSWITCH.Gaps; len(gaps) != 1 || gaps[0].Duration() <= 0 {
		t.Errorf("status gaps = %+v, want one gap with a length", gaps)
	}

	// The old connection may linger in the fake until the fake notices the
	// close. Waiting for it to go keeps the count of clients reached exact.
	s.waitFor("one subscribed connection", func() bool { return s.fake.Subscribed() == 1 })
	call := readEvent(t, "hangup_complete_ivr_exit.json")
	s.send(call)
	s.waitSettled()
	reqs := s.recv.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests after the reconnect, want 1", len(reqs))
	}
	if got := reqs[0].jsonBody(t)["id"]; got != call.Get("Unique-ID") {
		t.Errorf("the request is for %q, want %q", got, call.Get("Unique-ID"))
	}
}

// reconnectSlack is added to every bound the spec states, for a loaded
// machine.
const reconnectSlack = 5 * time.Second

func TestReconnectAfterEOF(t *testing.T) {
	testReconnect(t, stackOptions{reconnectMax: "200ms"}, (*esltest.Server).CloseConnections, 200*time.Millisecond+reconnectSlack)
}

func TestReconnectAfterReset(t *testing.T) {
	testReconnect(t, stackOptions{reconnectMax: "200ms"}, (*esltest.Server).Reset, 200*time.Millisecond+reconnectSlack)
}

func TestReconnectAfterStall(t *testing.T) {
	// A stalled connection is noticed after twice the watchdog interval
	// without traffic, and then the backoff applies.
	const watchdog = 200 * time.Millisecond
	testReconnect(t, stackOptions{reconnectMax: "200ms", watchdog: watchdog.String()},
		(*esltest.Server).Stall, 2*watchdog+200*time.Millisecond+reconnectSlack)
}
