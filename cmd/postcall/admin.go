package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/daemon"
)

// adminURL returns the base URL of the running daemon's admin listener, as
// the configuration sets it.
func adminURL(cfg *conf.Config) (string, error) {
	addr := cfg.Main.Admin.Listen
	if addr == "" {
		return "", errors.New("the admin listener is off ([admin] listen is empty)")
	}
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	return "http://" + addr, nil
}

var adminClient = &http.Client{Timeout: 10 * time.Second}

// loadForAdmin loads the configuration for a command that only needs the
// main file's [admin] and [spool] settings. When an application file is
// broken, which is when an operator most needs status and the spool, it
// prints a warning and goes on with the main file alone.
func loadForAdmin(path, command string, stderr io.Writer) (*conf.Config, error) {
	cfg, err := conf.Load(path)
	if err == nil {
		return cfg, nil
	}
	cfg, mainErr := conf.LoadMain(path)
	if mainErr != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "postcall %s: warning: the application files have errors (run postcall check); going on with the main file:\n%v\n", command, err)
	return cfg, nil
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("status", "postcall status [-config FILE] [-json]",
		"Show what the running daemon is doing: the FreeSWITCH connection and its gaps, the queue of\n"+
			"each application, dead letters and the most recent attempts. It asks the daemon's admin\n"+
			"listener ([admin] listen).", stderr)
	configPath := fs.String("config", defaultConfig, "main configuration `file`")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	cfg, err := loadForAdmin(*configPath, "status", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "postcall status: configuration is not valid:\n%v\n", err)
		return 1
	}
	base, err := adminURL(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "postcall status: %v\n", err)
		return 1
	}
	resp, err := adminClient.Get(base + "/status")
	if err != nil {
		fmt.Fprintf(stderr, "postcall status: no response from the daemon at %s: %v\nIs postcall running with this configuration?\n", base, err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "postcall status: %s responded %s\n", base, resp.Status)
		return 1
	}
	if *asJSON {
		stdout.Write(body)
		return 0
	}
	var st daemon.Status
	if err := json.Unmarshal(body, &st); err != nil {
		fmt.Fprintf(stderr, "postcall status: the response of %s is not a status: %v\n", base, err)
		return 1
	}
	writeStatus(stdout, &st)
	return 0
}

func writeStatus(w io.Writer, st *daemon.Status) {
	ready := "ready"
	if !st.Ready {
		ready = "NOT READY: " + st.NotReady
	}
	fmt.Fprintf(w, "postcall %s: %s\n", st.Version, ready)
	if st.RestartNeeded {
		fmt.Fprintln(w, "restart needed: main-file settings changed since the start; a reload applies only the applications")
	}
	fmt.Fprintln(w)

	fsw := st.FreeSWITCH
	if fsw.Connected {
		fmt.Fprintf(w, "FreeSWITCH %s: connected since %s\n", fsw.Address, fsw.ConnectedSince.Format(time.RFC3339))
	} else {
		fmt.Fprintf(w, "FreeSWITCH %s: NOT CONNECTED", fsw.Address)
		if !fsw.DisconnectedSince.IsZero() {
			fmt.Fprintf(w, " since %s", fsw.DisconnectedSince.Format(time.RFC3339))
		}
		if fsw.LastError != "" {
			fmt.Fprintf(w, " (%s)", fsw.LastError)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  events received %d, dropped %d, reconnects %d\n", fsw.EventsReceived, fsw.EventsDropped, fsw.Reconnects)
	for _, g := range fsw.Gaps {
		end := "now"
		if !g.End.IsZero() {
			end = g.End.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "  gap %s to %s: %s\n", g.Start.Format(time.RFC3339), end, g.Reason)
	}

	fmt.Fprintf(w, "\ncalls: %d fired, %d duplicates dropped, %d bridged legs skipped, %d unknown applications\n",
		st.Calls["fired"], st.Calls["duplicates"], st.Calls["legs_skipped"], st.Calls["unknown_apps"])
	if st.Buffered > 0 {
		fmt.Fprintf(w, "jobs waiting in memory for the spool: %d\n", st.Buffered)
	}

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nAPPLICATION\tPENDING\tIN FLIGHT\tDELIVERED\tDEAD")
	for _, a := range st.Apps {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", a.Name, a.Pending, a.InFlight, a.Delivered, a.Dead)
	}
	tw.Flush()
	fmt.Fprintln(w, "(PENDING counts the jobs waiting for delivery, IN FLIGHT those of them being attempted now)")

	if len(st.Recent) > 0 {
		fmt.Fprintln(w, "\nrecent attempts (newest first):")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tAPPLICATION\tOUTCOME\tSTATUS\tDURATION")
		for _, r := range st.Recent {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d ms\n", r.Time.Format(time.RFC3339), r.App, r.Outcome, r.Status, r.DurationMS)
		}
		tw.Flush()
	}
}

func runReload(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("reload", "postcall reload [-config FILE]",
		"Make the running daemon reload its configuration, through its admin listener, or with\n"+
			"SIGHUP to the process in [admin] pid_file when the listener is off. A reload that fails\n"+
			"keeps the running configuration.", stderr)
	configPath := fs.String("config", defaultConfig, "main configuration `file`")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	cfg, err := conf.Load(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "postcall reload: the configuration is not valid, nothing was reloaded:\n%v\n", err)
		return 1
	}
	if base, err := adminURL(cfg); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/reload", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Fprintf(stderr, "postcall reload: no response from the daemon at %s: %v\n", base, err)
			return 1
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != http.StatusOK {
			fmt.Fprintf(stderr, "postcall reload: %s", body)
			return 1
		}
		stdout.Write(body)
		return 0
	}
	return signalPIDFile(cfg.Main.Admin.PIDFile, stdout, stderr)
}

func signalPIDFile(path string, stdout, stderr io.Writer) int {
	if path == "" {
		fmt.Fprintln(stderr, "postcall reload: the admin listener is off and [admin] pid_file is not set: send SIGHUP to the daemon yourself")
		return 1
	}
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "postcall reload: %v\nIs postcall running?\n", err)
		return 1
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		fmt.Fprintf(stderr, "postcall reload: %s does not hold a process id\n", path)
		return 1
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		fmt.Fprintf(stderr, "postcall reload: cannot signal process %d from %s: %v\n", pid, path, err)
		return 1
	}
	fmt.Fprintf(stdout, "sent SIGHUP to process %d; the daemon's log says whether the reload worked\n", pid)
	return 0
}
