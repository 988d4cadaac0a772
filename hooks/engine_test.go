package hooks

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/render"
)

func TestExitGraceTransfer(t *testing.T) {
	h := newHarness(t, []string{"survey"}, nil)
	start := h.clock.Now()
	h.handle(readEvent(t, "custom_fuse_exit.json"))

	h.engine.Expire(start.Add(DefaultExitGrace - time.Millisecond))
	if n := len(h.fired()); n != 0 {
		t.Fatalf("jobs fired before the grace ended = %d, want 0", n)
	}

	h.engine.Expire(start.Add(DefaultExitGrace))
	got := h.onlyJob()
	checks := map[string]string{
		VarTermination:    TerminationIVRExit,
		VarSessionID:      customExitUUID,
		VarANI:            "15550100004",
		VarAnswer:         "2026-12-04T19:29:19.530512Z",
		VarEnd:            "",
		VarHangupCause:    "",
		"exit.fuse_score": "7",
		"exit.fuse_note":  "done ok",
		"q1":              "4",
		// Without a hangup, event.NAME comes from the exit event.
		"event.Event-Subclass": "fuse::exit",
	}
	for name, want := range checks {
		if got.vars[name] != want {
			t.Errorf("%s = %q, want %q", name, got.vars[name], want)
		}
	}
	if got.job.Key != Key("5c152b99-2101-4e7b-b102-34a4cd452155", customExitUUID) {
		t.Errorf("job key = %q, want the key of the exit event's channel", got.job.Key)
	}

	h.handle(readEvent(t, "hangup_complete_custom_exit.json"))
	if n := len(h.fired()); n != 1 {
		t.Errorf("jobs fired after the late hangup = %d, want 1", n)
	}
	s := h.engine.Stats()
	if s.Duplicates != 1 {
		t.Errorf("duplicates = %d, want 1 for the late hangup", s.Duplicates)
	}
	if s.ExitsWithoutHangup != 1 {
		t.Errorf("exits without hangup = %d, want 1", s.ExitsWithoutHangup)
	}
}

func TestExitGraceMerge(t *testing.T) {
	h := newHarness(t, []string{"survey"}, func(c *Config) { c.ExitGrace = 5 * time.Second })
	h.handle(readEvent(t, "custom_fuse_exit.plain"))

	h.engine.Expire(h.clock.Advance(4 * time.Second))
	if n := len(h.fired()); n != 0 {
		t.Fatalf("jobs fired within the grace = %d, want 0", n)
	}

	h.handle(readEvent(t, "hangup_complete_custom_exit.plain"))
	got := h.onlyJob()
	if got.vars[VarEnd] != "2026-12-04T19:29:20.030492Z" {
		t.Errorf("%s = %q, want the hangup's end time", VarEnd, got.vars[VarEnd])
	}
	if got.vars["exit.fuse_score"] != "7" {
		t.Errorf("exit.fuse_score = %q, want 7", got.vars["exit.fuse_score"])
	}
	if got.vars[VarDuration] != "1" {
		t.Errorf("%s = %q, want 1", VarDuration, got.vars[VarDuration])
	}

	h.engine.Expire(h.clock.Advance(time.Hour))
	if n := len(h.fired()); n != 1 {
		t.Errorf("jobs fired after the grace = %d, want 1", n)
	}
	if s := h.engine.Stats(); s.ExitsWithoutHangup != 0 || s.PendingExits != 0 {
		t.Errorf("exits without hangup = %d, pending = %d, want 0 and 0", s.ExitsWithoutHangup, s.PendingExits)
	}
}

// callEvents returns the exit event and the hangup of call i, made from the
// custom exit captures with their own Unique-ID and fuse_score.
func callEvents(exit, hangup esl.Event, i int) (esl.Event, esl.Event) {
	uid := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
	score := strconv.Itoa(i)
	return withHeaders(exit, hdr("Unique-ID", uid), hdr("fuse_score", score)),
		withHeaders(hangup, hdr("Unique-ID", uid))
}

func TestInterleavedOrder(t *testing.T) {
	const calls = 50
	exitTemplate := readEvent(t, "custom_fuse_exit.json")
	hangupTemplate := readEvent(t, "hangup_complete_custom_exit.json")
	exits := make([]esl.Event, calls)
	hangups := make([]esl.Event, calls)
	callIndex := make(map[string]int, calls)
	for i := range calls {
		exits[i], hangups[i] = callEvents(exitTemplate, hangupTemplate, i)
		callIndex[hangups[i].Get("Unique-ID")] = i
	}

	for seed := range 100 {
		// Each call appears twice in a shuffled list: its first appearance
		// is its exit event and its second its hangup, so each call's exit
		// comes before its own hangup with other calls' events in between.
		order := make([]int, 0, 2*calls)
		for i := range calls {
			order = append(order, i, i)
		}
		rng := rand.New(rand.NewPCG(uint64(seed), 0))
		rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })

		h := newHarness(t, []string{"survey"}, nil)
		seen := make([]bool, calls)
		for _, i := range order {
			if !seen[i] {
				seen[i] = true
				h.handle(exits[i])
				continue
			}
			h.handle(hangups[i])
			h.engine.Expire(h.clock.Advance(time.Millisecond))
		}
		// Every grace ends: nothing that was merged may fire a second time.
		h.engine.Expire(h.clock.Advance(time.Hour))

		jobs := h.fired()
		if len(jobs) != calls {
			t.Fatalf("seed %d: jobs fired = %d, want %d", seed, len(jobs), calls)
		}
		perCall := make(map[string]int)
		for _, j := range jobs {
			perCall[j.job.CallID]++
			i, ok := callIndex[j.job.CallID]
			if !ok {
				t.Fatalf("seed %d: unexpected call id %q", seed, j.job.CallID)
			}
			if j.vars["exit.fuse_score"] != strconv.Itoa(i) {
				t.Errorf("seed %d: call %d has exit.fuse_score %q, want its own", seed, i, j.vars["exit.fuse_score"])
			}
			if j.vars[VarEnd] == "" {
				t.Errorf("seed %d: call %d fired without its hangup's end time", seed, i)
			}
		}
		for id, n := range perCall {
			if n != 1 {
				t.Errorf("seed %d: call %s fired %d times, want 1", seed, id, n)
			}
		}
		if p := h.engine.Stats().PendingExits; p != 0 {
			t.Errorf("seed %d: pending exits = %d, want 0", seed, p)
		}
	}
}

func TestRepeatedExitKeepsFirst(t *testing.T) {
	h := newHarness(t, []string{"survey"}, nil)
	exit := readEvent(t, "custom_fuse_exit.json")
	h.handle(exit, withHeaders(exit, hdr("fuse_score", "1")))
	h.handle(readEvent(t, "hangup_complete_custom_exit.json"))

	got := h.onlyJob()
	if got.vars["exit.fuse_score"] != "7" {
		t.Errorf("exit.fuse_score = %q, want 7 from the first exit event", got.vars["exit.fuse_score"])
	}
	if d := h.engine.Stats().Duplicates; d != 1 {
		t.Errorf("duplicates = %d, want 1", d)
	}
	if n := len(h.entries(logrus.InfoLevel)); n != 1 {
		t.Errorf("info entries = %d, want 1 for the repeated exit event", n)
	}
}

// The engine keeps its own copy of a waiting exit event, so a reader that
// reuses its event buffer cannot change the data that fires later.
func TestExitEventCopied(t *testing.T) {
	h := newHarness(t, []string{"survey"}, nil)
	exit := readEvent(t, "custom_fuse_exit.json")
	h.engine.Handle(&exit)
	for i := range exit.Headers {
		exit.Headers[i].Value = "overwritten"
	}
	h.handle(readEvent(t, "hangup_complete_custom_exit.json"))

	if got := h.onlyJob().vars["exit.fuse_score"]; got != "7" {
		t.Errorf("exit.fuse_score = %q, want 7", got)
	}
}

func TestPendingExitBound(t *testing.T) {
	h := newHarness(t, []string{"survey"}, func(c *Config) { c.PendingExits = 2 })
	exitTemplate := readEvent(t, "custom_fuse_exit.json")
	hangupTemplate := readEvent(t, "hangup_complete_custom_exit.json")
	var hangups []esl.Event
	for i := range 3 {
		exit, hangup := callEvents(exitTemplate, hangupTemplate, i)
		h.handle(exit)
		hangups = append(hangups, hangup)
	}

	got := h.onlyJob()
	if got.job.CallID != hangups[0].Get("Unique-ID") {
		t.Errorf("forced call = %q, want the oldest %q", got.job.CallID, hangups[0].Get("Unique-ID"))
	}
	if got.vars[VarEnd] != "" {
		t.Errorf("%s = %q, want empty for an exit fired without its hangup", VarEnd, got.vars[VarEnd])
	}
	s := h.engine.Stats()
	if s.ExitsForced != 1 || s.PendingExits != 2 {
		t.Errorf("forced = %d, pending = %d, want 1 and 2", s.ExitsForced, s.PendingExits)
	}
	if n := len(h.entries(logrus.WarnLevel)); n != 1 {
		t.Errorf("warnings = %d, want 1", n)
	}

	h.handle(hangups...)
	if n := len(h.fired()); n != 3 {
		t.Errorf("jobs fired = %d, want 3 (the forced call once, the others merged)", n)
	}
}

func TestUnknownAppCounted(t *testing.T) {
	h := newHarness(t, []string{"survey"}, nil)
	hangup := readEvent(t, "hangup_complete_caller_hangup.json")
	unknown := func(i int) esl.Event {
		return withHeaders(hangup,
			hdr("Unique-ID", fmt.Sprintf("call-%d", i)),
			hdr("variable_fuse_app", "nosuch"))
	}

	h.handle(unknown(1), unknown(2))
	if n := len(h.fired()); n != 0 {
		t.Fatalf("jobs fired = %d, want 0", n)
	}
	if u := h.engine.Stats().UnknownApps; u != 2 {
		t.Errorf("unknown apps = %d, want 2", u)
	}
	warnings := h.entries(logrus.WarnLevel)
	if len(warnings) != 1 {
		t.Fatalf("warnings = %d, want 1 for one unknown name", len(warnings))
	}
	if warnings[0].Data["app"] != "nosuch" || warnings[0].Data["call_id"] != "call-1" {
		t.Errorf("warning fields = %v, want app nosuch and call_id call-1", warnings[0].Data)
	}

	// A reload without the name warns again once.
	h.engine.SetApps(h.apps("survey"))
	h.handle(unknown(3), unknown(4))
	if n := len(h.entries(logrus.WarnLevel)); n != 2 {
		t.Errorf("warnings after a reload = %d, want 2", n)
	}

	// A reload that adds the application lets the next call fire.
	h.engine.SetApps(h.apps("survey", "nosuch"))
	h.handle(unknown(5))
	if got := h.onlyJob(); got.job.App != "nosuch" {
		t.Errorf("job app = %q, want nosuch", got.job.App)
	}
}

func TestUnknownAppWarningsBounded(t *testing.T) {
	h := newHarness(t, nil, nil)
	for i := range maxWarnedNames + 10 {
		h.handle(event("Event-Name", eventHangupComplete,
			"Unique-ID", fmt.Sprintf("call-%d", i),
			"variable_fuse_app", fmt.Sprintf("app-%d", i)))
	}
	if n := len(h.entries(logrus.WarnLevel)); n != maxWarnedNames+1 {
		t.Errorf("warnings = %d, want %d (one per name up to the bound, then one notice)", n, maxWarnedNames+1)
	}
	if u := h.engine.Stats().UnknownApps; u != maxWarnedNames+10 {
		t.Errorf("unknown apps = %d, want %d", u, maxWarnedNames+10)
	}
}

// A job that Submit rejects is logged and counted, and the call is not
// remembered as fired, so the same event repeated later submits it again.
func TestSubmitError(t *testing.T) {
	h := newHarness(t, []string{"survey"}, nil)
	ev := readEvent(t, "hangup_complete_ivr_exit.json")

	h.failNextSubmit(errSpoolFull)
	h.handle(ev)
	if n := len(h.fired()); n != 0 {
		t.Fatalf("jobs accepted = %d, want 0", n)
	}
	s := h.engine.Stats()
	if s.SubmitErrors != 1 || s.Fired != 0 {
		t.Errorf("submit errors = %d, fired = %d, want 1 and 0", s.SubmitErrors, s.Fired)
	}
	errs := h.entries(logrus.ErrorLevel)
	if len(errs) != 1 {
		t.Fatalf("error entries = %d, want 1", len(errs))
	}
	if errs[0].Data["call_id"] != ivrExitUUID || !errors.Is(errs[0].Data[logrus.ErrorKey].(error), errSpoolFull) {
		t.Errorf("error entry fields = %v, want call_id and the spool's error", errs[0].Data)
	}

	h.handle(ev)
	if n := len(h.fired()); n != 1 {
		t.Fatalf("jobs accepted after the repeat = %d, want 1", n)
	}
	h.handle(ev)
	if s := h.engine.Stats(); s.Fired != 1 || s.Duplicates != 1 {
		t.Errorf("fired = %d, duplicates = %d, want 1 and 1", s.Fired, s.Duplicates)
	}
}

func TestBuildError(t *testing.T) {
	secret := "https://127.0.0.1/secret-path?card=4111"
	cases := []struct {
		name      string
		private   bool
		build     func(render.Vars) (*delivery.Job, error)
		wantInLog bool
	}{
		{
			name:      "error logged",
			build:     func(render.Vars) (*delivery.Job, error) { return nil, errors.New(secret) },
			wantInLog: true,
		},
		{
			name:      "private error withheld",
			private:   true,
			build:     func(render.Vars) (*delivery.Job, error) { return nil, errors.New(secret) },
			wantInLog: false,
		},
		{
			name:  "nil job",
			build: func(render.Vars) (*delivery.Job, error) { return nil, nil },
		},
		{
			name: "no builder",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, nil)
			h.engine.SetApps(map[string]*App{"survey": {Name: "survey", Private: tc.private, Build: tc.build}})
			h.handle(readEvent(t, "hangup_complete_ivr_exit.json"))

			s := h.engine.Stats()
			if s.BuildErrors != 1 || s.Fired != 0 {
				t.Errorf("build errors = %d, fired = %d, want 1 and 0", s.BuildErrors, s.Fired)
			}
			errs := h.entries(logrus.ErrorLevel)
			if len(errs) != 1 {
				t.Fatalf("error entries = %d, want 1", len(errs))
			}
			text, _ := errs[0].String()
			if got := strings.Contains(text, "secret-path"); got != tc.wantInLog {
				t.Errorf("log entry %q contains the error text: %v, want %v", text, got, tc.wantInLog)
			}
		})
	}
}

func TestOriginatedLegRule(t *testing.T) {
	base := func(pairs ...string) esl.Event {
		all := append([]string{
			"Event-Name", eventHangupComplete,
			"Core-UUID", "core",
			"Unique-ID", "b-leg",
			"variable_fuse_app", "survey",
			"Caller-Channel-Answered-Time", "1796412546518665",
		}, pairs...)
		return event(all...)
	}
	cases := []struct {
		name  string
		ev    esl.Event
		fires bool
	}{
		{"inbound fires", base("Call-Direction", "inbound"), true},
		{"inbound with originating leg fires", base("Call-Direction", "inbound", "variable_originating_leg_uuid", "a-leg"), true},
		{"outbound with originating leg skipped", base("Call-Direction", "outbound", "variable_originating_leg_uuid", "a-leg"), false},
		{"outbound other type originator skipped", base("Call-Direction", "outbound", "Other-Type", "originator", "Other-Leg-Unique-ID", "a-leg"), false},
		{"outbound originator without other leg id fires", base("Call-Direction", "outbound", "Other-Type", "originator"), true},
		{"outbound originatee fires", base("Call-Direction", "outbound", "Other-Type", "originatee", "Other-Leg-Unique-ID", "x"), true},
		{"outbound without originating leg fires", base("Call-Direction", "outbound"), true},
		{"call_uuid equal to own uuid still skipped", base("Call-Direction", "outbound", "variable_call_uuid", "b-leg", "variable_originating_leg_uuid", "a-leg"), false},
		{"direction from variable_direction", base("variable_direction", "outbound", "variable_originating_leg_uuid", "a-leg"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, []string{"survey"}, nil)
			h.handle(tc.ev)

			fired := len(h.fired()) == 1
			if fired != tc.fires {
				t.Errorf("fired = %v, want %v", fired, tc.fires)
			}
			if skipped := h.engine.Stats().LegsSkipped == 1; skipped == tc.fires {
				t.Errorf("legs skipped = %v, want %v", skipped, !tc.fires)
			}
		})
	}
}

// An exit event from an originated leg is skipped like its hangup.
func TestOriginatedLegExitSkipped(t *testing.T) {
	h := newHarness(t, []string{"survey"}, nil)
	exit := withHeaders(readEvent(t, "custom_fuse_exit.json"),
		hdr("Call-Direction", "outbound"), hdr("variable_originating_leg_uuid", "a-leg"))
	h.handle(exit)
	h.engine.Expire(h.clock.Advance(time.Hour))

	if n := len(h.fired()); n != 0 {
		t.Errorf("jobs fired = %d, want 0", n)
	}
	if s := h.engine.Stats(); s.LegsSkipped != 1 || s.PendingExits != 0 {
		t.Errorf("legs skipped = %d, pending = %d, want 1 and 0", s.LegsSkipped, s.PendingExits)
	}
}

func TestTermination(t *testing.T) {
	const answered = "1796412546518665"
	cases := []struct {
		name   string
		hangup []string
		exit   bool
		want   string
	}{
		{"no answer headers", nil, false, TerminationNotAnswered},
		{"both answer times zero", []string{"Caller-Channel-Answered-Time", "0", "variable_answer_uepoch", "0"}, false, TerminationNotAnswered},
		{"not answered wins over exit event", []string{"Caller-Channel-Answered-Time", "0"}, true, TerminationNotAnswered},
		{"not answered wins over send_bye", []string{"variable_sip_hangup_disposition", "send_bye"}, false, TerminationNotAnswered},
		{"answered by header", []string{"Caller-Channel-Answered-Time", answered}, false, TerminationCallerHangup},
		{"answered by answer_uepoch", []string{"Caller-Channel-Answered-Time", "0", "variable_answer_uepoch", answered}, false, TerminationCallerHangup},
		{"garbage answer time", []string{"Caller-Channel-Answered-Time", "soon"}, false, TerminationNotAnswered},
		{"exit event", []string{"variable_answer_uepoch", answered}, true, TerminationIVRExit},
		{"exit variable", []string{"variable_answer_uepoch", answered, "variable_fuse_exit", "done"}, false, TerminationIVRExit},
		{"send_bye", []string{"variable_answer_uepoch", answered, "variable_sip_hangup_disposition", "send_bye"}, false, TerminationIVRExit},
		{"send_cancel", []string{"variable_answer_uepoch", answered, "variable_sip_hangup_disposition", "send_cancel"}, false, TerminationIVRExit},
		{"send_refuse", []string{"variable_answer_uepoch", answered, "variable_sip_hangup_disposition", "send_refuse"}, false, TerminationIVRExit},
		{"recv_bye", []string{"variable_answer_uepoch", answered, "variable_sip_hangup_disposition", "recv_bye"}, false, TerminationCallerHangup},
		{"recv_cancel", []string{"variable_answer_uepoch", answered, "variable_sip_hangup_disposition", "recv_cancel"}, false, TerminationCallerHangup},
		{"last app hangup", []string{"variable_answer_uepoch", answered, "variable_last_app", "hangup"}, false, TerminationIVRExit},
		{"last app playback", []string{"variable_answer_uepoch", answered, "variable_last_app", "playback"}, false, TerminationCallerHangup},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hangup := event(tc.hangup...)
			var exit *esl.Event
			if tc.exit {
				e := event("Event-Name", eventCustom, "Event-Subclass", DefaultExitSubclass)
				exit = &e
			}
			if got := Termination(nil, &hangup, exit); got != tc.want {
				t.Errorf("Termination = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestInvalidEventsCounted(t *testing.T) {
	h := newHarness(t, []string{"survey"}, nil)
	h.handle(
		event("Event-Name", eventHangupComplete, "variable_fuse_app", "survey"),
		event("Event-Name", eventCustom, "Event-Subclass", DefaultExitSubclass, "fuse_app", "survey"),
	)
	if s := h.engine.Stats(); s.Invalid != 2 || s.Fired != 0 {
		t.Errorf("invalid = %d, fired = %d, want 2 and 0", s.Invalid, s.Fired)
	}
}

func TestDedupBounded(t *testing.T) {
	h := newHarness(t, []string{"survey"}, func(c *Config) { c.DedupSize = 3 })
	hangup := readEvent(t, "hangup_complete_ivr_exit.json")
	call := func(i int) esl.Event { return withHeaders(hangup, hdr("Unique-ID", fmt.Sprintf("call-%d", i))) }

	h.handle(call(0), call(1), call(2), call(2))
	if d := h.engine.Stats().Duplicates; d != 1 {
		t.Errorf("duplicates = %d, want 1 while the call is remembered", d)
	}
	// A fourth call pushes call 0 out of the memory of three keys, so a
	// repeat of call 0 fires again. The spool drops that copy by its key.
	h.handle(call(3), call(0))
	if n := len(h.fired()); n != 5 {
		t.Errorf("jobs fired = %d, want 5", n)
	}
}

func TestNewWithoutSubmitPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New with a nil Submit did not panic")
		}
	}()
	New(Config{})
}

func TestRunFiresAtGrace(t *testing.T) {
	var (
		mu   sync.Mutex
		jobs []*delivery.Job
	)
	logger, _ := newNullLogger()
	engine := New(Config{
		ExitGrace: 20 * time.Millisecond,
		Apps: map[string]*App{"survey": {Name: "survey", Build: func(render.Vars) (*delivery.Job, error) {
			return &delivery.Job{Kind: delivery.KindREST}, nil
		}}},
		Submit: func(j *delivery.Job) error {
			mu.Lock()
			defer mu.Unlock()
			jobs = append(jobs, j)
			return nil
		},
		Logger: logger,
	})
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(jobs)
	}

	events := make(chan esl.Event)
	done := make(chan struct{})
	go func() {
		engine.Run(context.Background(), events)
		close(done)
	}()

	// A reload from another goroutine while Run handles events.
	reloaded := make(chan struct{})
	go func() {
		engine.SetApps(map[string]*App{"survey": {Name: "survey", Build: func(render.Vars) (*delivery.Job, error) {
			return &delivery.Job{Kind: delivery.KindSOAP}, nil
		}}})
		close(reloaded)
	}()

	events <- readEvent(t, "custom_fuse_exit.json")
	waitFor(t, "the exit event to fire at the end of its grace", func() bool { return count() == 1 })
	<-reloaded

	events <- readEvent(t, "hangup_complete_custom_exit.json")
	close(events)
	<-done
	if n := count(); n != 1 {
		t.Errorf("jobs = %d, want 1: the late hangup repeats a fired call", n)
	}
	if s := engine.Stats(); s.Duplicates != 1 || s.ExitsWithoutHangup != 1 {
		t.Errorf("duplicates = %d, exits without hangup = %d, want 1 and 1", s.Duplicates, s.ExitsWithoutHangup)
	}
}

func TestRunShutdownFiresPending(t *testing.T) {
	cases := []struct {
		name string
		stop func(cancel context.CancelFunc, events chan esl.Event)
	}{
		{"context canceled", func(cancel context.CancelFunc, _ chan esl.Event) { cancel() }},
		{"events closed", func(_ context.CancelFunc, events chan esl.Event) { close(events) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, []string{"survey"}, func(c *Config) { c.ExitGrace = time.Hour })
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			events := make(chan esl.Event)
			done := make(chan struct{})
			go func() {
				h.engine.Run(ctx, events)
				close(done)
			}()

			events <- readEvent(t, "custom_fuse_exit.json")
			waitFor(t, "the exit event to be pending", func() bool { return h.engine.Stats().PendingExits == 1 })
			tc.stop(cancel, events)
			<-done

			got := h.onlyJob()
			if got.vars["exit.fuse_score"] != "7" || got.job.Termination != TerminationIVRExit {
				t.Errorf("exit.fuse_score = %q, termination = %q, want 7 and ivr_exit", got.vars["exit.fuse_score"], got.job.Termination)
			}
		})
	}
}

// waitFor polls cond until it holds, and fails the test after 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
