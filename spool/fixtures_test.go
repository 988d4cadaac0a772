package spool

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/delivery"
)

// fakeClock is a Clock that moves only when a test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clock *fakeClock
	at    time.Time
	c     chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, at: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.timers, t)
	if i < 0 {
		return false
	}
	c.timers = slices.Delete(c.timers, i, i+1)
	return true
}

// Advance moves the clock forward by d and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			kept = append(kept, t)
			continue
		}
		t.c <- c.now
	}
	clear(c.timers[len(kept):])
	c.timers = kept
}

// AdvanceTo moves the clock to at when at is later than now.
func (c *fakeClock) AdvanceTo(at time.Time) {
	if d := at.Sub(c.Now()); d > 0 {
		c.Advance(d)
	}
}

// waitFor polls cond until it holds, and fails the test after a generous
// deadline. It waits for goroutines of the queue, never for the schedule,
// which the fake clock drives.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// idle reports whether the queue has nothing in flight and nothing to
// write.
func (q *Queue) idle() bool {
	adds, updates := q.w.pending()
	q.mu.Lock()
	defer q.mu.Unlock()
	return adds == 0 && updates == 0 && q.total == 0 && len(q.busy) == 0
}

// drive runs the fake clock forward, from one due time to the next, until
// done holds. Between steps it waits until the queue is idle and has taken
// every job due at the current time.
func drive(t testing.TB, q *Queue, clk *fakeClock, done func() bool) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			q.mu.Lock()
			state := fmt.Sprintf("dirty=%v moreDue=%v nextWake=%v busy=%d claimed=%d inFlight=%d", q.dirty, q.moreDue, q.nextWake, len(q.busy), q.nClaimed, q.total)
			q.mu.Unlock()
			next, ok, _ := q.store.NextDue(ctx)
			t.Fatalf("timed out driving the queue at %v (next due %v %v; %s)", clk.Now(), next, ok, state)
		}
		if !q.idle() || q.Ready() != nil {
			time.Sleep(time.Millisecond)
			continue
		}
		due, err := q.store.Due(ctx, clk.Now(), 1)
		if err != nil {
			t.Fatalf("Due: %v", err)
		}
		if len(due) > 0 {
			time.Sleep(time.Millisecond)
			continue
		}
		next, ok, err := q.store.NextDue(ctx)
		if err != nil {
			t.Fatalf("NextDue: %v", err)
		}
		if !ok {
			time.Sleep(time.Millisecond)
			continue
		}
		clk.AdvanceTo(next)
	}
}

// recorder is a Sender whose outcome a test sets per call and which
// counts calls per key.
type recorder struct {
	mu      sync.Mutex
	outcome func(ctx context.Context, j *delivery.Job) delivery.Outcome
	calls   map[string]int
	total   int
}

func newRecorder(outcome func(ctx context.Context, j *delivery.Job) delivery.Outcome) *recorder {
	return &recorder{outcome: outcome, calls: make(map[string]int)}
}

func (r *recorder) Send(ctx context.Context, j *delivery.Job) delivery.Outcome {
	r.mu.Lock()
	r.calls[j.Key]++
	r.total++
	f := r.outcome
	r.mu.Unlock()
	return f(ctx, j)
}

func (r *recorder) setOutcome(f func(ctx context.Context, j *delivery.Job) delivery.Outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outcome = f
}

func (r *recorder) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[key]
}

func (r *recorder) sum() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

func delivered(context.Context, *delivery.Job) delivery.Outcome {
	return delivery.Outcome{Class: delivery.Delivered, Status: 200, Duration: time.Millisecond}
}

func unavailable(context.Context, *delivery.Job) delivery.Outcome {
	return delivery.Outcome{Class: delivery.Retryable, Status: 503, Err: fmt.Errorf("HTTP status 503 from example.com"), Duration: time.Millisecond}
}

// testJob returns a REST job for app with a request whose path, query,
// header and body carry marker text that a redaction test can look for.
func testJob(key, app string) *delivery.Job {
	return &delivery.Job{
		Key:         key,
		App:         app,
		CallID:      "call-" + key,
		CoreUUID:    "c0c0c0c0-0000-4000-8000-0000000000e1",
		Kind:        delivery.KindREST,
		Termination: "ivr_exit",
		Request: &delivery.Request{
			Method: "POST",
			URL:    "https://example.com/secret-path/" + key + "?card=4111-secret-query",
			Header: []delivery.Field{{Name: "Authorization", Value: "Bearer secret-header"}},
			Body:   []byte("ssn=secret-body"),
		},
	}
}

// retryPolicy is a short schedule for tests: 1s, doubling, capped at 8s.
func retryPolicy() conf.Retry {
	return conf.Retry{
		InitialDelay: conf.Duration(time.Second),
		MaxDelay:     conf.Duration(8 * time.Second),
		Multiplier:   2,
	}
}

type testQueue struct {
	*Queue
	clock *fakeClock
	store Store
	logs  *logtest.Hook
	ctx   context.Context
}

// startQueue makes a queue over store with a fake clock, a fixed jitter of
// 0.5 and a log hook, runs it, and shuts it down at the end of the test.
func startQueue(t *testing.T, store Store, apps map[string]*AppPolicy, tune func(*Options)) *testQueue {
	t.Helper()
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	logger.SetOutput(io.Discard)
	clk := newFakeClock()
	opts := Options{
		Store:   store,
		Apps:    apps,
		Workers: 8,
		Logger:  logger,
		Clock:   clk,
		Rand:    func() float64 { return 0.5 },
	}
	if tune != nil {
		tune(&opts)
	}

	q, err := NewQueue(opts)
	if err != nil {
		t.Fatalf("NewQueue: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	t.Cleanup(func() {
		shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
		defer stop()
		q.Shutdown(shutdownCtx)
		cancel()
		<-done
	})
	return &testQueue{Queue: q, clock: clk, store: store, logs: hook, ctx: ctx}
}

func (tq *testQueue) submit(t *testing.T, jobs ...*delivery.Job) {
	t.Helper()
	for _, j := range jobs {
		if err := tq.Submit(j); err != nil {
			t.Fatalf("Submit(%s): %v", j.Key, err)
		}
	}
}

func (tq *testQueue) get(t *testing.T, key string) *delivery.Job {
	t.Helper()
	j, err := tq.store.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	return j
}

// stateIs returns a condition that holds once the stored job is in state.
func (tq *testQueue) stateIs(key string, state delivery.State) func() bool {
	return func() bool {
		j, err := tq.store.Get(context.Background(), key)
		return err == nil && j.State == state
	}
}

func openTestBolt(t testing.TB, dir string) *BoltStore {
	t.Helper()
	s, err := OpenBolt(filepath.Join(dir, "spool", "spool.db"), BoltOptions{Logger: discardLogger()})
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	return s
}

func discardLogger() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}
