package esl_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/esl/esltest"
	"github.com/sirupsen/logrus"
)

func hangupEvent(id string) esl.Event {
	return esl.Event{Headers: []esl.Header{
		{Name: "Event-Name", Value: "CHANNEL_HANGUP_COMPLETE"},
		{Name: "Core-UUID", Value: "c0c0c0c0-0000-4000-8000-00000000c0e1"},
		{Name: "Unique-ID", Value: id},
		{Name: "Hangup-Cause", Value: "NORMAL_CLEARING"},
		{Name: "Hangup-Cause", Value: "NORMAL_CLEARING"},
		{Name: "variable_fuse_var_note", Value: "a&b=c%d+e?f#g"},
	}}
}

func exitEvent(id string) esl.Event {
	return esl.Event{Headers: []esl.Header{
		{Name: "Event-Subclass", Value: "fuse::exit"},
		{Name: "Event-Name", Value: "CUSTOM"},
		{Name: "Unique-ID", Value: id},
		{Name: "fuse_exit", Value: "completed"},
	}}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   esl.Config
		field string
	}{
		{"defaults are valid", esl.Config{}, ""},
		{"plain format", esl.Config{Format: "plain"}, ""},
		{"xml format", esl.Config{Format: "xml"}, "Format"},
		{"address without port", esl.Config{Addr: "localhost"}, "Addr"},
		{"ALL events", esl.Config{Events: []string{"ALL"}}, "Events"},
		{"CUSTOM in events", esl.Config{Events: []string{"CUSTOM"}}, "Events"},
		{"event with space", esl.Config{Events: []string{"A B"}}, "Events"},
		{"empty subclass", esl.Config{Subclasses: []string{""}}, "Subclasses"},
		{"nothing to subscribe", esl.Config{Events: []string{}, Subclasses: []string{}}, "Events"},
		{"password with newline", esl.Config{Password: "a\nb"}, "Password"},
		{"negative queue", esl.Config{QueueSize: -1}, "QueueSize"},
		{"negative watchdog", esl.Config{Watchdog: -time.Second}, "Watchdog"},
		{"max below min", esl.Config{ReconnectMin: 5 * time.Second, ReconnectMax: time.Second}, "ReconnectMax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.field == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted an invalid %s", tt.field)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
		})
	}
}

func TestRunRejectsInvalidConfig(t *testing.T) {
	client := esl.New(esl.Config{Format: "xml"})
	err := client.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Format") {
		t.Errorf("Run error = %v, want one naming Format", err)
	}
	if _, ok := <-client.Events(); ok {
		t.Error("event channel is still open after Run returned")
	}
}

func TestSubscriptionCommand(t *testing.T) {
	tests := []struct {
		name string
		cfg  esl.Config
		want string
	}{
		{"defaults", esl.Config{}, "event json CHANNEL_HANGUP_COMPLETE HEARTBEAT CUSTOM fuse::exit"},
		{"plain", esl.Config{Format: "plain"}, "event plain CHANNEL_HANGUP_COMPLETE HEARTBEAT CUSTOM fuse::exit"},
		{"subclasses last", esl.Config{Events: []string{"CHANNEL_HANGUP_COMPLETE"}, Subclasses: []string{"a::b", "c::d"}}, "event json CHANNEL_HANGUP_COMPLETE CUSTOM a::b c::d"},
		{"no subclasses", esl.Config{Subclasses: []string{}}, "event json CHANNEL_HANGUP_COMPLETE HEARTBEAT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := esltest.NewServer(esltest.Options{})
			defer srv.Close()
			tt.cfg.Addr = srv.Addr()
			client, _ := startClient(t, tt.cfg)
			if got := client.Subscription(); got != tt.want {
				t.Errorf("Subscription() = %q, want %q", got, tt.want)
			}
			if got := waitSubscribed(t, srv); got != tt.want {
				t.Errorf("server saw %q, want %q", got, tt.want)
			}
			if got := srv.Commands(); !slices.Equal(got, []string{"auth ClueCon", tt.want}) {
				t.Errorf("commands = %q, want auth then the subscription", got)
			}
			waitFor(t, "client connected", func() bool { return client.Status().Connected })
		})
	}
}

// TestEventsInWireOrder sends exit and hangup events interleaved and
// expects them in the order they were sent, in both formats.
func TestEventsInWireOrder(t *testing.T) {
	for _, format := range []string{"json", "plain"} {
		t.Run(format, func(t *testing.T) {
			srv := esltest.NewServer(esltest.Options{})
			defer srv.Close()
			client, _ := startClient(t, esl.Config{Addr: srv.Addr(), Format: format})
			waitSubscribed(t, srv)

			var sent []esl.Event
			for i := range 300 {
				id := esltest.NewUUID()
				ev := exitEvent(id)
				if i%2 == 1 {
					ev = hangupEvent(id)
				}
				sent = append(sent, ev)
				if n := srv.SendEvent(ev); n != 1 {
					t.Fatalf("event %d went to %d clients, want 1", i, n)
				}
			}
			for i, want := range sent {
				got := receive(t, client)
				if !slices.Equal(got.Headers, want.Headers) {
					t.Fatalf("event %d = %q, want %q", i, got.Headers, want.Headers)
				}
			}
		})
	}
}

func TestUnsubscribedEventsAreNotSent(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	startClient(t, esl.Config{Addr: srv.Addr()})
	waitSubscribed(t, srv)

	other := esl.Event{Headers: []esl.Header{{Name: "Event-Name", Value: "CHANNEL_CREATE"}}}
	if n := srv.SendEvent(other); n != 0 {
		t.Errorf("CHANNEL_CREATE went to %d clients, want 0", n)
	}
	otherCustom := esl.Event{Headers: []esl.Header{{Name: "Event-Name", Value: "CUSTOM"}, {Name: "Event-Subclass", Value: "sofia::register"}}}
	if n := srv.SendEvent(otherCustom); n != 0 {
		t.Errorf("CUSTOM sofia::register went to %d clients, want 0", n)
	}
}

func TestCase07NonTokenNamesOverSocket(t *testing.T) {
	raw := readFile(t, "testdata/07-esl-nontoken-header-names.esl")
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	client, _ := startClient(t, esl.Config{Addr: srv.Addr(), Format: "plain"})
	waitSubscribed(t, srv)

	srv.SendFrame(raw)
	ev := receive(t, client)
	if got := ev.Get("variable_fish,(sticks)~_1"); got != "1" {
		t.Errorf("variable_fish,(sticks)~_1 = %q, want 1", got)
	}
	if got := ev.Get("variable_ivr_result"); got != "completed" {
		t.Errorf("variable_ivr_result = %q, want completed", got)
	}
	waitFor(t, "client connected", func() bool { return client.Status().Connected })
	if n := srv.Connections(); n != 1 {
		t.Errorf("%d connections, want the first one kept", n)
	}
}

func TestCase11DuplicateHangup(t *testing.T) {
	raw := readFile(t, "testdata/11-esl-duplicate-hangup.esl")
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	client, _ := startClient(t, esl.Config{Addr: srv.Addr(), Format: "plain"})
	waitSubscribed(t, srv)

	srv.SendFrame(raw)
	first, second := receive(t, client), receive(t, client)
	for i, ev := range []esl.Event{first, second} {
		if got := ev.Get("Unique-ID"); got != "a1a1a1a1-0000-4000-8000-000000000012" {
			t.Errorf("event %d Unique-ID = %q", i+1, got)
		}
		if got := ev.Get("Event-Sequence"); got != "6101" {
			t.Errorf("event %d Event-Sequence = %q, want 6101", i+1, got)
		}
	}
	if !slices.Equal(first.Headers, second.Headers) {
		t.Error("the two frames decoded differently")
	}
}

// dialRecorder records when the client dials.
type dialRecorder struct {
	mu    sync.Mutex
	times []time.Time
}

func (d *dialRecorder) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.times = append(d.times, time.Now())
	d.mu.Unlock()
	var dialer net.Dialer
	return dialer.DialContext(ctx, network, addr)
}

func (d *dialRecorder) snapshot() []time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.times)
}

// checkAuthFailure runs a client against srv and checks what both case 08
// tests require: the error, never connected, no password in the logs, and
// growing delays between attempts.
func checkAuthFailure(t *testing.T, srv *esltest.Server, password string, want, other error) {
	t.Helper()
	const (
		minDelay = 50 * time.Millisecond
		maxDelay = 400 * time.Millisecond
		jitter   = 0.99
	)
	dials := &dialRecorder{}
	client, logs := startClient(t, esl.Config{
		Addr:         srv.Addr(),
		Password:     password,
		ReconnectMin: minDelay,
		ReconnectMax: maxDelay,
		Rand:         func() float64 { return jitter },
		Dial:         dials.dial,
	})

	waitFor(t, "six connection attempts", func() bool {
		if client.Status().Connected {
			t.Fatal("client reports connected after a failed authentication")
		}
		return len(dials.snapshot()) >= 6
	})

	st := client.Status()
	if !errors.Is(st.Cause, want) {
		t.Errorf("Cause = %v, want %v", st.Cause, want)
	}
	if errors.Is(st.Cause, other) {
		t.Errorf("Cause = %v also matches %v", st.Cause, other)
	}
	if st.Connected || !st.ConnectedSince.IsZero() {
		t.Errorf("status = %+v, want not connected", st)
	}
	if got := logs.find("rejected the connection"); len(got) == 0 {
		t.Error("no log entry about the rejected connection")
	} else if got[0].Level != logrus.ErrorLevel {
		t.Errorf("rejection logged at %s, want error", got[0].Level)
	}
	if strings.Contains(logs.text(), password) || strings.Contains(st.LastError, password) {
		t.Error("the password appears in the logs or the status")
	}

	// Each delay is ReconnectMin doubled per failure, capped, times the
	// jitter factor; sleeping never ends early, so these are lower bounds.
	times := dials.snapshot()
	for i := 1; i < 6; i++ {
		base := min(minDelay<<(i-1), maxDelay)
		wantGap := time.Duration(float64(base) * (0.5 + 0.5*jitter))
		if gap := times[i].Sub(times[i-1]); gap < wantGap {
			t.Errorf("attempt %d came %s after the previous one, want at least %s", i+1, gap, wantGap)
		}
	}
	// Together the bounds cap the attempts: six take at least 1.14 s, where
	// a tight loop would make thousands.
	if n := srv.Connections(); n > len(dials.snapshot()) {
		t.Errorf("server accepted %d connections for %d dials", n, len(dials.snapshot()))
	}
}

func TestCase08ACLRejection(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{RejectACL: true})
	defer srv.Close()
	checkAuthFailure(t, srv, "acl-Secret-0815", esl.ErrACLRejected, esl.ErrAuthFailed)
}

func TestCase08WrongPassword(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{Password: "the-right-one"})
	defer srv.Close()
	checkAuthFailure(t, srv, "wrong-Secret-4711", esl.ErrAuthFailed, esl.ErrACLRejected)
	if cmds := srv.Commands(); len(cmds) == 0 || cmds[0] != "auth wrong-Secret-4711" {
		t.Errorf("server commands = %q, want the auth command first", cmds)
	}
}

// TestCase08ScriptedBytes plays the exact bytes of the case 08 files from a
// raw listener.
func TestCase08ScriptedBytes(t *testing.T) {
	tests := []struct {
		name string
		file string
		want error
	}{
		{"rude rejection", "testdata/08-esl-rude-rejection.esl", esl.ErrACLRejected},
		{"auth invalid", "testdata/08-esl-auth-invalid.esl", esl.ErrAuthFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script := readFile(t, tt.file)
			addr := rawPeer(t, func(conn net.Conn, br *bufio.Reader) {
				if tt.want == esl.ErrACLRejected {
					conn.Write(script)
					return
				}
				first := len("Content-Type: auth/request\n\n")
				conn.Write(script[:first])
				readCommand(t, br)
				conn.Write(script[first:])
			})
			client, _ := startClient(t, esl.Config{Addr: addr, ReconnectMin: 50 * time.Millisecond, ReconnectMax: 50 * time.Millisecond})
			waitFor(t, "an authentication error", func() bool { return client.Status().Cause != nil })
			if st := client.Status(); !errors.Is(st.Cause, tt.want) || st.Connected {
				t.Errorf("status = connected %v, cause %v; want not connected, %v", st.Connected, st.Cause, tt.want)
			}
		})
	}
}

func TestAuthTimeout(t *testing.T) {
	// A peer that accepts and never sends auth/request.
	addr := rawPeer(t, func(conn net.Conn, br *bufio.Reader) {
		io.Copy(io.Discard, br)
	})
	client, _ := startClient(t, esl.Config{Addr: addr, AuthTimeout: 100 * time.Millisecond})
	waitFor(t, "an authentication timeout", func() bool { return client.Status().Cause != nil })
	st := client.Status()
	if !strings.Contains(st.LastError, "timed out") || !strings.Contains(st.LastError, "auth/request") {
		t.Errorf("LastError = %q, want a timeout waiting for auth/request", st.LastError)
	}
	if st.Connected {
		t.Error("client reports connected")
	}
}

func TestDialTimeout(t *testing.T) {
	// A dialer that blocks until its context ends emulates an address that
	// never replies, without sending anything off this host.
	var attempts sync.WaitGroup
	attempts.Add(2)
	var once [2]sync.Once
	var n int
	var mu sync.Mutex
	blocking := func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		if n < 2 {
			once[n].Do(attempts.Done)
		}
		n++
		mu.Unlock()
		<-ctx.Done()
		return nil, ctx.Err()
	}
	client, _ := startClient(t, esl.Config{Addr: "127.0.0.1:9", DialTimeout: 30 * time.Millisecond, Dial: blocking})
	attempts.Wait()
	waitFor(t, "a dial error", func() bool { return client.Status().Cause != nil })
	if st := client.Status(); !errors.Is(st.Cause, context.DeadlineExceeded) {
		t.Errorf("Cause = %v, want a dial deadline", st.Cause)
	}
}

func TestAPI(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	client, _ := startClient(t, esl.Config{Addr: srv.Addr()})
	waitFor(t, "client connected", func() bool { return client.Status().Connected })

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	body, err := client.API(ctx, "status")
	if err != nil {
		t.Fatalf("API(status): %v", err)
	}
	if !strings.Contains(body, "is ready") {
		t.Errorf("API(status) = %q, want the status text", body)
	}
	body, err = client.API(ctx, "no_such_thing")
	if err != nil {
		t.Fatalf("API(no_such_thing): %v", err)
	}
	if !strings.HasPrefix(body, "-ERR no_such_thing") {
		t.Errorf("API(no_such_thing) = %q, want an -ERR reply", body)
	}
	if _, err := client.API(ctx, "status\n\nexit"); err == nil {
		t.Error("API accepted a command with line breaks")
	}
}

func TestAPINotConnected(t *testing.T) {
	client := esl.New(esl.Config{})
	if _, err := client.API(context.Background(), "status"); !errors.Is(err, esl.ErrNotConnected) {
		t.Errorf("API error = %v, want ErrNotConnected", err)
	}
}

// TestRepliesMatchCommandsInOrder sends many API commands at once; every
// caller must get the reply to its own command.
func TestRepliesMatchCommandsInOrder(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	client, _ := startClient(t, esl.Config{Addr: srv.Addr()})
	waitFor(t, "client connected", func() bool { return client.Status().Connected })

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			name := "cmd" + strings.Repeat("x", i)
			body, err := client.API(ctx, name)
			if err != nil {
				t.Errorf("API(%s): %v", name, err)
				return
			}
			if want := "-ERR " + name + " Command not found!\n"; body != want {
				t.Errorf("API(%s) = %q, want %q", name, body, want)
			}
		})
	}
	wg.Wait()
}

func TestRunStopsAndClosesEvents(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	client := esl.New(esl.Config{Addr: srv.Addr(), Logger: discardLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- client.Run(ctx) }()
	waitSubscribed(t, srv)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after cancel")
	}
	if _, ok := <-client.Events(); ok {
		t.Error("event channel is still open after Run returned")
	}
	if client.Status().Connected {
		t.Error("client reports connected after Run returned")
	}
	if err := client.Run(context.Background()); err == nil {
		t.Error("a second Run returned nil, want an error")
	}
}

func TestUnknownFramesAreSkipped(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	client, _ := startClient(t, esl.Config{Addr: srv.Addr()})
	waitSubscribed(t, srv)

	srv.SendFrame(readFile(t, "testdata/public/log_data_1.txt"))
	srv.SendFrame([]byte("Content-Type: text/x-future\nContent-Length: 3\n\nabc"))
	srv.SendFrame([]byte("Content-Type: command/reply\nReply-Text: +OK unexpected\n\n"))
	srv.SendFrame([]byte("Content-Length: 9\nContent-Type: text/event-json\n\n{\"a\":bad}"))
	srv.SendEvent(hangupEvent("a1a1a1a1-0000-4000-8000-000000000077"))

	if ev := receive(t, client); ev.Get("Unique-ID") != "a1a1a1a1-0000-4000-8000-000000000077" {
		t.Errorf("Unique-ID = %q", ev.Get("Unique-ID"))
	}
	st := client.Status()
	if st.Undecodable != 1 {
		t.Errorf("Undecodable = %d, want 1", st.Undecodable)
	}
	if srv.Connections() != 1 || st.Reconnects != 0 {
		t.Errorf("%d connections and %d reconnects, want the first connection kept", srv.Connections(), st.Reconnects)
	}
}

func TestMalformedFrameFailsConnection(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	client, _ := startClient(t, esl.Config{Addr: srv.Addr()})
	waitSubscribed(t, srv)

	srv.SendFrame([]byte("this is no header line\n\n"))
	waitFor(t, "a second connection", func() bool { return srv.Connections() >= 2 && client.Status().Connected })
	if st := client.Status(); !errors.Is(st.Cause, esl.ErrMalformedFrame) {
		t.Errorf("Cause = %v, want ErrMalformedFrame", st.Cause)
	}
}

func TestWatchdogKeepsHealthyConnection(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	client, _ := startClient(t, esl.Config{Addr: srv.Addr(), Watchdog: 30 * time.Millisecond})
	waitFor(t, "five watchdog commands", func() bool {
		n := 0
		for _, c := range srv.Commands() {
			if c == "api status" {
				n++
			}
		}
		return n >= 5
	})
	if st := client.Status(); !st.Connected || st.Reconnects != 0 || srv.Connections() != 1 {
		t.Errorf("connected %v, %d reconnects, %d connections; want one lasting connection", st.Connected, st.Reconnects, srv.Connections())
	}
}

// TestPendingCommandFailsOnNotice holds a command unanswered, sends a
// disconnect notice and keeps the socket open: the command must fail at
// once, without waiting for EOF.
func TestPendingCommandFailsOnNotice(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	addr := rawPeer(t, func(conn net.Conn, br *bufio.Reader) {
		handshake(t, conn, br)
		if cmd := readCommand(t, br); cmd != "api status" {
			t.Errorf("peer read %q, want api status", cmd)
		}
		conn.Write([]byte("Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"))
		<-release
	})
	client, _ := startClient(t, esl.Config{Addr: addr, ReconnectMin: time.Minute, ReconnectMax: time.Minute})
	waitFor(t, "client connected", func() bool { return client.Status().Connected })

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_, err := client.API(ctx, "status")
	if !errors.Is(err, esl.ErrDisconnected) {
		t.Errorf("API error = %v, want ErrDisconnected", err)
	}
	if ctx.Err() != nil {
		t.Error("API waited for its deadline instead of failing on the notice")
	}
}

// TestCase09DisconnectResubscribe ends the first session in three ways and
// expects a new session with the same subscription, and an event sent only
// after that subscription to arrive.
func TestCase09DisconnectResubscribe(t *testing.T) {
	tests := []struct {
		name  string
		fault func(*esltest.Server)
		cause error
	}{
		{"notice then close", (*esltest.Server).Disconnect, esl.ErrDisconnected},
		{"close without notice", (*esltest.Server).CloseConnections, io.EOF},
		{"notice with socket held open", (*esltest.Server).DisconnectHoldOpen, esl.ErrDisconnected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := esltest.NewServer(esltest.Options{})
			defer srv.Close()
			client, logs := startClient(t, esl.Config{Addr: srv.Addr(), Format: "plain"})
			first := waitSubscribed(t, srv)

			srv.SendEvent(hangupEvent("a1a1a1a1-0000-4000-8000-000000000011"))
			if ev := receive(t, client); ev.Get("Unique-ID") != "a1a1a1a1-0000-4000-8000-000000000011" {
				t.Fatalf("first event Unique-ID = %q", ev.Get("Unique-ID"))
			}

			tt.fault(srv)
			waitFor(t, "client subscribed again", func() bool { return client.Status().Reconnects == 1 })
			second := waitSubscribed(t, srv)
			if second != first {
				t.Errorf("second subscription %q differs from the first %q", second, first)
			}
			if n := srv.Connections(); n != 2 {
				t.Errorf("server accepted %d connections, want 2", n)
			}

			srv.SendEvent(hangupEvent("a1a1a1a1-0000-4000-8000-000000000912"))
			if ev := receive(t, client); ev.Get("Unique-ID") != "a1a1a1a1-0000-4000-8000-000000000912" {
				t.Errorf("second event Unique-ID = %q", ev.Get("Unique-ID"))
			}

			checkReconnected(t, client, logs, tt.cause)
			wantCommands := []string{"auth ClueCon", first, "auth ClueCon", first}
			if got := srv.Commands(); !slices.Equal(got, wantCommands) {
				t.Errorf("commands = %q, want %q", got, wantCommands)
			}
		})
	}
}

// checkReconnected checks the status and log entries of one reconnect.
func checkReconnected(t *testing.T, client *esl.Client, logs *logCapture, cause error) {
	t.Helper()
	waitFor(t, "reconnect recorded", func() bool { return client.Status().Reconnects == 1 })
	st := client.Status()
	if !st.Connected {
		t.Error("client is not connected after the reconnect")
	}
	if !errors.Is(st.Cause, cause) {
		t.Errorf("Cause = %v, want %v", st.Cause, cause)
	}
	if len(st.Gaps) != 1 {
		t.Fatalf("%d gaps recorded, want 1", len(st.Gaps))
	}
	if gap := st.Gaps[0]; gap.Duration() <= 0 || gap.Reason == "" {
		t.Errorf("gap = %+v, want a positive duration and a reason", gap)
	}

	disconnects := logs.find("disconnected from FreeSWITCH")
	if len(disconnects) != 1 {
		t.Fatalf("%d disconnect log entries, want 1", len(disconnects))
	}
	if disconnects[0].Level != logrus.WarnLevel || disconnects[0].Data["error"] == nil {
		t.Errorf("disconnect entry = %s %v, want warning with the error", disconnects[0].Level, disconnects[0].Data)
	}
	// The entry is written just after the status changes.
	waitFor(t, "reconnect log entry", func() bool { return len(logs.find("reconnected to FreeSWITCH")) > 0 })
	reconnects := logs.find("reconnected to FreeSWITCH")
	if len(reconnects) != 1 {
		t.Fatalf("%d reconnect log entries, want 1", len(reconnects))
	}
	gapMS, ok := reconnects[0].Data["gap_ms"].(int64)
	if !ok || gapMS < 0 {
		t.Errorf("reconnect entry gap_ms = %v, want a non-negative number", reconnects[0].Data["gap_ms"])
	}
	if want := st.Gaps[0].Duration().Milliseconds(); gapMS != want {
		t.Errorf("logged gap_ms = %d, status gap = %d ms", gapMS, want)
	}
	if reconnects[0].Level != logrus.InfoLevel {
		t.Errorf("reconnect logged at %s, want info", reconnects[0].Level)
	}
}

func TestReconnect(t *testing.T) {
	const maxDelay = 100 * time.Millisecond
	tests := []struct {
		name     string
		watchdog time.Duration
		fault    func(*esltest.Server)
		cause    error
	}{
		{"after EOF", 0, (*esltest.Server).CloseConnections, io.EOF},
		{"after reset", 0, (*esltest.Server).Reset, syscall.ECONNRESET},
		{"after silent stall", 50 * time.Millisecond, (*esltest.Server).Stall, esl.ErrWatchdog},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := esltest.NewServer(esltest.Options{})
			defer srv.Close()
			client, logs := startClient(t, esl.Config{Addr: srv.Addr(), Watchdog: tt.watchdog, ReconnectMax: maxDelay})
			first := waitSubscribed(t, srv)
			waitFor(t, "client connected", func() bool { return client.Status().Connected })

			tt.fault(srv)
			waitFor(t, "client subscribed again", func() bool { return client.Status().Reconnects == 1 })
			if second := waitSubscribed(t, srv); second != first {
				t.Errorf("second subscription %q differs from the first %q", second, first)
			}

			srv.SendEvent(hangupEvent("a1a1a1a1-0000-4000-8000-000000000500"))
			if ev := receive(t, client); ev.Get("Unique-ID") != "a1a1a1a1-0000-4000-8000-000000000500" {
				t.Errorf("event after reconnect Unique-ID = %q", ev.Get("Unique-ID"))
			}
			checkReconnected(t, client, logs, tt.cause)
			// The backoff sleeps at most ReconnectMax; the rest of the gap is
			// connecting and authenticating on loopback.
			if gap := client.Status().Gaps[0].Duration(); gap > maxDelay+5*time.Second {
				t.Errorf("gap = %s, far above the backoff cap %s", gap, maxDelay)
			}
		})
	}
}

func TestGapHistoryIsBounded(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	client, _ := startClient(t, esl.Config{Addr: srv.Addr(), GapHistory: 2})
	waitFor(t, "client connected", func() bool { return client.Status().Connected })

	for i := 1; i <= 3; i++ {
		srv.CloseConnections()
		waitFor(t, "reconnect", func() bool {
			st := client.Status()
			return st.Reconnects == i && st.Connected
		})
	}
	if got := len(client.Status().Gaps); got != 2 {
		t.Errorf("%d gaps kept, want 2", got)
	}
}

// TestCase10SlowConsumer lets 5,000 events arrive while the test never
// reads Events(): the socket reader must keep draining, so the fake drops
// nothing, and the client counts and names what its own queue dropped.
func TestCase10SlowConsumer(t *testing.T) {
	const (
		total     = 5000
		queueSize = 100
	)
	template := readCapture(t, "11-esl-duplicate-hangup.esl")[0]
	srv := esltest.NewServer(esltest.Options{SendTimeout: 5 * time.Second})
	defer srv.Close()
	client, logs := startClient(t, esl.Config{Addr: srv.Addr(), QueueSize: queueSize})
	waitFor(t, "client connected", func() bool { return client.Status().Connected })

	ids := make([]string, total)
	for i := range total {
		ev := esltest.Clone(template, esl.Header{Name: "Event-Sequence", Value: itoa(7000 + i)})
		ids[i] = ev.Get("Unique-ID")
		if n := srv.SendEvent(ev); n != 1 {
			t.Fatalf("event %d went to %d clients, want 1", i, n)
		}
	}
	waitFor(t, "all events read", func() bool { return client.Status().Received == total })

	if d := srv.Dropped(); d != 0 {
		t.Errorf("fake server dropped %d events, want 0", d)
	}
	st := client.Status()
	if st.Dropped != total-queueSize {
		t.Errorf("client dropped %d events, want %d", st.Dropped, total-queueSize)
	}
	if !slices.Equal(st.LastDropped, ids[total-64:]) {
		t.Errorf("LastDropped does not name the last 64 dropped Unique-IDs")
	}
	entries := logs.find("event queue is full")
	if len(entries) == 0 {
		t.Fatal("no log entry about dropped events")
	}
	if got := entries[0].Data["call_id"]; got != ids[queueSize] {
		t.Errorf("first drop entry call_id = %v, want %s", got, ids[queueSize])
	}
	if got := entries[0].Data["event"]; got != "CHANNEL_HANGUP_COMPLETE" {
		t.Errorf("first drop entry event = %v, want CHANNEL_HANGUP_COMPLETE", got)
	}
	if len(entries) > 10 {
		t.Errorf("%d drop log entries, want them rate-limited", len(entries))
	}
	if srv.Connections() != 1 || !st.Connected {
		t.Error("the connection did not survive the overflow")
	}

	for i := range queueSize {
		ev := receive(t, client)
		if got := ev.Get("Unique-ID"); got != ids[i] {
			t.Fatalf("queued event %d Unique-ID = %q, want %q", i, got, ids[i])
		}
	}
}
