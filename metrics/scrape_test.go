package metrics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

// sample is one series of a scrape.
type sample struct {
	labels map[string]string
	// value is a counter's or gauge's value, or a histogram's sample count.
	value float64
	// sum and buckets are set for a histogram. buckets maps an upper bound
	// to its cumulative count.
	sum     float64
	buckets map[float64]uint64
}

// scrape is the parsed text exposition of one GET /metrics, by family name.
type scrape map[string][]sample

// find returns the series of family with exactly labels, or false.
func (s scrape) find(family string, labels map[string]string) (sample, bool) {
	for _, smp := range s[family] {
		if len(smp.labels) != len(labels) {
			continue
		}
		match := true
		for k, v := range labels {
			if smp.labels[k] != v {
				match = false
				break
			}
		}
		if match {
			return smp, true
		}
	}
	return sample{}, false
}

// labelValues returns every label value of the families whose name starts
// with prefix, as "family{label}=value" strings, sorted.
func (s scrape) labelValues(prefix string) []string {
	var out []string
	for family, samples := range s {
		if !strings.HasPrefix(family, prefix) {
			continue
		}
		for _, smp := range samples {
			for k, v := range smp.labels {
				out = append(out, fmt.Sprintf("%s{%s}=%s", family, k, v))
			}
		}
	}
	sort.Strings(out)
	return out
}

// startServer starts an admin listener for m on a free loopback port.
func startServer(t *testing.T, m *Metrics, ready func() error, extra map[string]http.Handler) (*Server, *logtest.Hook) {
	t.Helper()
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	s := NewServer("127.0.0.1:0", m, ready, extra, logger)
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s, hook
}

// get sends GET path to the server and returns the status and body.
func get(t *testing.T, s *Server, path string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + s.Addr() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body of GET %s: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

// scrapeServer fetches /metrics over HTTP and parses the text format.
func scrapeServer(t *testing.T, s *Server) scrape {
	t.Helper()
	status, body := get(t, s, PathMetrics)
	if status != http.StatusOK {
		t.Fatalf("GET /metrics status = %d, body %q", status, body)
	}

	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, body)
	}

	out := scrape{}
	for name, family := range families {
		for _, metric := range family.GetMetric() {
			smp := sample{labels: map[string]string{}}
			for _, pair := range metric.GetLabel() {
				smp.labels[pair.GetName()] = pair.GetValue()
			}
			switch {
			case metric.Counter != nil:
				smp.value = metric.GetCounter().GetValue()
			case metric.Gauge != nil:
				smp.value = metric.GetGauge().GetValue()
			case metric.Histogram != nil:
				h := metric.GetHistogram()
				smp.value = float64(h.GetSampleCount())
				smp.sum = h.GetSampleSum()
				smp.buckets = map[float64]uint64{}
				for _, b := range h.GetBucket() {
					smp.buckets[b.GetUpperBound()] = b.GetCumulativeCount()
				}
			case metric.Untyped != nil:
				smp.value = metric.GetUntyped().GetValue()
			case metric.Summary != nil:
				smp.value = float64(metric.GetSummary().GetSampleCount())
			}
			out[name] = append(out[name], smp)
		}
	}
	return out
}
