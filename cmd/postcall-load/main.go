// Command postcall-load measures a postcall daemon under load. It serves a
// fake FreeSWITCH Event Socket that sends realistic IVR hangups and runs an
// HTTP sink in place of the webservice. It reports delivered calls per
// second, latency, missing and duplicated deliveries and dropped events.
// When it starts the daemon itself, it also reports the daemon's CPU time
// and memory.
//
// The work is done by package loadtest; this file maps flags to its
// options.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/loadtest"
)

const usage = `Usage: postcall-load [flags]

Serve a fake FreeSWITCH on -esl and a webservice sink on -sink, send IVR
calls to a postcall daemon and report how it kept up. The daemon is either
started by postcall-load (-postcall BINARY, or -inprocess) or started by you
with the configuration that -write-config writes.

Examples:
  postcall-load -postcall ./postcall -calls 20000 -baseline
  postcall-load -postcall ./postcall -rate 500 -duration 30s
  postcall-load -postcall ./postcall -calls 100000 -sink-down spooled
  postcall-load -write-config /tmp/load -calls 5000   (then: postcall run -config /tmp/load/postcall.toml)

Exit status: 0 when every call was delivered (or, with -sink-down always,
spooled) and no event was dropped, 3 when calls are missing or events were
dropped, 1 on an error, 2 on a usage error.

Flags:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// flags are the parsed command line.
type flags struct {
	opts        loadtest.Options
	sinkDown    string
	jsonOut     bool
	repeat      int
	cpuProfile  string
	blockProf   string
	postcallLog string
	verbose     bool
}

func parse(args []string, stderr io.Writer) (*flags, error) {
	f := &flags{}
	o := &f.opts
	fs := flag.NewFlagSet("postcall-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}

	fs.StringVar(&o.ESLAddr, "esl", "127.0.0.1:8021", "`address` the fake FreeSWITCH Event Socket listens on")
	fs.StringVar(&o.SinkAddr, "sink", "127.0.0.1:18080", "`address` the webservice sink listens on")
	fs.StringVar(&o.AdminAddr, "admin", "127.0.0.1:19466", "`address` of postcall's admin listener, written into the configuration and read for reader lag and progress; empty turns it off")
	fs.StringVar(&o.App, "app", "survey", "application `name` set in variable_fuse_app of every call")
	fs.Float64Var(&o.Plan.Rate, "rate", 0, "calls per second; 0 sends as fast as postcall reads")
	fs.IntVar(&o.Plan.Calls, "calls", 0, "number of calls to send (default 10000 when -duration is not set)")
	fs.DurationVar(&o.Plan.Duration, "duration", 0, "send calls for this long")
	fs.Float64Var(&o.ExitShare, "exit-share", 0.2, "share of calls, 0 to 1, whose IVR fires CUSTOM fuse::exit before the hangup")
	fs.DurationVar(&o.SinkDelay, "sink-delay", 0, "how long the sink waits before it answers each request")
	fs.Float64Var(&o.SinkFail, "sink-fail", 0, "share of requests, 0 to 1, the sink answers with 503")
	fs.StringVar(&f.sinkDown, "sink-down", "", "webservice outage: a `duration` from the first call, \"spooled\" (until every job is spooled, then measure the drain) or \"always\"; the sink resets connections while down")
	fs.StringVar(&o.ConfigDir, "write-config", "", "write the postcall configuration into this `folder` and keep it (default: a temporary folder, removed after the run)")
	fs.StringVar(&o.Postcall, "postcall", "", "start this postcall `binary` with the written configuration, and measure its CPU time and memory")
	fs.BoolVar(&o.InProcess, "inprocess", false, "run the daemon inside postcall-load (for -cpuprofile; CPU time and memory are then not measured)")
	fs.BoolVar(&o.Baseline, "baseline", false, "also measure the delivery limit (net/http client alone) and the ingest limit (esl reader alone)")
	fs.IntVar(&o.PerApp, "per-app", 8, "postcall's attempts in flight for the application, and the delivery limit's concurrency")
	fs.IntVar(&o.Workers, "workers", 32, "postcall's attempts in flight overall")
	fs.DurationVar(&o.RetryInitial, "retry-initial", time.Second, "postcall's delay before the second attempt")
	fs.DurationVar(&o.RetryMax, "retry-max", 5*time.Second, "postcall's maximum delay between attempts")
	fs.IntVar(&o.SendQueue, "send-queue", 1024, "frames the fake FreeSWITCH queues for postcall before it waits")
	fs.DurationVar(&o.SendTimeout, "send-timeout", 500*time.Millisecond, "how long a frame waits for room in a full queue before it is dropped and counted")
	fs.DurationVar(&o.Drain, "drain", time.Minute, "how long to wait for deliveries after the last call is sent")
	fs.DurationVar(&o.ConnectWait, "connect-wait", 0, "how long to wait for postcall to subscribe (default 10s when postcall-load starts it, 5m otherwise)")
	fs.DurationVar(&o.SampleInterval, "sample", 25*time.Millisecond, "how often postcall's status is read")
	fs.BoolVar(&f.jsonOut, "json", false, "print the report as JSON, with a timeline sampled once a second")
	fs.IntVar(&f.repeat, "repeat", 1, "run the whole measurement this many times, each with a fresh daemon, and print every run's main figures with their median")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of postcall-load to this `file`; samples carry the label part=postcall|sink|freeswitch|generator|harness|baseline")
	fs.StringVar(&f.blockProf, "blockprofile", "", "write a profile of where goroutines of postcall-load waited (on channels, locks, I/O syscalls excluded) to this `file`; most useful with -inprocess")
	fs.StringVar(&f.postcallLog, "postcall-log", "", "write the log of a daemon that postcall-load starts to this `file` (default: discard)")
	fs.BoolVar(&f.verbose, "v", false, "log progress")

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if f.repeat < 1 {
		return nil, fmt.Errorf("-repeat %d is not valid: use 1 or more", f.repeat)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: postcall-load takes only flags", fs.Arg(0))
	}
	if o.Plan.Calls == 0 && o.Plan.Duration == 0 {
		o.Plan.Calls = 10000
	}
	mode, downFor, err := loadtest.ParseSinkDown(f.sinkDown)
	if err != nil {
		return nil, err
	}
	o.SinkDown, o.SinkDownFor = mode, downFor
	return f, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	f, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "postcall-load: %v\n", err)
		return 2
	}

	log := logrus.New()
	log.SetOutput(stderr)
	log.SetLevel(logrus.WarnLevel)
	if f.verbose {
		log.SetLevel(logrus.InfoLevel)
	}
	f.opts.Logger = log

	if f.postcallLog != "" {
		file, err := os.Create(f.postcallLog)
		if err != nil {
			fmt.Fprintf(stderr, "postcall-load: create the postcall log: %v\n", err)
			return 1
		}
		defer file.Close()
		f.opts.DaemonOutput = file
	}
	if f.cpuProfile != "" {
		stop, err := startProfile(f.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "postcall-load: %v\n", err)
			return 1
		}
		defer stop()
	}

	if f.blockProf != "" {
		runtime.SetBlockProfileRate(int(time.Microsecond))
		defer writeBlockProfile(f.blockProf, stderr)
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	var reports []*loadtest.Report
	for i := range f.repeat {
		if f.repeat > 1 {
			log.WithField("run", i+1).Info("starting a run")
		}
		report, err := loadtest.Run(ctx, f.opts)
		if err != nil {
			fmt.Fprintf(stderr, "postcall-load: %v\n", err)
			return 1
		}
		reports = append(reports, report)
	}

	if err := writeReports(stdout, reports, f.jsonOut, f.verbose); err != nil {
		fmt.Fprintf(stderr, "postcall-load: write the report: %v\n", err)
		return 1
	}
	for _, r := range reports {
		if lostSomething(r, f.opts.SinkDown) {
			return 3
		}
	}
	return 0
}

// lostSomething reports whether a run lost a call or an event.
func lostSomething(r *loadtest.Report, sinkDown string) bool {
	missing := r.Missing > 0 && sinkDown != loadtest.SinkDownAlways
	daemonDrops := r.DroppedDaemon != nil && *r.DroppedDaemon > 0
	return missing || daemonDrops || r.DroppedFreeSWITCH > 0 || r.NotQueued > 0
}

// writeReports prints one run's report, or, for repeated runs, the main
// figures of every run with their median (and each run's report as well
// when verbose is set).
func writeReports(w io.Writer, reports []*loadtest.Report, asJSON, verbose bool) error {
	if len(reports) == 1 {
		if asJSON {
			return reports[0].WriteJSON(w)
		}
		return reports[0].WriteTable(w)
	}

	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Runs   []*loadtest.Report `json:"runs"`
			Median []loadtest.Figure  `json:"median"`
		}{reports, loadtest.MedianFigures(reports)})
	}
	if verbose {
		for i, r := range reports {
			fmt.Fprintf(w, "run %d\n", i+1)
			if err := r.WriteTable(w); err != nil {
				return err
			}
			fmt.Fprintln(w)
		}
	}
	return loadtest.WriteFiguresTable(w, reports)
}

// startProfile starts a CPU profile written to path and returns the
// function that ends it.
func startProfile(path string) (func(), error) {
	file, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create the CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(file); err != nil {
		file.Close()
		return nil, fmt.Errorf("start the CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		file.Close()
	}, nil
}

// writeBlockProfile writes the block profile collected since
// runtime.SetBlockProfileRate to path.
func writeBlockProfile(path string, stderr io.Writer) {
	file, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(stderr, "postcall-load: create the block profile: %v\n", err)
		return
	}
	defer file.Close()
	if err := pprof.Lookup("block").WriteTo(file, 0); err != nil {
		fmt.Fprintf(stderr, "postcall-load: write the block profile: %v\n", err)
	}
}
