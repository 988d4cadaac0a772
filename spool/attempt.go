package spool

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/delivery"
)

// Retry warnings are logged per attempt, but at most retryLogBurst per
// application in each retryLogWindow. The next warning that is logged
// counts the ones left out.
const (
	retryLogBurst  = 20
	retryLogWindow = time.Second
)

// attempt makes one delivery attempt of j and queues its new delivery
// record. It runs in its own goroutine, started by start.
func (q *Queue) attempt(j *delivery.Job, p *AppPolicy) {
	j.Attempts++
	started := time.Now()
	out := q.send(j, p)
	if out.Duration <= 0 {
		out.Duration = time.Since(started)
	}
	q.obs.Attempt(j.App, out.Class, out.Status, out.Duration)

	if q.attemptCtx.Err() != nil && out.Class != delivery.Delivered && out.Class != delivery.Permanent {
		// Shutdown cancelled the attempt: nothing is recorded, so the job
		// keeps its stored record and is due again after a restart.
		q.log.WithFields(q.fields(j, out)).Info("attempt cancelled by shutdown; the job stays pending")
		q.finish(j, p, false)
		return
	}

	now := q.clock.Now()
	st := applyOutcome(j, out, p.Retry, now, q.rand())
	switch j.State {
	case delivery.StateDelivered:
		q.obs.Delivered(j.App, now.Sub(j.CreatedAt))
	case delivery.StateDead:
		q.obs.Dead(j.App)
	}
	q.logOutcome(j, p, out, st)
	q.w.update(j)
	q.finish(j, p, true)
}

// send calls the sender and turns a panic into a retryable outcome, so one
// faulty sender cannot end the daemon.
func (q *Queue) send(j *delivery.Job, p *AppPolicy) (out delivery.Outcome) {
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("sender panicked: %v", r)
			if p.Private || j.Private {
				err = fmt.Errorf("sender panicked (details left out for a private app)")
			}
			out = delivery.Outcome{Class: delivery.Retryable, Err: err}
		}
	}()
	return p.Sender.Send(q.attemptCtx, j)
}

func (q *Queue) fields(j *delivery.Job, out delivery.Outcome) logrus.Fields {
	f := logrus.Fields{
		"app":         j.App,
		"call_id":     j.CallID,
		"attempt":     j.Attempts,
		"status":      out.Status,
		"duration_ms": out.Duration.Milliseconds(),
	}
	if out.Err != nil {
		f["error"] = j.LastError
	}
	return f
}

func (q *Queue) logOutcome(j *delivery.Job, p *AppPolicy, out delivery.Outcome, st step) {
	f := q.fields(j, out)
	if out.Class != delivery.Delivered {
		f["error"] = j.LastError
	}
	switch j.State {
	case delivery.StateDelivered:
		// A delivery after failed attempts closes the warnings the log
		// already shows, so it is worth an Info line; a first-attempt
		// delivery is routine.
		if j.Attempts > 1 {
			q.log.WithFields(f).Info("job delivered after retries")
		} else {
			q.log.WithFields(f).Debug("job delivered")
		}
	case delivery.StatePending:
		ok, suppressed := q.logs.burst("retry:"+j.App, retryLogBurst, retryLogWindow)
		if !ok {
			return
		}
		if suppressed > 0 {
			f["suppressed"] = suppressed
		}
		f["retry_in"] = st.retryIn.String()
		q.log.WithFields(f).Warnf("attempt failed; retrying in %s", st.retryIn.Round(time.Millisecond))
	case delivery.StateDead:
		addDestination(f, j, p.Private || j.Private)
		reason := st.deadReason
		if reason == "" {
			reason = "the webservice rejected the request"
		}
		q.log.WithFields(f).Errorf("job is dead: %s; retry it with postcall spool retry once the cause is fixed", reason)
	}
}

// addDestination adds where the request went: the method and URL, or for a
// private application only the method and host.
func addDestination(f logrus.Fields, j *delivery.Job, private bool) {
	if j.Request == nil {
		return
	}
	f["method"] = j.Request.Method
	if !private {
		f["url"] = j.Request.URL
		return
	}
	if u, err := url.Parse(j.Request.URL); err == nil {
		f["host"] = u.Host
	}
}

// AppStats are the counts of one application.
type AppStats struct {
	Pending   int
	InFlight  int
	Delivered int
	Dead      int
}

// QueueStats is a snapshot of the queue and its store.
type QueueStats struct {
	// Apps holds the counts per application.
	Apps map[string]AppStats
	// Buffered counts submitted jobs not written to the store yet.
	Buffered int
	// Unwritten counts delivery records not written to the store yet.
	Unwritten int
	// Err is set when the store's counts could not be read; Apps then
	// holds only the attempts in flight.
	Err error
}

// statsTimeout bounds the store read of Stats.
const statsTimeout = 5 * time.Second

// Stats returns the number of jobs per application and state, the attempts
// in flight and the jobs and records held in memory.
func (q *Queue) Stats() QueueStats {
	var s QueueStats
	s.Apps = make(map[string]AppStats)
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	counts, err := q.store.Counts(ctx)
	s.Err = err
	for app, states := range counts {
		s.Apps[app] = AppStats{
			Pending:   states[delivery.StatePending],
			Delivered: states[delivery.StateDelivered],
			Dead:      states[delivery.StateDead],
		}
	}
	q.mu.Lock()
	for app, n := range q.inFlight {
		a := s.Apps[app]
		a.InFlight = n
		s.Apps[app] = a
	}
	q.mu.Unlock()
	s.Buffered, s.Unwritten = q.w.pending()
	return s
}

// logLimiter bounds repeated log entries per key.
type logLimiter struct {
	clock   Clock
	mu      sync.Mutex
	last    map[string]time.Time
	windows map[string]*logWindow
}

type logWindow struct {
	start      time.Time
	count      int
	suppressed int
}

func newLogLimiter(clock Clock) *logLimiter {
	return &logLimiter{clock: clock, last: make(map[string]time.Time), windows: make(map[string]*logWindow)}
}

// allow reports whether an entry for key may be logged now. It returns
// true at most once per interval every for each key.
func (l *logLimiter) allow(key string, every time.Duration) bool {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if last, ok := l.last[key]; ok && now.Sub(last) < every {
		return false
	}
	l.last[key] = now
	return true
}

// burst reports whether an entry for key may be logged, at most n per
// window, and how many were left out since the last one logged.
func (l *logLimiter) burst(key string, n int, window time.Duration) (bool, int) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.windows[key]
	if w == nil {
		w = &logWindow{start: now}
		l.windows[key] = w
	}
	if now.Sub(w.start) >= window {
		w.start, w.count = now, 0
	}
	if w.count >= n {
		w.suppressed++
		return false, 0
	}
	w.count++
	suppressed := w.suppressed
	w.suppressed = 0
	return true, suppressed
}
