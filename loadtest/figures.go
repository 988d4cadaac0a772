package loadtest

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
)

// Figure is one number of a report, for comparing repeated runs.
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	// Known is false when the run could not measure the figure.
	Known bool `json:"known"`
}

// Figures returns the report's main numbers in a fixed order.
func (r *Report) Figures() []Figure {
	known := func(name string, v float64) Figure { return Figure{Name: name, Value: v, Known: true} }
	positive := func(name string, v float64) Figure { return Figure{Name: name, Value: v, Known: v > 0} }
	f := []Figure{
		known("delivered", float64(r.Delivered)),
		known("missing", float64(r.Missing)),
		known("duplicated", float64(r.Duplicated)),
		known("dropped_freeswitch", float64(r.DroppedFreeSWITCH+r.NotQueued)),
		{Name: "dropped_daemon"},
		positive("delivered_calls_per_s", r.DeliveredRate),
		positive("drain_calls_per_s", r.DrainRate),
		{Name: "latency_p50_ms"}, {Name: "latency_p95_ms"}, {Name: "latency_p99_ms"}, {Name: "latency_max_ms"},
		{Name: "reader_lag_p99_ms"}, {Name: "reader_lag_max_ms"},
		positive("ingest_events_per_s", r.IngestRate),
		positive("spooled_calls_per_s", r.SpoolRate),
		{Name: "cpu_s_per_1000_calls"}, {Name: "written_kib_per_call"}, {Name: "peak_rss_mib"}, {Name: "end_rss_mib"},
		{Name: "delivery_limit_per_s"}, {Name: "ingest_limit_per_s"},
		{Name: "delivery_ratio"}, {Name: "ingest_ratio"},
	}
	set := func(name string, v float64) {
		for i := range f {
			if f[i].Name == name {
				f[i].Value, f[i].Known = v, true
			}
		}
	}
	if r.DroppedDaemon != nil {
		set("dropped_daemon", float64(*r.DroppedDaemon))
	}
	if l := r.Latency; l != nil {
		set("latency_p50_ms", l.P50)
		set("latency_p95_ms", l.P95)
		set("latency_p99_ms", l.P99)
		set("latency_max_ms", l.Max)
	}
	if l := r.ReaderLag; l != nil {
		set("reader_lag_p99_ms", l.P99)
		set("reader_lag_max_ms", l.Max)
	}
	if p := r.Process; p != nil {
		set("cpu_s_per_1000_calls", p.CPUPer1000Calls)
		if p.WrittenKiBPerCall >= 0 {
			set("written_kib_per_call", p.WrittenKiBPerCall)
		}
		set("peak_rss_mib", p.PeakRSSMiB)
		set("end_rss_mib", p.EndRSSMiB)
	}
	if b := r.Baseline; b != nil {
		set("delivery_limit_per_s", b.Delivery.PerSecond)
		set("ingest_limit_per_s", b.Ingest.PerSecond)
		if b.DeliveryRatio > 0 {
			set("delivery_ratio", b.DeliveryRatio)
		}
		if b.IngestRatio > 0 {
			set("ingest_ratio", b.IngestRatio)
		}
	}
	return f
}

// MedianFigures returns, for each figure, the median over the runs that
// measured it (the mean of the two middle values for an even count).
func MedianFigures(reports []*Report) []Figure {
	if len(reports) == 0 {
		return nil
	}
	out := reports[0].Figures()
	for i := range out {
		var values []float64
		for _, r := range reports {
			if f := r.Figures()[i]; f.Known {
				values = append(values, f.Value)
			}
		}
		out[i].Value, out[i].Known = median(values)
	}
	return out
}

func median(values []float64) (float64, bool) {
	n := len(values)
	if n == 0 {
		return 0, false
	}
	s := slices.Clone(values)
	slices.Sort(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}

// WriteFiguresTable writes the figures of every run side by side, with
// their median in the last column.
func WriteFiguresTable(w io.Writer, reports []*Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "figure\t")
	for i := range reports {
		fmt.Fprintf(tw, "run %d\t", i+1)
	}
	fmt.Fprintln(tw, "median\t")

	medians := MedianFigures(reports)
	for i, m := range medians {
		fmt.Fprintf(tw, "%s\t", m.Name)
		for _, r := range reports {
			fmt.Fprintf(tw, "%s\t", formatFigure(r.Figures()[i]))
		}
		fmt.Fprintf(tw, "%s\t\n", formatFigure(m))
	}
	return tw.Flush()
}

func formatFigure(f Figure) string {
	if !f.Known {
		return "-"
	}
	switch {
	case f.Value == float64(int64(f.Value)) && f.Value < 1e9:
		return strconv.FormatInt(int64(f.Value), 10)
	case f.Value >= 100:
		return strconv.FormatFloat(f.Value, 'f', 0, 64)
	default:
		return strconv.FormatFloat(f.Value, 'f', 2, 64)
	}
}
