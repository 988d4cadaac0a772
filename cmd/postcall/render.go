package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

func runRender(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("render", "postcall render [-config FILE] [-app NAME] -event FILE [-show-private]",
		"Print the exact HTTP request that a captured call would produce. The event file holds one\n"+
			"or more Event Socket frames (Content-Length, Content-Type, blank line, body), for example a\n"+
			"CHANNEL_HANGUP_COMPLETE and the IVR's exit event. Nothing is sent. A SOAP application's WSDL\n"+
			"is read to build the envelope.", stderr)
	configPath := fs.String("config", defaultConfig, "main configuration `file`")
	appName := fs.String("app", "", "application `name` (default: the one the call names)")
	eventFile := fs.String("event", "", "captured event `file` (required)")
	showPrivate := fs.Bool("show-private", false, "show the data of a private application")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if *eventFile == "" {
		fmt.Fprintln(stderr, "postcall render: -event FILE is required")
		return 2
	}

	call, err := loadCapturedCall(*configPath, *appName, *eventFile, *showPrivate, defaultBuild())
	if err != nil {
		fmt.Fprintf(stderr, "postcall render: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := call.wireRequest(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "postcall render: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "# application %s, call %s, termination %s\n", call.app.Name, call.job.CallID, call.job.Termination)
	writeMissing(stdout, call.job)
	writeRequest(stdout, req, call.app.Private, *showPrivate)
	return 0
}
