package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/spool"
)

const spoolUsage = `Usage: postcall spool <list|show|retry|purge> [flags]

List, show, retry or purge the jobs in the spool. While the daemon runs, the
commands go through its admin listener ([admin] listen), because the daemon
holds the spool file; otherwise they open the spool file directly.

  list   [filters]        list jobs, oldest first
  show   KEY              show one job in full (a private application's data is hidden)
  retry  KEY|[filters]|-all   make dead jobs pending and due now
  purge  KEY|[filters]|-all   delete jobs, and with them their duplicate-detection records

Filters: -app NAME, -state pending|delivered|dead, -older-than AGE, -newer-than AGE
(AGE is a duration such as 2h or an RFC 3339 time), -limit N.
Run "postcall spool <command> -help" for the flags of a command.
`

func runSpool(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, spoolUsage)
		return 2
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stderr, spoolUsage)
		return 0
	case "list", "show", "retry", "purge":
	default:
		fmt.Fprintf(stderr, "postcall spool: unknown command %q\n\n%s", sub, spoolUsage)
		return 2
	}

	fs := newFlagSet("spool "+sub, "postcall spool "+sub+" [flags]"+spoolArgs[sub], spoolDescriptions[sub], stderr)
	configPath := fs.String("config", defaultConfig, "main configuration `file`")
	filters := addFilterFlags(fs, sub)
	all := false
	if sub == "retry" || sub == "purge" {
		fs.BoolVar(&all, "all", false, "act on every job the other filters select, even with no filter")
	}
	if code, done := parseFlags(fs, rest); done {
		return code
	}

	cfg, err := loadForAdmin(*configPath, "spool", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "postcall spool: configuration is not valid:\n%v\n", err)
		return 1
	}
	filter, err := filters.filter()
	if err != nil {
		fmt.Fprintf(stderr, "postcall spool %s: %v\n", sub, err)
		return 2
	}
	switch {
	case sub == "show" && fs.NArg() != 1:
		fmt.Fprintln(stderr, "postcall spool show: give exactly one job key (see postcall spool list)")
		return 2
	case (sub == "retry" || sub == "purge") && fs.NArg() == 1:
		if !filter.IsZero() {
			fmt.Fprintf(stderr, "postcall spool %s: give a job key or filters, not both\n", sub)
			return 2
		}
		filter = spool.Filter{Key: fs.Arg(0)}
	case sub == "show":
		filter = spool.Filter{Key: fs.Arg(0)}
	case fs.NArg() != 0:
		fmt.Fprintf(stderr, "postcall spool %s: unexpected argument %q: give at most one job key\n", sub, fs.Arg(0))
		return 2
	}
	if (sub == "retry" || sub == "purge") && filter.IsZero() && !all {
		fmt.Fprintf(stderr, "postcall spool %s: without a filter this acts on every job: add -app, -state, -older-than or -newer-than, or -all\n", sub)
		return 2
	}

	admin, closeAdmin, err := openAdmin(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "postcall spool: %v\n", err)
		return 1
	}
	defer closeAdmin()
	private := func(app string) bool {
		a := cfg.App(app)
		return a != nil && a.Private
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return spoolAction(ctx, sub, admin, filter, private, stdout, stderr)
}

var spoolArgs = map[string]string{"show": " KEY", "retry": " [KEY]", "purge": " [KEY]"}

var spoolDescriptions = map[string]string{
	"list":  "List the jobs in the spool that match the filters, oldest first.",
	"show":  "Show one job in full: its request, attempts and last error. A private application's\nrequest data and errors are hidden.",
	"retry": "Make the matching jobs pending and due now, for example dead letters after the\nwebservice was fixed.",
	"purge": "Delete the matching jobs. A purged call is no longer remembered, so a repeated\nhangup event for it would be sent again.",
}

func spoolAction(ctx context.Context, sub string, admin spool.Admin, f spool.Filter, private func(string) bool, stdout, stderr io.Writer) int {
	switch sub {
	case "list":
		jobs, err := admin.List(ctx, f)
		if err != nil {
			fmt.Fprintf(stderr, "postcall spool list: %v\n", err)
			return 1
		}
		if len(jobs) == 0 {
			fmt.Fprintln(stdout, "no jobs match")
			return 0
		}
		if err := spool.FormatTable(stdout, jobs, private); err != nil {
			fmt.Fprintf(stderr, "postcall spool list: %v\n", err)
			return 1
		}
	case "show":
		job, err := admin.Get(ctx, f.Key)
		if err != nil {
			fmt.Fprintf(stderr, "postcall spool show: %v\n", err)
			return 1
		}
		if err := spool.FormatJob(stdout, job, private); err != nil {
			fmt.Fprintf(stderr, "postcall spool show: %v\n", err)
			return 1
		}
	case "retry", "purge":
		act := admin.Retry
		verb := "made pending"
		if sub == "purge" {
			act, verb = admin.Purge, "purged"
		}
		n, err := act(ctx, f)
		if err != nil {
			fmt.Fprintf(stderr, "postcall spool %s: %v\n", sub, err)
			return 1
		}
		fmt.Fprintf(stdout, "%d jobs %s\n", n, verb)
	}
	return 0
}

// filterFlags are the flags that select jobs.
type filterFlags struct {
	app, state, olderThan, newerThan *string
	limit                            *int
}

func addFilterFlags(fs *flag.FlagSet, sub string) *filterFlags {
	if sub == "show" {
		empty, zero := "", 0
		return &filterFlags{app: &empty, state: &empty, olderThan: &empty, newerThan: &empty, limit: &zero}
	}
	return &filterFlags{
		app:       fs.String("app", "", "only jobs of this application"),
		state:     fs.String("state", "", "only jobs in this state: pending, delivered or dead"),
		olderThan: fs.String("older-than", "", "only jobs created before this `age` (a duration such as 2h, or an RFC 3339 time)"),
		newerThan: fs.String("newer-than", "", "only jobs created after this `age` (a duration such as 30m, or an RFC 3339 time)"),
		limit:     fs.Int("limit", 0, "at most this many jobs, oldest first (0: no limit)"),
	}
}

// filter checks the flags with the same rules the admin API applies.
func (ff *filterFlags) filter() (spool.Filter, error) {
	v := url.Values{}
	set := func(name, value string) {
		if value != "" {
			v.Set(name, value)
		}
	}
	set("app", *ff.app)
	set("state", *ff.state)
	set("older_than", *ff.olderThan)
	set("newer_than", *ff.newerThan)
	if *ff.limit != 0 {
		v.Set("limit", strconv.Itoa(*ff.limit))
	}
	return spool.ParseFilter(v, time.Now())
}

// openAdmin reaches the spool through the running daemon's admin listener
// or, when no daemon responds there, by opening the spool file.
func openAdmin(cfg *conf.Config) (spool.Admin, func(), error) {
	if base, err := adminURL(cfg); err == nil {
		conn, dialErr := net.DialTimeout("tcp", base[len("http://"):], 2*time.Second)
		if dialErr == nil {
			conn.Close()
			return spool.NewClient(base, adminClient), func() {}, nil
		}
	}
	path := cfg.Main.Spool.Path
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("spool %s does not exist: no job was stored yet, or [spool] path is wrong", path)
	}
	store, err := spool.OpenBolt(path, spool.BoltOptions{LockTimeout: 2 * time.Second, Logger: quietLogger()})
	if err != nil {
		return nil, nil, errors.Join(err, fmt.Errorf("if the daemon runs, turn its admin listener on ([admin] listen) so this command can reach the spool through it"))
	}
	return store, func() { store.Close() }, nil
}
