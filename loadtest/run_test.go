package loadtest

import (
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/esl/esltest"
)

// inProcessOptions are the options of a short in-process run on free
// loopback ports.
func inProcessOptions(t *testing.T, calls int) Options {
	t.Helper()
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	return Options{
		ESLAddr:   "127.0.0.1:0",
		SinkAddr:  "127.0.0.1:0",
		InProcess: true,
		Plan:      Plan{Calls: calls},
		ExitShare: 0.2,
		ConfigDir: t.TempDir(),
		Drain:     time.Minute,
		// A frame is dropped only when the daemon reads nothing for this
		// long, so a drop means it stopped reading, not that a busy test
		// machine (or the race detector) slowed it down.
		SendTimeout: 30 * time.Second,
		Logger:      quiet,
	}
}

func runLoad(t *testing.T, opts Options) *Report {
	t.Helper()
	rep, err := Run(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// checkNothingLost asserts that every call was delivered once and no event
// was lost on the way.
func checkNothingLost(t *testing.T, rep *Report, calls int) {
	t.Helper()
	if rep.Calls != calls {
		t.Errorf("calls sent = %d, want %d", rep.Calls, calls)
	}
	if rep.Missing != 0 {
		t.Errorf("missing deliveries = %d, want 0 (first missing: %v)", rep.Missing, rep.MissingIDs)
	}
	if rep.Delivered != calls {
		t.Errorf("delivered = %d, want %d", rep.Delivered, calls)
	}
	if rep.DroppedFreeSWITCH != 0 {
		t.Errorf("events dropped by the fake FreeSWITCH = %d, want 0", rep.DroppedFreeSWITCH)
	}
	if rep.NotQueued != 0 {
		t.Errorf("events not queued = %d, want 0", rep.NotQueued)
	}
	if rep.DroppedDaemon == nil {
		t.Error("the daemon's own drops were not read")
	} else if *rep.DroppedDaemon != 0 {
		t.Errorf("events dropped by the daemon = %d, want 0", *rep.DroppedDaemon)
	}
	if rep.Unmatched != 0 {
		t.Errorf("unmatched requests = %d, want 0", rep.Unmatched)
	}
}

func TestRunFullSpeedDeliversEveryCall(t *testing.T) {
	const calls = 2000
	rep := runLoad(t, inProcessOptions(t, calls))
	checkNothingLost(t, rep, calls)
	if rep.Duplicated != 0 {
		t.Errorf("duplicated deliveries = %d, want 0 from a sink that always responds 200", rep.Duplicated)
	}
	if rep.Events != calls+calls/5 {
		t.Errorf("events sent = %d, want %d (a fifth of the calls with an exit event)", rep.Events, calls+calls/5)
	}
	if rep.Latency == nil || rep.ReaderLag == nil {
		t.Fatalf("latency %v or reader lag %v missing from the report", rep.Latency, rep.ReaderLag)
	}
	if rep.Latency.P50 > rep.Latency.P99 || rep.Latency.P99 > rep.Latency.Max {
		t.Errorf("latency percentiles out of order: %+v", *rep.Latency)
	}
	if rep.IngestRate <= 0 || rep.SpoolRate <= 0 {
		t.Errorf("ingest rate %v and spool rate %v, want both measured", rep.IngestRate, rep.SpoolRate)
	}
}

func TestRunRetriesFailedRequests(t *testing.T) {
	const calls = 200
	opts := inProcessOptions(t, calls)
	opts.SinkFail = 0.3
	opts.RetryInitial = 20 * time.Millisecond
	opts.RetryMax = 100 * time.Millisecond
	rep := runLoad(t, opts)
	checkNothingLost(t, rep, calls)
	if rep.SinkFailed == 0 {
		t.Error("the sink responded 503 to no request")
	}
	if rep.Requests != calls+int(rep.SinkFailed) {
		t.Errorf("requests = %d, want %d deliveries plus %d failed attempts", rep.Requests, calls, rep.SinkFailed)
	}
}

func TestRunDrainsAfterOutage(t *testing.T) {
	const calls = 300
	opts := inProcessOptions(t, calls)
	opts.SinkDown = SinkDownUntilSpooled
	opts.RetryInitial = 20 * time.Millisecond
	opts.RetryMax = 100 * time.Millisecond
	rep := runLoad(t, opts)
	checkNothingLost(t, rep, calls)
	if rep.SinkReset == 0 {
		t.Error("no connection was reset while the sink was down")
	}
	if rep.DrainRate <= 0 {
		t.Errorf("drain rate = %v, want it measured", rep.DrainRate)
	}
}

func TestRunIngestOnly(t *testing.T) {
	const calls = 300
	opts := inProcessOptions(t, calls)
	opts.SinkDown = SinkDownAlways
	rep := runLoad(t, opts)
	if rep.Delivered != 0 {
		t.Errorf("delivered = %d while the sink was down the whole run", rep.Delivered)
	}
	if rep.SpoolRate <= 0 {
		t.Errorf("spool rate = %v, want every job spooled", rep.SpoolRate)
	}
	if rep.DroppedFreeSWITCH != 0 || rep.NotQueued != 0 {
		t.Errorf("events dropped %d, not queued %d; want none", rep.DroppedFreeSWITCH, rep.NotQueued)
	}
}

func TestRunMeasuresBaselines(t *testing.T) {
	opts := inProcessOptions(t, 300)
	opts.Baseline = true
	rep := runLoad(t, opts)
	b := rep.Baseline
	if b == nil {
		t.Fatal("the report has no baseline")
	}
	if b.Delivery.Count != 300 || b.Delivery.PerSecond <= 0 {
		t.Errorf("delivery baseline = %+v, want 300 requests at a measured rate", b.Delivery)
	}
	if b.Ingest.Count != 360 || b.Ingest.PerSecond <= 0 {
		t.Errorf("ingest baseline = %+v, want 360 events at a measured rate", b.Ingest)
	}
	if b.DeliveryRatio <= 0 || b.IngestRatio <= 0 {
		t.Errorf("ratios delivery %v, ingest %v; want both measured", b.DeliveryRatio, b.IngestRatio)
	}
	var table strings.Builder
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "delivery limit") {
		t.Errorf("the table does not show the delivery limit:\n%s", table.String())
	}
}

func TestRunRejectsInvalidOptions(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Options)
	}{
		{"no end", func(o *Options) { o.Plan = Plan{} }},
		{"negative rate", func(o *Options) { o.Plan.Rate = -1 }},
		{"two daemons", func(o *Options) { o.Postcall = "postcall" }},
		{"unknown outage", func(o *Options) { o.SinkDown = "sometimes" }},
		{"outage without duration", func(o *Options) { o.SinkDown = SinkDownFor }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := inProcessOptions(t, 10)
			tc.change(&opts)
			if _, err := Run(t.Context(), opts); err == nil {
				t.Error("Run returned no error")
			}
		})
	}
}

func TestIngestBaselineReadsEveryEvent(t *testing.T) {
	g := mustGenerator(t, GeneratorOptions{ExitShare: 0.5})
	res, err := IngestBaseline(t.Context(), g, esltest.Options{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if res.Count != 150 {
		t.Errorf("events read = %d, want 150", res.Count)
	}
	if res.PerSecond <= 0 || res.Seconds <= 0 {
		t.Errorf("baseline %+v has no rate", res)
	}
}

// TestRunProcess builds the postcall binary and runs it as a child
// process, so that its CPU time and memory are measured.
func TestRunProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the postcall binary")
	}
	binary := filepath.Join(t.TempDir(), "postcall")
	build := exec.Command("go", "build", "-o", binary, "github.com/postcall/postcall/cmd/postcall")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build postcall: %v\n%s", err, out)
	}

	const calls = 300
	opts := inProcessOptions(t, calls)
	opts.InProcess = false
	opts.Postcall = binary
	opts.AdminAddr = freeLoopbackAddr(t)
	rep := runLoad(t, opts)
	checkNothingLost(t, rep, calls)
	p := rep.Process
	if p == nil {
		t.Fatal("the report has no process figures")
	}
	if p.PeakRSSMiB <= 0 || p.EndRSSMiB <= 0 || p.PeakRSSMiB < p.EndRSSMiB {
		t.Errorf("RSS peak %.1f MiB, end %.1f MiB; want positive sizes with the peak at least the end", p.PeakRSSMiB, p.EndRSSMiB)
	}
	if p.CPUSeconds < 0 {
		t.Errorf("CPU time = %v s, want a non-negative time", p.CPUSeconds)
	}
}

// freeLoopbackAddr returns a loopback address whose port was free a moment
// ago, for a listener in another process.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
