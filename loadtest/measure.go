package loadtest

import (
	"context"
	"fmt"
	"runtime/pprof"
	"time"
)

// Timing of the phases after the last call is sent.
const (
	// settleWait bounds the wait, after every call was delivered, for the
	// daemon to finish recording its attempts, so that a late duplicate
	// still counts.
	settleWait = 5 * time.Second
	// settleSleep is that wait when the daemon's status cannot be read.
	settleSleep = 500 * time.Millisecond
	// progressEvery is how often the wait for deliveries logs progress.
	progressEvery = 5 * time.Second
)

// phases are the moments of a run that the report's rates are built from.
type phases struct {
	send      SendResult
	ingestAt  time.Time
	spooledAt time.Time
}

// measure sends the plan's calls, waits for their ingest, spooling and
// delivery, and fills in the report.
func (r *runner) measure(ctx context.Context) error {
	o := r.opts
	pid := 0
	if r.daemon != nil {
		pid = r.daemon.pid()
	}
	r.mon = newMonitor(r.prober(), pid, r.tracker, o.SampleInterval)
	if err := r.mon.setBase(ctx); err != nil {
		return err
	}
	monCtx, stopMonitor := context.WithCancel(ctx)
	monDone := make(chan struct{})
	pprof.Do(monCtx, pprof.Labels("part", "harness"), func(ctx context.Context) {
		go func() {
			r.mon.run(ctx)
			close(monDone)
		}()
	})
	defer func() {
		stopMonitor()
		<-monDone
	}()

	var procStart ProcSample
	if pid != 0 {
		var err error
		if procStart, err = ReadProc(pid); err != nil {
			return err
		}
	}

	p, err := r.sendAndWait(ctx)
	if err != nil {
		return err
	}

	var procEnd *ProcSample
	if pid != 0 {
		s, err := ReadProc(pid)
		if err != nil {
			return err
		}
		procEnd = &s
	}
	stopMonitor()
	<-monDone
	r.fillReport(p, procStart, procEnd)
	return nil
}

// sendAndWait runs the generator and then waits, each phase bounded by
// the drain deadline, until the daemon has read every event, spooled every
// job and delivered every call.
func (r *runner) sendAndWait(ctx context.Context) (phases, error) {
	o := r.opts
	var p phases
	if o.SinkDown != "" {
		r.sink.Down()
	}
	if o.SinkDown == SinkDownFor {
		t := time.AfterFunc(o.SinkDownFor, r.sink.Up)
		defer t.Stop()
	}

	r.log.WithField("calls", o.Plan.Calls).Info("sending calls")
	r.mon.sending.Store(true)
	pprof.Do(ctx, pprof.Labels("part", "generator"), func(ctx context.Context) {
		p.send = r.gen.Send(ctx, r.fake, r.tracker, o.Plan)
	})
	r.mon.sending.Store(false)
	if err := ctx.Err(); err != nil {
		return p, err
	}
	res := p.send
	r.log.WithField("calls", res.Calls).WithField("duration_ms", res.End.Sub(res.Start).Milliseconds()).Info("all calls sent")

	deadline := res.End.Add(o.Drain)
	wantEvents := res.Events - res.NotQueued
	wantJobs := res.Calls - res.NotQueued
	p.ingestAt, _ = r.mon.waitFor(ctx, deadline, func(st DaemonStatus) bool {
		return int(st.EventsReceived) >= wantEvents
	})
	// An event the daemon dropped may take its call's job with it, so
	// those count against the jobs to wait for. A dropped exit event does
	// not lose the job, so this bound may end the wait a little early.
	p.spooledAt, _ = r.mon.waitFor(ctx, deadline, func(st DaemonStatus) bool {
		return int(st.Fired) >= wantJobs-int(st.EventsDropped) && st.Buffered == 0
	})
	if o.SinkDown == SinkDownUntilSpooled {
		r.log.Info("every job is spooled; the sink comes up")
		r.sink.Up()
	}
	if o.SinkDown == SinkDownAlways {
		return p, ctx.Err()
	}

	if err := r.waitDelivered(ctx, res.Calls, deadline); err != nil {
		return p, err
	}
	r.settle(ctx)
	return p, ctx.Err()
}

// waitDelivered waits until calls calls are delivered, the deadline
// passes, ctx ends or the daemon exits.
func (r *runner) waitDelivered(ctx context.Context, calls int, deadline time.Time) error {
	var exited <-chan struct{}
	if r.daemon != nil {
		exited = r.daemon.exited()
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	nextLog := time.Now().Add(progressEvery)
	for {
		delivered := r.tracker.Delivered()
		if delivered >= calls {
			return nil
		}
		now := time.Now()
		if now.After(deadline) {
			r.log.WithField("delivered", delivered).WithField("calls", calls).
				Warn("stopped waiting for deliveries at the drain deadline; raise -drain to wait longer")
			return nil
		}
		if now.After(nextLog) {
			r.log.WithField("delivered", delivered).WithField("calls", calls).Info("waiting for deliveries")
			nextLog = now.Add(progressEvery)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return fmt.Errorf("postcall stopped during the run; see its log")
		case <-tick.C:
		}
	}
}

// settle waits until the daemon has no attempt in flight and nothing
// unwritten, so that duplicates sent late are counted.
func (r *runner) settle(ctx context.Context) {
	if r.mon.prober == nil {
		sleep(ctx, settleSleep)
		return
	}
	r.mon.waitFor(ctx, time.Now().Add(settleWait), func(st DaemonStatus) bool {
		return st.Pending == 0 && st.InFlight == 0 && st.Buffered == 0
	})
}

// fillReport turns the tracker's account and the samples into the report.
func (r *runner) fillReport(p phases, procStart ProcSample, procEnd *ProcSample) {
	o := r.opts
	rep := r.report
	res := p.send
	sum := r.tracker.Summarize()

	rep.Settings = r.settings()
	rep.Calls, rep.Events, rep.NotQueued = res.Calls, res.Events, res.NotQueued
	rep.SendSec = res.End.Sub(res.Start).Seconds()
	if rep.SendSec > 0 {
		rep.SendRate = float64(res.Calls) / rep.SendSec
	}
	rep.Delivered, rep.Missing, rep.Duplicated = sum.Delivered, sum.Missing, sum.Duplicated
	rep.Requests, rep.Unmatched = sum.Requests, sum.Unmatched
	rep.MissingIDs = sum.MissingIDs
	counts := r.sink.Counts()
	rep.SinkFailed, rep.SinkReset = counts.Failed, counts.Reset
	rep.DroppedFreeSWITCH = r.fake.Dropped()

	if sum.Delivered > 0 {
		if span := sum.LastDelivered - sum.FirstSent; span > 0 {
			rep.DeliveredRate = float64(sum.Delivered) / span.Seconds()
		}
		rep.Latency = &Latency{
			P50: ms(Percentile(sum.Latencies, 50)), P95: ms(Percentile(sum.Latencies, 95)),
			P99: ms(Percentile(sum.Latencies, 99)), Max: ms(sum.Latencies[len(sum.Latencies)-1]),
		}
	}
	if up := r.sink.UpAt(); o.SinkDown != "" && !up.IsZero() && sum.Delivered > 0 {
		if span := r.tracker.base.Add(sum.LastDelivered).Sub(up); span > 0 {
			rep.DrainRate = float64(sum.Delivered) / span.Seconds()
		}
	}
	if !p.ingestAt.IsZero() {
		rep.IngestRate = float64(res.Events-res.NotQueued) / p.ingestAt.Sub(res.Start).Seconds()
	}
	if !p.spooledAt.IsZero() {
		rep.SpoolRate = float64(res.Calls-res.NotQueued) / p.spooledAt.Sub(res.Start).Seconds()
	}

	r.fillSamples(procStart, procEnd)
	r.fillBaselineRatios()
}

func (r *runner) fillSamples(procStart ProcSample, procEnd *ProcSample) {
	rep := r.report
	if st, ok, _ := r.mon.status(); ok {
		dropped := st.EventsDropped
		rep.DroppedDaemon = &dropped
		maxLag, p99, n := r.mon.lagStats()
		rep.ReaderLag = &ReaderLag{P99: ms(p99), Max: ms(maxLag), Samples: n}
	} else {
		rep.Notes = append(rep.Notes, "the daemon's status was not read, so reader lag, ingest and spool rates and its own drops are unknown; give its admin listener with -admin")
	}
	if err := r.mon.probeErr; err != nil {
		rep.Notes = append(rep.Notes, "reading the daemon's status failed at least once: "+err.Error())
	}

	if procEnd != nil {
		cpu := (procEnd.CPU - procStart.CPU).Seconds()
		f := &ProcessFigures{
			CPUSeconds: cpu,
			PeakRSSMiB: mib(procEnd.HWM), EndRSSMiB: mib(procEnd.RSS),
			EndAnonMiB: mib(procEnd.RSSAnon), EndFileMiB: mib(procEnd.RSSFile),
			MinRSSMiB: mib(r.mon.rssMin), MaxRSSMiB: mib(r.mon.rssMax),
		}
		f.WrittenKiBPerCall = -1
		if rep.Calls > 0 {
			f.CPUPer1000Calls = cpu / float64(rep.Calls) * 1000
			if procStart.WriteBytes >= 0 && procEnd.WriteBytes >= 0 {
				f.WrittenKiBPerCall = float64(procEnd.WriteBytes-procStart.WriteBytes) / 1024 / float64(rep.Calls)
			}
		}
		rep.Process = f
	} else if r.opts.InProcess {
		rep.Notes = append(rep.Notes, "the daemon ran in this process, so its CPU time and memory are not measured apart from the harness")
	}
	rep.Timeline = r.mon.timeline
}

func (r *runner) fillBaselineRatios() {
	rep := r.report
	b := rep.Baseline
	if b == nil {
		return
	}
	if b.Delivery.PerSecond > 0 {
		b.DeliveryRatio = rep.DeliveredRate / b.Delivery.PerSecond
	}
	if b.Ingest.PerSecond > 0 {
		b.IngestRatio = rep.IngestRate / b.Ingest.PerSecond
	}
	if r.opts.Plan.Rate > 0 {
		rep.Notes = append(rep.Notes, "the run was paced, so the ratios compare a paced rate with unpaced limits")
	}
}

func (r *runner) settings() Settings {
	o := r.opts
	s := Settings{
		Mode: "external", Rate: o.Plan.Rate, Calls: o.Plan.Calls, ExitShare: o.ExitShare,
		SinkDelay: o.SinkDelay.String(), SinkFail: o.SinkFail, SinkDown: o.SinkDown,
		PerApp: o.PerApp, Config: r.mainFile,
	}
	switch {
	case o.InProcess:
		s.Mode = "in-process"
	case o.Postcall != "":
		s.Mode = "process " + o.Postcall
	}
	if o.Plan.Duration > 0 {
		s.Duration = o.Plan.Duration.String()
	}
	if o.SinkDown == SinkDownFor {
		s.SinkDown = o.SinkDownFor.String()
	}
	return s
}
