package hooks

import (
	"maps"
	"slices"
	"testing"
)

// TestNeedsKeepsUsedNames checks that an application listing the names its
// templates use gets exactly those raw names, with the values the full
// variable set has, and every documented and IVR variable.
func TestNeedsKeepsUsedNames(t *testing.T) {
	cfg := &Config{}
	hangup := readEvent(t, "hangup_complete_custom_exit.json")
	exit := readEvent(t, "custom_fuse_exit.json")
	full := Variables(cfg, &App{Name: "survey"}, &hangup, &exit, TerminationIVRExit)

	t.Run("every name", func(t *testing.T) {
		app := &App{Name: "survey", Needs: slices.Collect(maps.Keys(full))}
		got := Variables(cfg, app, &hangup, &exit, TerminationIVRExit)
		if !maps.Equal(got, full) {
			t.Errorf("listing every name changed the variables: got %d names, want %d", len(got), len(full))
		}
	})

	t.Run("some names", func(t *testing.T) {
		needs := []string{"channel.fuse_var_q1", "event.Caller-ANI", "exit.fuse_score", "channel.not_set", "q1"}
		app := &App{Name: "survey", Needs: needs}
		got := Variables(cfg, app, &hangup, &exit, TerminationIVRExit)
		for name, value := range got {
			if full[name] != value {
				t.Errorf("%s = %q, want %q as in the full set", name, value, full[name])
			}
		}
		for _, name := range []string{"channel.fuse_var_q1", "event.Caller-ANI", "exit.fuse_score", "q1", VarSessionID, VarTermination, VarEnd} {
			if _, ok := got[name]; !ok {
				t.Errorf("%s is missing", name)
			}
		}
		for _, name := range []string{"channel.fuse_app", "event.Unique-ID", "exit.fuse_note"} {
			if _, ok := got[name]; ok {
				t.Errorf("%s is set although no template uses it", name)
			}
		}
	})
}

func BenchmarkVariablesWithNeeds(b *testing.B) {
	cfg := &Config{}
	hangup := readEvent(b, "hangup_complete_ivr_exit.json")
	app := &App{Name: "survey", Needs: []string{"session.id", "session.connection.ani", "call.termination", "q1", "channel.sip_call_id"}}
	b.ReportAllocs()
	for b.Loop() {
		Variables(cfg, app, &hangup, nil, TerminationIVRExit)
	}
}
