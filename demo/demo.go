// Package demo runs postcall end to end on one machine with nothing else
// installed: a fake FreeSWITCH (package esltest) replays real captured IVR
// calls, a local receiver stands in for a REST and a SOAP webservice, and
// the daemon runs between them with sample application files. It is what
// `postcall demo` runs, and a test runs it too.
//
// The demo listens on loopback only and removes its temporary folder unless
// asked to keep it.
package demo

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/daemon"
	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/esl/esltest"
)

//go:embed assets
var assets embed.FS

// Options configure Run.
type Options struct {
	// Out receives the demo's narration and each request received.
	Out io.Writer
	// Log receives the daemon's log when Verbose is set, and its warnings
	// and errors otherwise.
	Log     io.Writer
	Verbose bool
	// Timeout bounds the wait for every delivery. Default 60s.
	Timeout time.Duration
	// Keep leaves the temporary folder with the configuration and spool.
	Keep    bool
	Version string
}

// call is one captured call the fake FreeSWITCH replays.
type call struct {
	what   string
	files  []string
	app    string // application to set, "" to keep the capture's own
	fires  bool
	expect string // text the request must carry
}

var calls = []call{
	{what: "IVR hung up after the survey (fuse_exit set, then hangup)", files: []string{"hangup_complete_ivr_exit_originator_leg.json", "hangup_complete_ivr_exit.json"}, fires: true, expect: `"termination": "ivr_exit"`},
	{what: "caller hung up during the survey", files: []string{"hangup_complete_caller_hangup_originator_leg.json", "hangup_complete_caller_hangup.json"}, fires: true, expect: `"termination": "caller_hangup"`},
	{what: "call never answered (busy)", files: []string{"hangup_complete_busy_originator_leg.json", "hangup_complete_busy.json"}, fires: true, expect: `"termination": "not_answered"`},
	{what: "IVR fired its exit event, then hung up", files: []string{"custom_fuse_exit.json", "hangup_complete_custom_exit.json", "hangup_complete_custom_exit_originator_leg.json"}, fires: true, expect: `"score": "7"`},
	{what: "a call of the SOAP application", files: []string{"hangup_complete_ivr_exit.json"}, app: "ticketing", fires: true, expect: `<tns:Outcome>ivr_exit</tns:Outcome>`},
}

// Run runs the demo until every call is delivered, the timeout passes or
// ctx ends.
func Run(ctx context.Context, opts Options) error {
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	out := opts.Out
	dir, err := os.MkdirTemp("", "postcall-demo-")
	if err != nil {
		return fmt.Errorf("create the demo folder: %w", err)
	}
	if opts.Keep {
		defer fmt.Fprintf(out, "\nThe demo's configuration and spool are kept in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	wsdl, _ := assets.ReadFile("assets/ticketing.wsdl")
	recv, err := startReceiver(wsdl)
	if err != nil {
		return err
	}
	defer recv.close()
	fake := esltest.NewServer(esltest.Options{})
	defer fake.Close()

	mainFile, err := writeConfig(dir, fake.Addr(), recv.URL())
	if err != nil {
		return err
	}
	cfg, err := conf.Load(mainFile)
	if err != nil {
		return fmt.Errorf("the demo configuration is not valid: %w", err)
	}
	log := logrus.New()
	log.SetOutput(opts.Log)
	log.SetLevel(logrus.WarnLevel)
	if opts.Verbose {
		log.SetLevel(logrus.InfoLevel)
	}
	d, err := daemon.New(cfg, daemon.Options{Logger: log, Version: opts.Version})
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "postcall demo\n  fake FreeSWITCH (Event Socket): %s\n  webservice receiver:           %s\n  configuration:                 %s\n\n",
		fake.Addr(), recv.URL(), mainFile)

	runCtx, stop := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- d.Run(runCtx) }()
	defer func() {
		stop()
		<-runDone
	}()

	waitCtx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	sub, err := fake.WaitSubscribed(waitCtx)
	if err != nil {
		return fmt.Errorf("postcall did not connect to the fake FreeSWITCH: %w", err)
	}
	fmt.Fprintf(out, "postcall connected and subscribed: %q\n\n", sub)

	want, err := replay(fake, out)
	if err != nil {
		return err
	}
	return report(ctx, out, recv, d, want, time.Now().Add(opts.Timeout))
}

// writeConfig writes the demo's main file and application files into dir
// and returns the main file's path.
func writeConfig(dir, eslAddr, receiverURL string) (string, error) {
	replacer := strings.NewReplacer("@ESL@", eslAddr, "@DIR@", filepath.ToSlash(dir), "@RECEIVER@", receiverURL)
	err := fs.WalkDir(assets, "assets", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ".toml") {
			return err
		}
		data, err := assets.ReadFile(path)
		if err != nil {
			return err
		}
		target := filepath.Join(dir, strings.TrimPrefix(path, "assets/"))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, []byte(replacer.Replace(string(data))), 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("write the demo configuration: %w", err)
	}
	return filepath.Join(dir, "postcall.toml"), nil
}

// replay sends every demo call's events and returns the number of
// requests the receiver should get.
func replay(fake *esltest.Server, out io.Writer) (int, error) {
	want := 0
	for i, c := range calls {
		var events []esl.Event
		for _, name := range c.files {
			data, err := assets.ReadFile("assets/calls/" + name)
			if err != nil {
				return 0, err
			}
			evs, err := esl.ReadEvents(bytes.NewReader(data))
			if err != nil {
				return 0, fmt.Errorf("demo capture %s: %w", name, err)
			}
			events = append(events, evs...)
		}
		if c.app != "" {
			events = retarget(events, c.app)
		}
		for _, ev := range events {
			fake.SendEvent(ev)
		}
		noun := "events"
		if len(events) == 1 {
			noun = "event"
		}
		fmt.Fprintf(out, "call %d sent (%d %s): %s\n", i+1, len(events), noun, c.what)
		if c.fires {
			want++
		}
	}
	fmt.Fprintln(out)
	return want, nil
}

// retarget gives the events of a captured call a new call id and makes
// them name the application app.
func retarget(events []esl.Event, app string) []esl.Event {
	id := esltest.NewUUID()
	out := make([]esl.Event, 0, len(events))
	for _, ev := range events {
		out = append(out, esltest.Clone(ev,
			esl.Header{Name: "Unique-ID", Value: id},
			esl.Header{Name: "Caller-Unique-ID", Value: id},
			esl.Header{Name: "variable_fuse_app", Value: app}))
	}
	return out
}

// report prints each request as it arrives and checks that every call was
// delivered with what it should carry.
func report(ctx context.Context, out io.Writer, recv *receiver, d *daemon.Daemon, want int, deadline time.Time) error {
	printed := 0
	var got []Received
	for printed < want && time.Now().Before(deadline) && ctx.Err() == nil {
		got = recv.wait(printed+1, minTime(deadline, time.Now().Add(200*time.Millisecond)))
		for ; printed < len(got); printed++ {
			fmt.Fprintf(out, "--- request %d received by the webservice ---\n%s\n", printed+1, got[printed].format())
		}
	}
	if printed < want {
		return fmt.Errorf("the receiver got %d of %d requests before the timeout; run with -v to see the daemon's log", printed, want)
	}
	for i, c := range calls {
		if !c.fires {
			continue
		}
		if !anyContains(got, c.expect) {
			return fmt.Errorf("call %d (%s): no request carried %s", i+1, c.what, c.expect)
		}
	}

	// The receiver has every request; wait until the spool has recorded
	// each delivery too, so the summary reflects the daemon's own view.
	for time.Now().Before(deadline) {
		if delivered(d) >= want {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := delivered(d); n < want {
		return fmt.Errorf("the spool records %d of %d deliveries", n, want)
	}
	if extra := recv.wait(want+1, time.Now().Add(500*time.Millisecond)); len(extra) > want {
		return errors.New("the receiver got more requests than calls: a call fired twice")
	}
	fmt.Fprintf(out, "all %d calls delivered, each exactly once (bridged originator legs fired nothing).\n", want)
	return nil
}

func delivered(d *daemon.Daemon) int {
	n := 0
	for _, a := range d.QueueStats().Apps {
		n += a.Delivered
	}
	return n
}

func anyContains(got []Received, text string) bool {
	for _, r := range got {
		if bytes.Contains(r.Body, []byte(text)) {
			return true
		}
	}
	return false
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
