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
	flags := addCaptureFlags(fs)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	call, code := flags.load("render", stderr)
	if call == nil {
		return code
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
	writeRequest(stdout, req, call.app.Private, *flags.showPrivate)
	return 0
}
