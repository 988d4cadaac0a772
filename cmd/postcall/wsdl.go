package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/postcall/postcall/soap"
)

func runWSDL(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("wsdl", "postcall wsdl [-timeout DURATION] LOCATION",
		"Read a WSDL (an http(s) URL or a local file) and list each operation with the SOAP versions\n"+
			"it is bound to and its input elements in order, with their types and which are optional:\n"+
			"the \"refresh\" button of a SOAP application.", stderr)
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the WSDL and its imports")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "postcall wsdl: give exactly one WSDL location (URL or file path)")
		return 2
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	svc, err := soap.Load(ctx, fs.Arg(0), soap.LoadOptions{Timeout: *timeout, UserAgent: "postcall/" + version})
	if err != nil {
		fmt.Fprintf(stderr, "postcall wsdl: %v\n", err)
		return 1
	}
	if err := soap.WriteOperations(stdout, svc); err != nil {
		fmt.Fprintf(stderr, "postcall wsdl: %v\n", err)
		return 1
	}
	return 0
}
