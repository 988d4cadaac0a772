// Package hooks turns FreeSWITCH events into post-call jobs. It reads
// CHANNEL_HANGUP_COMPLETE events and the IVR's exit event (CUSTOM fuse::exit)
// in wire order and decides which channel ends an IVR call and why. It then
// maps the channel data to Fuse-style variables, has the application render
// its request, and hands one self-contained delivery.Job per call to the spool.
//
// hooks never sends a request and does no network or disk I/O of its own.
// Its only call that may block is Config.Submit, which waits while the spool
// applies backpressure, so the event reader upstream is never held up by a
// slow webservice.
package hooks

import (
	"context"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/render"
)

// Defaults for the zero fields of Config.
const (
	DefaultAppVar       = "fuse_app"
	DefaultPrefix       = "fuse_var_"
	DefaultExitVar      = "fuse_exit"
	DefaultExitSubclass = "fuse::exit"
	DefaultExitGrace    = 2 * time.Second
	DefaultDedupSize    = 100000
	DefaultPendingExits = 100000
)

// The event names hooks acts on. Every other event is counted and ignored.
const (
	eventHangupComplete = "CHANNEL_HANGUP_COMPLETE"
	eventCustom         = "CUSTOM"
)

// maxWarnedNames bounds the unknown application names that are each logged
// once; past it, unknown names are only counted.
const maxWarnedNames = 1000

// App is one configured application as hooks needs it.
type App struct {
	Name string
	// Variables is the application's [variables] table: a variable name
	// mapped to its source, "channel:X", "event:X", "exit:X" or "text:literal".
	Variables map[string]string
	// Private mirrors the application's private setting. When it is set, a
	// Build error is logged without its text, because the text may quote
	// rendered data.
	Private bool
	// Build renders the application's request from the call's variables and
	// returns a job with Kind, Private, Request or SOAP, and Missing set.
	// hooks fills in the call's identity and the delivery record.
	Build func(vars render.Vars) (*delivery.Job, error)
	// Needs lists the variable names the application's templates use. When
	// it is set, Variables leaves out the channel., event., exit. and SIP
	// header names that are not listed, which spares building some 300
	// names per call. Nil means every name.
	Needs []string

	needsOnce sync.Once
	raw       *rawNeeds
}

// rawNeeds holds the raw names an application uses, by kind, keyed the way
// the headers spell them so that no name is built to be looked up.
type rawNeeds struct {
	event, channel, sip, exit map[string]bool
}

// rawNames returns the raw names the application uses, or nil for all.
func (a *App) rawNames() *rawNeeds {
	if a == nil || a.Needs == nil {
		return nil
	}
	a.needsOnce.Do(func() {
		r := &rawNeeds{event: map[string]bool{}, channel: map[string]bool{}, sip: map[string]bool{}, exit: map[string]bool{}}
		for _, name := range a.Needs {
			if v, ok := strings.CutPrefix(name, EventPrefix); ok {
				r.event[v] = true
			}
			if v, ok := strings.CutPrefix(name, ChannelPrefix); ok {
				r.channel[v] = true
			}
			if v, ok := strings.CutPrefix(name, SIPHeaderPrefix); ok {
				r.sip[v] = true
			}
			if v, ok := strings.CutPrefix(name, ExitPrefix); ok {
				r.exit[v] = true
			}
		}
		a.raw = r
	})
	return a.raw
}

// Config configures an Engine. Zero fields take the defaults above.
type Config struct {
	// AppVar is the channel variable naming the application. Default fuse_app.
	AppVar string
	// Prefix marks IVR variables: the channel variable PREFIXname becomes
	// the variable name. Default fuse_var_.
	Prefix string
	// ExitVar is the channel variable that marks an IVR exit. Default fuse_exit.
	ExitVar string
	// ExitSubclass is the subclass of the IVR's CUSTOM exit event.
	// Default fuse::exit.
	ExitSubclass string
	// ExitGrace is how long an exit event waits for the hangup of its
	// channel before it fires on its own. Default 2s.
	ExitGrace time.Duration
	// DedupSize is how many recently fired calls are remembered to drop a
	// repeated event. Default 100000.
	DedupSize int
	// PendingExits bounds the exit events waiting for their hangup. When the
	// bound is reached, the oldest one fires before its grace ends.
	// Default 100000.
	PendingExits int
	// Apps maps the application name (the AppVar value) to the application.
	Apps map[string]*App
	// Submit hands a job to the spool. It is required. An error means the
	// job was not taken, so the call is not remembered as fired. A nil
	// return does not yet mean the job is on disk: the spool counts it as
	// accepted once its group commit is written, a few milliseconds later.
	Submit func(*delivery.Job) error
	// Logger receives the engine's log entries. Default: the logrus
	// standard logger.
	Logger logrus.FieldLogger
	// Now is the clock for job times and exit deadlines. Default time.Now.
	Now func() time.Time
}

// withDefaults returns a copy of c with every zero field set to its default.
func (c *Config) withDefaults() Config {
	var out Config
	if c != nil {
		out = *c
	}
	if out.AppVar == "" {
		out.AppVar = DefaultAppVar
	}
	if out.Prefix == "" {
		out.Prefix = DefaultPrefix
	}
	if out.ExitVar == "" {
		out.ExitVar = DefaultExitVar
	}
	if out.ExitSubclass == "" {
		out.ExitSubclass = DefaultExitSubclass
	}

	if out.ExitGrace <= 0 {
		out.ExitGrace = DefaultExitGrace
	}
	if out.DedupSize <= 0 {
		out.DedupSize = DefaultDedupSize
	}
	if out.PendingExits <= 0 {
		out.PendingExits = DefaultPendingExits
	}

	if out.Logger == nil {
		out.Logger = logrus.StandardLogger()
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	return out
}

// Stats is a snapshot of an Engine's counters.
type Stats struct {
	// Events is the number of events passed to Handle.
	Events uint64
	// Fired is the number of jobs that Submit accepted.
	Fired uint64
	// Duplicates counts events of a call that already fired, and exit events
	// repeated while the first one waited for the hangup.
	Duplicates uint64
	// LegsSkipped counts events of an IVR-marked channel that another
	// channel originated (the B leg of a bridge), which fire nothing.
	LegsSkipped uint64
	// NotIVR counts hangups and exit events that carry no application
	// variable.
	NotIVR uint64
	// UnknownApps counts events whose application variable names no
	// configured application.
	UnknownApps uint64
	// Invalid counts hangups and exit events without a Unique-ID.
	Invalid uint64
	// BuildErrors counts calls whose application failed to render its request.
	BuildErrors uint64
	// SubmitErrors counts jobs that Submit rejected.
	SubmitErrors uint64
	// ExitsWithoutHangup counts exit events fired with their own data only:
	// their grace ran out, the bound forced them out, or Run shut down.
	ExitsWithoutHangup uint64
	// ExitsForced counts exit events fired before their grace ended because
	// PendingExits was reached.
	ExitsForced uint64
	// PendingExits is the number of exit events waiting for their hangup.
	PendingExits int
}

// counters are written by the goroutine that calls Handle and read by Stats
// from any goroutine.
type counters struct {
	events, fired, duplicates, legsSkipped, notIVR, unknownApps, invalid atomic.Uint64
	buildErrors, submitErrors, exitsWithoutHangup, exitsForced           atomic.Uint64
	pending                                                              atomic.Int64
}

// appSet is one generation of configured applications, swapped whole by SetApps.
type appSet struct {
	apps map[string]*App
}

// Engine holds the call model's state: the calls fired recently and the exit
// events waiting for their hangup. Handle, Expire and Run must be called from
// one goroutine at a time; SetApps and Stats are safe from any goroutine.
type Engine struct {
	cfg   Config
	log   logrus.FieldLogger
	apps  atomic.Pointer[appSet]
	stats counters

	// The fields below belong to the goroutine that calls Handle.
	fired          *keyRing
	pending        *pendingExits
	warned         map[string]struct{}
	warnedFor      *appSet
	warnedOverflow bool
}

// New returns an Engine for cfg. It panics when cfg.Submit is nil, because an
// engine that cannot hand over its jobs would lose every call.
func New(cfg Config) *Engine {
	if cfg.Submit == nil {
		panic("hooks: Config.Submit is nil; set it to the spool's submit function")
	}
	c := cfg.withDefaults()
	e := &Engine{
		cfg:     c,
		log:     c.Logger,
		fired:   newKeyRing(c.DedupSize),
		pending: newPendingExits(c.PendingExits),
	}
	e.SetApps(c.Apps)
	return e
}

// SetApps replaces the configured applications, for a reload. It copies the
// map, so the caller may reuse it. Exit events already waiting for their
// hangup fire with the application of that name in the new set.
func (e *Engine) SetApps(apps map[string]*App) {
	e.apps.Store(&appSet{apps: maps.Clone(apps)})
}

// Stats returns a snapshot of the counters.
func (e *Engine) Stats() Stats {
	s := &e.stats
	return Stats{
		Events:             s.events.Load(),
		Fired:              s.fired.Load(),
		Duplicates:         s.duplicates.Load(),
		LegsSkipped:        s.legsSkipped.Load(),
		NotIVR:             s.notIVR.Load(),
		UnknownApps:        s.unknownApps.Load(),
		Invalid:            s.invalid.Load(),
		BuildErrors:        s.buildErrors.Load(),
		SubmitErrors:       s.submitErrors.Load(),
		ExitsWithoutHangup: s.exitsWithoutHangup.Load(),
		ExitsForced:        s.exitsForced.Load(),
		PendingExits:       int(s.pending.Load()),
	}
}

// Handle processes one event. Events must arrive in wire order, because an
// exit event has to reach Handle before the hangup of its channel to be
// merged with it. Handle keeps its own copy of an exit event, so the caller
// may reuse ev afterwards.
func (e *Engine) Handle(ev *esl.Event) {
	if ev == nil {
		return
	}
	e.stats.events.Add(1)

	switch ev.Name() {
	case eventHangupComplete:
		e.handleHangup(ev)
	case eventCustom:
		if ev.Subclass() == e.cfg.ExitSubclass {
			e.handleExit(ev)
		}
	}
}

// Expire fires every waiting exit event whose grace ended at or before now,
// with the data the exit event carried.
func (e *Engine) Expire(now time.Time) {
	for {
		p := e.pending.popDue(now)
		if p == nil {
			return
		}
		e.stats.pending.Store(int64(e.pending.len()))
		e.fireWithoutHangup(p, "grace ended without a hangup")
	}
}

// Run handles the events from events and fires exit events when their grace
// ends. It returns when ctx is done or events is closed. Before it returns,
// it fires every exit event still waiting, with what the exit event carried:
// FreeSWITCH does not replay events to a restarted client, so waiting longer
// would lose these calls. The caller must keep Submit working until Run
// returns.
func (e *Engine) Run(ctx context.Context, events <-chan esl.Event) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	var armedAt time.Time
	for {
		armedAt = e.armTimer(timer, armedAt)

		select {
		case <-ctx.Done():
			e.flushPending()
			return
		case ev, ok := <-events:
			if !ok {
				e.flushPending()
				return
			}
			e.Handle(&ev)
		case <-timer.C:
			armedAt = time.Time{}
			e.Expire(e.cfg.Now())
		}
	}
}

// armTimer points timer at the earliest exit deadline, or stops it when no
// exit event waits. armedAt is the deadline the timer was last set for; the
// timer is reset only when that changes, so most events cost no timer call.
func (e *Engine) armTimer(timer *time.Timer, armedAt time.Time) time.Time {
	next, ok := e.pending.nextDeadline()
	if !ok {
		if !armedAt.IsZero() {
			timer.Stop()
		}
		return time.Time{}
	}
	if next.Equal(armedAt) {
		return armedAt
	}
	timer.Reset(max(next.Sub(e.cfg.Now()), 0))
	return next
}

// flushPending fires every waiting exit event, oldest first.
func (e *Engine) flushPending() {
	for {
		p := e.pending.popOldest()
		if p == nil {
			return
		}
		e.stats.pending.Store(int64(e.pending.len()))
		e.fireWithoutHangup(p, "shutting down before the hangup arrived")
	}
}
