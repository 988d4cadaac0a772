package spool

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/delivery"
)

// Queue defaults and timing.
const (
	defaultWorkers     = 32
	defaultMemoryQueue = 10000
	// rescanInterval bounds how long the scheduler waits before it looks at
	// the store again, so that a job retried through the admin API or
	// another process starts without a signal.
	rescanInterval = time.Second
	// parkDelay is how long a job of an application that is not configured
	// waits before the scheduler looks at it again.
	parkDelay = time.Minute
	// parkBatch bounds the jobs of one unconfigured application that one
	// store query moves back.
	parkBatch = 64
	// shutdownGrace is how long Shutdown waits for cancelled attempts to
	// return and then for the final writes, after its context has ended.
	shutdownGrace = 10 * time.Second
)

// AppPolicy is the delivery policy of one application: its sender, retry
// schedule and concurrency.
type AppPolicy struct {
	// Sender makes the attempts. It is required.
	Sender delivery.Sender
	// Retry is the retry policy. Zero InitialDelay, MaxDelay and Multiplier
	// take the defaults of [delivery.retry] (1s, 10m, 2).
	Retry conf.Retry
	// Concurrency bounds this application's attempts in flight; 0 means
	// only Options.Workers bounds them.
	Concurrency int
	// Private marks an application whose request data must stay out of
	// logs. The queue then logs the destination host in place of the URL.
	Private bool
}

// Options are the settings of NewQueue.
type Options struct {
	// Store keeps the jobs. It is required. Shutdown does not close it.
	Store Store
	// Apps maps application names to their policies.
	Apps map[string]*AppPolicy
	// Workers bounds the attempts in flight overall. Default 32.
	Workers int
	// MemoryQueue bounds the submitted jobs held in memory until they are
	// written, which matters while the store cannot be written. Default
	// 10000.
	MemoryQueue int
	// KeepDelivered is how long delivered jobs, which are the dedup
	// records, are kept after delivery. While Run runs, older ones are
	// compacted away at start and then every KeepDelivered/4, at most
	// hourly. 0 keeps them until Store.Compact is called.
	KeepDelivered time.Duration
	// Logger receives the queue's log entries. Default: the logrus
	// standard logger.
	Logger logrus.FieldLogger
	// Clock is the time source for schedules. Default: the real clock.
	Clock Clock
	// Rand returns the jitter for each retry, a number in [0, 1). Default
	// math/rand/v2.Float64.
	Rand func() float64
	// Observer receives counts for metrics. Default: none.
	Observer Observer
}

// Queue schedules and delivers the jobs of a Store. Submit, SetApps,
// Ready and Stats may be called from any goroutine.
type Queue struct {
	store   Store
	log     logrus.FieldLogger
	clock   Clock
	rand    func() float64
	obs     Observer
	workers int
	keep    time.Duration
	apps    atomic.Pointer[map[string]*AppPolicy]
	w       *writer
	logs    *logLimiter

	mu sync.Mutex
	// busy holds the keys of jobs in flight or whose new delivery record is
	// not written yet; the scheduler leaves them out.
	busy     map[string]struct{}
	inFlight map[string]int
	total    int
	stopped  bool
	// claimed holds, per application, due jobs read from the store that
	// wait for a worker, earliest first. Their keys are in busy.
	claimed  map[string][]*delivery.Job
	nClaimed int
	// dirty is set when the store may hold new due jobs for the scheduler:
	// jobs or records were written, or an application ran low on claimed
	// jobs. moreDue is set when the last store query left due jobs behind,
	// and nextWake is the earliest later NextAt it saw.
	dirty    bool
	moreDue  bool
	nextWake time.Time

	attempts      sync.WaitGroup
	attemptCtx    context.Context
	cancelAttempt context.CancelFunc

	wake        chan struct{}
	stop        chan struct{}
	running     atomic.Bool
	shutdown    sync.Once
	shutdownCh  chan struct{}
	shutdownErr error
}

// NewQueue checks opts and returns a queue that takes jobs at once; Run
// starts delivering them.
func NewQueue(opts Options) (*Queue, error) {
	if opts.Store == nil {
		return nil, errors.New("missing store in queue options")
	}
	apps, err := normalizeApps(opts.Apps)
	if err != nil {
		return nil, err
	}
	if opts.Workers <= 0 {
		opts.Workers = defaultWorkers
	}
	if opts.MemoryQueue <= 0 {
		opts.MemoryQueue = defaultMemoryQueue
	}
	if opts.Logger == nil {
		opts.Logger = logrus.StandardLogger()
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	if opts.Observer == nil {
		opts.Observer = NopObserver{}
	}

	q := &Queue{
		store:      opts.Store,
		log:        opts.Logger,
		clock:      opts.Clock,
		rand:       opts.Rand,
		obs:        opts.Observer,
		workers:    opts.Workers,
		keep:       opts.KeepDelivered,
		logs:       newLogLimiter(opts.Clock),
		busy:       make(map[string]struct{}),
		inFlight:   make(map[string]int),
		claimed:    make(map[string][]*delivery.Job),
		dirty:      true,
		wake:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		shutdownCh: make(chan struct{}),
	}
	q.apps.Store(&apps)
	q.attemptCtx, q.cancelAttempt = context.WithCancel(context.Background())
	q.w = newWriter(opts.Store, opts.Logger, opts.Clock, opts.Observer, opts.MemoryQueue, q.changed, q.written)
	return q, nil
}

// normalizeApps copies apps with their retry policies normalized. It
// returns an error naming the first application without a sender.
func normalizeApps(apps map[string]*AppPolicy) (map[string]*AppPolicy, error) {
	out := make(map[string]*AppPolicy, len(apps))
	var firstErr error
	for name, p := range apps {
		if p == nil || p.Sender == nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("missing sender for app %q in the queue's application policies", name)
			}
			continue
		}
		c := *p
		c.Retry = normalizeRetry(p.Retry)
		out[name] = &c
	}
	return out, firstErr
}

// SetApps replaces the application policies at once, for a reload. Attempts
// in flight finish with the policy they started with. Jobs of an
// application that apps no longer has stay pending. An application without
// a sender is left out with an error log, so its jobs stay pending too.
func (q *Queue) SetApps(apps map[string]*AppPolicy) {
	normalized, err := normalizeApps(apps)
	if err != nil {
		q.log.WithField("error", err).Error("application policy left out of the reload; its jobs stay pending")
	}
	q.apps.Store(&normalized)
	q.changed()
}

// Submit hands a new job to the queue: it is made pending and due now, and
// written to the store in the next group commit. Submit returns before the
// write; it blocks only while MemoryQueue jobs already wait for the store.
// It returns an error for an invalid job and ErrClosed after Shutdown.
func (q *Queue) Submit(j *delivery.Job) error {
	if _, err := validateJob(j); err != nil {
		return err
	}
	c := cloneJob(j)
	now := q.clock.Now()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	c.State = delivery.StatePending
	c.Attempts = 0
	c.NextAt = now
	c.UpdatedAt = now
	c.LastError = ""
	c.LastStatus = 0
	return q.w.add(c)
}

// Ready returns nil when the last write to the store succeeded, and the
// error of that write otherwise.
func (q *Queue) Ready() error { return q.w.ready() }

// signal wakes the scheduler.
func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// changed marks the store as possibly holding new due jobs and wakes the
// scheduler.
func (q *Queue) changed() {
	q.mu.Lock()
	q.dirty = true
	q.mu.Unlock()
	q.signal()
}

// written is called by the writer once new delivery records are stored:
// those jobs may be scheduled again.
func (q *Queue) written(keys []string) {
	q.mu.Lock()
	for _, k := range keys {
		delete(q.busy, k)
	}
	q.dirty = true
	q.mu.Unlock()
	q.signal()
}

// Shutdown stops starting attempts, gives the attempts in flight until
// ctx ends, then cancels them and writes the jobs and delivery records
// still in memory. An attempt that was cancelled is not recorded, so its
// job stays pending and is sent again after a restart. The final writes get
// up to 10s even when ctx has already ended. Shutdown does not close the
// store. It may be called more than once and returns the first result.
func (q *Queue) Shutdown(ctx context.Context) error {
	q.shutdown.Do(func() {
		q.shutdownErr = q.stopAll(ctx)
		close(q.shutdownCh)
	})
	<-q.shutdownCh
	return q.shutdownErr
}

func (q *Queue) stopAll(ctx context.Context) error {
	q.mu.Lock()
	q.stopped = true
	inFlight := q.total
	// Claimed jobs were not attempted; they stay pending in the store.
	clear(q.claimed)
	q.nClaimed = 0
	q.mu.Unlock()
	close(q.stop)

	idle := make(chan struct{})
	go func() {
		q.attempts.Wait()
		close(idle)
	}()
	select {
	case <-idle:
	case <-ctx.Done():
		q.log.Warnf("shutdown deadline reached with attempts in flight (%d at the start of shutdown): cancelling them; their jobs stay pending", inFlight)
		q.cancelAttempt()
		grace := time.NewTimer(shutdownGrace)
		select {
		case <-idle:
		case <-grace.C:
			q.log.Errorf("some senders did not return within %s after cancellation; their jobs stay pending", shutdownGrace)
		}
		grace.Stop()
	}
	q.cancelAttempt()

	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := q.w.close(flushCtx); err != nil {
		q.log.WithField("error", err).Error("spool writes did not finish before shutdown")
		return err
	}
	q.log.Info("delivery stopped; every submitted job and outcome is written to the spool")
	return nil
}
