package metrics

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postcall/postcall/delivery"
)

type series struct {
	family string
	labels map[string]string
	value  float64
}

func checkSeries(t *testing.T, got scrape, want []series) {
	t.Helper()
	for _, w := range want {
		smp, ok := got.find(w.family, w.labels)
		if !ok {
			t.Errorf("series %s%v is missing; the family has %v", w.family, w.labels, got[w.family])
			continue
		}
		if smp.value != w.value {
			t.Errorf("series %s%v = %v, want %v", w.family, w.labels, smp.value, w.value)
		}
	}
}

func TestScrapeRecordedValues(t *testing.T) {
	m := New()
	m.SetApps([]string{"survey", "crm"})
	m.SetBuildInfo("1.4.0")

	m.EventReceived("CHANNEL_HANGUP_COMPLETE")
	m.EventReceived("CHANNEL_HANGUP_COMPLETE")
	m.EventReceived("CUSTOM")
	m.EventReceived("BACKGROUND_JOB")
	m.EventReceived("")
	m.CallFired("survey")
	m.CallFired("survey")
	m.CallFired("crm")
	m.Attempt("survey", delivery.Retryable, 0, false)
	m.Attempt("survey", delivery.Delivered, 3*time.Second, true)
	m.Attempt("survey", delivery.Delivered, 40*time.Second, true)
	m.Attempt("crm", delivery.Permanent, 0, false)
	m.DeadLetter("crm")
	m.SetQueueDepth(map[string]map[delivery.State]int{
		"survey": {delivery.StatePending: 4, delivery.StateDelivered: 120},
		"crm":    {delivery.StateDead: 1},
	})
	m.SetESLSource(func() (bool, uint64, uint64) { return true, 3, 7 })

	s, _ := startServer(t, m, nil, nil)
	got := scrapeServer(t, s)

	checkSeries(t, got, []series{
		{"postcall_events_received_total", map[string]string{"event": "CHANNEL_HANGUP_COMPLETE"}, 2},
		{"postcall_events_received_total", map[string]string{"event": "CUSTOM"}, 1},
		{"postcall_events_received_total", map[string]string{"event": "HEARTBEAT"}, 0},
		{"postcall_events_received_total", map[string]string{"event": "other"}, 2},
		{"postcall_calls_fired_total", map[string]string{"app": "survey"}, 2},
		{"postcall_calls_fired_total", map[string]string{"app": "crm"}, 1},
		{"postcall_attempts_total", map[string]string{"app": "survey", "outcome": "delivered"}, 2},
		{"postcall_attempts_total", map[string]string{"app": "survey", "outcome": "retryable"}, 1},
		{"postcall_attempts_total", map[string]string{"app": "survey", "outcome": "permanent"}, 0},
		{"postcall_attempts_total", map[string]string{"app": "crm", "outcome": "permanent"}, 1},
		{"postcall_delivery_latency_seconds", map[string]string{"app": "survey"}, 2},
		{"postcall_dead_letters_total", map[string]string{"app": "crm"}, 1},
		{"postcall_dead_letters_total", map[string]string{"app": "survey"}, 0},
		{"postcall_queue_depth", map[string]string{"app": "survey", "state": "pending"}, 4},
		{"postcall_queue_depth", map[string]string{"app": "survey", "state": "delivered"}, 120},
		{"postcall_queue_depth", map[string]string{"app": "survey", "state": "dead"}, 0},
		{"postcall_queue_depth", map[string]string{"app": "crm", "state": "dead"}, 1},
		{"postcall_esl_connected", map[string]string{}, 1},
		{"postcall_esl_reconnects_total", map[string]string{}, 3},
		{"postcall_esl_events_dropped_total", map[string]string{}, 7},
		{"postcall_build_info", map[string]string{"version": "1.4.0"}, 1},
	})

	if _, ok := got["go_goroutines"]; !ok {
		t.Error("go_goroutines is missing, want the Go runtime collector")
	}
	if _, ok := got.find("postcall_delivery_latency_seconds", map[string]string{"app": "crm"}); ok {
		t.Error("latency recorded for crm, which had no delivered attempt")
	}
}

func TestLatencyHistogram(t *testing.T) {
	m := New()
	m.Attempt("survey", delivery.Delivered, 3*time.Second, true)
	m.Attempt("survey", delivery.Delivered, 2*time.Hour, true)
	// An attempt that did not deliver the job has no end-to-end latency.
	m.Attempt("survey", delivery.Retryable, time.Minute, false)

	s, _ := startServer(t, m, nil, nil)
	h, ok := scrapeServer(t, s).find("postcall_delivery_latency_seconds", map[string]string{"app": "survey"})
	if !ok {
		t.Fatal("postcall_delivery_latency_seconds{app=survey} is missing")
	}

	if h.value != 2 {
		t.Errorf("sample count = %v, want 2", h.value)
	}
	if h.sum != 3+2*3600 {
		t.Errorf("sample sum = %v, want %v", h.sum, 3+2*3600)
	}
	for _, b := range []struct {
		le   float64
		want uint64
	}{{2.5, 0}, {5, 1}, {3600, 1}, {4 * 3600, 2}, {24 * 3600, 2}} {
		if got := h.buckets[b.le]; got != b.want {
			t.Errorf("bucket le=%v = %d, want %d", b.le, got, b.want)
		}
	}
}

func TestESLWithoutSource(t *testing.T) {
	s, _ := startServer(t, New(), nil, nil)
	checkSeries(t, scrapeServer(t, s), []series{
		{"postcall_esl_connected", map[string]string{}, 0},
		{"postcall_esl_reconnects_total", map[string]string{}, 0},
		{"postcall_esl_events_dropped_total", map[string]string{}, 0},
	})
}

func TestESLSourceReadAtScrape(t *testing.T) {
	m := New()
	var mu sync.Mutex
	connected, reconnects := false, uint64(0)
	m.SetESLSource(func() (bool, uint64, uint64) {
		mu.Lock()
		defer mu.Unlock()
		return connected, reconnects, 0
	})
	s, _ := startServer(t, m, nil, nil)

	checkSeries(t, scrapeServer(t, s), []series{
		{"postcall_esl_connected", map[string]string{}, 0},
		{"postcall_esl_reconnects_total", map[string]string{}, 0},
	})

	mu.Lock()
	connected, reconnects = true, 1
	mu.Unlock()
	checkSeries(t, scrapeServer(t, s), []series{
		{"postcall_esl_connected", map[string]string{}, 1},
		{"postcall_esl_reconnects_total", map[string]string{}, 1},
	})
}

func TestQueueDepthReplaced(t *testing.T) {
	m := New()
	s, _ := startServer(t, m, nil, nil)

	m.SetQueueDepth(map[string]map[delivery.State]int{
		"survey": {delivery.StatePending: 5},
		"crm":    {delivery.StatePending: 2},
	})
	checkSeries(t, scrapeServer(t, s), []series{
		{"postcall_queue_depth", map[string]string{"app": "crm", "state": "pending"}, 2},
	})

	m.SetQueueDepth(map[string]map[delivery.State]int{
		"survey": {delivery.StatePending: 1},
	})
	got := scrapeServer(t, s)
	checkSeries(t, got, []series{
		{"postcall_queue_depth", map[string]string{"app": "survey", "state": "pending"}, 1},
	})
	if _, ok := got.find("postcall_queue_depth", map[string]string{"app": "crm", "state": "pending"}); ok {
		t.Error("crm is still reported after it left the counts")
	}
}

func TestAppLabelLimited(t *testing.T) {
	m := New()
	m.SetApps([]string{"survey"})

	m.CallFired("survey")
	m.CallFired("+15551234567")
	m.CallFired("")
	m.DeadLetter("https://crm.example.test/hook?token=abc")
	m.SetQueueDepth(map[string]map[delivery.State]int{
		"survey":    {delivery.StatePending: 1},
		"old-app-1": {delivery.StatePending: 2},
		"old-app-2": {delivery.StatePending: 3},
	})

	s, _ := startServer(t, m, nil, nil)
	got := scrapeServer(t, s)
	checkSeries(t, got, []series{
		{"postcall_calls_fired_total", map[string]string{"app": "survey"}, 1},
		{"postcall_calls_fired_total", map[string]string{"app": UnknownApp}, 2},
		{"postcall_dead_letters_total", map[string]string{"app": UnknownApp}, 1},
		{"postcall_queue_depth", map[string]string{"app": UnknownApp, "state": "pending"}, 5},
	})
}

// TestNoPrivateLabels feeds the values of a private call to every method
// that takes a label value and checks that only application names,
// outcomes, event names, states and the version appear as labels.
func TestNoPrivateLabels(t *testing.T) {
	private := []string{
		"https://crm.example.test/calls/8f14e45f?ssn=123-45-6789",
		"8f14e45f-ceea-467f-a0e6-7b8a6e1bd5e2",
		"+15551234567",
		"4111 1111 1111 1111",
		"Alice Smith",
	}
	m := New()
	m.SetApps([]string{"billing"})
	m.SetBuildInfo("1.4.0")

	for _, value := range private {
		m.EventReceived(value)
		m.CallFired(value)
		m.Attempt(value, delivery.Delivered, time.Second, true)
		m.DeadLetter(value)
		m.SetQueueDepth(map[string]map[delivery.State]int{value: {delivery.StatePending: 1}})
	}
	m.EventReceived("CHANNEL_HANGUP_COMPLETE")
	m.CallFired("billing")
	for _, class := range []delivery.Class{delivery.Delivered, delivery.Retryable, delivery.Permanent} {
		m.Attempt("billing", class, time.Second, class == delivery.Delivered)
	}
	m.DeadLetter("billing")

	s, _ := startServer(t, m, nil, nil)
	got := scrapeServer(t, s)

	allowed := map[string]map[string]bool{
		"app":     {"billing": true, UnknownApp: true},
		"outcome": {"delivered": true, "retryable": true, "permanent": true},
		"event":   {"CHANNEL_HANGUP_COMPLETE": true, "CUSTOM": true, "HEARTBEAT": true, "other": true},
		"state":   {"pending": true, "delivered": true, "dead": true},
		"version": {"1.4.0": true},
	}
	for _, entry := range got.labelValues("postcall_") {
		family, rest, _ := strings.Cut(entry, "{")
		name, value, _ := strings.Cut(rest, "}=")
		values, known := allowed[name]
		if !known {
			t.Errorf("%s has the label %q, which is not an allowed label", family, name)
			continue
		}
		if !values[value] {
			t.Errorf("%s has the label %s=%q, which is not an allowed value", family, name, value)
		}
	}

	// No family at all, the Go and process collectors included, may carry
	// the private values.
	for _, entry := range got.labelValues("") {
		for _, value := range private {
			if strings.Contains(entry, value) {
				t.Errorf("label %s contains the private value %q", entry, value)
			}
		}
	}
}

func TestInvalidLabelTextIgnored(t *testing.T) {
	m := New()
	m.SetApps([]string{"survey", "\xff\xfe"})
	m.CallFired("\xffbad")
	m.SetBuildInfo("v1\xff")

	s, _ := startServer(t, m, nil, nil)
	got := scrapeServer(t, s)
	checkSeries(t, got, []series{
		{"postcall_calls_fired_total", map[string]string{"app": UnknownApp}, 1},
		{"postcall_build_info", map[string]string{"version": "v1\uFFFD"}, 1},
	})
}

func TestNilMetricsRecordsNothing(t *testing.T) {
	var m *Metrics
	m.SetApps([]string{"survey"})
	m.EventReceived("CUSTOM")
	m.CallFired("survey")
	m.Attempt("survey", delivery.Delivered, time.Second, true)
	m.DeadLetter("survey")
	m.SetQueueDepth(map[string]map[delivery.State]int{"survey": {delivery.StatePending: 1}})
	m.SetESLSource(func() (bool, uint64, uint64) { return true, 0, 0 })
	m.SetBuildInfo("1.0.0")
}

func TestConcurrentRecording(t *testing.T) {
	m := New()
	m.SetApps([]string{"survey"})
	s, _ := startServer(t, m, nil, nil)

	const workers, perWorker = 8, 200
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				m.EventReceived("CHANNEL_HANGUP_COMPLETE")
				m.Attempt("survey", delivery.Delivered, time.Millisecond, true)
				m.SetQueueDepth(map[string]map[delivery.State]int{"survey": {delivery.StatePending: i}})
			}
		}()
	}
	// Scrapes run while the workers record, so the race detector checks both.
	for i := 0; i < 3; i++ {
		scrapeServer(t, s)
	}
	wg.Wait()

	checkSeries(t, scrapeServer(t, s), []series{
		{"postcall_events_received_total", map[string]string{"event": "CHANNEL_HANGUP_COMPLETE"}, workers * perWorker},
		{"postcall_attempts_total", map[string]string{"app": "survey", "outcome": "delivered"}, workers * perWorker},
	})
}

func BenchmarkAttempt(b *testing.B) {
	m := New()
	m.SetApps([]string{"survey", "crm"})
	b.ReportAllocs()
	for b.Loop() {
		m.Attempt("survey", delivery.Delivered, 1500*time.Millisecond, true)
	}
}
