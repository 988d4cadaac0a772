package metrics

import (
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/postcall/postcall/delivery"
)

// stateCollector reports values that other components own and set as a
// whole: the spool's job counts, the Event Socket state and the build
// version. Collecting them at scrape time from one snapshot means that a
// scrape never reads half of an update.
type stateCollector struct {
	queueDepth    *prometheus.Desc
	eslConnected  *prometheus.Desc
	eslReconnects *prometheus.Desc
	eslDropped    *prometheus.Desc
	buildInfo     *prometheus.Desc

	mu        sync.Mutex
	depth     map[string]map[delivery.State]int
	eslSource func() (connected bool, reconnects, dropped uint64)
	version   string
}

// queueStates are the states reported for every application, at zero
// when the spool has no job in them. They are the only states a job has.
var queueStates = []delivery.State{delivery.StatePending, delivery.StateDelivered, delivery.StateDead}

func newStateCollector(version string) *stateCollector {
	return &stateCollector{
		queueDepth: prometheus.NewDesc("postcall_queue_depth",
			"Jobs in the spool, by application and state (pending, delivered or dead).",
			[]string{"app", "state"}, nil),
		eslConnected: prometheus.NewDesc("postcall_esl_connected",
			"1 while the Event Socket connection to FreeSWITCH is up and authenticated, else 0.",
			nil, nil),
		eslReconnects: prometheus.NewDesc("postcall_esl_reconnects_total",
			"Reconnections to the FreeSWITCH Event Socket. FreeSWITCH keeps no events for a disconnected client.",
			nil, nil),
		eslDropped: prometheus.NewDesc("postcall_esl_events_dropped_total",
			"FreeSWITCH events dropped because the queue of events waiting to be handled was full.",
			nil, nil),
		buildInfo: prometheus.NewDesc("postcall_build_info",
			"Always 1. The version label is the version of the running postcall.",
			[]string{"version"}, nil),
		version: version,
	}
}

func (c *stateCollector) setQueueDepth(depth map[string]map[delivery.State]int) {
	c.mu.Lock()
	c.depth = depth
	c.mu.Unlock()
}

func (c *stateCollector) setESLSource(source func() (bool, uint64, uint64)) {
	c.mu.Lock()
	c.eslSource = source
	c.mu.Unlock()
}

func (c *stateCollector) setVersion(version string) {
	c.mu.Lock()
	c.version = version
	c.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.queueDepth
	ch <- c.eslConnected
	ch <- c.eslReconnects
	ch <- c.eslDropped
	ch <- c.buildInfo
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	depth := c.depth
	source := c.eslSource
	version := c.version
	c.mu.Unlock()

	c.collectQueueDepth(ch, depth)

	// The source is called outside the lock, because it belongs to
	// another component and may take its own locks.
	var connected bool
	var reconnects, dropped uint64
	if source != nil {
		connected, reconnects, dropped = source()
	}
	up := 0.0
	if connected {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(c.eslConnected, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(c.eslReconnects, prometheus.CounterValue, float64(reconnects))
	ch <- prometheus.MustNewConstMetric(c.eslDropped, prometheus.CounterValue, float64(dropped))
	ch <- prometheus.MustNewConstMetric(c.buildInfo, prometheus.GaugeValue, 1, version)
}

// collectQueueDepth sends one series per application and state. The
// snapshot map is never written after it is stored, so it is read without
// the lock.
func (c *stateCollector) collectQueueDepth(ch chan<- prometheus.Metric, depth map[string]map[delivery.State]int) {
	apps := make([]string, 0, len(depth))
	for app := range depth {
		apps = append(apps, app)
	}
	sort.Strings(apps)

	for _, app := range apps {
		for _, state := range queueStates {
			ch <- prometheus.MustNewConstMetric(c.queueDepth, prometheus.GaugeValue, float64(depth[app][state]), app, string(state))
		}
	}
}
