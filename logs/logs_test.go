package logs

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

func newTestLogger(t *testing.T, window time.Duration) (*logrus.Logger, *bytes.Buffer, *time.Time) {
	t.Helper()
	var buf bytes.Buffer
	log, err := New(&buf, "info", "json", 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	limiter := NewLimiter(&logrus.JSONFormatter{}, window)
	limiter.now = func() time.Time { return now }
	log.SetFormatter(limiter)
	return log, &buf, &now
}

func TestLimiterDropsRepeats(t *testing.T) {
	log, buf, now := newTestLogger(t, time.Minute)
	failure := errors.New("connection refused")
	for range 5 {
		log.WithFields(logrus.Fields{"app": "survey", "error": failure}).Warn("attempt failed")
	}
	if n := strings.Count(buf.String(), "attempt failed"); n != 1 {
		t.Fatalf("5 identical warnings in the window wrote %d lines, want 1:\n%s", n, buf)
	}

	*now = now.Add(2 * time.Minute)
	log.WithFields(logrus.Fields{"app": "survey", "error": failure}).Warn("attempt failed")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("after the window: %d lines, want 2:\n%s", len(lines), buf)
	}
	if !strings.Contains(lines[1], `"repeated":4`) {
		t.Errorf("the entry after the window does not count the 4 dropped repeats: %s", lines[1])
	}
	if !strings.Contains(lines[1], `"level":"warning"`) || !strings.Contains(lines[1], `"msg":"attempt failed"`) {
		t.Errorf("the entry after the window lost its level or message: %s", lines[1])
	}
}

func TestLimiterKeepsDistinctMessages(t *testing.T) {
	log, buf, _ := newTestLogger(t, time.Minute)
	log.WithFields(logrus.Fields{"app": "survey", "error": errors.New("a")}).Error("attempt failed")
	log.WithFields(logrus.Fields{"app": "survey", "error": errors.New("b")}).Error("attempt failed")
	log.WithFields(logrus.Fields{"app": "crm", "error": errors.New("a")}).Error("attempt failed")
	log.Info("configuration reloaded")
	log.Info("configuration reloaded")
	out := buf.String()
	if n := strings.Count(out, "attempt failed"); n != 3 {
		t.Errorf("errors with different apps or errors wrote %d lines, want 3:\n%s", n, out)
	}
	if n := strings.Count(out, "configuration reloaded"); n != 2 {
		t.Errorf("info entries were limited: %d lines, want 2", n)
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, "loud", "text", 0); err == nil || !strings.Contains(err.Error(), `"loud"`) {
		t.Errorf("level loud: err = %v", err)
	}
	if _, err := New(&bytes.Buffer{}, "info", "xml", 0); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("format xml: err = %v", err)
	}
}
