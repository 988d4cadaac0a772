package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/esl/esltest"
)

// Sink outage modes for Options.SinkDown.
const (
	// SinkDownFor keeps the sink down for Options.SinkDownFor from the
	// first call.
	SinkDownFor = "for"
	// SinkDownUntilSpooled keeps the sink down until every call is sent
	// and its job is written to the spool, then brings it up and measures
	// the drain.
	SinkDownUntilSpooled = "spooled"
	// SinkDownAlways keeps the sink down for the whole run: only ingest and
	// spooling are measured.
	SinkDownAlways = "always"
)

// Options configure a load run.
type Options struct {
	// ESLAddr is the fake FreeSWITCH's listen address. Default
	// 127.0.0.1:8021.
	ESLAddr string
	// SinkAddr is the sink's listen address. Default 127.0.0.1:18080.
	SinkAddr string
	// AdminAddr is the daemon's admin listener: written into the
	// configuration, and polled for reader lag and progress. "" turns the
	// listener off; a daemon in this process is then read directly, and
	// any other is not read at all.
	AdminAddr string
	// App is the application name in the calls and the configuration.
	// Default survey.
	App string

	Plan      Plan
	ExitShare float64

	SinkDelay time.Duration
	SinkFail  float64
	// SinkDown is "", SinkDownFor, SinkDownUntilSpooled or SinkDownAlways.
	SinkDown    string
	SinkDownFor time.Duration

	// ConfigDir receives the configuration the run writes. Default: a
	// temporary folder, removed after the run.
	ConfigDir string
	// Postcall is a postcall binary to start as a child process. When it is
	// empty and InProcess is false, the harness waits for a daemon that the
	// user starts with the written configuration.
	Postcall  string
	InProcess bool
	// DaemonOutput receives the log of a daemon the harness starts.
	// Default: discard.
	DaemonOutput io.Writer

	// Baseline measures the delivery and ingest limits in the same run.
	Baseline bool
	// PerApp and Workers are the daemon's concurrency settings; PerApp is
	// also the delivery baseline's concurrency. Defaults 8 and 32.
	PerApp  int
	Workers int
	// RetryInitial and RetryMax bound the daemon's retry backoff.
	// Defaults 1s and 5s.
	RetryInitial time.Duration
	RetryMax     time.Duration

	// SendQueue and SendTimeout configure the fake FreeSWITCH's per-client
	// queue (esltest.Options). Defaults 1024 frames and 500ms.
	SendQueue   int
	SendTimeout time.Duration

	// ConnectWait bounds the wait for the daemon to subscribe. Default 10s
	// for a daemon the harness starts, 5m for an external one.
	ConnectWait time.Duration
	// Drain bounds the wait for deliveries after the last call is sent.
	// Default 60s.
	Drain time.Duration
	// SampleInterval is how often the daemon's status is read. Default
	// 25ms.
	SampleInterval time.Duration

	// Logger receives progress messages. Default: the logrus standard
	// logger.
	Logger logrus.FieldLogger
}

func (o *Options) setDefaults() {
	if o.ESLAddr == "" {
		o.ESLAddr = "127.0.0.1:8021"
	}
	if o.SinkAddr == "" {
		o.SinkAddr = "127.0.0.1:18080"
	}
	if o.App == "" {
		o.App = "survey"
	}

	if o.PerApp <= 0 {
		o.PerApp = 8
	}
	if o.Workers <= 0 {
		o.Workers = 32
	}

	if o.SendQueue <= 0 {
		o.SendQueue = 1024
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 500 * time.Millisecond
	}

	if o.ConnectWait <= 0 {
		o.ConnectWait = 10 * time.Second
		if o.Postcall == "" && !o.InProcess {
			o.ConnectWait = 5 * time.Minute
		}
	}
	if o.Drain <= 0 {
		o.Drain = time.Minute
	}
	if o.SampleInterval <= 0 {
		o.SampleInterval = 25 * time.Millisecond
	}

	if o.DaemonOutput == nil {
		o.DaemonOutput = io.Discard
	}
	if o.Logger == nil {
		o.Logger = logrus.StandardLogger()
	}
}

func (o *Options) validate() error {
	if o.Plan.Calls <= 0 && o.Plan.Duration <= 0 {
		return errors.New("the run has no end: set a number of calls or a duration")
	}
	if o.Plan.Rate < 0 {
		return fmt.Errorf("rate %v is not valid: use calls per second, or 0 for as fast as the daemon reads", o.Plan.Rate)
	}
	if o.Postcall != "" && o.InProcess {
		return errors.New("choose one of -postcall and -inprocess")
	}
	switch o.SinkDown {
	case "", SinkDownUntilSpooled, SinkDownAlways:
	case SinkDownFor:
		if o.SinkDownFor <= 0 {
			return errors.New("sink outage of mode \"for\" needs a positive duration")
		}
	default:
		return fmt.Errorf("sink outage %q is not valid: use a duration, %q or %q", o.SinkDown, SinkDownUntilSpooled, SinkDownAlways)
	}
	return nil
}

// ParseSinkDown parses the -sink-down value: "" (never down), a duration
// such as "30s", "spooled" or "always".
func ParseSinkDown(value string) (mode string, d time.Duration, err error) {
	switch value {
	case "", SinkDownUntilSpooled, SinkDownAlways:
		return value, 0, nil
	}
	d, err = time.ParseDuration(value)
	if err != nil || d <= 0 {
		return "", 0, fmt.Errorf("sink outage %q is not valid: use a positive duration such as 30s, %q or %q", value, SinkDownUntilSpooled, SinkDownAlways)
	}
	return SinkDownFor, d, nil
}

// runner holds the parts of one run.
type runner struct {
	opts     Options
	log      logrus.FieldLogger
	tracker  *Tracker
	sink     *Sink
	fake     *esltest.Server
	dir      string
	mainFile string
	daemon   runningDaemon
	gen      *Generator
	mon      *monitor
	report   *Report
	cleanups []func()
}

// Run starts the sink and the fake FreeSWITCH, writes a configuration,
// starts or waits for the daemon, optionally measures the baselines, sends
// the calls of opts.Plan and waits for their deliveries, and returns the
// report. It stops whatever it started before it returns.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	r := &runner{opts: opts, log: opts.Logger, tracker: NewTracker(), report: &Report{}}
	defer r.cleanup()

	if err := r.start(ctx); err != nil {
		return nil, err
	}
	if opts.Baseline {
		if err := r.measureBaselines(ctx); err != nil {
			return nil, err
		}
	}
	if err := r.measure(ctx); err != nil {
		return nil, err
	}
	return r.report, nil
}

func (r *runner) cleanup() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// start brings up the sink, the fake FreeSWITCH, the configuration and
// the daemon, and waits until the daemon subscribed.
func (r *runner) start(ctx context.Context) error {
	o := r.opts
	var err error
	pprof.Do(ctx, pprof.Labels("part", "sink"), func(context.Context) {
		r.sink, err = StartSink(SinkOptions{Addr: o.SinkAddr, Delay: o.SinkDelay, FailRatio: o.SinkFail, Tracker: r.tracker})
	})
	if err != nil {
		return err
	}
	r.cleanups = append(r.cleanups, r.sink.Close)

	pprof.Do(ctx, pprof.Labels("part", "freeswitch"), func(context.Context) {
		r.fake, err = startFake(esltest.Options{Addr: o.ESLAddr, SendQueue: o.SendQueue, SendTimeout: o.SendTimeout})
	})
	if err != nil {
		return err
	}
	r.cleanups = append(r.cleanups, r.fake.Close)

	if err := r.writeConfig(); err != nil {
		return err
	}
	if err := r.startDaemon(); err != nil {
		return err
	}

	waitCtx, cancel := context.WithTimeout(ctx, o.ConnectWait)
	defer cancel()
	sub, err := r.fake.WaitSubscribed(waitCtx)
	if err != nil {
		return fmt.Errorf("postcall did not subscribe to the fake FreeSWITCH at %s within %s: %w", r.fake.Addr(), o.ConnectWait, err)
	}
	r.log.WithField("subscription", sub).Info("postcall subscribed")

	format := "json"
	if words := strings.Fields(sub); len(words) > 1 {
		format = words[1]
	}
	r.gen, err = NewGenerator(GeneratorOptions{Format: format, App: o.App, ExitShare: o.ExitShare})
	return err
}

// startFake starts the fake FreeSWITCH. esltest.NewServer panics when it
// cannot listen, as httptest does; the harness turns that into an error.
func startFake(opts esltest.Options) (fake *esltest.Server, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("start the fake FreeSWITCH on %s: %v; choose a free address with -esl", opts.Addr, p)
		}
	}()
	return esltest.NewServer(opts), nil
}

// writeConfig writes the daemon's configuration, into a temporary folder
// unless the options name one. A spool left in that folder by an earlier
// run is removed when the harness starts the daemon, so its jobs do not
// count in this run.
func (r *runner) writeConfig() error {
	o := r.opts
	r.dir = o.ConfigDir
	if r.dir == "" {
		dir, err := os.MkdirTemp("", "postcall-load-")
		if err != nil {
			return fmt.Errorf("create a folder for the configuration: %w", err)
		}
		r.dir = dir
		r.cleanups = append(r.cleanups, func() { os.RemoveAll(dir) })
	}
	spoolPath := filepath.Join(r.dir, "spool", "spool.db")
	if o.Postcall != "" || o.InProcess {
		if err := os.Remove(spoolPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove the spool of an earlier run: %w", err)
		}
	}
	mainFile, err := WriteConfig(r.dir, ConfigOptions{
		ESLAddr: r.fake.Addr(), SinkURL: r.sink.URL(), App: o.App, AdminAddr: o.AdminAddr,
		SpoolPath: spoolPath, Workers: o.Workers, PerApp: o.PerApp,
		RetryInitial: o.RetryInitial, RetryMax: o.RetryMax,
	})
	if err != nil {
		return err
	}
	r.mainFile = mainFile
	return nil
}

func (r *runner) startDaemon() error {
	o := r.opts
	switch {
	case o.InProcess:
		d, err := startInProcess(r.mainFile, o.DaemonOutput)
		if err != nil {
			return err
		}
		r.daemon = d
	case o.Postcall != "":
		d, err := startProcess(o.Postcall, r.mainFile, o.AdminAddr, o.DaemonOutput)
		if err != nil {
			return err
		}
		r.daemon = d
		r.log.WithField("pid", d.pid()).Info("postcall started")
	default:
		r.log.Infof("waiting for postcall: start it with `postcall run -config %s`", r.mainFile)
	}
	if r.daemon != nil {
		d := r.daemon
		r.cleanups = append(r.cleanups, func() {
			if err := d.stop(); err != nil {
				r.log.WithField("error", err).Warn("stopping the daemon failed")
			}
		})
	}
	return nil
}

// prober returns how to read the daemon's status, or nil when there is
// no way.
func (r *runner) prober() Prober {
	if r.daemon != nil {
		return r.daemon.prober()
	}
	if r.opts.AdminAddr != "" {
		return NewHTTPProber(r.opts.AdminAddr)
	}
	return nil
}

// measureBaselines runs the delivery and ingest limits while the daemon
// idles.
func (r *runner) measureBaselines(ctx context.Context) error {
	o := r.opts
	count := o.Plan.Calls
	if count <= 0 {
		count = 20000
	}
	count = min(count, 100000)

	var reqs, err = RenderRequests(ctx, r.mainFile, r.gen, min(count, 1000))
	if err != nil {
		return fmt.Errorf("render the baseline requests: %w", err)
	}
	b := &BaselineFigures{}
	r.log.WithField("requests", count).Info("measuring the delivery limit")
	pprof.Do(ctx, pprof.Labels("part", "baseline"), func(ctx context.Context) {
		b.Delivery, err = DeliveryBaseline(ctx, reqs, o.PerApp, count)
	})
	if err != nil {
		return err
	}
	r.log.WithField("calls", count).Info("measuring the ingest limit")
	pprof.Do(ctx, pprof.Labels("part", "baseline"), func(ctx context.Context) {
		b.Ingest, err = IngestBaseline(ctx, r.gen, esltest.Options{SendQueue: o.SendQueue, SendTimeout: o.SendTimeout}, count)
	})
	if err != nil {
		return err
	}
	r.report.Baseline = b
	return nil
}
