package spool

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/delivery"
)

// Write retry timing. A failed write is tried again after writeRetryMin,
// doubling up to writeRetryMax. While the failure lasts, the error is
// logged again at most once per writeErrorReport.
const (
	writeRetryMin    = 100 * time.Millisecond
	writeRetryMax    = 10 * time.Second
	writeErrorReport = 30 * time.Second
)

// maxAddBatch bounds the jobs of one Store.Add call.
const maxAddBatch = 2000

// writer moves submitted jobs and attempt outcomes from memory to the
// store. One goroutine writes. When a write fails, the writer keeps the jobs
// in memory, marks the store unready and tries again with backoff. It never
// drops a job, so Submit blocks once the memory queue is full.
type writer struct {
	store Store
	log   logrus.FieldLogger
	clock Clock
	obs   Observer
	limit int
	// added is called after submitted jobs were written; updated after
	// outcomes were written, with their keys.
	added   func()
	updated func(keys []string)

	mu           sync.Mutex
	space        *sync.Cond
	adds         []*delivery.Job
	updates      map[string]*delivery.Job
	lastErr      error
	failures     int
	failingSince time.Time
	lastReport   time.Time
	fullLogged   bool
	stopping     bool

	kick  chan struct{}
	stop  chan struct{}
	abort chan struct{}
	done  chan struct{}
}

func newWriter(store Store, log logrus.FieldLogger, clock Clock, obs Observer, limit int, added func(), updated func([]string)) *writer {
	w := &writer{
		store:   store,
		log:     log,
		clock:   clock,
		obs:     obs,
		limit:   limit,
		added:   added,
		updated: updated,
		updates: make(map[string]*delivery.Job),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		abort:   make(chan struct{}),
		done:    make(chan struct{}),
	}
	w.space = sync.NewCond(&w.mu)
	go w.run()
	return w
}

func (w *writer) signal() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// add queues a submitted job. It blocks while the memory queue is full and
// returns ErrClosed once the writer is stopping.
func (w *writer) add(j *delivery.Job) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.adds) >= w.limit && !w.stopping {
		if !w.fullLogged {
			w.fullLogged = true
			w.log.WithFields(logrus.Fields{"app": j.App, "call_id": j.CallID}).
				Warnf("memory queue is full (%d jobs waiting for the spool): new calls wait until the spool can be written", len(w.adds))
		}
		w.space.Wait()
	}
	if w.stopping {
		return ErrClosed
	}
	w.adds = append(w.adds, j)
	w.signal()
	return nil
}

// update queues the delivery record of a job that was read from the store.
func (w *writer) update(j *delivery.Job) {
	w.mu.Lock()
	w.updates[j.Key] = j
	w.mu.Unlock()
	w.signal()
}

// ready returns the error of the last write, nil when it succeeded.
func (w *writer) ready() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastErr
}

// pending returns how many jobs and outcomes wait in memory.
func (w *writer) pending() (adds, updates int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.adds), len(w.updates)
}

// take returns the oldest submitted jobs and every queued outcome, without
// removing them.
func (w *writer) take() ([]*delivery.Job, []*delivery.Job) {
	w.mu.Lock()
	defer w.mu.Unlock()
	adds := append([]*delivery.Job(nil), w.adds[:min(len(w.adds), maxAddBatch)]...)
	updates := make([]*delivery.Job, 0, len(w.updates))
	for _, j := range w.updates {
		updates = append(updates, j)
	}
	return adds, updates
}

func (w *writer) run() {
	defer close(w.done)
	delay := writeRetryMin
	for {
		adds, updates := w.take()
		if len(adds) == 0 && len(updates) == 0 {
			if w.isStopping() {
				return
			}
			select {
			case <-w.kick:
			case <-w.stop:
			}
			continue
		}
		if w.flush(adds, updates) {
			delay = writeRetryMin
			continue
		}
		t := w.clock.NewTimer(delay)
		select {
		case <-t.C():
		case <-w.abort:
			t.Stop()
			return
		}
		delay = min(2*delay, writeRetryMax)
	}
}

func (w *writer) isStopping() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopping
}

// flush writes adds and updates and reports whether that worked. A store
// that is a BatchWriter writes both in one transaction. Another store gets
// the two calls in parallel, so that its group commit can join them.
func (w *writer) flush(adds, updates []*delivery.Job) bool {
	var (
		added          []bool
		addErr, updErr error
	)
	ctx := context.Background()
	if bw, ok := w.store.(BatchWriter); ok {
		added, addErr = bw.Write(ctx, adds, updates)
		updErr = addErr
	} else {
		var wg sync.WaitGroup
		if len(adds) > 0 {
			wg.Go(func() { added, addErr = w.store.Add(ctx, adds) })
		}
		if len(updates) > 0 {
			wg.Go(func() { updErr = w.store.Update(ctx, updates) })
		}
		wg.Wait()
	}

	if len(adds) > 0 && addErr == nil {
		w.addsWritten(adds, added)
	}
	if len(updates) > 0 && updErr == nil {
		w.updatesWritten(updates)
	}
	switch {
	case addErr != nil && len(adds) > 0:
		w.failed(addErr, len(adds), "jobs")
		return false
	case updErr != nil:
		w.failed(updErr, len(updates), "delivery records")
		return false
	}
	w.succeeded()
	return true
}

func (w *writer) addsWritten(adds []*delivery.Job, added []bool) {
	w.mu.Lock()
	n := len(adds)
	clear(w.adds[:n])
	w.adds = w.adds[n:]
	if len(w.adds) == 0 {
		w.adds = nil
		w.fullLogged = false
	}
	w.space.Broadcast()
	w.mu.Unlock()

	for i, j := range adds {
		if i < len(added) && added[i] {
			w.obs.JobAccepted(j.App)
			continue
		}
		w.obs.JobDuplicate(j.App)
		w.log.WithFields(logrus.Fields{"app": j.App, "call_id": j.CallID}).
			Debugf("job %s is already in the spool: the repeated call is not sent again", j.Key)
	}
	w.added()
}

func (w *writer) updatesWritten(updates []*delivery.Job) {
	keys := make([]string, 0, len(updates))
	w.mu.Lock()
	for _, j := range updates {
		if w.updates[j.Key] == j {
			delete(w.updates, j.Key)
			keys = append(keys, j.Key)
		}
	}
	w.mu.Unlock()
	w.updated(keys)
}

// failed records a failed write. It logs the first failure and then at
// most one line per writeErrorReport.
func (w *writer) failed(err error, n int, what string) {
	w.obs.WriteFailed(err)
	now := w.clock.Now()
	w.mu.Lock()
	first := w.lastErr == nil
	w.lastErr = err
	w.failures++
	if first {
		w.failingSince = now
	}
	report := first || now.Sub(w.lastReport) >= writeErrorReport
	if report {
		w.lastReport = now
	}
	failures, buffered := w.failures, len(w.adds)
	w.mu.Unlock()

	if report {
		w.log.WithFields(logrus.Fields{"error": err, "failures": failures}).
			Errorf("cannot write %d %s to the spool (%d submitted jobs wait in memory): free disk space or fix the spool file's permissions; retrying", n, what, buffered)
	}
}

func (w *writer) succeeded() {
	now := w.clock.Now()
	w.mu.Lock()
	wasFailing := w.lastErr != nil
	failures, since := w.failures, w.failingSince
	w.lastErr = nil
	w.failures = 0
	w.mu.Unlock()

	if wasFailing {
		w.log.WithField("failures", failures).
			Infof("spool writes succeed again after %d failed writes in %s", failures, now.Sub(since).Round(time.Millisecond))
	}
}

// close stops taking jobs and writes what is queued. When ctx ends first it
// gives up and returns an error that counts the jobs and outcomes left
// unwritten. Blocked add calls return ErrClosed.
func (w *writer) close(ctx context.Context) error {
	w.mu.Lock()
	if !w.stopping {
		w.stopping = true
		close(w.stop)
	}
	w.space.Broadcast()
	w.mu.Unlock()

	select {
	case <-w.done:
	case <-ctx.Done():
		close(w.abort)
		<-w.done
	}
	adds, updates := w.pending()
	if adds == 0 && updates == 0 {
		return nil
	}
	cause := w.ready()
	if cause == nil {
		cause = ctx.Err()
	}
	return fmt.Errorf("spool writes did not finish before shutdown: %d submitted jobs are lost and %d delivery records are not written (those jobs will be sent again): %w",
		adds, updates, cause)
}
