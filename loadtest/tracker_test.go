package loadtest

import (
	"slices"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ten := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	cases := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", []time.Duration{7}, 99, 7},
		{"median of ten", ten, 50, 5},
		{"p95 of ten", ten, 95, 10},
		{"p10 of ten", ten, 10, 1},
		{"p100 of ten", ten, 100, 10},
		{"tiny p", ten, 0.001, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tc.sorted, tc.p, got, tc.want)
			}
		})
	}
}

func TestTrackerCountsDeliveries(t *testing.T) {
	tr := NewTracker()
	tr.EventSent() // an exit event before the first hangup
	tr.Sent("id-delivered", "key-delivered")
	tr.Sent("id-twice", "key-twice")
	tr.Sent("id-missing", "key-missing")
	tr.Sent("id-failed", "key-failed")
	now := time.Now()

	cases := []struct {
		name      string
		delivered bool
		keys      []string
		matched   bool
	}{
		{"by idempotency key", true, []string{"key-delivered"}, true},
		{"by path segment", true, []string{"calls", "id-twice"}, true},
		{"second delivery", true, []string{"key-twice"}, true},
		{"failed attempt", false, []string{"key-failed"}, true},
		{"unknown call", true, []string{"someone-else"}, false},
	}
	for _, tc := range cases {
		if got := tr.Received(now, tc.delivered, tc.keys...); got != tc.matched {
			t.Errorf("%s: Received matched = %v, want %v", tc.name, got, tc.matched)
		}
	}

	s := tr.Summarize()
	if s.Calls != 4 {
		t.Errorf("calls = %d, want 4", s.Calls)
	}
	if s.Delivered != 2 {
		t.Errorf("delivered = %d, want 2", s.Delivered)
	}
	if tr.Delivered() != 2 {
		t.Errorf("Delivered() = %d, want 2", tr.Delivered())
	}
	if s.Missing != 2 {
		t.Errorf("missing = %d, want 2 (one never requested, one only failed)", s.Missing)
	}
	if !slices.Equal(s.MissingIDs, []string{"id-missing", "id-failed"}) {
		t.Errorf("missing ids = %v, want [id-missing id-failed]", s.MissingIDs)
	}
	if s.Duplicated != 1 {
		t.Errorf("duplicated = %d, want 1", s.Duplicated)
	}
	if s.Requests != 4 {
		t.Errorf("requests = %d, want 4", s.Requests)
	}
	if s.Unmatched != 1 {
		t.Errorf("unmatched = %d, want 1", s.Unmatched)
	}
	if len(s.Latencies) != 2 {
		t.Errorf("latencies = %v, want two", s.Latencies)
	}
	if tr.EventsSent() != 5 {
		t.Errorf("events sent = %d, want 5", tr.EventsSent())
	}
}

func TestTrackerLatencyUsesEarliestDelivery(t *testing.T) {
	tr := NewTracker()
	tr.Sent("id", "")
	sent := tr.base.Add(tr.calls[0].sent)
	tr.Received(sent.Add(30*time.Millisecond), true, "id")
	tr.Received(sent.Add(10*time.Millisecond), true, "id")
	s := tr.Summarize()
	if len(s.Latencies) != 1 || s.Latencies[0] != 10*time.Millisecond {
		t.Errorf("latencies = %v, want [10ms]", s.Latencies)
	}
}

func TestTrackerLag(t *testing.T) {
	tr := NewTracker()
	tr.EventSent()
	tr.EventSent()
	tr.EventSent()
	second := tr.base.Add(tr.eventSent[1])

	cases := []struct {
		name     string
		now      time.Time
		received int
		want     time.Duration
	}{
		{"all read", second.Add(time.Second), 3, 0},
		{"second unread", second.Add(40 * time.Millisecond), 1, 40 * time.Millisecond},
		{"clock before send", second.Add(-time.Second), 1, 0},
		{"negative count", second, -1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tr.Lag(tc.now, tc.received); got != tc.want {
				t.Errorf("Lag = %v, want %v", got, tc.want)
			}
		})
	}
}
