package hooks

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/postcall/postcall/delivery"
)

// The IVR leg and FreeSWITCH instance of the ivr_exit capture.
const (
	ivrExitCore = "5c152b99-2101-4e7b-b102-34a4cd452155"
	ivrExitUUID = "ac02a81c-4ce0-42ef-a5c5-10fa409f5617"
	// ivrExitKey is Key(ivrExitCore, ivrExitUUID), computed outside Go as
	// the first 32 hex digits of sha256("\x24" + core + uuid).
	ivrExitKey = "5c8f1ceb021c4033ea4c98dd7d449108"

	customExitUUID = "694dc82c-f8f7-4145-95fb-1419abb1bc27"
)

func TestCaptureIvrExit(t *testing.T) {
	// The dialplan set these values. The plain format cannot carry pct
	// exactly: FreeSWITCH 1.10.12 leaves "%2B" as it is when it URL-encodes,
	// so decoding the plain value once yields "+".
	want := map[string]string{
		"q1":        "5",
		"q2":        "yes",
		"comment":   "great service, would call again",
		"city":      "café",
		"special":   "a&b=c%d+e?f#g",
		"pct":       "50%2B10 = 100%",
		"quote":     `say "hi" \ bye; it's <ok>`,
		"multiline": "line1\nline2",
	}
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			h := newHarness(t, []string{"survey"}, nil)
			ev := readEvent(t, "hangup_complete_ivr_exit."+format)
			h.handle(ev)

			got := h.onlyJob()
			if got.job.Termination != TerminationIVRExit {
				t.Errorf("job termination = %q, want %q", got.job.Termination, TerminationIVRExit)
			}
			if v := got.vars[VarTermination]; v != TerminationIVRExit {
				t.Errorf("%s = %q, want %q", VarTermination, v, TerminationIVRExit)
			}
			for name, value := range want {
				if format == "plain" && name == "pct" {
					value = "50+10 = 100%"
				}
				if got.vars[name] != value {
					t.Errorf("%s = %q, want %q", name, got.vars[name], value)
				}
				if raw := ev.Get("variable_fuse_var_" + name); got.vars[name] != raw {
					t.Errorf("%s = %q, but the event carries %q", name, got.vars[name], raw)
				}
			}
		})
	}
}

func TestCaptureCallerHangup(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			h := newHarness(t, []string{"survey"}, nil)
			h.handle(readEvent(t, "hangup_complete_caller_hangup."+format))

			got := h.onlyJob()
			if got.job.Termination != TerminationCallerHangup {
				t.Errorf("termination = %q, want %q", got.job.Termination, TerminationCallerHangup)
			}
			if got.vars["comment"] != "caller left early" {
				t.Errorf("comment = %q, want %q", got.vars["comment"], "caller left early")
			}
		})
	}
}

func TestCaptureBusy(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			h := newHarness(t, []string{"survey"}, nil)
			h.handle(readEvent(t, "hangup_complete_busy."+format))

			got := h.onlyJob()
			if got.job.Termination != TerminationNotAnswered {
				t.Errorf("termination = %q, want %q", got.job.Termination, TerminationNotAnswered)
			}
			if got.vars[VarHangupCause] != "USER_BUSY" {
				t.Errorf("%s = %q, want USER_BUSY", VarHangupCause, got.vars[VarHangupCause])
			}
			if got.vars[VarAnswer] != "" {
				t.Errorf("%s = %q, want empty for a call never answered", VarAnswer, got.vars[VarAnswer])
			}
			if got.vars[VarBillsec] != "0" {
				t.Errorf("%s = %q, want 0", VarBillsec, got.vars[VarBillsec])
			}
		})
	}
}

func TestCaptureOriginatorLegs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*_originator_leg.*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 8 {
		t.Fatalf("found %d originator leg captures, want 8", len(files))
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, []string{"survey"}, nil)
			h.handle(readEvent(t, name))

			if n := len(h.fired()); n != 0 {
				t.Errorf("jobs fired = %d, want 0", n)
			}
			if s := h.engine.Stats(); s.NotIVR != 1 {
				t.Errorf("NotIVR = %d, want 1: the originator leg carries no %s", s.NotIVR, DefaultAppVar)
			}
		})
	}
}

// The originator leg of an originate call is outbound but was not
// originated by another channel, so it fires when it carries the
// application variable: this is an IVR on an originated call.
func TestCaptureOriginatedCallWithIVR(t *testing.T) {
	h := newHarness(t, []string{"survey"}, nil)
	ev := readEvent(t, "hangup_complete_ivr_exit_originator_leg.json")
	h.handle(withHeaders(ev, hdr("variable_fuse_app", "survey")))

	got := h.onlyJob()
	if got.job.CallID != "11111111-0000-4000-8000-000000001000" {
		t.Errorf("call id = %q, want the originator leg's Unique-ID", got.job.CallID)
	}
}

func TestCaptureCustomExit(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			h := newHarness(t, []string{"survey"}, nil)
			h.handle(readEvent(t, "custom_fuse_exit."+format))
			if n := len(h.fired()); n != 0 {
				t.Fatalf("jobs fired after the exit event = %d, want 0 until the hangup", n)
			}
			if p := h.engine.Stats().PendingExits; p != 1 {
				t.Errorf("pending exits = %d, want 1", p)
			}

			h.handle(readEvent(t, "hangup_complete_custom_exit."+format))
			got := h.onlyJob()
			checks := map[string]string{
				"exit.fuse_score": "7",
				"exit.fuse_note":  "done ok",
				"exit.fuse_exit":  "completed",
				VarEnd:            "2026-12-04T19:29:20.030492Z",
				VarTermination:    TerminationIVRExit,
				VarSessionID:      customExitUUID,
				"q1":              "4",
				"comment":         "custom exit path",
				// The channel data comes from the hangup, not the exit event.
				"channel.current_application": "hangup",
			}
			for name, want := range checks {
				if got.vars[name] != want {
					t.Errorf("%s = %q, want %q", name, got.vars[name], want)
				}
			}

			h.engine.Expire(h.clock.Advance(DefaultExitGrace * 10))
			if n := len(h.fired()); n != 1 {
				t.Errorf("jobs fired after the grace = %d, want still 1", n)
			}
			if p := h.engine.Stats().PendingExits; p != 0 {
				t.Errorf("pending exits = %d, want 0", p)
			}
		})
	}
}

// CHANNEL_EXECUTE_COMPLETE and every event other than the hangup and the
// exit subclass fire nothing and leave no state behind.
func TestCaptureIgnoredEvents(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "execute_complete_*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no execute_complete captures in testdata")
	}
	h := newHarness(t, []string{"survey"}, nil)
	for _, file := range files {
		h.handle(readEvent(t, filepath.Base(file)))
	}
	h.handle(
		event("Event-Name", "HEARTBEAT", "Core-UUID", ivrExitCore),
		event("Event-Name", "CHANNEL_HANGUP", "Unique-ID", ivrExitUUID, "variable_fuse_app", "survey"),
		event("Event-Name", "CUSTOM", "Event-Subclass", "other::thing", "Unique-ID", ivrExitUUID, "fuse_app", "survey"),
	)

	if n := len(h.fired()); n != 0 {
		t.Errorf("jobs fired = %d, want 0", n)
	}
	s := h.engine.Stats()
	if want := uint64(len(files) + 3); s.Events != want {
		t.Errorf("events = %d, want %d", s.Events, want)
	}
	if s.PendingExits != 0 {
		t.Errorf("pending exits = %d, want 0", s.PendingExits)
	}
}

// A realistic stream of the custom exit call: the exit event, the
// CHANNEL_EXECUTE_COMPLETE of the event and hangup applications, and the
// hangups of both legs in either order.
func TestCaptureCustomExitStream(t *testing.T) {
	for _, order := range []string{"ivr leg first", "originator leg first"} {
		t.Run(order, func(t *testing.T) {
			h := newHarness(t, []string{"survey"}, nil)
			h.handle(
				readEvent(t, "custom_fuse_exit.json"),
				readEvent(t, "execute_complete_custom_exit_event_app.json"),
				readEvent(t, "execute_complete_custom_exit_hangup_app.json"),
			)
			legs := []string{"hangup_complete_custom_exit.json", "hangup_complete_custom_exit_originator_leg.json"}
			if order == "originator leg first" {
				legs[0], legs[1] = legs[1], legs[0]
			}
			h.handle(readEvent(t, legs[0]), readEvent(t, legs[1]))

			got := h.onlyJob()
			if got.job.CallID != customExitUUID {
				t.Errorf("call id = %q, want %q", got.job.CallID, customExitUUID)
			}
			if got.vars["exit.fuse_score"] != "7" {
				t.Errorf("exit.fuse_score = %q, want 7", got.vars["exit.fuse_score"])
			}
		})
	}
}

func TestCase11DuplicateHangup(t *testing.T) {
	h := newHarness(t, []string{"main_menu"}, func(c *Config) { c.AppVar = "ivr_app" })
	events := readEvents(t, "11-esl-duplicate-hangup.esl")
	if len(events) != 2 {
		t.Fatalf("case file holds %d events, want 2", len(events))
	}
	h.handle(events...)

	got := h.onlyJob()
	if got.job.CallID != "a1a1a1a1-0000-4000-8000-000000000012" {
		t.Errorf("call id = %q", got.job.CallID)
	}
	if d := h.engine.Stats().Duplicates; d != 1 {
		t.Errorf("duplicates = %d, want 1", d)
	}
}

func TestCase12BridgedLegs(t *testing.T) {
	events := readEvents(t, "12-esl-bridged-a-b-legs.esl")
	if len(events) != 2 {
		t.Fatalf("case file holds %d events, want 2", len(events))
	}
	bLeg, aLeg := events[0], events[1]
	if bLeg.Get("variable_call_uuid") != bLeg.Get("Unique-ID") {
		t.Fatal("the B leg of the case should carry its own uuid as call_uuid")
	}

	cases := []struct {
		name  string
		order []int
	}{
		{"B leg first", []int{0, 1}},
		{"A leg first", []int{1, 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, []string{"main_menu"}, func(c *Config) { c.AppVar = "ivr_app" })
			for _, i := range tc.order {
				h.handle(events[i])
			}

			got := h.onlyJob()
			if got.job.CallID != aLeg.Get("Unique-ID") {
				t.Errorf("call id = %q, want the A leg %q", got.job.CallID, aLeg.Get("Unique-ID"))
			}
			if got.vars[VarOtherLegDNIS] != "1555010099" {
				t.Errorf("%s = %q, want 1555010099", VarOtherLegDNIS, got.vars[VarOtherLegDNIS])
			}
			if s := h.engine.Stats().LegsSkipped; s != 1 {
				t.Errorf("legs skipped = %d, want 1", s)
			}
		})
	}
}

func TestJobFields(t *testing.T) {
	h := newHarness(t, []string{"survey"}, nil)
	h.handle(readEvent(t, "hangup_complete_ivr_exit.json"))
	job := h.onlyJob().job

	checks := []struct {
		field, got, want string
	}{
		{"Key", job.Key, ivrExitKey},
		{"App", job.App, "survey"},
		{"CallID", job.CallID, ivrExitUUID},
		{"CoreUUID", job.CoreUUID, ivrExitCore},
		{"Termination", job.Termination, TerminationIVRExit},
		{"Kind", string(job.Kind), string(delivery.KindREST)},
		{"State", string(job.State), string(delivery.StatePending)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if !job.CreatedAt.Equal(h.clock.Now()) {
		t.Errorf("CreatedAt = %v, want the engine clock %v", job.CreatedAt, h.clock.Now())
	}
	if job.Request == nil || !strings.HasPrefix(job.Request.URL, "http://127.0.0.1") {
		t.Errorf("Request = %+v, want the builder's request kept", job.Request)
	}
}
