package esltest_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/esl/esltest"
)

const waitTimeout = 10 * time.Second

// rawClient is a hand-driven Event Socket client.
type rawClient struct {
	t      *testing.T
	conn   net.Conn
	frames *esl.FrameReader
}

func dial(t *testing.T, srv *esltest.Server) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(waitTimeout))
	return &rawClient{t: t, conn: conn, frames: esl.NewFrameReader(conn, 0)}
}

func (c *rawClient) send(command string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, command+"\n\n"); err != nil {
		c.t.Fatalf("send %q: %v", command, err)
	}
}

func (c *rawClient) read() esl.Frame {
	c.t.Helper()
	f, err := c.frames.ReadFrame()
	if err != nil {
		c.t.Fatalf("ReadFrame: %v", err)
	}
	return f
}

func (c *rawClient) expectReply(text string) {
	c.t.Helper()
	f := c.read()
	if f.ContentType() != "command/reply" || f.Get("Reply-Text") != text {
		c.t.Fatalf("got %q, want command/reply %q", f.Header, text)
	}
}

// login authenticates and subscribes.
func (c *rawClient) login(subscription string) {
	c.t.Helper()
	if f := c.read(); f.ContentType() != "auth/request" {
		c.t.Fatalf("first frame %q, want auth/request", f.Header)
	}
	c.send("auth ClueCon")
	c.expectReply("+OK accepted")
	c.send(subscription)
	format := strings.Fields(subscription)[1]
	c.expectReply("+OK event listener enabled " + format)
}

func readAll(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestServerAuthAndSubscribe(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	c := dial(t, srv)
	c.login("event json CHANNEL_HANGUP_COMPLETE CUSTOM fuse::exit")

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	sub, err := srv.WaitSubscribed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sub != "event json CHANNEL_HANGUP_COMPLETE CUSTOM fuse::exit" {
		t.Errorf("subscription = %q", sub)
	}
	want := []string{"auth ClueCon", "event json CHANNEL_HANGUP_COMPLETE CUSTOM fuse::exit"}
	if got := srv.Commands(); !slices.Equal(got, want) {
		t.Errorf("commands = %q, want %q", got, want)
	}
	if srv.Connections() != 1 {
		t.Errorf("Connections = %d, want 1", srv.Connections())
	}
}

func TestServerWaitSubscribedTimesOut(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := srv.WaitSubscribed(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitSubscribed error = %v, want context.Canceled", err)
	}
}

func TestServerWrongPasswordBytes(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{Password: "right"})
	defer srv.Close()
	c := dial(t, srv)
	c.send("auth wrong")
	got, err := io.ReadAll(c.conn)
	if err != nil {
		t.Fatal(err)
	}
	if want := readAll(t, "testdata/08-esl-auth-invalid.esl"); string(got) != string(want) {
		t.Errorf("server sent %q, want %q", got, want)
	}
}

func TestServerRejectACLBytes(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{RejectACL: true})
	defer srv.Close()
	c := dial(t, srv)
	got, err := io.ReadAll(c.conn)
	if err != nil {
		t.Fatal(err)
	}
	if want := readAll(t, "testdata/08-esl-rude-rejection.esl"); string(got) != string(want) {
		t.Errorf("server sent %q, want %q", got, want)
	}
}

func TestServerCommands(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	c := dial(t, srv)
	c.login("event plain HEARTBEAT")

	c.send("api status")
	f := c.read()
	if f.ContentType() != "api/response" {
		t.Fatalf("api status reply %q, want api/response", f.Header)
	}
	if n, _ := strconv.Atoi(f.Get("Content-Length")); n != len(f.Body) || n == 0 {
		t.Errorf("Content-Length %d for a body of %d bytes", n, len(f.Body))
	}
	if !strings.Contains(string(f.Body), "is ready") {
		t.Errorf("status body = %q", f.Body)
	}

	c.send("api bogus arg")
	if f := c.read(); string(f.Body) != "-ERR bogus Command not found!\n" {
		t.Errorf("api bogus body = %q", f.Body)
	}
	c.send("filter Unique-ID x")
	c.expectReply("-ERR command not found")
	c.send("event xml ALL")
	if f := c.read(); !strings.HasPrefix(f.Get("Reply-Text"), "-ERR") {
		t.Errorf("event xml reply = %q, want -ERR", f.Get("Reply-Text"))
	}
}

func sampleEvent() esl.Event {
	return esl.Event{Headers: []esl.Header{
		{Name: "Event-Name", Value: "CHANNEL_HANGUP_COMPLETE"},
		{Name: "Unique-ID", Value: "a1a1a1a1-0000-4000-8000-000000000001"},
		{Name: "Hangup-Cause", Value: "NORMAL_CLEARING"},
		{Name: "Hangup-Cause", Value: "NORMAL_CLEARING"},
		{Name: "Caller-Caller-ID-Name", Value: "Тест & Sons 100%"},
	}}
}

func TestServerSendEventJSON(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	c := dial(t, srv)
	c.login("event json CHANNEL_HANGUP_COMPLETE")

	if n := srv.SendEvent(sampleEvent()); n != 1 {
		t.Fatalf("SendEvent queued for %d clients, want 1", n)
	}
	f := c.read()
	if f.ContentType() != "text/event-json" {
		t.Fatalf("content type %q", f.ContentType())
	}
	if n, _ := strconv.Atoi(f.Get("Content-Length")); n != len(f.Body) {
		t.Errorf("Content-Length %d for %d bytes", n, len(f.Body))
	}
	if strings.Count(string(f.Body), `"Hangup-Cause":`) != 2 {
		t.Errorf("body %s does not repeat the Hangup-Cause key", f.Body)
	}
	ev, err := esl.DecodeJSON(f.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ev.Headers, sampleEvent().Headers) {
		t.Errorf("decoded %q, want %q", ev.Headers, sampleEvent().Headers)
	}
}

func TestServerSendEventPlain(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	c := dial(t, srv)
	c.login("event plain CHANNEL_HANGUP_COMPLETE")

	srv.SendEvent(sampleEvent())
	f := c.read()
	if f.ContentType() != "text/event-plain" {
		t.Fatalf("content type %q", f.ContentType())
	}
	if !strings.Contains(string(f.Body), "Caller-Caller-ID-Name: %D0%A2%D0%B5%D1%81%D1%82%20%26%20Sons%20100%25\n") {
		t.Errorf("plain body does not URL-encode the name: %s", f.Body)
	}
	ev, err := esl.DecodePlain(f.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ev.Headers, sampleEvent().Headers) {
		t.Errorf("decoded %q, want %q", ev.Headers, sampleEvent().Headers)
	}
}

func TestServerFiltersBySubscription(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	c := dial(t, srv)
	c.login("event json HEARTBEAT CUSTOM fuse::exit")

	tests := []struct {
		name     string
		event    esl.Event
		receives int
	}{
		{"subscribed name", esl.Event{Headers: []esl.Header{{Name: "Event-Name", Value: "HEARTBEAT"}}}, 1},
		{"other name", esl.Event{Headers: []esl.Header{{Name: "Event-Name", Value: "CHANNEL_CREATE"}}}, 0},
		{"subscribed subclass", esl.Event{Headers: []esl.Header{{Name: "Event-Name", Value: "CUSTOM"}, {Name: "Event-Subclass", Value: "fuse::exit"}}}, 1},
		{"other subclass", esl.Event{Headers: []esl.Header{{Name: "Event-Name", Value: "CUSTOM"}, {Name: "Event-Subclass", Value: "sofia::register"}}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := srv.SendEvent(tt.event); n != tt.receives {
				t.Errorf("queued for %d clients, want %d", n, tt.receives)
			}
			if tt.receives == 1 {
				if f := c.read(); f.ContentType() != "text/event-json" {
					t.Errorf("got %q", f.Header)
				}
			}
		})
	}
}

func TestServerSendChunks(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	c := dial(t, srv)
	c.login("event json HEARTBEAT")

	frame := esltest.Frame(esl.Event{Headers: []esl.Header{{Name: "Event-Name", Value: "HEARTBEAT"}}}, "json")
	chunks := [][]byte{frame[:5], frame[5:30], frame[30:]}
	if n := srv.SendChunks(chunks, time.Millisecond); n != 1 {
		t.Fatalf("SendChunks wrote to %d clients, want 1", n)
	}
	if f := c.read(); f.ContentType() != "text/event-json" {
		t.Errorf("got %q", f.Header)
	}
}

// TestServerSlowClientDrops subscribes, never reads, and expects the server
// to drop events instead of blocking SendEvent, then to close the
// connection after MaxDrops.
func TestServerSlowClientDrops(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{
		SendQueue:   4,
		SendTimeout: 5 * time.Millisecond,
		SendBuffer:  4096,
		MaxDrops:    20,
	})
	defer srv.Close()
	c := dial(t, srv)
	c.login("event json CHANNEL_HANGUP_COMPLETE")

	big := sampleEvent()
	big.Headers = append(big.Headers, esl.Header{Name: "variable_padding", Value: strings.Repeat("x", 64<<10)})
	for i := 0; srv.Dropped() < 20; i++ {
		if i > 10000 {
			t.Fatal("the server never dropped an event for a client that does not read")
		}
		srv.SendEvent(big)
	}
	deadline := time.Now().Add(waitTimeout)
	for srv.Subscribed() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the server kept a client that lost MaxDrops events")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestServerReset(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	c := dial(t, srv)
	c.login("event json HEARTBEAT")

	srv.Reset()
	_, err := c.frames.ReadFrame()
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read error = %v, want a connection reset", err)
	}
}

func TestServerDisconnect(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	c := dial(t, srv)
	c.login("event json HEARTBEAT")

	srv.Disconnect()
	f := c.read()
	if f.ContentType() != "text/disconnect-notice" || len(f.Body) != 67 {
		t.Errorf("got %q with %d body bytes, want the disconnect notice", f.Header, len(f.Body))
	}
	if _, err := c.frames.ReadFrame(); err != io.EOF {
		t.Errorf("after the notice: %v, want EOF", err)
	}
}

func TestServerStallAndResume(t *testing.T) {
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	c := dial(t, srv)
	c.login("event json HEARTBEAT")

	srv.Stall()
	c.send("api status")
	srv.SendEvent(esl.Event{Headers: []esl.Header{{Name: "Event-Name", Value: "HEARTBEAT"}}})
	// NOTE: a stalled server sends nothing, so this waits for a short read
	// deadline; passing never depends on how fast the machine is.
	c.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	var netErr net.Error
	if _, err := c.frames.ReadFrame(); !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Fatalf("read during the stall: %v, want a timeout", err)
	}

	// A connection opened during the stall is served normally.
	c2 := dial(t, srv)
	c2.login("event json HEARTBEAT")

	// The timeout may have left the old frame reader mid-frame, so the rest
	// is read with a new one. The event was queued while the command waited,
	// so it may come first.
	srv.Resume()
	c.conn.SetReadDeadline(time.Now().Add(waitTimeout))
	frames := esl.NewFrameReader(c.conn, 0)
	var got []string
	for range 2 {
		f, err := frames.ReadFrame()
		if err != nil {
			t.Fatalf("after Resume: %v", err)
		}
		got = append(got, f.ContentType())
	}
	slices.Sort(got)
	if want := []string{"api/response", "text/event-json"}; !slices.Equal(got, want) {
		t.Errorf("after Resume got %q, want %q", got, want)
	}
}

func TestClone(t *testing.T) {
	const oldID = "a1a1a1a1-0000-4000-8000-000000000001"
	template := esl.Event{Headers: []esl.Header{
		{Name: "Event-Name", Value: "CHANNEL_HANGUP_COMPLETE"},
		{Name: "Unique-ID", Value: oldID},
		{Name: "Channel-Call-UUID", Value: oldID},
		{Name: "Event-Sequence", Value: "1"},
		{Name: "variable_x", Value: "a"},
		{Name: "variable_x", Value: "b"},
	}}
	original := slices.Clone(template.Headers)

	ev := esltest.Clone(template,
		esl.Header{Name: "Event-Sequence", Value: "2"},
		esl.Header{Name: "variable_x", Value: "c"},
		esl.Header{Name: "variable_new", Value: "d"},
	)

	newID := ev.Get("Unique-ID")
	if newID == oldID || len(newID) != 36 {
		t.Errorf("Unique-ID = %q, want a fresh UUID", newID)
	}
	if got := ev.Get("Channel-Call-UUID"); got != newID {
		t.Errorf("Channel-Call-UUID = %q, want the new Unique-ID", got)
	}
	if got := ev.Get("Event-Sequence"); got != "2" {
		t.Errorf("Event-Sequence = %q, want 2", got)
	}
	if got := ev.Values("variable_x"); !slices.Equal(got, []string{"c"}) {
		t.Errorf("variable_x = %q, want only the override", got)
	}
	if got := ev.Get("variable_new"); got != "d" {
		t.Errorf("variable_new = %q, want it appended", got)
	}
	if !slices.Equal(template.Headers, original) {
		t.Error("Clone changed the template")
	}
	if other := esltest.Clone(template); other.Get("Unique-ID") == newID {
		t.Error("two clones share a Unique-ID")
	}
}
