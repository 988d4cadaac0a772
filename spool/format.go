package spool

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/postcall/postcall/delivery"
)

// Hidden replaces every value of a private application's job in admin
// output: URL path and query, headers, parameters, body, missing
// placeholder names and the last error.
const Hidden = "(private)"

// maxShownBody bounds the body bytes FormatJob prints.
const maxShownBody = 4096

// isPrivate reports whether j's data must be hidden. private may be nil.
func isPrivate(j *delivery.Job, private func(app string) bool) bool {
	return j.Private || (private != nil && private(j.App))
}

// Redact returns a copy of j in which the data of a private application is
// replaced by Hidden, and j itself when the application is not private.
// What stays is what logs may show: application, call id, method, host,
// status, timing and the delivery record without its error text.
func Redact(j *delivery.Job, private func(app string) bool) *delivery.Job {
	if j == nil || !isPrivate(j, private) {
		return j
	}
	c := cloneJob(j)
	c.Private = true
	if c.LastError != "" {
		c.LastError = Hidden
	}
	if len(c.Missing) > 0 {
		c.Missing = []string{Hidden}
	}
	if c.Request != nil {
		c.Request.URL = redactURL(c.Request.URL)
		if len(c.Request.Header) > 0 {
			c.Request.Header = []delivery.Field{{Name: Hidden, Value: Hidden}}
		}
		if len(c.Request.Body) > 0 {
			c.Request.Body = []byte(Hidden)
		}
	}
	if c.SOAP != nil && len(c.SOAP.Params) > 0 {
		c.SOAP.Params = []delivery.Field{{Name: Hidden, Value: Hidden}}
	}
	return c
}

// redactURL keeps the scheme and host of raw and replaces the rest.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return Hidden
	}
	return u.Scheme + "://" + u.Host + "/" + Hidden
}

// FormatTable writes jobs as a table with one line per job, for
// "postcall spool list". A private application's last error is hidden.
// private reports whether an application is private and may be nil.
func FormatTable(w io.Writer, jobs []*delivery.Job, private func(app string) bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tAPP\tSTATE\tATTEMPTS\tCREATED\tNEXT ATTEMPT\tSTATUS\tLAST ERROR")
	for _, j := range jobs {
		j = Redact(j, private)
		next := "-"
		if j.State == delivery.StatePending {
			next = formatTime(j.NextAt)
		}
		status := "-"
		if j.LastStatus != 0 {
			status = strconv.Itoa(j.LastStatus)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n",
			oneLine(j.Key, 80), oneLine(j.App, 40), j.State, j.Attempts, formatTime(j.CreatedAt), next, status,
			oneLine(errorCause(j), 60))
	}
	return tw.Flush()
}

// errorCause returns the job's last error without the leading
// "METHOD URL: " that the senders write, so that a narrow column shows the
// cause; "postcall spool show" prints the whole error.
func errorCause(j *delivery.Job) string {
	msg := j.LastError
	if j.Request == nil || !strings.HasPrefix(msg, j.Request.Method+" ") {
		return msg
	}
	if i := strings.Index(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// FormatJob writes every field of one job, for "postcall spool show". A
// private application's data is hidden as Redact describes.
func FormatJob(w io.Writer, j *delivery.Job, private func(app string) bool) error {
	j = Redact(j, private)
	var b strings.Builder
	line := func(name, value string) { fmt.Fprintf(&b, "%-14s %s\n", name+":", value) }

	line("Key", printable(j.Key))
	line("App", printable(j.App))
	line("Call ID", printable(j.CallID))
	line("Core UUID", printable(j.CoreUUID))
	line("Kind", string(j.Kind))
	line("Private", yesNo(j.Private))
	line("Created", formatTime(j.CreatedAt))
	line("Termination", printable(j.Termination))
	line("State", string(j.State))
	line("Attempts", strconv.Itoa(j.Attempts))
	if j.State == delivery.StatePending {
		line("Next attempt", formatTime(j.NextAt))
	}
	line("Updated", formatTime(j.UpdatedAt))
	if j.LastStatus != 0 {
		line("Last status", strconv.Itoa(j.LastStatus))
	}
	if j.LastError != "" {
		line("Last error", printable(j.LastError))
	}
	if len(j.Missing) > 0 {
		names := make([]string, len(j.Missing))
		for i, m := range j.Missing {
			names[i] = printable(m)
		}
		line("Missing", strings.Join(names, ", "))
	}
	if j.Request != nil {
		writeRequest(&b, j.Request)
	}
	if j.SOAP != nil {
		b.WriteString("SOAP parameters:\n")
		for _, f := range j.SOAP.Params {
			fmt.Fprintf(&b, "  %s = %s\n", printable(f.Name), printable(f.Value))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeRequest(b *strings.Builder, r *delivery.Request) {
	fmt.Fprintf(b, "Request:\n  %s %s\n", printable(r.Method), printable(r.URL))
	for _, h := range r.Header {
		fmt.Fprintf(b, "  %s: %s\n", printable(h.Name), printable(h.Value))
	}
	if len(r.Body) == 0 {
		return
	}
	body := r.Body
	cut := len(body) > maxShownBody
	if cut {
		body = body[:maxShownBody]
	}
	fmt.Fprintf(b, "  Body (%d bytes):\n", len(r.Body))
	if !utf8.Valid(body) && !cut {
		fmt.Fprintf(b, "    %q\n", body)
		return
	}
	for _, l := range strings.Split(strings.ToValidUTF8(string(body), "\uFFFD"), "\n") {
		fmt.Fprintf(b, "    %s\n", printableBodyLine(l))
	}
	if cut {
		fmt.Fprintf(b, "    ... (%d more bytes)\n", len(r.Body)-maxShownBody)
	}
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

// printable quotes s when it holds control characters, so that a value a
// caller controlled cannot move the cursor or rewrite the terminal.
func printable(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) >= 0 || !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	return s
}

// printableBodyLine is printable for one body line, where tabs are kept.
func printableBodyLine(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r != '\t' && unicode.IsControl(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

// oneLine returns s on one line, at most width runes long, for a table
// cell.
func oneLine(s string, width int) string {
	s = strings.Join(strings.FieldsFunc(s, unicode.IsControl), " ")
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width-3]) + "..."
}
