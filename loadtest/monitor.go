package loadtest

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// TimelinePoint is the state of a run at one moment, once a second.
type TimelinePoint struct {
	Seconds        float64 `json:"t_s"`
	EventsSent     int     `json:"events_sent"`
	EventsReceived int     `json:"events_received"`
	Delivered      int     `json:"delivered"`
	Pending        int     `json:"pending"`
	LagMS          float64 `json:"reader_lag_ms"`
	RSSMiB         float64 `json:"rss_mib,omitempty"`
}

// monitor samples the daemon's status (for reader lag and progress) and
// the process's memory while a run goes on.
type monitor struct {
	prober   Prober
	pid      int
	tracker  *Tracker
	interval time.Duration
	start    time.Time
	// sending is set while the generator sends; reader lag is sampled
	// then and while events wait to be read.
	sending atomic.Bool

	mu sync.Mutex
	// base is the daemon's status before the run.
	base       DaemonStatus
	latest     DaemonStatus
	latestAt   time.Time
	haveStatus bool
	probeErr   error
	lags       []time.Duration
	proc       ProcSample
	procErr    error
	rssMin     int64
	rssMax     int64
	timeline   []TimelinePoint
	changed    chan struct{}
}

func newMonitor(prober Prober, pid int, tracker *Tracker, interval time.Duration) *monitor {
	return &monitor{prober: prober, pid: pid, tracker: tracker, interval: interval, changed: make(chan struct{})}
}

// setBase reads the daemon's counters before the first event is sent, so
// that events and jobs of earlier runs do not count.
func (m *monitor) setBase(ctx context.Context) error {
	if m.prober == nil {
		return nil
	}
	st, err := m.prober.Probe(ctx)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.base = st
	m.mu.Unlock()
	return nil
}

// run samples until ctx ends.
func (m *monitor) run(ctx context.Context) {
	m.start = time.Now()
	tick := time.NewTicker(m.interval)
	defer tick.Stop()
	nextPoint := m.start
	for {
		m.sampleStatus(ctx)
		if now := time.Now(); !now.Before(nextPoint) {
			m.sampleProc()
			m.addPoint(now)
			nextPoint = nextPoint.Add(time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (m *monitor) sampleStatus(ctx context.Context) {
	if m.prober == nil {
		return
	}
	st, err := m.prober.Probe(ctx)
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			m.probeErr = err
		}
		return
	}
	m.latest, m.latestAt, m.haveStatus = st, now, true
	lag := m.tracker.Lag(now, int(st.EventsReceived-m.base.EventsReceived))
	if lag > 0 || m.sending.Load() {
		m.lags = append(m.lags, lag)
	}
	close(m.changed)
	m.changed = make(chan struct{})
}

func (m *monitor) sampleProc() {
	if m.pid == 0 {
		return
	}
	s, err := ReadProc(m.pid)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.procErr = err
		return
	}
	m.proc = s
	if m.rssMin == 0 || s.RSS < m.rssMin {
		m.rssMin = s.RSS
	}
	m.rssMax = max(m.rssMax, s.RSS)
}

func (m *monitor) addPoint(now time.Time) {
	sent := m.tracker.EventsSent()
	delivered := m.tracker.Delivered()
	m.mu.Lock()
	defer m.mu.Unlock()
	p := TimelinePoint{
		Seconds:    now.Sub(m.start).Seconds(),
		EventsSent: sent,
		Delivered:  delivered,
	}
	if m.haveStatus {
		p.EventsReceived = int(m.latest.EventsReceived - m.base.EventsReceived)
		p.Pending = m.latest.Pending
		p.LagMS = ms(m.tracker.Lag(m.latestAt, p.EventsReceived))
	}
	if m.pid != 0 {
		p.RSSMiB = mib(m.proc.RSS)
	}
	m.timeline = append(m.timeline, p)
}

// status returns the latest daemon status with the run's counts (events
// received and dropped and jobs fired since setBase), and a channel closed
// at the next sample.
func (m *monitor) status() (st DaemonStatus, ok bool, next <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st = m.latest
	st.EventsReceived -= m.base.EventsReceived
	st.EventsDropped -= m.base.EventsDropped
	st.Fired -= m.base.Fired
	return st, m.haveStatus, m.changed
}

// waitFor waits until cond holds for the latest status, ctx ends or the
// deadline passes, and reports whether cond held. It returns false at once
// when the monitor has no prober.
func (m *monitor) waitFor(ctx context.Context, deadline time.Time, cond func(DaemonStatus) bool) (time.Time, bool) {
	if m.prober == nil {
		return time.Time{}, false
	}
	for {
		st, ok, next := m.status()
		if ok && cond(st) {
			m.mu.Lock()
			at := m.latestAt
			m.mu.Unlock()
			return at, true
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return time.Time{}, false
		}
		t := time.NewTimer(wait)
		select {
		case <-next:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return time.Time{}, false
		}
		t.Stop()
	}
}

// lagStats returns the maximum and 99th percentile of the reader lag
// samples, and how many there were.
func (m *monitor) lagStats() (maxLag, p99 time.Duration, n int) {
	m.mu.Lock()
	lags := slices.Clone(m.lags)
	m.mu.Unlock()
	slices.Sort(lags)
	if len(lags) == 0 {
		return 0, 0, 0
	}
	return lags[len(lags)-1], Percentile(lags, 99), len(lags)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mib(n int64) float64 { return float64(n) / (1 << 20) }
