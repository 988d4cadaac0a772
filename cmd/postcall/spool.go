package main

import (
	"fmt"
	"io"
)

func runSpool(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "postcall spool: not available yet")
	return 1
}
