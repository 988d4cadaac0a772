package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Report is the outcome of one load run. Each duration's name gives its
// unit (milliseconds or seconds), and rates are per second. A figure that
// could not be measured is left out of the JSON and shown as "-" in the
// table.
type Report struct {
	Settings Settings `json:"settings"`

	Calls     int     `json:"calls"`
	Events    int     `json:"events"`
	NotQueued int     `json:"events_not_queued"`
	SendSec   float64 `json:"send_seconds"`
	SendRate  float64 `json:"send_calls_per_second"`

	Delivered  int `json:"delivered"`
	Missing    int `json:"missing"`
	Duplicated int `json:"duplicated"`
	// Requests counts every request the sink matched to a call, failed
	// attempts included.
	Requests   int   `json:"requests"`
	Unmatched  int   `json:"unmatched_requests"`
	SinkFailed int64 `json:"sink_failed"`
	SinkReset  int64 `json:"sink_connections_reset"`
	// DeliveredRate is delivered calls per second from the first event
	// sent to the last delivery.
	DeliveredRate float64 `json:"delivered_calls_per_second"`
	// DrainRate is delivered calls per second from the moment a down sink
	// came up to the last delivery.
	DrainRate  float64    `json:"drain_calls_per_second,omitempty"`
	Latency    *Latency   `json:"latency_ms,omitempty"`
	MissingIDs []string   `json:"missing_ids,omitempty"`
	ReaderLag  *ReaderLag `json:"reader_lag_ms,omitempty"`

	// DroppedFreeSWITCH counts events the fake FreeSWITCH dropped because
	// the daemon's socket was not read for SendTimeout.
	DroppedFreeSWITCH int `json:"dropped_freeswitch"`
	// DroppedDaemon counts events the daemon's own event queue dropped.
	DroppedDaemon *uint64 `json:"dropped_daemon,omitempty"`
	// IngestRate is events per second from the first event sent until the
	// daemon had read them all; SpoolRate is calls per second until every
	// job was written to the spool file.
	IngestRate float64 `json:"ingest_events_per_second,omitempty"`
	SpoolRate  float64 `json:"spooled_calls_per_second,omitempty"`

	Process  *ProcessFigures  `json:"process,omitempty"`
	Baseline *BaselineFigures `json:"baseline,omitempty"`
	Timeline []TimelinePoint  `json:"timeline,omitempty"`
	Notes    []string         `json:"notes,omitempty"`
}

// Settings echo what the run was asked to do.
type Settings struct {
	Mode      string  `json:"daemon"`
	Rate      float64 `json:"rate"`
	Calls     int     `json:"calls,omitempty"`
	Duration  string  `json:"duration,omitempty"`
	ExitShare float64 `json:"exit_share"`
	SinkDelay string  `json:"sink_delay"`
	SinkFail  float64 `json:"sink_fail"`
	SinkDown  string  `json:"sink_down,omitempty"`
	PerApp    int     `json:"per_app"`
	Config    string  `json:"config"`
}

// Latency is the time from a hangup event handed to the fake FreeSWITCH to
// its delivered request arriving at the sink, in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// ReaderLag is how long the oldest unread event had waited, sampled from
// the daemon's status while events were sent, in milliseconds.
type ReaderLag struct {
	P99     float64 `json:"p99"`
	Max     float64 `json:"max"`
	Samples int     `json:"samples"`
}

// ProcessFigures are the daemon process's CPU time and memory.
type ProcessFigures struct {
	CPUSeconds      float64 `json:"cpu_seconds"`
	CPUPer1000Calls float64 `json:"cpu_seconds_per_1000_calls"`
	// WrittenKiBPerCall is the storage the daemon wrote per call, in KiB,
	// spool and log together; -1 when it could not be read.
	WrittenKiBPerCall float64 `json:"written_kib_per_call"`
	PeakRSSMiB        float64 `json:"peak_rss_mib"`
	EndRSSMiB         float64 `json:"end_rss_mib"`
	EndAnonMiB        float64 `json:"end_rss_anon_mib"`
	EndFileMiB        float64 `json:"end_rss_file_mib"`
	MinRSSMiB         float64 `json:"min_sampled_rss_mib"`
	MaxRSSMiB         float64 `json:"max_sampled_rss_mib"`
}

// BaselineFigures are the bare limits measured in the same run and the
// daemon's figures as ratios of them.
type BaselineFigures struct {
	Delivery      BaselineResult `json:"delivery"`
	Ingest        BaselineResult `json:"ingest"`
	DeliveryRatio float64        `json:"delivery_ratio"`
	IngestRatio   float64        `json:"ingest_ratio,omitempty"`
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes r as a readable two-column table.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", name, fmt.Sprintf(format, args...))
	}
	s := r.Settings
	row("daemon", "%s", s.Mode)
	row("plan", "%s", r.planText())
	row("sink", "delay %s, fail ratio %g%s, per_app %d", s.SinkDelay, s.SinkFail, downText(s.SinkDown), s.PerApp)
	row("config", "%s", s.Config)
	fmt.Fprintln(tw, "\t")

	row("calls sent", "%d (%d events) in %.2f s: %.0f calls/s", r.Calls, r.Events, r.SendSec, r.SendRate)
	row("delivered", "%d, missing %d, duplicated %d", r.Delivered, r.Missing, r.Duplicated)
	row("requests", "%d matched, %d unmatched, %d answered 503, %d connections reset", r.Requests, r.Unmatched, r.SinkFailed, r.SinkReset)
	row("delivered calls/s", "%s", rate(r.DeliveredRate))
	if r.DrainRate > 0 {
		row("drain calls/s", "%s (after the sink came up)", rate(r.DrainRate))
	}
	if l := r.Latency; l != nil {
		row("latency ms", "p50 %.2f  p95 %.2f  p99 %.2f  max %.2f", l.P50, l.P95, l.P99, l.Max)
	} else {
		row("latency ms", "-")
	}
	row("dropped", "FreeSWITCH side %d, daemon queue %s, not queued %d", r.DroppedFreeSWITCH, optional(r.DroppedDaemon), r.NotQueued)
	if l := r.ReaderLag; l != nil {
		row("reader lag ms", "p99 %.1f  max %.1f  (%d samples)", l.P99, l.Max, l.Samples)
	} else {
		row("reader lag ms", "-")
	}
	row("ingest events/s", "%s", rate(r.IngestRate))
	row("spooled calls/s", "%s", rate(r.SpoolRate))
	if p := r.Process; p != nil {
		row("CPU", "%.2f s, %.3f s per 1,000 calls", p.CPUSeconds, p.CPUPer1000Calls)
		if p.WrittenKiBPerCall >= 0 {
			row("storage written", "%.1f KiB per call", p.WrittenKiBPerCall)
		}
		row("RSS MiB", "peak %.1f, end %.1f (anon %.1f, file %.1f), sampled %.1f to %.1f",
			p.PeakRSSMiB, p.EndRSSMiB, p.EndAnonMiB, p.EndFileMiB, p.MinRSSMiB, p.MaxRSSMiB)
	} else {
		row("CPU, RSS", "- (start the daemon with -postcall to measure them)")
	}
	if b := r.Baseline; b != nil {
		row("delivery limit", "%.0f requests/s (%d requests); daemon at %.2f of it", b.Delivery.PerSecond, b.Delivery.Count, b.DeliveryRatio)
		row("ingest limit", "%.0f events/s (%d events); daemon at %s of it", b.Ingest.PerSecond, b.Ingest.Count, ratio(b.IngestRatio))
	}
	if len(r.MissingIDs) > 0 {
		row("missing ids", "%s", strings.Join(r.MissingIDs, " "))
	}
	for _, n := range r.Notes {
		row("note", "%s", n)
	}
	return tw.Flush()
}

func (r *Report) planText() string {
	s := r.Settings
	speed := "as fast as the daemon reads"
	if s.Rate > 0 {
		speed = fmt.Sprintf("%g calls/s", s.Rate)
	}
	var limits []string
	if s.Calls > 0 {
		limits = append(limits, fmt.Sprintf("%d calls", s.Calls))
	}
	if s.Duration != "" {
		limits = append(limits, "for "+s.Duration)
	}
	return fmt.Sprintf("%s, %s, exit event share %g", strings.Join(limits, " or "), speed, s.ExitShare)
}

func downText(mode string) string {
	if mode == "" {
		return ""
	}
	return ", down " + mode
}

func rate(v float64) string {
	if v <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

func ratio(v float64) string {
	if v <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

func optional(v *uint64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprint(*v)
}
