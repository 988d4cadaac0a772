package hooks

import (
	"fmt"
	"testing"

	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/render"
)

// BenchmarkVariables maps the variables of a real hangup merged with its
// exit event.
func BenchmarkVariables(b *testing.B) {
	hangup := readEvent(b, "hangup_complete_custom_exit.json")
	exit := readEvent(b, "custom_fuse_exit.json")
	app := &App{Name: "survey", Variables: map[string]string{"score": "exit:fuse_score"}}
	b.ReportAllocs()
	for b.Loop() {
		Variables(nil, app, &hangup, &exit, TerminationIVRExit)
	}
}

// BenchmarkHandle runs one call (exit event and hangup) through the engine,
// each iteration with a new Unique-ID.
func BenchmarkHandle(b *testing.B) {
	hangupTemplate := readEvent(b, "hangup_complete_custom_exit.json")
	exitTemplate := readEvent(b, "custom_fuse_exit.json")
	build := func(render.Vars) (*delivery.Job, error) { return &delivery.Job{Kind: delivery.KindREST}, nil }
	logger, _ := newNullLogger()
	engine := New(Config{
		Apps:   map[string]*App{"survey": {Name: "survey", Build: build}},
		Submit: func(*delivery.Job) error { return nil },
		Logger: logger,
	})

	const distinct = 1024
	exits := make([]esl.Event, distinct)
	hangups := make([]esl.Event, distinct)
	for i := range distinct {
		uid := fmt.Sprintf("bench-%d", i)
		exits[i] = withHeaders(exitTemplate, hdr("Unique-ID", uid))
		hangups[i] = withHeaders(hangupTemplate, hdr("Unique-ID", uid))
	}
	exitCore, hangupCore := headerIndex(b, exitTemplate, "Core-UUID"), headerIndex(b, hangupTemplate, "Core-UUID")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// Every round over the distinct calls gets a new Core-UUID, so
		// every iteration is a new call.
		n := i % distinct
		core := fmt.Sprintf("core-%d", i/distinct)
		exits[n].Headers[exitCore].Value = core
		hangups[n].Headers[hangupCore].Value = core
		engine.Handle(&exits[n])
		engine.Handle(&hangups[n])
		i++
	}
	if s := engine.Stats(); s.Fired != uint64(i) {
		b.Fatalf("fired = %d, want %d", s.Fired, i)
	}
}

func headerIndex(b *testing.B, ev esl.Event, name string) int {
	for i, h := range ev.Headers {
		if h.Name == name {
			return i
		}
	}
	b.Fatalf("the event has no %s header", name)
	return -1
}
