package spool

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/delivery"
)

func TestBackoffSequence(t *testing.T) {
	p := normalizeRetry(conf.Retry{
		InitialDelay: conf.Duration(time.Second),
		MaxDelay:     conf.Duration(30 * time.Second),
		Multiplier:   2,
	})
	ceilings := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	for i, c := range ceilings {
		attempt := i + 1
		ceiling := c * time.Second
		t.Run(fmt.Sprintf("attempt %d", attempt), func(t *testing.T) {
			if got := backoffCeiling(p, attempt); got != ceiling {
				t.Errorf("ceiling is %s, want %s", got, ceiling)
			}
			if got := backoffDelay(p, attempt, 0); got != ceiling/2 {
				t.Errorf("delay with jitter 0 is %s, want half the ceiling, %s", got, ceiling/2)
			}
			if got := backoffDelay(p, attempt, 0.999999); got > ceiling || got < ceiling-ceiling/1000 {
				t.Errorf("delay with jitter near 1 is %s, want just under %s", got, ceiling)
			}
			for _, jitter := range []float64{0.1, 0.37, 0.5, 0.9} {
				got := backoffDelay(p, attempt, jitter)
				if got < ceiling/2 || got > ceiling {
					t.Errorf("delay with jitter %v is %s, outside [%s, %s]", jitter, got, ceiling/2, ceiling)
				}
			}
		})
	}

	t.Run("huge attempt count stays at the cap", func(t *testing.T) {
		if got := backoffCeiling(p, 10000); got != 30*time.Second {
			t.Errorf("ceiling after 10000 attempts is %s, want 30s", got)
		}
	})
	t.Run("zero policy takes the defaults", func(t *testing.T) {
		d := normalizeRetry(conf.Retry{})
		if d.InitialDelay.D() != time.Second || d.MaxDelay.D() != 10*time.Minute || d.Multiplier != 2 {
			t.Errorf("normalized zero policy is %+v, want 1s, 10m, 2", d)
		}
	})

	t.Run("queue schedules by the sequence", func(t *testing.T) {
		sender := newRecorder(unavailable)
		policy := retryPolicy()
		policy.MaxAttempts = 6
		tq := startQueue(t, NewMemory(), map[string]*AppPolicy{"survey": {Sender: sender, Retry: policy}}, nil)
		tq.submit(t, testJob("k1", "survey"))

		// Jitter is fixed at 0.5, so each wait is 3/4 of its ceiling.
		wantWaits := []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second, 6 * time.Second, 6 * time.Second}
		for i, wait := range wantWaits {
			attempts := i + 1
			waitFor(t, fmt.Sprintf("attempt %d to be recorded", attempts), func() bool {
				j, err := tq.store.Get(context.Background(), "k1")
				return err == nil && j.Attempts == attempts && tq.idle()
			})
			j := tq.get(t, "k1")
			if got := j.NextAt.Sub(j.UpdatedAt); got != wait {
				t.Errorf("after attempt %d the job waits %s, want %s", attempts, got, wait)
			}
			tq.clock.AdvanceTo(j.NextAt)
		}
		waitFor(t, "the job to become dead", tq.stateIs("k1", delivery.StateDead))
		if n := sender.count("k1"); n != 6 {
			t.Errorf("sender was called %d times, want 6", n)
		}
	})
}

func TestRetryAfterNeverEarlier(t *testing.T) {
	now := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name          string
		retryAfter    time.Duration
		maxRetryAfter time.Duration
		want          time.Duration
	}{
		{"longer than the backoff wins", 90 * time.Second, time.Hour, 90 * time.Second},
		{"capped by max_retry_after", 2 * time.Hour, time.Hour, time.Hour},
		{"no cap configured", 2 * time.Hour, 0, 2 * time.Hour},
		{"shorter than the backoff is ignored", 100 * time.Millisecond, time.Hour, 750 * time.Millisecond},
		{"absent", 0, time.Hour, 750 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := retryPolicy()
			p.MaxRetryAfter = conf.Duration(c.maxRetryAfter)
			j := testJob("k1", "survey")
			j.CreatedAt, j.Attempts = now, 1
			out := delivery.Outcome{Class: delivery.Retryable, Status: 429, RetryAfter: c.retryAfter}
			st := applyOutcome(j, out, normalizeRetry(p), now, 0.5)
			if j.State != delivery.StatePending {
				t.Fatalf("state is %s, want pending", j.State)
			}
			if st.retryIn != c.want {
				t.Errorf("retry in %s, want %s", st.retryIn, c.want)
			}
			if !j.NextAt.Equal(now.Add(c.want)) {
				t.Errorf("NextAt is %v, want %v", j.NextAt, now.Add(c.want))
			}
		})
	}

	t.Run("queue waits for Retry-After", func(t *testing.T) {
		sender := newRecorder(func(context.Context, *delivery.Job) delivery.Outcome {
			return delivery.Outcome{Class: delivery.Retryable, Status: 503, RetryAfter: 10 * time.Minute}
		})
		p := retryPolicy()
		p.MaxRetryAfter = conf.Duration(5 * time.Minute)
		tq := startQueue(t, NewMemory(), map[string]*AppPolicy{"survey": {Sender: sender, Retry: p}}, nil)
		start := tq.clock.Now()
		tq.submit(t, testJob("k1", "survey"))
		waitFor(t, "the first attempt", func() bool {
			j, err := tq.store.Get(context.Background(), "k1")
			return err == nil && j.Attempts == 1 && tq.idle()
		})

		if got := tq.get(t, "k1").NextAt; !got.Equal(start.Add(5 * time.Minute)) {
			t.Errorf("NextAt is %v, want %v (Retry-After capped by max_retry_after)", got, start.Add(5*time.Minute))
		}
		tq.clock.Advance(5*time.Minute - time.Second)
		waitFor(t, "the queue to settle", tq.idle)
		if n := sender.count("k1"); n != 1 {
			t.Errorf("sender was called %d times before Retry-After passed, want 1", n)
		}
		tq.clock.Advance(time.Second)
		waitFor(t, "the second attempt", func() bool { return sender.count("k1") == 2 })
	})
}

func TestPermanentIsDead(t *testing.T) {
	sender := newRecorder(func(context.Context, *delivery.Job) delivery.Outcome {
		return delivery.Outcome{Class: delivery.Permanent, Status: 404, Err: errors.New("HTTP status 404 from example.com")}
	})
	tq := startQueue(t, NewMemory(), map[string]*AppPolicy{"survey": {Sender: sender, Retry: retryPolicy()}}, nil)
	tq.submit(t, testJob("k1", "survey"))
	waitFor(t, "the job to become dead", tq.stateIs("k1", delivery.StateDead))

	j := tq.get(t, "k1")
	if j.Attempts != 1 {
		t.Errorf("attempts = %d, want 1", j.Attempts)
	}
	if j.LastStatus != 404 {
		t.Errorf("last status = %d, want 404", j.LastStatus)
	}
	if j.LastError != "HTTP status 404 from example.com" {
		t.Errorf("last error = %q, want the sender's error", j.LastError)
	}
	tq.clock.Advance(time.Hour)
	waitFor(t, "the queue to settle", tq.idle)
	if n := sender.count("k1"); n != 1 {
		t.Errorf("sender was called %d times, want 1", n)
	}

	var deadLogged bool
	for _, e := range tq.logs.AllEntries() {
		if e.Level == logrus.ErrorLevel && strings.Contains(e.Message, "job is dead") {
			deadLogged = true
			for _, field := range []string{"app", "call_id", "attempt", "status", "duration_ms", "error"} {
				if _, ok := e.Data[field]; !ok {
					t.Errorf("dead-letter log has no %q field: %v", field, e.Data)
				}
			}
		}
	}
	if !deadLogged {
		t.Error("no error was logged for the dead job")
	}
}

func TestMaxAttemptsDead(t *testing.T) {
	sender := newRecorder(unavailable)
	p := retryPolicy()
	p.MaxAttempts = 3
	tq := startQueue(t, NewMemory(), map[string]*AppPolicy{"survey": {Sender: sender, Retry: p}}, nil)
	tq.submit(t, testJob("k1", "survey"))
	drive(t, tq.Queue, tq.clock, tq.stateIs("k1", delivery.StateDead))

	j := tq.get(t, "k1")
	if j.Attempts != 3 {
		t.Errorf("attempts = %d, want 3", j.Attempts)
	}
	if n := sender.count("k1"); n != 3 {
		t.Errorf("sender was called %d times, want 3", n)
	}
	if j.LastStatus != 503 || !strings.Contains(j.LastError, "503") {
		t.Errorf("last status %d and error %q, want those of the last attempt", j.LastStatus, j.LastError)
	}
}

func TestMaxAgeDead(t *testing.T) {
	var calls atomic.Int32
	sender := newRecorder(func(context.Context, *delivery.Job) delivery.Outcome {
		n := calls.Add(1)
		return delivery.Outcome{Class: delivery.Retryable, Status: 502, Err: fmt.Errorf("HTTP status 502 (attempt %d)", n)}
	})
	p := conf.Retry{
		InitialDelay: conf.Duration(4 * time.Second),
		MaxDelay:     conf.Duration(time.Minute),
		Multiplier:   2,
		MaxAge:       conf.Duration(10 * time.Second),
	}
	tq := startQueue(t, NewMemory(), map[string]*AppPolicy{"survey": {Sender: sender, Retry: p}}, nil)
	tq.submit(t, testJob("k1", "survey"))
	drive(t, tq.Queue, tq.clock, tq.stateIs("k1", delivery.StateDead))

	// Waits are 3s (attempt 2 at 3s) and then 6s, which would end at 9s;
	// the third wait, 12s, would pass the 10s age limit.
	j := tq.get(t, "k1")
	if j.Attempts != 3 {
		t.Errorf("attempts = %d, want 3", j.Attempts)
	}
	if j.LastError != "HTTP status 502 (attempt 3)" {
		t.Errorf("last error = %q, want the error of the last attempt", j.LastError)
	}
	if j.LastStatus != 502 {
		t.Errorf("last status = %d, want 502", j.LastStatus)
	}
}

func TestRetryDeadLetter(t *testing.T) {
	sender := newRecorder(func(context.Context, *delivery.Job) delivery.Outcome {
		return delivery.Outcome{Class: delivery.Permanent, Status: 400, Err: errors.New("HTTP status 400")}
	})
	store := NewMemory()
	tq := startQueue(t, store, map[string]*AppPolicy{"survey": {Sender: sender, Retry: retryPolicy()}}, nil)
	store.SetNow(tq.clock.Now)
	tq.submit(t, testJob("k1", "survey"), testJob("k2", "survey"))
	waitFor(t, "both jobs to become dead", func() bool {
		return tq.stateIs("k1", delivery.StateDead)() && tq.stateIs("k2", delivery.StateDead)()
	})

	sender.setOutcome(delivered)
	n, err := store.Retry(context.Background(), Filter{Key: "k1"})
	if err != nil || n != 1 {
		t.Fatalf("Retry returned %d, %v; want 1, nil", n, err)
	}
	// The scheduler looks at the store again within rescanInterval.
	tq.clock.Advance(rescanInterval)
	waitFor(t, "the retried job to be delivered", tq.stateIs("k1", delivery.StateDelivered))

	if n := sender.count("k1"); n != 2 {
		t.Errorf("sender was called %d times for the retried job, want 2", n)
	}
	if j := tq.get(t, "k2"); j.State != delivery.StateDead {
		t.Errorf("the job that was not retried is %s, want dead", j.State)
	}
}

func TestPerAppConcurrency(t *testing.T) {
	release := make(chan struct{})
	var running, peak atomic.Int32
	hanging := newRecorder(func(ctx context.Context, j *delivery.Job) delivery.Outcome {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		select {
		case <-release:
			return delivery.Outcome{Class: delivery.Delivered, Status: 200}
		case <-ctx.Done():
			return delivery.Outcome{Class: delivery.Retryable, Err: ctx.Err()}
		}
	})
	fast := newRecorder(delivered)
	apps := map[string]*AppPolicy{
		"hanging": {Sender: hanging, Retry: retryPolicy(), Concurrency: 2},
		"fast":    {Sender: fast, Retry: retryPolicy(), Concurrency: 2},
	}
	tq := startQueue(t, NewMemory(), apps, func(o *Options) { o.Workers = 4 })

	for i := range 20 {
		tq.submit(t, testJob(fmt.Sprintf("h%02d", i), "hanging"))
	}
	waitFor(t, "two hanging attempts", func() bool { return running.Load() == 2 })
	for i := range 10 {
		tq.submit(t, testJob(fmt.Sprintf("f%02d", i), "fast"))
	}
	waitFor(t, "every job of the fast app to be delivered", func() bool {
		for i := range 10 {
			if !tq.stateIs(fmt.Sprintf("f%02d", i), delivery.StateDelivered)() {
				return false
			}
		}
		return true
	})

	if got := peak.Load(); got != 2 {
		t.Errorf("the hanging app had %d attempts in flight, want its limit of 2", got)
	}
	if got := hanging.sum(); got != 2 {
		t.Errorf("the hanging app's sender was called %d times while its attempts hung, want 2", got)
	}
	stats := tq.Stats()
	if got := stats.Apps["hanging"].InFlight; got != 2 {
		t.Errorf("Stats shows %d hanging attempts in flight, want 2", got)
	}
	if got := stats.Apps["fast"].Delivered; got != 10 {
		t.Errorf("Stats shows %d delivered jobs of the fast app, want 10", got)
	}

	close(release)
	waitFor(t, "every hanging job to be delivered", func() bool {
		s := tq.Stats()
		return s.Apps["hanging"].Delivered == 20
	})
	if got := peak.Load(); got != 2 {
		t.Errorf("after the release the hanging app had %d attempts in flight, want at most 2", got)
	}
}

func TestRestartResumes(t *testing.T) {
	dir := t.TempDir()
	const jobs = 40
	release := make(chan struct{})
	var (
		sent           atomic.Int32
		deliveredFirst sync.Map
	)
	firstRun := newRecorder(func(ctx context.Context, j *delivery.Job) delivery.Outcome {
		if sent.Add(1) <= 10 {
			deliveredFirst.Store(j.Key, true)
			return delivery.Outcome{Class: delivery.Delivered, Status: 200}
		}
		select {
		case <-release:
			return delivery.Outcome{Class: delivery.Delivered, Status: 200}
		case <-ctx.Done():
			return delivery.Outcome{Class: delivery.Retryable, Err: ctx.Err()}
		}
	})

	store := openTestBolt(t, dir)
	logger := discardLogger()
	q1, err := NewQueue(Options{
		Store:   store,
		Apps:    map[string]*AppPolicy{"survey": {Sender: firstRun, Retry: retryPolicy()}},
		Workers: 4,
		Logger:  logger,
		Clock:   newFakeClock(),
	})
	if err != nil {
		t.Fatalf("NewQueue: %v", err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- q1.Run(context.Background()) }()
	for i := range jobs {
		if err := q1.Submit(testJob(fmt.Sprintf("k%02d", i), "survey")); err != nil {
			t.Fatalf("Submit: %v", err)
		}
	}
	waitFor(t, "ten deliveries and four hanging attempts", func() bool {
		q1.mu.Lock()
		defer q1.mu.Unlock()
		return sent.Load() >= 14 && q1.total == 4
	})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := q1.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-runDone; err != nil {
		t.Fatalf("Run returned %v", err)
	}
	if err := store.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	store = openTestBolt(t, dir)
	defer store.Close()
	counts, err := store.Counts(context.Background())
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	if got := counts["survey"][delivery.StateDelivered]; got != 10 {
		t.Errorf("after the first run %d jobs are delivered, want 10", got)
	}
	if got := counts["survey"][delivery.StatePending]; got != jobs-10 {
		t.Errorf("after the first run %d jobs are pending, want %d", got, jobs-10)
	}

	secondRun := newRecorder(delivered)
	tq := startQueue(t, store, map[string]*AppPolicy{"survey": {Sender: secondRun, Retry: retryPolicy()}}, nil)
	waitFor(t, "every job to be delivered after the restart", func() bool {
		s := tq.Stats()
		return s.Apps["survey"].Delivered == jobs
	})
	for i := range jobs {
		key := fmt.Sprintf("k%02d", i)
		want := 1
		if _, ok := deliveredFirst.Load(key); ok {
			want = 0
		}
		if got := secondRun.count(key); got != want {
			t.Errorf("job %s was sent %d times after the restart, want %d", key, got, want)
		}
	}
	if got := secondRun.sum(); got != jobs-10 {
		t.Errorf("the second run sent %d jobs, want %d (the ones not delivered before)", got, jobs-10)
	}
}

// failingStore is a Store whose writes fail while fail is set, as a full
// disk would make them.
type failingStore struct {
	Store
	fail   atomic.Bool
	failed atomic.Int32
}

func (f *failingStore) writeErr() error {
	if f.fail.Load() {
		f.failed.Add(1)
		return errors.New("write spool /var/lib/postcall/spool.db: no space left on device")
	}
	return nil
}

func (f *failingStore) Add(ctx context.Context, jobs []*delivery.Job) ([]bool, error) {
	if err := f.writeErr(); err != nil {
		return nil, err
	}
	return f.Store.Add(ctx, jobs)
}

func (f *failingStore) Update(ctx context.Context, jobs []*delivery.Job) error {
	if err := f.writeErr(); err != nil {
		return err
	}
	return f.Store.Update(ctx, jobs)
}

func TestDiskFull(t *testing.T) {
	t.Run("failing store", testDiskFullWrapper)
	t.Run("immutable spool file", testDiskFullImmutable)
}

func testDiskFullWrapper(t *testing.T) {
	store := &failingStore{Store: NewMemory()}
	sender := newRecorder(delivered)
	tq := startQueue(t, store, map[string]*AppPolicy{"survey": {Sender: sender, Retry: retryPolicy()}},
		func(o *Options) { o.MemoryQueue = 5 })

	tq.submit(t, testJob("before", "survey"))
	waitFor(t, "the first job to be delivered", tq.stateIs("before", delivery.StateDelivered))
	if err := tq.Ready(); err != nil {
		t.Fatalf("Ready before the failure returned %v", err)
	}

	store.fail.Store(true)
	tq.submit(t, testJob("k0", "survey"))
	waitFor(t, "Ready to report the failure", func() bool { return tq.Ready() != nil })
	if err := tq.Ready(); !strings.Contains(err.Error(), "/var/lib/postcall/spool.db") {
		t.Errorf("Ready returned %q, want the error naming the spool path", err)
	}
	tq.submit(t, testJob("k1", "survey"), testJob("k2", "survey"), testJob("k3", "survey"), testJob("k4", "survey"))

	blocked := make(chan error, 1)
	go func() { blocked <- tq.Submit(testJob("k5", "survey")) }()
	// The sixth Submit must wait while five jobs are held in memory. Let
	// the writer fail several more times before checking it still waits.
	failures := store.failed.Load()
	for store.failed.Load() < failures+3 {
		tq.clock.Advance(writeRetryMax)
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-blocked:
		t.Fatalf("Submit returned %v while the memory queue was full, want it to wait", err)
	default:
	}
	if got := tq.Stats().Buffered; got != 5 {
		t.Errorf("Stats shows %d buffered jobs, want 5", got)
	}
	if n := sender.sum(); n != 1 {
		t.Errorf("sender was called %d times while the store failed, want 1 (the job before)", n)
	}
	var errorLogs int
	for _, e := range tq.logs.AllEntries() {
		if e.Level == logrus.ErrorLevel && strings.Contains(e.Message, "cannot write") {
			errorLogs++
		}
	}
	if errorLogs == 0 || errorLogs >= int(store.failed.Load()) {
		t.Errorf("%d error logs for %d failed writes, want at least one and fewer than the failures", errorLogs, store.failed.Load())
	}

	store.fail.Store(false)
	tq.clock.Advance(writeRetryMax)
	if err := <-blocked; err != nil {
		t.Fatalf("blocked Submit returned %v after the store recovered", err)
	}
	waitFor(t, "every job to be delivered after the store recovered", func() bool {
		for i := range 6 {
			if !tq.stateIs(fmt.Sprintf("k%d", i), delivery.StateDelivered)() {
				return false
			}
		}
		return true
	})
	if err := tq.Ready(); err != nil {
		t.Errorf("Ready after recovery returned %v", err)
	}
	for i := range 6 {
		if n := sender.count(fmt.Sprintf("k%d", i)); n != 1 {
			t.Errorf("job k%d was sent %d times, want once", i, n)
		}
	}
}

// testDiskFullImmutable makes the real spool file immutable, which fails
// every write as a full disk would, and then writable again.
func testDiskFullImmutable(t *testing.T) {
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("chattr is not installed")
	}
	store := openTestBolt(t, t.TempDir())
	defer store.Close()
	sender := newRecorder(delivered)
	tq := startQueue(t, store, map[string]*AppPolicy{"survey": {Sender: sender, Retry: retryPolicy()}}, nil)

	chattr(t, "+i", store.Path())
	mutable := false
	defer func() {
		if !mutable {
			chattr(t, "-i", store.Path())
		}
	}()
	tq.submit(t, testJob("k1", "survey"), testJob("k2", "survey"))
	waitFor(t, "Ready to report the failure", func() bool { return tq.Ready() != nil })
	if err := tq.Ready(); !strings.Contains(err.Error(), store.Path()) {
		t.Errorf("Ready returned %q, want the error naming %s", err, store.Path())
	}
	if got := tq.Stats().Buffered; got != 2 {
		t.Errorf("Stats shows %d buffered jobs, want 2", got)
	}

	chattr(t, "-i", store.Path())
	mutable = true
	waitFor(t, "every job to be delivered after the file became writable", func() bool {
		tq.clock.Advance(writeRetryMax)
		return tq.stateIs("k1", delivery.StateDelivered)() && tq.stateIs("k2", delivery.StateDelivered)()
	})
	if err := tq.Ready(); err != nil {
		t.Errorf("Ready after recovery returned %v", err)
	}
}

func TestShutdownBounded(t *testing.T) {
	finishing := make(chan struct{})
	started := make(chan string, 2)
	sender := newRecorder(func(ctx context.Context, j *delivery.Job) delivery.Outcome {
		started <- j.Key
		if j.Key == "quick" {
			<-finishing
			return delivery.Outcome{Class: delivery.Delivered, Status: 200}
		}
		<-ctx.Done()
		return delivery.Outcome{Class: delivery.Retryable, Err: ctx.Err()}
	})
	store := NewMemory()
	tq := startQueue(t, store, map[string]*AppPolicy{"survey": {Sender: sender, Retry: retryPolicy()}}, nil)
	tq.submit(t, testJob("quick", "survey"), testJob("stuck", "survey"))
	<-started
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	go func() {
		// The quick attempt ends while Shutdown waits.
		waitFor(t, "Shutdown to start", func() bool {
			tq.mu.Lock()
			defer tq.mu.Unlock()
			return tq.stopped
		})
		close(finishing)
	}()
	if err := tq.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if ctx.Err() == nil {
		t.Error("Shutdown returned before its deadline although an attempt was still in flight")
	}

	quick, _ := store.Get(context.Background(), "quick")
	if quick.State != delivery.StateDelivered {
		t.Errorf("the attempt that finished before the deadline left the job %s, want delivered", quick.State)
	}
	stuck, _ := store.Get(context.Background(), "stuck")
	if stuck.State != delivery.StatePending || stuck.Attempts != 0 || stuck.LastError != "" {
		t.Errorf("the cancelled attempt left state %s, attempts %d, error %q; want pending, 0, none", stuck.State, stuck.Attempts, stuck.LastError)
	}
	if err := tq.Submit(testJob("late", "survey")); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Shutdown returned %v, want ErrClosed", err)
	}
	if err := tq.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown returned %v", err)
	}
}

func TestDownThenUp(t *testing.T) {
	const jobs = 10000
	var up atomic.Bool
	var mu sync.Mutex
	afterRecovery := make(map[string]int)
	sender := newRecorder(func(ctx context.Context, j *delivery.Job) delivery.Outcome {
		if !up.Load() {
			return unavailable(ctx, j)
		}
		mu.Lock()
		afterRecovery[j.Key]++
		mu.Unlock()
		return delivered(ctx, j)
	})
	store := openTestBolt(t, t.TempDir())
	defer store.Close()
	p := retryPolicy()
	p.MaxDelay = conf.Duration(time.Minute)
	tq := startQueue(t, store, map[string]*AppPolicy{"survey": {Sender: sender, Retry: p, Concurrency: 32}},
		func(o *Options) { o.Workers = 32 })

	var peakHeap uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peakHeap = max(peakHeap, ms.HeapAlloc)
	}
	for i := range jobs {
		tq.submit(t, testJob(fmt.Sprintf("job-%05d", i), "survey"))
	}
	// Let every job fail at least twice.
	drive(t, tq.Queue, tq.clock, func() bool {
		sample()
		return sender.sum() >= 2*jobs
	})

	up.Store(true)
	drive(t, tq.Queue, tq.clock, func() bool {
		sample()
		counts, err := store.Counts(context.Background())
		return err == nil && counts["survey"][delivery.StateDelivered] == jobs
	})

	mu.Lock()
	defer mu.Unlock()
	if len(afterRecovery) != jobs {
		t.Errorf("%d jobs were sent after recovery, want %d", len(afterRecovery), jobs)
	}
	for key, n := range afterRecovery {
		if n != 1 {
			t.Errorf("job %s was sent %d times after recovery, want once", key, n)
		}
	}
	t.Logf("peak heap while %d jobs were retried: %.1f MiB", jobs, float64(peakHeap)/(1<<20))
}

func TestRemovedAppStaysPending(t *testing.T) {
	sender := newRecorder(delivered)
	tq := startQueue(t, NewMemory(), map[string]*AppPolicy{"other": {Sender: sender}}, nil)
	tq.submit(t, testJob("k1", "survey"))
	waitFor(t, "the job of the unknown app to be moved back", func() bool {
		j, err := tq.store.Get(context.Background(), "k1")
		return err == nil && j.NextAt.After(tq.clock.Now()) && tq.idle()
	})
	j := tq.get(t, "k1")
	if j.State != delivery.StatePending || j.Attempts != 0 {
		t.Errorf("job of a removed app is %s after %d attempts, want pending after 0", j.State, j.Attempts)
	}

	tq.SetApps(map[string]*AppPolicy{"survey": {Sender: sender, Retry: retryPolicy()}})
	tq.clock.Advance(parkDelay)
	waitFor(t, "the job to be delivered after the app came back", tq.stateIs("k1", delivery.StateDelivered))
	var warned bool
	for _, e := range tq.logs.AllEntries() {
		warned = warned || (e.Level == logrus.WarnLevel && strings.Contains(e.Message, `no application "survey"`))
	}
	if !warned {
		t.Error("no warning was logged for the job of the removed app")
	}
}

func TestRepeatedCallSentOnce(t *testing.T) {
	sender := newRecorder(delivered)
	tq := startQueue(t, NewMemory(), map[string]*AppPolicy{"survey": {Sender: sender}}, nil)
	tq.submit(t, testJob("k1", "survey"), testJob("k1", "survey"))
	waitFor(t, "delivery", tq.stateIs("k1", delivery.StateDelivered))
	tq.submit(t, testJob("k1", "survey"))
	tq.clock.Advance(time.Hour)
	waitFor(t, "the queue to settle", tq.idle)
	if n := sender.count("k1"); n != 1 {
		t.Errorf("a call submitted three times was sent %d times, want once", n)
	}
}

func TestPrivateAppLogs(t *testing.T) {
	sender := newRecorder(func(context.Context, *delivery.Job) delivery.Outcome {
		// A sender for a private app returns only redacted error text.
		return delivery.Outcome{Class: delivery.Retryable, Status: 500, Err: errors.New("HTTP status 500 from example.com")}
	})
	p := retryPolicy()
	p.MaxAttempts = 2
	tq := startQueue(t, NewMemory(), map[string]*AppPolicy{"vault": {Sender: sender, Retry: p, Private: true}}, nil)
	j := testJob("k1", "vault")
	j.Private = true
	tq.submit(t, j)
	drive(t, tq.Queue, tq.clock, tq.stateIs("k1", delivery.StateDead))

	entries := tq.logs.AllEntries()
	if len(entries) == 0 {
		t.Fatal("nothing was logged")
	}
	for _, e := range entries {
		line, err := e.String()
		if err != nil {
			t.Fatalf("format log entry: %v", err)
		}
		for _, secret := range []string{"secret-path", "secret-query", "secret-header", "secret-body"} {
			if strings.Contains(line, secret) {
				t.Errorf("log line shows private data %q: %s", secret, line)
			}
		}
	}
}

func TestKeepDeliveredCompacts(t *testing.T) {
	sender := newRecorder(delivered)
	tq := startQueue(t, NewMemory(), map[string]*AppPolicy{"survey": {Sender: sender}},
		func(o *Options) { o.KeepDelivered = time.Hour })
	tq.submit(t, testJob("k1", "survey"))
	waitFor(t, "delivery", tq.stateIs("k1", delivery.StateDelivered))

	deliveredAt := tq.get(t, "k1").UpdatedAt

	waitFor(t, "the delivered job to be compacted", func() bool {
		tq.clock.Advance(15 * time.Minute)
		_, err := tq.store.Get(context.Background(), "k1")
		if err == nil {
			return false
		}
		if age := tq.clock.Now().Sub(deliveredAt); age <= time.Hour {
			t.Fatalf("the job was compacted %s after delivery, before KeepDelivered", age)
		}
		return errors.Is(err, ErrNotFound)
	})
}
