package loadtest

import (
	"strings"
	"testing"
)

func figureValue(t *testing.T, figures []Figure, name string) (float64, bool) {
	t.Helper()
	for _, f := range figures {
		if f.Name == name {
			return f.Value, f.Known
		}
	}
	t.Fatalf("no figure %q", name)
	return 0, false
}

func TestMedianFigures(t *testing.T) {
	dropped := uint64(2)
	reports := []*Report{
		{Delivered: 10, DeliveredRate: 100, Latency: &Latency{P99: 5}},
		{Delivered: 30, DeliveredRate: 300, Latency: &Latency{P99: 9}, DroppedDaemon: &dropped},
		{Delivered: 20, DeliveredRate: 0, Latency: &Latency{P99: 7}},
	}
	medians := MedianFigures(reports)

	cases := []struct {
		name      string
		want      float64
		wantKnown bool
	}{
		{"delivered", 20, true},
		{"latency_p99_ms", 7, true},
		{"delivered_calls_per_s", 200, true}, // the run without a rate is left out
		{"dropped_daemon", 2, true},          // measured by one run only
		{"peak_rss_mib", 0, false},           // measured by none
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, known := figureValue(t, medians, tc.name)
			if known != tc.wantKnown {
				t.Fatalf("known = %v, want %v", known, tc.wantKnown)
			}
			if got != tc.want {
				t.Errorf("median = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWriteFiguresTable(t *testing.T) {
	reports := []*Report{{Delivered: 10}, {Delivered: 12}}
	var out strings.Builder
	if err := WriteFiguresTable(&out, reports); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	if !strings.Contains(lines[0], "run 2") || !strings.Contains(lines[0], "median") {
		t.Errorf("header line %q lacks the run and median columns", lines[0])
	}
	if fields := strings.Fields(lines[1]); len(fields) != 4 || fields[0] != "delivered" || fields[3] != "11" {
		t.Errorf("delivered line = %q, want delivered 10 12 11", lines[1])
	}
	if !strings.Contains(out.String(), "peak_rss_mib") {
		t.Errorf("the table lacks the unmeasured figures:\n%s", out.String())
	}
}
