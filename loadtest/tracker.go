package loadtest

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Tracker records when each call's hangup was sent and when the sink got
// its request, and when every event was sent, for latency, missing and
// duplicated deliveries and reader lag. It is safe for concurrent use.
type Tracker struct {
	base time.Time

	mu    sync.Mutex
	calls []*callRecord
	// index finds a call by idempotency key and by call id.
	index map[string]*callRecord
	// eventSent is the send time of every event, in order, as time since
	// base.
	eventSent []time.Duration
	firstSent time.Duration
	unmatched int
	delivered int
}

type callRecord struct {
	id   string
	sent time.Duration
	// delivered is the arrival time of the earliest request that got a
	// 2xx response. It is valid when deliveries > 0.
	delivered  time.Duration
	requests   int
	deliveries int
}

// NewTracker returns an empty tracker whose clock starts now.
func NewTracker() *Tracker {
	return &Tracker{base: time.Now(), index: make(map[string]*callRecord)}
}

// since returns the tracker's clock reading for t.
func (t *Tracker) since(tm time.Time) time.Duration { return tm.Sub(t.base) }

// Sent registers a call and records that its hangup is being sent now.
func (t *Tracker) Sent(id, key string) {
	now := t.since(time.Now())
	rec := &callRecord{id: id, sent: now}
	t.mu.Lock()
	if len(t.eventSent) == 0 {
		t.firstSent = now
	}
	t.calls = append(t.calls, rec)
	t.index[id] = rec
	if key != "" {
		t.index[key] = rec
	}
	t.eventSent = append(t.eventSent, now)
	t.mu.Unlock()
}

// EventSent records an event that is not a hangup (an exit event) being
// sent now.
func (t *Tracker) EventSent() {
	now := t.since(time.Now())
	t.mu.Lock()
	if len(t.eventSent) == 0 {
		t.firstSent = now
	}
	t.eventSent = append(t.eventSent, now)
	t.mu.Unlock()
}

// Received records a request that arrived at the sink at arrived, for the
// call found under one of keys (tried in order). delivered reports whether
// the sink responded with a 2xx status. Received reports whether a call
// matched.
func (t *Tracker) Received(arrived time.Time, delivered bool, keys ...string) bool {
	at := t.since(arrived)
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		rec, ok := t.index[k]
		if !ok {
			continue
		}
		rec.requests++
		if delivered {
			if rec.deliveries == 0 {
				t.delivered++
				rec.delivered = at
			}
			rec.delivered = min(rec.delivered, at)
			rec.deliveries++
		}
		return true
	}
	t.unmatched++
	return false
}

// EventsSent returns how many events were sent.
func (t *Tracker) EventsSent() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.eventSent)
}

// Lag returns how long the oldest event not yet read has waited at now,
// when the reader has read received of the events sent, or 0 when it has
// read them all.
func (t *Tracker) Lag(now time.Time, received int) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if received < 0 || received >= len(t.eventSent) {
		return 0
	}
	return max(t.since(now)-t.eventSent[received], 0)
}

// Delivered returns how many calls have at least one delivered request.
func (t *Tracker) Delivered() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.delivered
}

// Calls returns how many calls were registered.
func (t *Tracker) Calls() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.calls)
}

// Summary is the tracker's account of a run.
type Summary struct {
	Calls      int
	Delivered  int
	Missing    int
	Duplicated int
	// Requests counts every request the sink matched to a call, failed
	// ones included; Unmatched those it could not match.
	Requests  int
	Unmatched int
	// Latencies are from hangup sent to delivered request received,
	// sorted ascending.
	Latencies []time.Duration
	// FirstSent and LastDelivered bound the run on the tracker's clock;
	// LastDelivered is 0 when nothing was delivered.
	FirstSent     time.Duration
	LastDelivered time.Duration
	// MissingIDs lists up to 20 call ids that were never delivered.
	MissingIDs []string
}

// maxMissingIDs bounds Summary.MissingIDs.
const maxMissingIDs = 20

// Summarize returns the account of the run so far.
func (t *Tracker) Summarize() Summary {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Summary{Calls: len(t.calls), Unmatched: t.unmatched, FirstSent: t.firstSent}
	s.Latencies = make([]time.Duration, 0, len(t.calls))
	for _, c := range t.calls {
		s.Requests += c.requests
		if c.deliveries == 0 {
			s.Missing++
			if len(s.MissingIDs) < maxMissingIDs {
				s.MissingIDs = append(s.MissingIDs, c.id)
			}
			continue
		}
		s.Delivered++
		if c.deliveries > 1 {
			s.Duplicated++
		}
		s.Latencies = append(s.Latencies, c.delivered-c.sent)
		s.LastDelivered = max(s.LastDelivered, c.delivered)
	}
	slices.Sort(s.Latencies)
	return s
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method, or 0 for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
