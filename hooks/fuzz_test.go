package hooks

import (
	"strings"
	"testing"
	"time"

	"github.com/postcall/postcall/esl"
)

// parseFuzzEvents turns fuzz input into events: events are separated by a
// blank line and each line is "Name: Value", split at the first ": ".
func parseFuzzEvents(data string) []esl.Event {
	var events []esl.Event
	for _, block := range strings.Split(data, "\n\n") {
		var ev esl.Event
		for _, line := range strings.Split(block, "\n") {
			name, value, _ := strings.Cut(line, ": ")
			ev.Headers = append(ev.Headers, esl.Header{Name: name, Value: value})
		}
		events = append(events, ev)
	}
	return events
}

// formatFuzzEvents is the inverse of parseFuzzEvents for seed events whose
// values hold no newline.
func formatFuzzEvents(events ...esl.Event) string {
	var b strings.Builder
	for i, ev := range events {
		if i > 0 {
			b.WriteString("\n\n")
		}
		for j, h := range ev.Headers {
			if j > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(h.Name + ": " + strings.ReplaceAll(h.Value, "\n", " "))
		}
	}
	return b.String()
}

func FuzzHandle(f *testing.F) {
	seed := func(names ...string) {
		var events []esl.Event
		for _, name := range names {
			events = append(events, readEvents(f, name)...)
		}
		f.Add(formatFuzzEvents(events...))
	}
	seed("hangup_complete_ivr_exit.json")
	seed("hangup_complete_caller_hangup.plain")
	seed("hangup_complete_busy.json", "hangup_complete_busy_originator_leg.json")
	seed("custom_fuse_exit.json", "hangup_complete_custom_exit.json")
	seed("custom_fuse_exit.plain", "custom_fuse_exit.plain")
	seed("12-esl-bridged-a-b-legs.esl")
	seed("11-esl-duplicate-hangup.esl")
	f.Add("Event-Name: CUSTOM\nEvent-Subclass: fuse::exit\nUnique-ID: u\nfuse_app: survey\n\nEvent-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: u")
	f.Add("Event-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: u\nvariable_fuse_app: survey\nvariable_fuse_var_: x\nvariable_start_uepoch: -1\nvariable_end_uepoch: 99999999999999999999")

	valid := map[string]bool{TerminationIVRExit: true, TerminationCallerHangup: true, TerminationNotAnswered: true}
	f.Fuzz(func(t *testing.T, data string) {
		h := newHarness(t, []string{"survey", "main_menu"}, func(c *Config) { c.PendingExits = 4 })
		for _, ev := range parseFuzzEvents(data) {
			h.engine.Handle(&ev)
			h.engine.Expire(h.clock.Advance(300 * time.Millisecond))
		}
		h.engine.Expire(h.clock.Advance(time.Hour))

		keys := make(map[string]bool)
		for _, j := range h.fired() {
			if j.job.Key != j.vars[VarCallKey] {
				t.Errorf("job key %q differs from %s %q", j.job.Key, VarCallKey, j.vars[VarCallKey])
			}
			if keys[j.job.Key] {
				t.Errorf("call %q fired twice", j.job.CallID)
			}
			keys[j.job.Key] = true
			if !valid[j.job.Termination] {
				t.Errorf("termination = %q, want one of ivr_exit, caller_hangup, not_answered", j.job.Termination)
			}
			if j.job.App != "survey" && j.job.App != "main_menu" {
				t.Errorf("job app = %q, want a configured application", j.job.App)
			}
			if j.vars[VarSessionID] != j.job.CallID {
				t.Errorf("%s = %q, want the job's call id %q", VarSessionID, j.vars[VarSessionID], j.job.CallID)
			}
		}
		if p := h.engine.Stats().PendingExits; p != 0 {
			t.Errorf("pending exits after every grace ended = %d, want 0", p)
		}
	})
}
