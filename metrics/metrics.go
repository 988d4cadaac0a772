// Package metrics records postcall's Prometheus metrics and serves them,
// with the health and readiness probes, on the admin listener.
//
// Metrics has its own registry, never the global default one. Its label
// values are only application names (limited to the configured ones once
// SetApps is called), delivery outcomes, job states, event names from a
// fixed set and the build version. The package
// must never put a URL, call id, variable value or any other data of a
// call into a label, because labels are stored and shown without
// redaction and an unbounded label set exhausts the Prometheus server.
package metrics

import (
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/postcall/postcall/delivery"
)

// The event label values. Every other event name is counted as EventOther.
const (
	EventHangupComplete = "CHANNEL_HANGUP_COMPLETE"
	EventCustom         = "CUSTOM"
	EventHeartbeat      = "HEARTBEAT"
	EventOther          = "other"
)

// UnknownApp is the app label value of an application name that SetApps
// did not list.
const UnknownApp = "unknown"

// latencyBuckets are the upper bounds, in seconds, of the delivery latency
// histogram. A job can be delivered within a second or after a day of
// retries, so the buckets span 100 ms to 24 h.
var latencyBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600}

// outcomes are the outcome label values, in delivery.Class order.
var outcomes = []delivery.Class{delivery.Delivered, delivery.Retryable, delivery.Permanent}

// Metrics records postcall's metrics. Its methods are safe for concurrent
// use, and a nil *Metrics records nothing, so callers need no checks.
type Metrics struct {
	registry    *prometheus.Registry
	events      *prometheus.CounterVec
	callsFired  *prometheus.CounterVec
	attempts    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	deadLetters *prometheus.CounterVec
	state       *stateCollector

	mu sync.RWMutex
	// apps is the set of application names SetApps listed. A nil set
	// accepts every name.
	apps map[string]bool
}

// New returns Metrics registered on a new registry, together with the Go
// runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postcall_events_received_total",
			Help: "FreeSWITCH events received, by event name (CHANNEL_HANGUP_COMPLETE, CUSTOM, HEARTBEAT or other).",
		}, []string{"event"}),
		callsFired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postcall_calls_fired_total",
			Help: "Finished IVR calls that produced a post-call job, by application.",
		}, []string{"app"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postcall_attempts_total",
			Help: "Delivery attempts, by application and outcome (delivered, retryable or permanent).",
		}, []string{"app", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "postcall_delivery_latency_seconds",
			Help:    "Time from the end of a call to the delivery of its request, retries included, by application.",
			Buckets: latencyBuckets,
		}, []string{"app"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postcall_dead_letters_total",
			Help: "Jobs that gave up retrying and were dead-lettered, by application.",
		}, []string{"app"}),
		state: newStateCollector(buildVersion()),
	}

	m.registry.MustRegister(
		m.events, m.callsFired, m.attempts, m.latency, m.deadLetters, m.state,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for _, name := range []string{EventHangupComplete, EventCustom, EventHeartbeat, EventOther} {
		m.events.WithLabelValues(name)
	}
	return m
}

// Registry returns the registry the metrics are registered on.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler returns an http.Handler that serves the metrics in the
// Prometheus exposition formats. Gathering errors are logged with
// errorLog, which may be nil.
func (m *Metrics) Handler(errorLog promhttp.Logger) http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog:            errorLog,
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            m.registry,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// SetApps limits the app label to names, the configured applications.
// Any other name is recorded as UnknownApp, so a value that reaches a
// method by mistake cannot create a series. Until SetApps is called every
// name is accepted. Call it again after a reload. The series of the listed
// applications are created at zero, so that rate() works from the start.
func (m *Metrics) SetApps(names []string) {
	if m == nil {
		return
	}
	apps := make(map[string]bool, len(names))
	for _, name := range names {
		if name != "" && utf8.ValidString(name) {
			apps[name] = true
		}
	}
	m.mu.Lock()
	m.apps = apps
	m.mu.Unlock()

	for name := range apps {
		m.callsFired.WithLabelValues(name)
		m.deadLetters.WithLabelValues(name)
		for _, class := range outcomes {
			m.attempts.WithLabelValues(name, class.String())
		}
	}
}

// appLabel returns the label value for the application name. An empty
// name or invalid UTF-8, which Prometheus rejects in a label, gives
// UnknownApp.
func (m *Metrics) appLabel(name string) string {
	if name == "" || !utf8.ValidString(name) {
		return UnknownApp
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.apps != nil && !m.apps[name] {
		return UnknownApp
	}
	return name
}

// EventReceived counts one FreeSWITCH event by its Event-Name.
func (m *Metrics) EventReceived(name string) {
	if m == nil {
		return
	}
	m.events.WithLabelValues(eventLabel(name)).Inc()
}

func eventLabel(name string) string {
	switch name {
	case EventHangupComplete, EventCustom, EventHeartbeat:
		return name
	}
	return EventOther
}

// CallFired counts one finished IVR call that produced a job for app.
func (m *Metrics) CallFired(app string) {
	if m == nil {
		return
	}
	m.callsFired.WithLabelValues(m.appLabel(app)).Inc()
}

// Attempt counts one delivery attempt of app that ended with class. When
// delivered is true, the job is now delivered and latency, the time from
// the end of the call to this delivery, is observed in the latency
// histogram. A class outside Delivered, Retryable and Permanent is counted
// with the outcome "unknown".
func (m *Metrics) Attempt(app string, class delivery.Class, latency time.Duration, delivered bool) {
	if m == nil {
		return
	}
	label := m.appLabel(app)
	m.attempts.WithLabelValues(label, class.String()).Inc()
	if delivered {
		m.latency.WithLabelValues(label).Observe(latency.Seconds())
	}
}

// DeadLetter counts one job of app that was dead-lettered.
func (m *Metrics) DeadLetter(app string) {
	if m == nil {
		return
	}
	m.deadLetters.WithLabelValues(m.appLabel(app)).Inc()
}

// SetQueueDepth replaces the job counts that postcall_queue_depth reports,
// by application and state, for example with the spool's Counts. Only the
// states pending, delivered and dead are reported. An application missing
// from counts has no series until it appears again.
func (m *Metrics) SetQueueDepth(counts map[string]map[delivery.State]int) {
	if m == nil {
		return
	}
	merged := make(map[string]map[delivery.State]int, len(counts))
	for app, states := range counts {
		label := m.appLabel(app)
		if merged[label] == nil {
			merged[label] = make(map[delivery.State]int, len(states))
		}
		for state, n := range states {
			merged[label][state] += n
		}
	}
	m.state.setQueueDepth(merged)
}

// SetESLSource sets the function that reports the Event Socket state at
// each scrape: whether the connection is up, how many times it has
// reconnected and how many events were dropped because the queue was
// full. Both counts must only grow. The function is called from the
// scrape's goroutine, so it must be safe for concurrent use and return
// quickly. Until it is set, the connection is reported down and both
// counts as zero.
func (m *Metrics) SetESLSource(source func() (connected bool, reconnects, dropped uint64)) {
	if m == nil {
		return
	}
	m.state.setESLSource(source)
}

// SetBuildInfo sets the version that postcall_build_info reports. New
// starts with the module version that the Go toolchain recorded in the
// binary, or "unknown".
func (m *Metrics) SetBuildInfo(version string) {
	if m == nil {
		return
	}
	m.state.setVersion(strings.ToValidUTF8(version, "\uFFFD"))
}

func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok || info.Main.Version == "" {
		return "unknown"
	}
	return info.Main.Version
}
