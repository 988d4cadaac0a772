package conf

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in one configuration file.
//
// Error never contains the value of a secret: a problem with a password,
// signing secret or header value names the key, the file or the environment
// variable it came from, never the value.
type Error struct {
	// File is the path of the file, as the loader opened it.
	File string
	// Line and Column are 1-based; 0 means unknown. Column counts characters.
	Line   int
	Column int
	// Key is the full path of the key, such as "retry.max_delay" or
	// "headers[2].name". Entries of an array of tables count from 1, in the
	// order of the file. Key is empty for a problem with the whole file.
	Key string
	// Message describes what is wrong and names the key.
	Message string
	// Remedy is what to do about it; it may be empty.
	Remedy string
	// Err is the underlying error, if any.
	Err error
}

// Error formats the problem as FILE:LINE:COLUMN: MESSAGE: REMEDY, leaving out
// the parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Remedy != "" {
		b.WriteString(": ")
		b.WriteString(e.Remedy)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Errors is every problem found while loading a configuration. Load and
// LoadApp return an Errors value, never an empty one, when anything is wrong.
type Errors []*Error

// Error returns one problem per line.
func (l Errors) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, so that errors.As and errors.Is look at each.
func (l Errors) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// sortErrors orders problems by file, in the order the files were loaded,
// then by line. Problems without a line, such as a missing key, come first
// in their file.
func sortErrors(l Errors, fileOrder []string) {
	rank := make(map[string]int, len(fileOrder))
	for i, f := range fileOrder {
		rank[f] = i
	}
	slices.SortStableFunc(l, func(a, b *Error) int {
		if c := cmp.Compare(rank[a.File], rank[b.File]); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.Column, b.Column)
	})
}
