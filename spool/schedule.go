package spool

import (
	"context"
	"errors"
	"maps"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/delivery"
)

// The scheduler claims due jobs from the store in pages and keeps them per
// application until a worker and the application's limit allow an
// attempt. An application may have up to twice its concurrency claimed or
// in flight, and the queue up to twice Workers, so a page is read while the
// previous one is still being sent. An application at its limit gets no
// new claims, so it never holds back the jobs of another one.

// Run delivers due jobs until ctx ends or Shutdown is called, and then
// returns nil. Jobs that are pending in the store when Run starts,
// including those in flight when an earlier process ended, are delivered
// too. Run may be called once.
func (q *Queue) Run(ctx context.Context) error {
	if !q.running.CompareAndSwap(false, true) {
		return errors.New("queue is already running")
	}
	select {
	case <-q.stop:
		return ErrClosed
	default:
	}
	q.logStart(ctx)
	if q.keep > 0 {
		go q.compactLoop(ctx)
	}

	for {
		if ctx.Err() != nil {
			return nil
		}
		wakeAt, again := q.round(ctx)
		if again {
			continue
		}
		// The timer is set from an absolute time, so a clock that moved
		// during the round shortens the wait instead of moving the wake-up.
		t := q.clock.NewTimer(wakeAt.Sub(q.clock.Now()))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-q.stop:
			t.Stop()
			return nil
		case <-q.wake:
			t.Stop()
		case <-t.C():
			q.changed()
		}
	}
}

func (q *Queue) logStart(ctx context.Context) {
	counts, err := q.store.Counts(ctx)
	if err != nil {
		q.log.WithField("error", err).Warn("cannot count the jobs in the spool; delivery starts anyway")
		return
	}
	pending := 0
	for _, states := range counts {
		pending += states[delivery.StatePending]
	}
	q.log.Infof("delivery started with %d pending jobs in the spool", pending)
}

// compactLoop deletes delivered jobs older than KeepDelivered until ctx
// ends or Shutdown is called.
func (q *Queue) compactLoop(ctx context.Context) {
	every := min(q.keep/4, time.Hour)
	every = max(every, time.Second)
	for {
		cutoff := q.clock.Now().Add(-q.keep)
		n, err := q.store.Compact(ctx, cutoff)
		switch {
		case err != nil && ctx.Err() == nil && !errors.Is(err, ErrClosed):
			q.log.WithField("error", err).Error("cannot compact delivered jobs in the spool; trying again later")
		case n > 0:
			q.log.Infof("compacted %d delivered jobs older than %s", n, q.keep)
		}
		t := q.clock.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-q.stop:
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// concurrency returns the attempts app may have in flight.
func (q *Queue) concurrency(p *AppPolicy) int {
	if p.Concurrency > 0 {
		return min(p.Concurrency, q.workers)
	}
	return q.workers
}

// hungry reports whether an application should get new claims: it has
// room below twice its concurrency and at most half its concurrency
// claimed. The caller holds q.mu.
func (q *Queue) hungry(app string, p *AppPolicy) (budget int, ok bool) {
	limit := q.concurrency(p)
	budget = 2*limit - q.inFlight[app] - len(q.claimed[app])
	return budget, budget > 0 && len(q.claimed[app]) <= limit/2
}

// round starts what the claimed jobs allow, claims more from the store
// when that is useful, and returns when the next round is due, or again
// true to run it at once.
func (q *Queue) round(ctx context.Context) (wakeAt time.Time, again bool) {
	q.mu.Lock()
	q.dispatchLocked()
	now := q.clock.Now()
	apps := *q.apps.Load()
	limit := 2*q.workers - q.total - q.nClaimed
	budgets := make(map[string]int, len(apps))
	anyHungry := false
	for name, p := range apps {
		if budget, ok := q.hungry(name, p); ok {
			budgets[name] = budget
			anyHungry = true
		} else {
			budgets[name] = 0
		}
	}
	timeUp := !q.nextWake.IsZero() && !now.Before(q.nextWake)
	need := !q.stopped && limit > 0 && (q.dirty || q.moreDue || timeUp) && (anyHungry || len(apps) == 0)
	if !need || q.w.ready() != nil {
		// While the store cannot be written no attempt starts, because its
		// outcome could not be recorded. The writer wakes the scheduler
		// once a write works again.
		wakeAt := q.wakeAtLocked(now)
		q.mu.Unlock()
		return wakeAt, false
	}
	q.dirty = false
	skip := maps.Clone(q.busy)
	q.mu.Unlock()

	jobs, next, ok, err := q.store.Schedule(ctx, DueQuery{
		Now:   now,
		Limit: limit,
		AppLimit: func(app string) int {
			if budget, known := budgets[app]; known {
				return budget
			}
			return parkBatch
		},
		Skip: func(key string) bool {
			_, found := skip[key]
			return found
		},
	})
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, ErrClosed) {
			q.log.WithField("error", err).Error("cannot read due jobs from the spool; trying again")
		}
		q.mu.Lock()
		q.dirty = true
		q.mu.Unlock()
		return now.Add(rescanInterval), false
	}

	q.mu.Lock()
	defer q.mu.Unlock()
	q.moreDue = ok && !next.After(now)
	q.nextWake = time.Time{}
	if ok && next.After(now) {
		q.nextWake = next
	}
	for _, j := range jobs {
		q.busy[j.Key] = struct{}{}
		if _, known := apps[j.App]; !known {
			q.parkLocked(j, now)
			continue
		}
		q.claimed[j.App] = append(q.claimed[j.App], j)
		q.nClaimed++
	}
	q.dispatchLocked()
	if len(jobs) > 0 {
		return time.Time{}, true
	}
	return q.wakeAtLocked(now), false
}

// wakeAtLocked returns the next known due time after now, at most
// rescanInterval after now. A due time that has passed does not count:
// the round that saw it had no worker or application room for it, and the
// end of an attempt wakes the scheduler.
func (q *Queue) wakeAtLocked(now time.Time) time.Time {
	wakeAt := now.Add(rescanInterval)
	if q.nextWake.After(now) && q.nextWake.Before(wakeAt) {
		wakeAt = q.nextWake
	}
	return wakeAt
}

// dispatchLocked starts attempts of claimed jobs while workers and
// application limits allow. A job whose application was removed since it
// was claimed is moved back. The caller holds q.mu.
func (q *Queue) dispatchLocked() {
	if q.stopped || q.nClaimed == 0 {
		return
	}
	apps := *q.apps.Load()
	for app, list := range q.claimed {
		p, known := apps[app]
		for len(list) > 0 && q.total < q.workers && (!known || q.inFlight[app] < q.concurrency(p)) {
			j := list[0]
			list[0] = nil
			list = list[1:]
			q.nClaimed--
			if !known {
				q.parkLocked(j, q.clock.Now())
				continue
			}
			q.startLocked(j, p)
		}
		if len(list) == 0 {
			delete(q.claimed, app)
		} else {
			q.claimed[app] = list
		}
		if known && len(list) <= q.concurrency(p)/2 {
			q.dirty = true
		}
	}
}

// parkLocked moves a job of an application that is not configured (a
// reload removed it) parkDelay into the future, without counting an
// attempt. The job stays busy until the move is written. The caller holds
// q.mu.
func (q *Queue) parkLocked(j *delivery.Job, now time.Time) {
	q.busy[j.Key] = struct{}{}
	if q.logs.allow("park:"+j.App, parkDelay) {
		q.log.WithFields(logrus.Fields{"app": j.App, "call_id": j.CallID}).
			Warnf("no application %q is configured, so its pending jobs wait; add the application again or purge its jobs", j.App)
	}
	j.NextAt = now.Add(parkDelay)
	j.UpdatedAt = now
	q.w.update(j)
}

// startLocked runs one attempt of j in its own goroutine. The caller holds
// q.mu.
func (q *Queue) startLocked(j *delivery.Job, p *AppPolicy) {
	q.busy[j.Key] = struct{}{}
	q.inFlight[j.App]++
	q.total++
	q.attempts.Add(1)
	go func() {
		defer q.attempts.Done()
		q.attempt(j, p)
	}()
}

// finish releases the worker of an attempt of j under policy p and starts
// the next claimed job. When keepBusy is false the job may be claimed again
// at once.
func (q *Queue) finish(j *delivery.Job, p *AppPolicy, keepBusy bool) {
	q.mu.Lock()
	q.inFlight[j.App]--
	if q.inFlight[j.App] == 0 {
		delete(q.inFlight, j.App)
	}
	q.total--
	if !keepBusy {
		delete(q.busy, j.Key)
		q.dirty = true
	}
	q.dispatchLocked()
	if _, hungry := q.hungry(j.App, p); hungry {
		// The application may have due jobs that the last query skipped
		// while it was at its limit.
		q.dirty = true
	}
	q.mu.Unlock()
	q.signal()
}
