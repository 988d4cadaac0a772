package loadtest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/esl/esltest"
	"github.com/postcall/postcall/hooks"
)

// decodeFrames decodes whole ESL frames into events.
func decodeFrames(t testing.TB, frames [][]byte) []esl.Event {
	t.Helper()
	var events []esl.Event
	for i, f := range frames {
		evs, err := esl.ReadEvents(bytes.NewReader(f))
		if err != nil {
			t.Fatalf("frame %d does not decode: %v", i, err)
		}
		if len(evs) != 1 {
			t.Fatalf("frame %d holds %d events, want 1", i, len(evs))
		}
		events = append(events, evs...)
	}
	return events
}

func mustCapture(t testing.TB, name string) esl.Event {
	t.Helper()
	ev, err := readCapture(name)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func mustGenerator(t testing.TB, opts GeneratorOptions) *Generator {
	t.Helper()
	g, err := NewGenerator(opts)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// isIVRValue reports whether a header carries one of the IVR's own values,
// which the generator varies.
func isIVRValue(name string) bool {
	return strings.HasPrefix(name, "variable_fuse_var_") || name == "fuse_score" || name == "fuse_note"
}

func TestGeneratedCallKeepsCaptureShape(t *testing.T) {
	cases := []struct {
		name     string
		format   string
		seq      int
		captures []string
	}{
		{"json hangup", "json", 0, []string{captureHangup}},
		{"json exit then hangup", "json", 4, []string{captureExit, captureExitHangup}},
		{"plain hangup", "plain", 0, []string{captureHangup}},
		{"plain exit then hangup", "plain", 4, []string{captureExit, captureExitHangup}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := mustGenerator(t, GeneratorOptions{Format: tc.format, ExitShare: 0.2})
			call := g.Call(tc.seq)
			if len(call.Frames) != len(tc.captures) {
				t.Fatalf("call %d has %d frames, want %d", tc.seq, len(call.Frames), len(tc.captures))
			}
			events := decodeFrames(t, call.Frames)

			for i, ev := range events {
				capture := mustCapture(t, tc.captures[i])
				if got, want := len(ev.Headers), len(capture.Headers); got != want {
					t.Errorf("event %d has %d headers, the capture %d", i, got, want)
				}
				if got, want := len(call.Frames[i]), len(esltest.Frame(capture, tc.format)); got != want {
					t.Errorf("event %d frame is %d bytes, the capture encoded the same way %d", i, got, want)
				}
				if got := ev.Get("Core-UUID"); got != capture.Get("Core-UUID") {
					t.Errorf("event %d Core-UUID = %q, want the capture's %q", i, got, capture.Get("Core-UUID"))
				}
				for _, name := range []string{"Unique-ID", "Channel-Call-UUID", "Caller-Unique-ID", "variable_uuid", "variable_call_uuid"} {
					if got := ev.Get(name); got != call.ID {
						t.Errorf("event %d %s = %q, want the call id %q", i, name, got, call.ID)
					}
				}
				if got, want := ev.Name(), capture.Name(); got != want {
					t.Errorf("event %d is %s, want %s", i, got, want)
				}
			}
			if got, want := call.Key, hooks.Key(g.CoreUUID(), call.ID); got != want {
				t.Errorf("call key = %q, want %q", got, want)
			}
		})
	}
}

func TestGeneratedValuesDifferPerCall(t *testing.T) {
	g := mustGenerator(t, GeneratorOptions{ExitShare: 1})
	capture := mustCapture(t, captureExitHangup)
	first := decodeFrames(t, g.Call(1).Frames)
	second := decodeFrames(t, g.Call(2).Frames)

	varied := 0
	for i, h := range capture.Headers {
		if !isIVRValue(h.Name) {
			if got := first[1].Headers[i].Value; h.Value != capture.Get("Unique-ID") && got != h.Value {
				t.Errorf("header %s changed from %q to %q, but only IVR values and ids may change", h.Name, h.Value, got)
			}
			continue
		}
		a, b := first[1].Headers[i].Value, second[1].Headers[i].Value
		if len(a) != len(h.Value) {
			t.Errorf("%s = %q is %d bytes, the capture's %q is %d", h.Name, a, len(a), h.Value, len(h.Value))
		}
		if strings.Map(keepPunctuation, a) != strings.Map(keepPunctuation, h.Value) {
			t.Errorf("%s = %q does not keep the punctuation of the capture's %q", h.Name, a, h.Value)
		}
		if a != b {
			varied++
		}
	}
	if varied == 0 {
		t.Error("no IVR value differs between two calls")
	}
}

// keepPunctuation drops ASCII letters and digits, keeping what the
// generator never changes.
func keepPunctuation(r rune) rune {
	if charClass(r) != 0 {
		return -1
	}
	return r
}

func TestExitAndHangupShareValues(t *testing.T) {
	g := mustGenerator(t, GeneratorOptions{ExitShare: 1})
	events := decodeFrames(t, g.Call(7).Frames)
	exit, hangup := events[0], events[1]
	compared := 0
	for _, h := range exit.Headers {
		if !strings.HasPrefix(h.Name, "variable_fuse_var_") {
			continue
		}
		if got := hangup.Get(h.Name); got != h.Value {
			t.Errorf("%s is %q in the exit event and %q in the hangup of the same call", h.Name, h.Value, got)
		}
		compared++
	}
	if compared == 0 {
		t.Fatal("the exit event carries no IVR variable to compare")
	}
}

func TestGeneratorSetsApplication(t *testing.T) {
	g := mustGenerator(t, GeneratorOptions{App: "crm-lookup", ExitShare: 1})
	events := decodeFrames(t, g.Call(0).Frames)
	if got := events[0].Get("fuse_app"); got != "crm-lookup" {
		t.Errorf("exit event fuse_app = %q, want crm-lookup", got)
	}
	for i, ev := range events {
		if got := ev.Get("variable_fuse_app"); got != "crm-lookup" {
			t.Errorf("event %d variable_fuse_app = %q, want crm-lookup", i, got)
		}
	}
}

func TestExitShareSpreadsCalls(t *testing.T) {
	cases := []struct {
		name  string
		share float64
		want  int
	}{
		{"none", 0, 0},
		{"a fifth", 0.2, 200},
		{"a third", 1.0 / 3, 333},
		{"all", 1, 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := mustGenerator(t, GeneratorOptions{ExitShare: tc.share})
			got := 0
			for seq := range 1000 {
				if g.HasExit(seq) {
					got++
				}
			}
			if got != tc.want {
				t.Errorf("%d of 1000 calls have an exit event, want %d", got, tc.want)
			}
		})
	}
}

func TestGeneratorRejectsInvalidOptions(t *testing.T) {
	cases := []struct {
		name string
		opts GeneratorOptions
	}{
		{"negative exit share", GeneratorOptions{ExitShare: -0.1}},
		{"exit share above one", GeneratorOptions{ExitShare: 1.5}},
		{"unknown format", GeneratorOptions{Format: "xml"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewGenerator(tc.opts); err == nil {
				t.Error("NewGenerator returned no error")
			}
		})
	}
}

func TestCallIDsAreDistinctUUIDs(t *testing.T) {
	g := mustGenerator(t, GeneratorOptions{})
	seen := make(map[string]bool)
	for seq := range 1000 {
		id := g.CallID(seq)
		if len(id) != uuidLen || id[14] != '4' || strings.Count(id, "-") != 4 {
			t.Fatalf("call id %q is not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("call id %q repeats", id)
		}
		seen[id] = true
	}
}
