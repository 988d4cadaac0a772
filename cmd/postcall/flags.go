package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// defaultConfig is the main file used when -config is not given.
const defaultConfig = "/etc/postcall/postcall.toml"

// newFlagSet returns a flag set whose -help output starts with the
// command's synopsis and description.
func newFlagSet(name, synopsis, description string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\n%s\n", synopsis, description)
		var hasFlags bool
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(fs.Output(), "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args and reports whether the command is already done
// (help printed or a usage error), with the exit code to return. Flags may
// also follow the positional arguments, as in "spool show KEY -config
// FILE"; fs.Args() then holds the positional arguments only.
func parseFlags(fs *flag.FlagSet, args []string) (code int, done bool) {
	var positional []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		if err != nil {
			return 2, true
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if rest[0] == "--" {
			positional = append(positional, rest[1:]...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	// Parse the positional arguments alone once more, so that fs.Args()
	// returns them.
	fs.Parse(append([]string{"--"}, positional...))
	return 0, false
}
