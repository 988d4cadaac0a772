package main

import (
	"context"
	"fmt"
	"io"

	"github.com/postcall/postcall/daemon"
	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/soap"
)

// defaultBuild returns the build options of the one-shot commands.
func defaultBuild() daemon.BuildOptions {
	return daemon.BuildOptions{Logger: quietLogger()}
}

func runSend(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("send", "postcall send [-config FILE] [-app NAME] -event FILE [-show-private]",
		"Deliver the request of a captured call once, as the daemon would, and print the request and\n"+
			"the outcome: the \"test this webservice\" button. Nothing is spooled and nothing is retried.\n"+
			"Exits 0 when the webservice accepted the request.", stderr)
	flags := addCaptureFlags(fs)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	call, code := flags.load("send", stderr)
	if call == nil {
		return code
	}
	sender := call.apps.Policies[call.app.Name].Sender
	if call.app.Type == "soap" {
		d := call.cfg.Main.Delivery
		sender = soap.NewSender(soap.Options{
			Clients:           func(name string) *soap.Client { return call.apps.SOAP[name] },
			MaxResponseBytes:  int64(d.MaxResponseBytes),
			IdempotencyHeader: d.IdempotencyHeader,
			UserAgent:         userAgent(call.cfg),
			MaxRetryAfter:     d.Retry.MaxRetryAfter.D(),
			Logger:            quietLogger(),
		})
	}

	ctx := context.Background()
	if req, err := call.wireRequest(ctx); err == nil {
		writeMissing(stdout, call.job)
		writeRequest(stdout, req, call.app.Private, *flags.showPrivate)
		fmt.Fprintln(stdout)
	}
	out := sender.Send(ctx, call.job)
	fmt.Fprintf(stdout, "outcome: %s", out.Class)
	if out.Status != 0 {
		fmt.Fprintf(stdout, ", HTTP %d", out.Status)
	}
	fmt.Fprintf(stdout, ", %d ms\n", out.Duration.Milliseconds())
	if out.Err != nil {
		fmt.Fprintf(stdout, "error: %v\n", out.Err)
	}
	if out.RetryAfter > 0 {
		fmt.Fprintf(stdout, "the webservice asked to retry after %s\n", out.RetryAfter)
	}
	if out.Class != delivery.Delivered {
		return 1
	}
	return 0
}
