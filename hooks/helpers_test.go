package hooks

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/render"
)

// fakeClock is a clock that moves only when a test moves it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 4, 19, 29, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// fired is one job that reached Submit, with the variables it was built from.
type fired struct {
	job  *delivery.Job
	vars render.Vars
}

// harness is an Engine wired to a recording builder and spool.
type harness struct {
	t      *testing.T
	engine *Engine
	clock  *fakeClock
	logs   *logtest.Hook

	mu        sync.Mutex
	jobs      []fired
	built     []render.Vars
	submitErr error // returned by the next Submit, then cleared
}

// newHarness returns a harness whose engine is configured with the
// applications named in apps. change, when not nil, edits the config before New.
func newHarness(t *testing.T, apps []string, change func(*Config)) *harness {
	t.Helper()
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)

	h := &harness{t: t, clock: newFakeClock(), logs: hook}
	cfg := Config{
		Apps:   h.apps(apps...),
		Submit: h.submit,
		Logger: logger,
		Now:    h.clock.Now,
	}
	if change != nil {
		change(&cfg)
	}
	h.engine = New(cfg)
	return h
}

// apps returns applications whose builder records the variables.
func (h *harness) apps(names ...string) map[string]*App {
	apps := make(map[string]*App, len(names))
	for _, name := range names {
		apps[name] = &App{Name: name, Build: h.build}
	}
	return apps
}

func (h *harness) build(vars render.Vars) (*delivery.Job, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.built = append(h.built, vars)
	return &delivery.Job{
		Kind:    delivery.KindREST,
		Request: &delivery.Request{Method: "POST", URL: "http://127.0.0.1:1/hook"},
	}, nil
}

func (h *harness) submit(job *delivery.Job) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.submitErr; err != nil {
		h.submitErr = nil
		return err
	}
	h.jobs = append(h.jobs, fired{job: job, vars: h.built[len(h.built)-1]})
	return nil
}

func (h *harness) failNextSubmit(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.submitErr = err
}

// fired returns a copy of the jobs submitted so far.
func (h *harness) fired() []fired {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]fired(nil), h.jobs...)
}

// handle passes events to the engine in order.
func (h *harness) handle(events ...esl.Event) {
	for i := range events {
		h.engine.Handle(&events[i])
	}
}

// onlyJob fails the test unless exactly one job fired, and returns it.
func (h *harness) onlyJob() fired {
	h.t.Helper()
	jobs := h.fired()
	if len(jobs) != 1 {
		h.t.Fatalf("jobs fired = %d, want 1", len(jobs))
	}
	return jobs[0]
}

// entries returns the log entries at level.
func (h *harness) entries(level logrus.Level) []logrus.Entry {
	var out []logrus.Entry
	for _, e := range h.logs.AllEntries() {
		if e.Level == level {
			out = append(out, *e)
		}
	}
	return out
}

func newNullLogger() (*logrus.Logger, *logtest.Hook) { return logtest.NewNullLogger() }

var errSpoolFull = errors.New("spool full")

// readEvents decodes every event of a file in testdata.
func readEvents(t testing.TB, name string) []esl.Event {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	events, err := esl.ReadEvents(f)
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	if len(events) == 0 {
		t.Fatalf("decode %s: no events", name)
	}
	return events
}

// readEvent decodes the one event of a file in testdata.
func readEvent(t testing.TB, name string) esl.Event {
	t.Helper()
	events := readEvents(t, name)
	if len(events) != 1 {
		t.Fatalf("%s holds %d events, want 1", name, len(events))
	}
	return events[0]
}

// withHeaders returns a copy of ev in which every header named in set has
// the given value; a name ev lacks is appended.
func withHeaders(ev esl.Event, set ...esl.Header) esl.Event {
	out := esl.Event{Headers: append([]esl.Header(nil), ev.Headers...), Body: ev.Body}
	for _, s := range set {
		found := false
		for i := range out.Headers {
			if out.Headers[i].Name == s.Name {
				out.Headers[i].Value = s.Value
				found = true
			}
		}
		if !found {
			out.Headers = append(out.Headers, s)
		}
	}
	return out
}

// without returns a copy of ev without the headers called names.
func without(ev esl.Event, names ...string) esl.Event {
	out := esl.Event{Body: ev.Body}
	for _, h := range ev.Headers {
		keep := true
		for _, name := range names {
			if h.Name == name {
				keep = false
			}
		}
		if keep {
			out.Headers = append(out.Headers, h)
		}
	}
	return out
}

func hdr(name, value string) esl.Header { return esl.Header{Name: name, Value: value} }

// event builds an event from name/value pairs.
func event(pairs ...string) esl.Event {
	var ev esl.Event
	for i := 0; i+1 < len(pairs); i += 2 {
		ev.Headers = append(ev.Headers, hdr(pairs[i], pairs[i+1]))
	}
	return ev
}

// formats are the two encodings of every capture.
var formats = []string{"json", "plain"}
