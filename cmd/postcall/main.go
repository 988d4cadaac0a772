// Command postcall sends Fuse-style post-call webservice requests for
// FreeSWITCH IVR calls. It connects to FreeSWITCH's Event Socket, sees each
// IVR call end, renders the request the application's file describes and
// delivers it once, durably, with retries.
//
// This file only maps the command line to the subcommands; each subcommand
// lives in its own file and is callable from tests through run.
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `postcall: post-call webservices for FreeSWITCH IVR calls

Usage:
  postcall <command> [flags]

Commands:
  run      run the daemon (connects to FreeSWITCH and delivers requests)
  check    validate the configuration and render a sample call per application
  render   print the request a captured event would produce
  send     deliver the request of a captured event once and print the outcome
  wsdl     list the operations of a WSDL (the "refresh" button)
  spool    list, show, retry or purge spooled jobs
  status   show what the running daemon is doing
  reload   make the running daemon reload its configuration
  demo     run a self-contained demo with a built-in fake FreeSWITCH
  version  print the version

Run "postcall <command> -help" for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}

	commands := map[string]func([]string, io.Writer, io.Writer) int{
		"run":     runDaemon,
		"check":   runCheck,
		"render":  runRender,
		"send":    runSend,
		"wsdl":    runWSDL,
		"spool":   runSpool,
		"status":  runStatus,
		"reload":  runReload,
		"demo":    runDemo,
		"version": runVersion,
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "postcall: unknown command %q\n\n%s", name, usage)
		return 2
	}
	return cmd(args[1:], stdout, stderr)
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "postcall version", "Print the version of postcall.", stderr)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	fmt.Fprintf(stdout, "postcall %s\n", version)
	return 0
}
