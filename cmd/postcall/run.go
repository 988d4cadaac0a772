package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/daemon"
	"github.com/postcall/postcall/logs"
)

func runDaemon(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", "postcall run [-config FILE] [-log-level LEVEL] [-log-format FORMAT]",
		"Run the daemon: connect to FreeSWITCH's Event Socket and deliver a post-call request for\n"+
			"every IVR call that ends. SIGTERM or SIGINT stops it gracefully (a second one stops it at\n"+
			"once); SIGHUP reloads the application files.", stderr)
	configPath := fs.String("config", defaultConfig, "main configuration `file`")
	level := fs.String("log-level", "", "log level: debug, info, warn or error (overrides [log] level)")
	format := fs.String("log-format", "", "log format: text or json (overrides [log] format)")
	if code, done := parseFlags(fs, args); done {
		return code
	}

	cfg, err := conf.Load(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "postcall: configuration is not valid:\n%v\n", err)
		return 1
	}
	log, err := newLogger(cfg.Main.Log, *level, *format, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "postcall: %v\n", err)
		return 2
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}

	d, err := daemon.New(cfg, daemon.Options{Logger: log, Version: version})
	if err != nil {
		log.WithField("error", err).Error("cannot start")
		return 1
	}
	if path := cfg.Main.Admin.PIDFile; path != "" {
		if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			log.WithFields(logrus.Fields{"path": path, "error": err}).Error("cannot write the PID file; check [admin] pid_file")
			return 1
		}
		defer os.Remove(path)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(signals)
	go handleSignals(signals, d, cancel, log)

	if err := d.Run(ctx); err != nil {
		log.WithField("error", err).Error("stopped with an error")
		return 1
	}
	return 0
}

// handleSignals turns SIGTERM and SIGINT into a graceful stop, and a second
// one exits at once. SIGHUP becomes a reload request, and the daemon merges
// a burst of them into one reload.
func handleSignals(signals <-chan os.Signal, d *daemon.Daemon, stop context.CancelFunc, log *logrus.Logger) {
	stopping := false
	for sig := range signals {
		switch sig {
		case syscall.SIGHUP:
			d.RequestReload()
		default:
			if stopping {
				log.WithField("signal", sig.String()).Warn("second stop signal: exiting at once; unfinished attempts are retried after restart")
				os.Exit(1)
			}
			stopping = true
			log.WithField("signal", sig.String()).Info("stop signal received; finishing in-flight attempts")
			stop()
		}
	}
}

// newLogger builds the logger from the [log] table, with the flags taking
// precedence. Identical warnings and errors are written at most once a
// minute, with a count of the ones left out.
func newLogger(c conf.Log, level, format string, w io.Writer) (*logrus.Logger, error) {
	if level == "" {
		level = c.Level
	}
	if format == "" {
		format = c.Format
	}
	return logs.New(w, level, format, time.Minute)
}
