package loadtest

import (
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func startTestSink(t *testing.T, opts SinkOptions) (*Sink, *Tracker) {
	t.Helper()
	if opts.Tracker == nil {
		opts.Tracker = NewTracker()
	}
	opts.Addr = "127.0.0.1:0"
	s, err := StartSink(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, opts.Tracker
}

// postTo sends one POST and returns the status, or the transport error.
func postTo(t *testing.T, client *http.Client, url string, header map[string]string) (int, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestSinkMatchesRequests(t *testing.T) {
	s, tr := startTestSink(t, SinkOptions{})
	tr.Sent("call-by-key", "key-1")
	tr.Sent("call-by-path", "key-2")

	cases := []struct {
		name   string
		path   string
		header map[string]string
	}{
		{"idempotency key", "/anything", map[string]string{"Idempotency-Key": "key-1"}},
		{"call id in path", "/calls/call-by-path", nil},
		{"baseline request", "/calls/call-by-path", map[string]string{BaselineHeader: "1"}},
		{"unknown call", "/calls/nobody", nil},
	}
	for _, tc := range cases {
		status, err := postTo(t, http.DefaultClient, s.URL()+tc.path, tc.header)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if status != http.StatusOK {
			t.Errorf("%s: status %d, want 200", tc.name, status)
		}
	}

	sum := tr.Summarize()
	if sum.Delivered != 2 {
		t.Errorf("delivered = %d, want 2", sum.Delivered)
	}
	if sum.Duplicated != 0 {
		t.Errorf("duplicated = %d, want 0 (the baseline request must not count)", sum.Duplicated)
	}
	if sum.Unmatched != 1 {
		t.Errorf("unmatched = %d, want 1", sum.Unmatched)
	}
	if got := s.Counts().Baseline; got != 1 {
		t.Errorf("baseline requests = %d, want 1", got)
	}
}

func TestSinkFailRatioAnswers503(t *testing.T) {
	s, tr := startTestSink(t, SinkOptions{FailRatio: 1})
	tr.Sent("call", "key")
	status, err := postTo(t, http.DefaultClient, s.URL()+"/calls/call", nil)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", status)
	}
	if got := s.Counts().Failed; got != 1 {
		t.Errorf("failed = %d, want 1", got)
	}
	if sum := tr.Summarize(); sum.Delivered != 0 || sum.Requests != 1 {
		t.Errorf("delivered %d of %d requests, want 0 of 1", sum.Delivered, sum.Requests)
	}
}

func TestSinkDownResetsConnections(t *testing.T) {
	s, tr := startTestSink(t, SinkOptions{Down: true})
	tr.Sent("call", "key")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	if _, err := postTo(t, client, s.URL()+"/calls/call", nil); err == nil {
		t.Fatal("a request to a down sink succeeded")
	}
	// The client can see the reset before the sink's handler has counted
	// it, so wait for the count.
	deadline := time.Now().Add(5 * time.Second)
	for s.Counts().Reset < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := s.Counts().Reset; got < 1 {
		t.Errorf("connections reset = %d, want at least 1", got)
	}
	if !s.UpAt().IsZero() {
		t.Errorf("UpAt = %v while down, want zero", s.UpAt())
	}

	s.Up()
	status, err := postTo(t, client, s.URL()+"/calls/call", nil)
	if err != nil {
		t.Fatalf("request after Up: %v", err)
	}
	if status != http.StatusOK {
		t.Errorf("status %d after Up, want 200", status)
	}
	if s.UpAt().IsZero() {
		t.Error("UpAt is zero after Up")
	}
	if sum := tr.Summarize(); sum.Delivered != 1 {
		t.Errorf("delivered = %d, want 1", sum.Delivered)
	}
}

func TestSinkDelayedAnswerAbandoned(t *testing.T) {
	s, tr := startTestSink(t, SinkOptions{Delay: time.Minute})
	tr.Sent("call", "key")
	client := &http.Client{Timeout: 50 * time.Millisecond}
	_, err := postTo(t, client, s.URL()+"/calls/call", nil)
	var netErr net.Error
	if !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Fatalf("request error = %v, want a client timeout", err)
	}

	// The sink records the abandoned request when its handler notices the
	// closed connection.
	deadline := time.Now().Add(10 * time.Second)
	for tr.Summarize().Requests == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	sum := tr.Summarize()
	if sum.Requests != 1 {
		t.Fatalf("requests = %d, want 1", sum.Requests)
	}
	if sum.Delivered != 0 {
		t.Errorf("delivered = %d, want 0 for an abandoned request", sum.Delivered)
	}
}

func TestRequestKeys(t *testing.T) {
	cases := []struct {
		name string
		key  string
		path string
		want []string
	}{
		{"key and path", "k", "/calls/abc", []string{"k", "abc", "calls"}},
		{"path only", "", "/calls/abc", []string{"abc", "calls"}},
		{"trailing slash", "", "/calls/abc/", []string{"abc", "calls"}},
		{"no leading slash", "", "abc", []string{"abc"}},
		{"empty", "", "", []string{}},
		{"root", "", "/", []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := RequestKeys(tc.key, tc.path); !slices.Equal(got, tc.want) {
				t.Errorf("RequestKeys(%q, %q) = %q, want %q", tc.key, tc.path, got, tc.want)
			}
		})
	}
}

func TestStartSinkRejectsInvalidOptions(t *testing.T) {
	cases := []struct {
		name string
		opts SinkOptions
	}{
		{"fail ratio above one", SinkOptions{FailRatio: 2, Tracker: NewTracker()}},
		{"negative fail ratio", SinkOptions{FailRatio: -1, Tracker: NewTracker()}},
		{"no tracker", SinkOptions{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Addr = "127.0.0.1:0"
			s, err := StartSink(tc.opts)
			if err == nil {
				s.Close()
				t.Fatal("StartSink returned no error")
			}
		})
	}
}
