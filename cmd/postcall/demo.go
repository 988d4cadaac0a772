package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/postcall/postcall/demo"
)

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", "postcall demo [-timeout DURATION] [-keep]",
		"Run a self-contained demo: a built-in fake FreeSWITCH replays real captured IVR calls, a\n"+
			"local receiver stands in for the webservices (one REST, one SOAP), and the daemon runs\n"+
			"with sample application files between them. Each request the receiver gets is printed.\n"+
			"Exits 0 when every call was delivered.", stderr)
	timeout := fs.Duration("timeout", 60*time.Second, "how long to wait for every delivery")
	keep := fs.Bool("keep", false, "keep the demo's configuration and spool folder and print its path")
	verbose := fs.Bool("v", false, "show the daemon's log")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := demo.Run(ctx, demo.Options{Out: stdout, Log: stderr, Timeout: *timeout, Keep: *keep, Verbose: *verbose, Version: version})
	if err != nil {
		fmt.Fprintf(stderr, "postcall demo: %v\n", err)
		return 1
	}
	return 0
}
