package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/daemon"
	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/rest"
)

// quietLogger discards everything below warnings, for commands whose own
// output is what matters.
func quietLogger() *logrus.Logger {
	log := logrus.New()
	log.SetOutput(os.Stderr)
	log.SetLevel(logrus.WarnLevel)
	return log
}

// capturedCall is the job of one captured call, ready to print or send.
type capturedCall struct {
	cfg  *conf.Config
	app  *conf.App
	apps *daemon.Apps
	job  *delivery.Job
}

// loadCapturedCall loads the configuration and renders the job of the call
// in eventFile for the application appName (or the one the call names).
//
// With showPrivate, private applications are built as if they were not
// private, so that errors show the path and the response too.
func loadCapturedCall(configPath, appName, eventFile string, showPrivate bool, opts daemon.BuildOptions) (*capturedCall, error) {
	cfg, err := conf.Load(configPath)
	if err != nil {
		return nil, fmt.Errorf("configuration is not valid:\n%w", err)
	}
	if showPrivate {
		for _, a := range cfg.Apps {
			a.Private = false
		}
	}
	f, err := os.Open(eventFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read the event file: %w", err)
	}
	defer f.Close()
	events, err := esl.ReadEvents(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w\nAn event file holds Event Socket frames: each event is preceded by "+
			"\"Content-Length: N\", \"Content-Type: text/event-json\" (or text/event-plain) and a blank line", eventFile, err)
	}
	hangup, exit, err := daemon.CallEvents(cfg, events)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", eventFile, err)
	}
	if appName == "" {
		appName = daemon.AppOf(cfg, hangup, exit)
		if appName == "" {
			return nil, fmt.Errorf("%s: the call sets no %s variable: name the application with -app",
				eventFile, cfg.Main.Variables.App)
		}
	}
	app := cfg.App(appName)
	if app == nil {
		return nil, fmt.Errorf("no application %q is configured in %s", appName, configPath)
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	if opts.UserAgent == "" {
		opts.UserAgent = userAgent(cfg)
	}
	apps, err := daemon.BuildApps(cfg, opts)
	if err != nil {
		return nil, err
	}
	job, err := daemon.RenderJob(cfg, apps, appName, hangup, exit)
	if err != nil {
		return nil, err
	}
	return &capturedCall{cfg: cfg, app: app, apps: apps, job: job}, nil
}

// wireRequest returns the request one attempt would send.
func (c *capturedCall) wireRequest(ctx context.Context) (*delivery.Request, error) {
	return daemon.WireRequest(ctx, c.cfg, c.apps, c.job, userAgent(c.cfg))
}

func userAgent(cfg *conf.Config) string {
	if cfg.Main.Delivery.UserAgent != "" {
		return cfg.Main.Delivery.UserAgent
	}
	return "postcall/" + version
}

// writeRequest prints req as HTTP/1.1 would carry it. For a private
// application, unless showPrivate is set, only the method and
// scheme://host:port are shown; header values, path, query and body are
// replaced with "(private)".
func writeRequest(w io.Writer, req *delivery.Request, private, showPrivate bool) {
	hide := private && !showPrivate
	target := req.URL
	if hide {
		target = rest.RedactURL(req.URL) + "/(private)"
	}
	fmt.Fprintf(w, "%s %s\n", req.Method, target)
	for _, h := range req.Header {
		value := h.Value
		if hide && !strings.EqualFold(h.Name, "Content-Length") {
			value = "(private)"
		}
		fmt.Fprintf(w, "%s: %s\n", h.Name, value)
	}
	if len(req.Body) == 0 {
		return
	}
	fmt.Fprintln(w)
	if hide {
		fmt.Fprintf(w, "(private body, %d bytes)\n", len(req.Body))
		return
	}
	w.Write(req.Body)
	if req.Body[len(req.Body)-1] != '\n' {
		fmt.Fprintln(w)
	}
}

// writeMissing lists the placeholders that rendered empty.
func writeMissing(w io.Writer, job *delivery.Job) {
	if len(job.Missing) > 0 {
		fmt.Fprintf(w, "# placeholders with no value (rendered empty): %s\n", strings.Join(job.Missing, ", "))
	}
}

// captureFlags are the flags of the commands that work on a captured call.
type captureFlags struct {
	configPath, appName, eventFile *string
	showPrivate                    *bool
}

func addCaptureFlags(fs *flag.FlagSet) *captureFlags {
	return &captureFlags{
		configPath:  fs.String("config", defaultConfig, "main configuration `file`"),
		appName:     fs.String("app", "", "application `name` (default: the one the call names)"),
		eventFile:   fs.String("event", "", "captured event `file` (required)"),
		showPrivate: fs.Bool("show-private", false, "show the data of a private application"),
	}
}

// load renders the captured call the flags name. On failure it prints the
// error and returns a nil call with the exit code.
func (f *captureFlags) load(command string, stderr io.Writer) (*capturedCall, int) {
	if *f.eventFile == "" {
		fmt.Fprintf(stderr, "postcall %s: -event FILE is required\n", command)
		return nil, 2
	}
	call, err := loadCapturedCall(*f.configPath, *f.appName, *f.eventFile, *f.showPrivate, defaultBuild())
	if err != nil {
		fmt.Fprintf(stderr, "postcall %s: %v\n", command, err)
		return nil, 1
	}
	return call, 0
}
