package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/daemon"
	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/hooks"
	"github.com/postcall/postcall/soap"
	"github.com/postcall/postcall/spool"
)

// The benchmarks here measure each step a call goes through in the daemon,
// on events generated from the real captures: decoding, variable mapping,
// rendering every request type, building SOAP envelopes and spooling. The
// packages have micro-benchmarks of their own; these use the exact data of
// a load run.

// benchApps are application files, one per request type, added to the
// configuration WriteConfig writes. @WSDL@ is the benchmark WSDL's path.
var benchApps = map[string]string{
	"get": `name = "get"
type = "rest"
request_type = "GET"
url = "http://127.0.0.1:1/calls/{{session.id}}"
[[params]]
name = "ani"
value = "{{session.connection.ani}}"
[[params]]
name = "comment"
value = "{{comment}}"
[[params]]
name = "special"
value = "{{special}}"
[[params]]
name = "termination"
value = "{{call.termination}}"
`,
	"delete": `name = "delete"
type = "rest"
request_type = "DELETE"
url = "http://127.0.0.1:1/calls/{{session.id}}?reason={{call.termination}}"
`,
	"post": `name = "post"
type = "rest"
request_type = "POST"
url = "http://127.0.0.1:1/calls"
[[headers]]
name = "X-Caller-Name"
value = "{{call.caller_name}}"
[[params]]
name = "call"
value = "{{session.id}}"
[[params]]
name = "ani"
value = "{{session.connection.ani}}"
[[params]]
name = "comment"
value = "{{comment}}"
[[params]]
name = "special"
value = "{{special}}"
[[params]]
name = "score"
value = "{{exit.fuse_score}}"
`,
	"put": `name = "put"
type = "rest"
request_type = "PUT"
url = "http://127.0.0.1:1/calls/{{session.id}}"
body = '''<call id="{{session.id}}"><ani>{{session.connection.ani}}</ani><caller>{{call.caller_name}}</caller><comment>{{comment}}</comment><special>{{special}}</special><end>{{call.end}}</end></call>'''
[[headers]]
name = "Content-Type"
value = "application/xml"
`,
	"soap": `name = "soap"
type = "soap"
wsdl = "@WSDL@"
method = "LogCall"
soap_version = "1.2"
[[params]]
name = "CallId"
value = "{{session.id}}"
[[params]]
name = "Caller"
value = "{{session.connection.ani}}"
[[params]]
name = "CallerName"
value = "{{call.caller_name}}"
[[params]]
name = "Dialed"
value = "{{session.connection.dnis}}"
[[params]]
name = "Outcome"
value = "{{call.termination}}"
[[params]]
name = "Seconds"
value = "{{call.duration}}"
[[params]]
name = "Comment"
value = "{{comment}}"
[[params]]
name = "Special"
value = "{{special}}"
`,
}

// benchConfig writes the load configuration plus benchApps and returns it
// loaded and compiled. The POST RAW application is the load run's own,
// named "survey".
func benchConfig(b *testing.B) (*conf.Config, *daemon.Apps) {
	b.Helper()
	dir := b.TempDir()
	mainFile, err := WriteConfig(dir, ConfigOptions{ESLAddr: "127.0.0.1:1", SinkURL: "http://127.0.0.1:1"})
	if err != nil {
		b.Fatal(err)
	}
	wsdl, err := filepath.Abs("testdata/calllog.wsdl")
	if err != nil {
		b.Fatal(err)
	}
	for name, text := range benchApps {
		text = strings.ReplaceAll(text, "@WSDL@", filepath.ToSlash(wsdl))
		if err := os.WriteFile(filepath.Join(dir, "apps.d", name+".toml"), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	cfg, err := conf.Load(mainFile)
	if err != nil {
		b.Fatal(err)
	}
	apps, err := daemon.BuildApps(cfg, daemon.BuildOptions{Logger: quietLogger(), UserAgent: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	return cfg, apps
}

func quietLogger() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// benchCall returns the decoded events of a generated call, with an exit
// event when withExit is set.
func benchCall(b *testing.B, withExit bool) (esl.Event, *esl.Event) {
	b.Helper()
	share := 0.0
	if withExit {
		share = 1
	}
	hangup, exit, err := mustGenerator(b, GeneratorOptions{ExitShare: share}).HangupEvent(3)
	if err != nil {
		b.Fatal(err)
	}
	return hangup, exit
}

func BenchmarkGenerateCall(b *testing.B) {
	for _, format := range []string{"json", "plain"} {
		for _, withExit := range []bool{false, true} {
			name := format + "/hangup"
			share := 0.0
			if withExit {
				name, share = format+"/exit_and_hangup", 1
			}
			g := mustGenerator(b, GeneratorOptions{Format: format, ExitShare: share})
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				seq := 0
				for b.Loop() {
					g.Call(seq)
					seq++
				}
			})
		}
	}
}

// BenchmarkDecodeEvent decodes one frame of each captured kind, generated
// in both formats, as the daemon's reader does after framing.
func BenchmarkDecodeEvent(b *testing.B) {
	for _, format := range []string{"json", "plain"} {
		plain := mustGenerator(b, GeneratorOptions{Format: format}).Call(0).Frames
		exit := mustGenerator(b, GeneratorOptions{Format: format, ExitShare: 1}).Call(0).Frames
		kinds := []struct {
			name  string
			frame []byte
		}{
			{"hangup", plain[0]},
			{"exit", exit[0]},
			{"hangup_after_exit", exit[1]},
		}
		for _, k := range kinds {
			frame, err := esl.NewFrameReader(bytes.NewReader(k.frame), 0).ReadFrame()
			if err != nil {
				b.Fatal(err)
			}
			b.Run(format+"/"+k.name, func(b *testing.B) {
				b.SetBytes(int64(len(frame.Body)))
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := esl.DecodeFrame(&frame); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkReadEventStream frames and decodes a stream of 100 generated
// calls (a fifth with an exit event), the ESL reader's whole work per event.
func BenchmarkReadEventStream(b *testing.B) {
	for _, format := range []string{"json", "plain"} {
		g := mustGenerator(b, GeneratorOptions{Format: format, ExitShare: 0.2})
		var stream bytes.Buffer
		events := 0
		for seq := range 100 {
			for _, f := range g.Call(seq).Frames {
				stream.Write(f)
				events++
			}
		}
		b.Run(format, func(b *testing.B) {
			b.SetBytes(int64(stream.Len()))
			b.ReportAllocs()
			for b.Loop() {
				fr := esl.NewFrameReader(bytes.NewReader(stream.Bytes()), 0)
				for range events {
					f, err := fr.ReadFrame()
					if err != nil {
						b.Fatal(err)
					}
					if _, _, err := esl.DecodeFrame(&f); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkMapVariables maps a generated call's events to its variables,
// for an application that lists the names its templates use (as the daemon
// builds them) and for one that does not, which gets every raw name.
func BenchmarkMapVariables(b *testing.B) {
	_, apps := benchConfig(b)
	cfg := &hooks.Config{}
	loadApp := apps.Hooks["survey"]
	allNames := &hooks.App{Name: "survey"}
	for _, withExit := range []bool{false, true} {
		call := "hangup"
		if withExit {
			call = "exit_and_hangup"
		}
		hangup, exit := benchCall(b, withExit)
		for _, tc := range []struct {
			name string
			app  *hooks.App
		}{
			{"template_names", loadApp},
			{"every_raw_name", allNames},
		} {
			b.Run(call+"/"+tc.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					termination := hooks.Termination(cfg, &hangup, exit)
					hooks.Variables(cfg, tc.app, &hangup, exit, termination)
				}
			})
		}
	}
}

// BenchmarkRenderJob turns a generated call into the job of each request
// type: termination, variables, rendering and the job's identity, as the
// call model does for every call.
func BenchmarkRenderJob(b *testing.B) {
	cfg, apps := benchConfig(b)
	hangup, exit := benchCall(b, true)
	for _, tc := range []struct{ name, app string }{
		{"GET", "get"},
		{"POST", "post"},
		{"POST_RAW_json", "survey"},
		{"PUT_xml", "put"},
		{"DELETE", "delete"},
		{"SOAP_params", "soap"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := daemon.RenderJob(cfg, apps, tc.app, &hangup, exit); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSOAPEnvelope builds the envelope of a generated call's SOAP job
// for each SOAP version, as the SOAP sender does for every attempt.
func BenchmarkSOAPEnvelope(b *testing.B) {
	cfg, apps := benchConfig(b)
	hangup, exit := benchCall(b, true)
	job, err := daemon.RenderJob(cfg, apps, "soap", &hangup, exit)
	if err != nil {
		b.Fatal(err)
	}
	svc, err := soap.Load(context.Background(), "testdata/calllog.wsdl", soap.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, version := range []string{"1.1", "1.2"} {
		b.Run(version, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.Build("LogCall", version, job.SOAP.Params); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSpoolAdd writes generated jobs to a bolt spool in a temporary
// folder, fsync included: one job per Add from many goroutines (group
// commit), and 100 jobs per Add from one.
func BenchmarkSpoolAdd(b *testing.B) {
	cfg, apps := benchConfig(b)
	hangup, exit := benchCall(b, false)
	job, err := daemon.RenderJob(cfg, apps, "survey", &hangup, exit)
	if err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	next := func() *delivery.Job {
		j := *job
		j.Key = fmt.Sprintf("%032x", seq.Add(1))
		return &j
	}
	open := func(b *testing.B) *spool.BoltStore {
		store, err := spool.OpenBolt(filepath.Join(b.TempDir(), "spool.db"), spool.BoltOptions{Logger: quietLogger()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { store.Close() })
		return store
	}

	b.Run("one_job_64_writers", func(b *testing.B) {
		store := open(b)
		b.SetParallelism(32) // 32 goroutines per GOMAXPROCS
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := store.Add(context.Background(), []*delivery.Job{next()}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
	})
	b.Run("100_jobs_per_add", func(b *testing.B) {
		store := open(b)
		batch := make([]*delivery.Job, 100)
		b.ReportAllocs()
		for b.Loop() {
			for i := range batch {
				batch[i] = next()
			}
			if _, err := store.Add(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "jobs/s")
	})
}
