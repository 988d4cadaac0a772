package daemon_test

import (
	"testing"

	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/esl/esltest"
)

// BenchmarkEndToEndCalls measures the whole path of one call: the fake
// sends its hangup, the daemon decodes it, renders the request, writes the
// job to the spool, and the webservice on loopback receives the request.
// Each iteration is one call, and the clock stops once every call is
// delivered.
func BenchmarkEndToEndCalls(b *testing.B) {
	s := startStack(b, stackOptions{apps: map[string]string{"survey": surveyApp}, workers: 32, perApp: 32})
	ivrLeg := readEvent(b, "hangup_complete_ivr_exit.json")
	calls := make([]esl.Event, b.N)
	for i := range calls {
		calls[i] = asCall(ivrLeg, esltest.NewUUID())
	}

	b.ReportAllocs()
	b.ResetTimer()
	for _, ev := range calls {
		s.send(ev)
	}
	s.waitFor("every call delivered", func() bool {
		delivered, _, _ := s.appStats("survey")
		return delivered == b.N
	})
	b.StopTimer()

	if got := len(s.recv.requests()); got != b.N {
		b.Errorf("the webservice got %d requests for %d calls", got, b.N)
	}
}

// BenchmarkEndToEndExitMerge is BenchmarkEndToEndCalls for calls that end
// with the IVR's exit event followed by the hangup, so each call also
// waits in the call model and is merged with its exit event.
func BenchmarkEndToEndExitMerge(b *testing.B) {
	s := startStack(b, stackOptions{apps: map[string]string{"survey": surveyApp}, workers: 32, perApp: 32, exitGrace: "10s"})
	exit := readEvent(b, "custom_fuse_exit.json")
	hangup := readEvent(b, "hangup_complete_custom_exit.json")
	events := make([]esl.Event, 0, 2*b.N)
	for range b.N {
		id := esltest.NewUUID()
		events = append(events, asCall(exit, id), asCall(hangup, id))
	}

	b.ReportAllocs()
	b.ResetTimer()
	for _, ev := range events {
		s.send(ev)
	}
	s.waitFor("every call delivered", func() bool {
		delivered, _, _ := s.appStats("survey")
		return delivered == b.N
	})
	b.StopTimer()
}
