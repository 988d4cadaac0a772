package spooltest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/spool"
)

// crashDirEnv names the environment variable that turns CrashChild into the
// child process of the crash test: it holds the directory of the store.
const crashDirEnv = "POSTCALL_SPOOLTEST_CRASH_DIR"

// crashExitCode is the exit status of a child that stopped as planned.
const crashExitCode = 75

// crashAcks is how many acknowledged jobs the child waits for before it
// exits, while other Add calls are still in progress.
const crashAcks = 400

// RunDurable runs the tests of a store that keeps jobs across a restart.
// open must open the store kept in dir, creating it when it does not exist;
// RunDurable closes what it opens. childTest names a test of the calling
// package whose body is CrashChild(t, open): RunDurable runs the test
// binary again with that test to write a store from a process that ends
// without Close.
func RunDurable(t *testing.T, open func(t *testing.T, dir string) spool.Store, childTest string) {
	t.Helper()
	t.Run("ReopenKeepsEverything", func(t *testing.T) { testReopen(t, open) })
	t.Run("KilledProcessKeepsAddedJobs", func(t *testing.T) { testCrash(t, open, childTest) })
}

func testReopen(t *testing.T, open func(t *testing.T, dir string) spool.Store) {
	dir := t.TempDir()
	s := open(t, dir)
	jobs := []*delivery.Job{
		NewJob("pending", "survey", base),
		NewJob("retrying", "survey", base),
		NewJob("dead", "crm", base),
		NewJob("delivered", "crm", base),
	}
	mustAdd(t, s, jobs...)
	retrying := withRecord(jobs[1], delivery.StatePending, 2, base.Add(time.Hour))
	retrying.LastError, retrying.LastStatus = "HTTP status 503", 503
	dead := withRecord(jobs[2], delivery.StateDead, 7, base.Add(2*time.Hour))
	dead.LastError = "HTTP status 404"
	delivered := withRecord(jobs[3], delivery.StateDelivered, 1, base.Add(3*time.Hour))
	mustUpdate(t, s, retrying, dead, delivered)
	want := []*delivery.Job{jobs[0], retrying, dead, delivered}

	countsBefore, err := s.Counts(context.Background())
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, dir)
	defer s.Close()
	for _, w := range want {
		if diff := CompareJobs(mustGet(t, s, w.Key), w); diff != "" {
			t.Errorf("after reopening: %s", diff)
		}
	}
	countsAfter, err := s.Counts(context.Background())
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	if fmt.Sprint(normalizeCounts(countsAfter)) != fmt.Sprint(normalizeCounts(countsBefore)) {
		t.Errorf("Counts after reopening are %v, before they were %v", countsAfter, countsBefore)
	}
	next, ok, err := s.NextDue(context.Background())
	if err != nil || !ok || !next.Equal(base) {
		t.Errorf("NextDue after reopening returned %v %v %v, want %v", next, ok, err, base)
	}
	if added := mustAdd(t, s, NewJob("delivered", "crm", base)); added[0] {
		t.Error("after reopening, Add accepted the key of a delivered job again")
	}
}

func testCrash(t *testing.T, open func(t *testing.T, dir string) spool.Store, childTest string) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^"+childTest+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != crashExitCode {
		t.Fatalf("child process ended with %v, want exit status %d\nstdout:\n%s\nstderr:\n%s", err, crashExitCode, stdout.String(), stderr.String())
	}

	var acked []string
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if key, ok := strings.CutPrefix(sc.Text(), "added "); ok {
			acked = append(acked, key)
		}
	}
	if len(acked) < crashAcks {
		t.Fatalf("child acknowledged %d jobs, want at least %d\nstderr:\n%s", len(acked), crashAcks, stderr.String())
	}

	s := open(t, dir)
	defer s.Close()
	for _, key := range acked {
		if _, err := s.Get(context.Background(), key); err != nil {
			t.Errorf("job %s was acknowledged by Add before the process ended, but after reopening: %v", key, err)
		}
	}
	all := mustList(t, s, spool.Filter{})
	if len(all) < len(acked) {
		t.Errorf("the reopened store lists %d jobs, fewer than the %d acknowledged", len(all), len(acked))
	}
	t.Logf("child acknowledged %d jobs; the reopened store holds %d", len(acked), len(all))
}

// CrashChild is the body of the child test named in RunDurable. In a normal
// test run it skips. In the child process it opens the store, adds jobs from
// several goroutines, prints "added KEY" for each job whose Add returned,
// and exits without closing the store while other Add calls are still in
// progress.
func CrashChild(t *testing.T, open func(t *testing.T, dir string) spool.Store) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs only as the child process of the durable-store tests")
	}
	s := open(t, dir)

	var (
		mu    sync.Mutex
		acked int
		out   = bufio.NewWriter(os.Stdout)
	)
	exit := func(code int) {
		mu.Lock()
		out.Flush()
		os.Exit(code)
	}
	for g := range 4 {
		go func() {
			for batch := 0; ; batch++ {
				jobs := make([]*delivery.Job, 10)
				for i := range jobs {
					jobs[i] = NewJob(fmt.Sprintf("crash-%d-%d-%d", g, batch, i), "survey", base)
				}
				if _, err := s.Add(context.Background(), jobs); err != nil {
					fmt.Fprintf(os.Stderr, "Add: %v\n", err)
					exit(1)
				}
				mu.Lock()
				for _, j := range jobs {
					fmt.Fprintf(out, "added %s\n", j.Key)
				}
				acked += len(jobs)
				done := acked >= crashAcks
				mu.Unlock()
				if done {
					exit(crashExitCode)
				}
			}
		}()
	}
	select {}
}
