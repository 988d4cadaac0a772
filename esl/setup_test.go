package esl_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/esl/esltest"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

// waitTimeout bounds every wait in these tests. It is far above what any
// wait needs, so it only ends a test that is stuck.
const waitTimeout = 10 * time.Second

// logCapture keeps every log entry and the formatted output of a logger.
type logCapture struct {
	hook *logtest.Hook
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (l *logCapture) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// text returns everything logged so far, formatted.
func (l *logCapture) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// find returns the entries whose message contains substr.
func (l *logCapture) find(substr string) []*logrus.Entry {
	var out []*logrus.Entry
	for _, e := range l.hook.AllEntries() {
		if strings.Contains(e.Message, substr) {
			out = append(out, e)
		}
	}
	return out
}

func newLogCapture() (*logrus.Logger, *logCapture) {
	logger := logrus.New()
	logger.SetLevel(logrus.DebugLevel)
	capture := &logCapture{}
	logger.SetOutput(capture)
	logger.SetFormatter(&logrus.TextFormatter{DisableColors: true})
	capture.hook = logtest.NewLocal(logger)
	return logger, capture
}

// startClient runs a client for cfg until the test ends. Zero reconnect
// delays become short ones so tests stay fast.
func startClient(t *testing.T, cfg esl.Config) (*esl.Client, *logCapture) {
	t.Helper()
	logger, capture := newLogCapture()
	if cfg.Logger == nil {
		cfg.Logger = logger
	}
	if cfg.ReconnectMin == 0 {
		cfg.ReconnectMin = 10 * time.Millisecond
	}
	if cfg.ReconnectMax == 0 {
		cfg.ReconnectMax = 100 * time.Millisecond
	}
	client := esl.New(cfg)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- client.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil after cancel", err)
			}
		case <-time.After(waitTimeout):
			t.Error("Run did not return after its context was canceled")
		}
	})
	return client, capture
}

// waitFor polls cond until it is true, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitSubscribed waits until a client subscribed to srv and returns the
// event command.
func waitSubscribed(t *testing.T, srv *esltest.Server) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	sub, err := srv.WaitSubscribed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// receive returns the next event of the client.
func receive(t *testing.T, client *esl.Client) esl.Event {
	t.Helper()
	select {
	case ev, ok := <-client.Events():
		if !ok {
			t.Fatal("event channel closed")
		}
		return ev
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for an event")
	}
	return esl.Event{}
}
