package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/hooks"
	"github.com/postcall/postcall/metrics"
	"github.com/postcall/postcall/soap"
	"github.com/postcall/postcall/spool"
)

// DefaultShutdownTimeout is how long in-flight attempts may finish after a
// stop signal. A service manager's stop timeout must be longer.
const DefaultShutdownTimeout = 10 * time.Second

// Options are the process-wide settings of a Daemon.
type Options struct {
	// Logger receives every log entry. Default: the logrus standard logger.
	Logger *logrus.Logger
	// Version is reported in metrics and the User-Agent.
	Version string
	// ShutdownTimeout bounds how long in-flight attempts may finish after
	// a stop request. Default DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// WSDLWait bounds the first read of every WSDL at start. Default 10s.
	WSDLWait time.Duration
}

// Daemon is one running postcall.
type Daemon struct {
	opts    Options
	log     *logrus.Logger
	metrics *metrics.Metrics
	store   *spool.BoltStore
	queue   *spool.Queue
	client  *esl.Client
	engine  *hooks.Engine
	admin   *metrics.Server
	status  *statusRecorder

	soapSender delivery.Sender
	reloads    chan struct{}
	// eslAddr is the FreeSWITCH address the client connects to, which a
	// reload does not change.
	eslAddr       string
	restartNeeded atomic.Bool

	soapClients atomic.Pointer[map[string]*soap.Client]

	mu  sync.Mutex // serializes Reload
	cfg atomic.Pointer[conf.Config]

	closeOnce sync.Once
}

// New builds a daemon from a loaded configuration. Everything that can
// fail at start fails here: the applications are compiled and the spool is
// opened. Nothing connects until Run.
func New(cfg *conf.Config, opts Options) (*Daemon, error) {
	if opts.Logger == nil {
		opts.Logger = logrus.StandardLogger()
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opts.WSDLWait <= 0 {
		opts.WSDLWait = 10 * time.Second
	}
	d := &Daemon{opts: opts, log: opts.Logger, metrics: metrics.New(), status: newStatusRecorder(50), reloads: make(chan struct{}, 1)}
	d.metrics.SetBuildInfo(opts.Version)
	d.cfg.Store(cfg)
	main := &cfg.Main

	empty := map[string]*soap.Client{}
	d.soapClients.Store(&empty)
	soapSender := soap.NewSender(soap.Options{
		Clients: func(app string) *soap.Client {
			return (*d.soapClients.Load())[app]
		},
		Timeout:           time.Duration(main.Delivery.Timeout * float64(time.Second)),
		MaxResponseBytes:  int64(main.Delivery.MaxResponseBytes),
		IdempotencyHeader: main.Delivery.IdempotencyHeader,
		UserAgent:         d.userAgent(),
		MaxRetryAfter:     main.Delivery.Retry.MaxRetryAfter.D(),
		Logger:            d.log,
	})
	d.soapSender = soapSender

	apps, err := BuildApps(cfg, BuildOptions{Logger: d.log, UserAgent: d.userAgent(), SOAPSender: soapSender})
	if err != nil {
		return nil, err
	}
	d.soapClients.Store(&apps.SOAP)
	d.metrics.SetApps(appNames(cfg))

	d.store, err = spool.OpenBolt(main.Spool.Path, spool.BoltOptions{Logger: d.log})
	if err != nil {
		return nil, err
	}
	d.queue, err = spool.NewQueue(spool.Options{
		Store:         d.store,
		Apps:          apps.Policies,
		Workers:       main.Delivery.Workers,
		MemoryQueue:   main.Spool.MemoryQueue,
		KeepDelivered: main.Spool.KeepDelivered.D(),
		Logger:        d.log,
		Observer:      &observer{metrics: d.metrics, status: d.status},
	})
	if err != nil {
		d.store.Close()
		return nil, err
	}

	eslConfig := esl.Config{
		Addr:         main.FreeSWITCH.Address,
		Password:     main.FreeSWITCH.Password,
		Format:       main.FreeSWITCH.EventFormat,
		Subclasses:   []string{main.FreeSWITCH.ExitSubclass},
		QueueSize:    main.FreeSWITCH.QueueSize,
		AuthTimeout:  main.FreeSWITCH.AuthTimeout.D(),
		Watchdog:     main.FreeSWITCH.Watchdog.D(),
		ReconnectMin: main.FreeSWITCH.ReconnectMin.D(),
		ReconnectMax: main.FreeSWITCH.ReconnectMax.D(),
		Logger:       d.log,
	}
	if err := eslConfig.Validate(); err != nil {
		d.store.Close()
		return nil, fmt.Errorf("%s: [freeswitch]: %w", cfg.File, err)
	}
	d.client = esl.New(eslConfig)
	d.eslAddr = eslConfig.Addr
	d.metrics.SetESLSource(func() (bool, uint64, uint64) {
		st := d.client.Status()
		return st.Connected, uint64(st.Reconnects), st.Dropped
	})

	d.engine = hooks.New(hooks.Config{
		AppVar:       main.Variables.App,
		Prefix:       main.Variables.Prefix,
		ExitVar:      main.Variables.Exit,
		ExitSubclass: main.FreeSWITCH.ExitSubclass,
		ExitGrace:    main.Variables.ExitGrace.D(),
		Apps:         apps.Hooks,
		Submit:       d.queue.Submit,
		Logger:       d.log,
	})

	if main.Admin.Listen != "" {
		d.admin = metrics.NewServer(main.Admin.Listen, d.metrics, d.Ready, d.adminHandlers(), d.log)
	}
	return d, nil
}

func appNames(cfg *conf.Config) []string {
	names := make([]string, 0, len(cfg.Apps))
	for _, a := range cfg.Apps {
		names = append(names, a.Name)
	}
	return names
}

func (d *Daemon) userAgent() string {
	if ua := d.cfg.Load().Main.Delivery.UserAgent; ua != "" {
		return ua
	}
	return "postcall/" + d.opts.Version
}

// Ready returns nil when FreeSWITCH is connected and the spool is
// writable, and otherwise the reason the daemon is not ready.
func (d *Daemon) Ready() error {
	if st := d.client.Status(); !st.Connected {
		if st.LastError != "" {
			return fmt.Errorf("FreeSWITCH not connected: %s", st.LastError)
		}
		return errors.New("FreeSWITCH not connected")
	}
	if err := d.queue.Ready(); err != nil {
		return fmt.Errorf("spool %s not writable: %w", d.cfg.Load().Main.Spool.Path, err)
	}
	return nil
}

// AdminAddr returns the address the admin listener is bound to, or "" when
// it is off or not started.
func (d *Daemon) AdminAddr() string {
	if d.admin == nil {
		return ""
	}
	return d.admin.Addr()
}

// ESLStatus returns the Event Socket client's status.
func (d *Daemon) ESLStatus() esl.Status { return d.client.Status() }

// QueueStats returns the queue's counts.
func (d *Daemon) QueueStats() spool.QueueStats { return d.queue.Stats() }

// Run starts every part and blocks until ctx is done, then stops them in
// order: no more events are read, pending exit events fire, in-flight
// attempts get ShutdownTimeout to finish, and the spool is closed. What did
// not finish stays in the spool for the next start.
func (d *Daemon) Run(ctx context.Context) error {
	if d.admin != nil {
		if err := d.admin.Start(); err != nil {
			d.close()
			return err
		}
	}
	cfg := d.cfg.Load()
	d.log.WithFields(logrus.Fields{
		"config": cfg.File, "apps": len(cfg.Apps), "freeswitch": cfg.Main.FreeSWITCH.Address,
		"spool": cfg.Main.Spool.Path, "version": d.opts.Version,
	}).Info("postcall started")

	queueCtx, stopQueue := context.WithCancel(context.Background())
	defer stopQueue()
	queueDone := make(chan error, 1)
	go func() { queueDone <- d.queue.Run(queueCtx) }()

	go waitForWSDLs(ctx, &Apps{SOAP: *d.soapClients.Load()}, d.log, d.opts.WSDLWait)

	eslDone := make(chan error, 1)
	go func() { eslDone <- d.client.Run(ctx) }()

	events := make(chan esl.Event)
	go d.countEvents(ctx, events)
	engineDone := make(chan struct{})
	go func() {
		d.engine.Run(ctx, events)
		close(engineDone)
	}()

	go d.reloadLoop(ctx)

	depthDone := make(chan struct{})
	go func() {
		d.publishQueueDepth(ctx)
		close(depthDone)
	}()

	<-ctx.Done()
	d.log.Info("stopping: no more events are read")
	<-eslDone
	<-engineDone
	<-depthDone

	shutdownCtx, cancel := context.WithTimeout(context.Background(), d.opts.ShutdownTimeout)
	defer cancel()
	if err := d.queue.Shutdown(shutdownCtx); err != nil {
		d.log.WithField("error", err).Warn("in-flight attempts did not finish; they are retried after restart")
	}
	stopQueue()
	<-queueDone
	d.close()
	if d.admin != nil {
		d.admin.Shutdown(shutdownCtx)
	}
	d.log.Info("postcall stopped")
	return nil
}

func (d *Daemon) close() {
	d.closeOnce.Do(func() {
		if err := d.store.Close(); err != nil {
			d.log.WithField("error", err).Error("closing the spool failed")
		}
	})
}

// countEvents forwards the client's events in order and counts them by
// name for the metrics.
func (d *Daemon) countEvents(ctx context.Context, out chan<- esl.Event) {
	defer close(out)
	in := d.client.Events()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-in:
			if !ok {
				return
			}
			d.metrics.EventReceived(ev.Name())
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (d *Daemon) publishQueueDepth(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		st := d.queue.Stats()
		counts := make(map[string]map[delivery.State]int, len(st.Apps))
		for app, s := range st.Apps {
			counts[app] = map[delivery.State]int{
				delivery.StatePending:   s.Pending,
				delivery.StateDelivered: s.Delivered,
				delivery.StateDead:      s.Dead,
			}
		}
		d.metrics.SetQueueDepth(counts)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Reload replaces the applications with those of cfg. Every fallible step
// runs first; on any error the running applications stay and the error is
// returned. Jobs already spooled keep the request they were rendered with.
// Settings of the main file other than the applications take effect at the
// next restart, and a change to them is logged.
func (d *Daemon) Reload(cfg *conf.Config) error {
	d.mu.Lock()
	defer d.mu.Unlock()

	apps, err := BuildApps(cfg, BuildOptions{Logger: d.log, UserAgent: d.userAgent(), SOAPSender: d.soapSender})
	if err != nil {
		return err
	}
	if err := d.readWSDLs(cfg, apps); err != nil {
		return err
	}
	old := d.cfg.Load()
	d.soapClients.Store(&apps.SOAP)
	d.queue.SetApps(apps.Policies)
	d.engine.SetApps(apps.Hooks)
	d.metrics.SetApps(appNames(cfg))
	d.cfg.Store(cfg)
	if mainChanged(&old.Main, &cfg.Main) {
		d.log.Warn(MainChangedWarning)
		d.restartNeeded.Store(true)
	}
	d.log.WithField("apps", len(cfg.Apps)).Info("configuration reloaded")
	return nil
}

// MainChangedWarning is logged, and returned to `postcall reload`, when a
// reload finds main-file settings changed that only a restart applies.
const MainChangedWarning = "settings of the main file other than the applications changed; they take effect after a restart"

// RestartNeeded reports whether a reload found main-file settings changed
// that only a restart applies.
func (d *Daemon) RestartNeeded() bool { return d.restartNeeded.Load() }

// readWSDLs reads the WSDL of every SOAP application of a reload and checks
// the application against it. A WSDL that cannot be read keeps the one the
// running application read from the same location. With none, the
// application starts unread, as at start, and its jobs wait. A WSDL that is
// read but lacks the method or its parameters fails the reload.
func (d *Daemon) readWSDLs(cfg *conf.Config, apps *Apps) error {
	running := *d.soapClients.Load()
	for _, app := range cfg.Apps {
		client, ok := apps.SOAP[app.Name]
		if !ok {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), d.opts.WSDLWait)
		svc, err := client.Refresh(ctx)
		cancel()
		if err != nil {
			log := d.log.WithFields(logrus.Fields{"app": app.Name, "error": err})
			old := running[app.Name]
			if old == nil || old.WSDL() != client.WSDL() || old.Cached() == nil {
				log.Warn("WSDL not readable during reload; this application's jobs wait and the WSDL is read again with backoff")
				continue
			}
			log.Warn("WSDL not readable during reload; keeping the WSDL read before")
			svc = old.Cached()
			apps.SOAP[app.Name] = client.WithService(svc)
		}
		if err := svc.Check(app.Method, app.SOAPVersion, SOAPParamNames(app)); err != nil {
			return fmt.Errorf("%s: application %q: %w", app.File, app.Name, err)
		}
	}
	return nil
}

func mainChanged(a, b *conf.Main) bool {
	return a.FreeSWITCH != b.FreeSWITCH || a.Variables != b.Variables || a.Spool != b.Spool ||
		a.Admin != b.Admin || a.Delivery != b.Delivery
}

// isPrivate reports whether the configured application app is private.
func (d *Daemon) isPrivate(app string) bool {
	a := d.cfg.Load().App(app)
	return a != nil && a.Private
}

func (d *Daemon) adminHandlers() map[string]http.Handler {
	return map[string]http.Handler{
		"/status": http.HandlerFunc(d.serveStatus),
		"/reload": http.HandlerFunc(d.serveReload),
		"/spool/": spool.NewHandler(d.store, d.isPrivate),
	}
}

// RequestReload schedules a reload of the configuration file. It never
// blocks, and requests that arrive while one is waiting are merged into it,
// so a burst of SIGHUPs causes one reload.
func (d *Daemon) RequestReload() {
	select {
	case d.reloads <- struct{}{}:
	default:
	}
}

// ReloadFile loads the configuration file the daemon was started with and
// applies it with Reload. A failed reload is logged and returned, and the
// running configuration stays.
func (d *Daemon) ReloadFile() error {
	path := d.cfg.Load().File
	cfg, err := conf.Load(path)
	if err == nil {
		err = d.Reload(cfg)
	}
	if err != nil {
		d.log.WithFields(logrus.Fields{"config": path, "error": err}).Error("reload failed; the running configuration stays")
		return err
	}
	for _, w := range cfg.Warnings {
		d.log.Warn(w)
	}
	return nil
}

func (d *Daemon) reloadLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.reloads:
		}
		// Requests that arrive within reloadSettle of the first one, such
		// as a burst of SIGHUPs from a deploy script, join this reload.
		settle := time.NewTimer(reloadSettle)
	collect:
		for {
			select {
			case <-ctx.Done():
				settle.Stop()
				return
			case <-d.reloads:
			case <-settle.C:
				break collect
			}
		}
		d.ReloadFile()
	}
}

// reloadSettle is how long a reload request waits for more requests to
// join it.
const reloadSettle = 200 * time.Millisecond

func (d *Daemon) serveReload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST to reload", http.StatusMethodNotAllowed)
		return
	}
	if err := d.ReloadFile(); err != nil {
		http.Error(w, "reload failed; the running configuration stays:\n"+err.Error(), http.StatusUnprocessableEntity)
		return
	}
	fmt.Fprintln(w, "configuration reloaded")
	if d.RestartNeeded() {
		fmt.Fprintln(w, "warning: "+MainChangedWarning)
	}
}
