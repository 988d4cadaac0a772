package loadtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ConfigOptions describe the postcall configuration WriteConfig writes.
type ConfigOptions struct {
	// ESLAddr is the fake FreeSWITCH's host:port.
	ESLAddr string
	// SinkURL is the sink's base URL; the application posts to
	// SinkURL/calls/{{session.id}}.
	SinkURL string
	// App is the application name. Default survey.
	App string
	// AdminAddr is the admin listener's address; "" turns it off.
	AdminAddr string
	// SpoolPath is the spool file. Default DIR/spool/spool.db.
	SpoolPath string
	// Workers and PerApp bound the attempts in flight. Defaults 32 and 8,
	// the daemon's own defaults.
	Workers int
	PerApp  int
	// Timeout is the per-attempt timeout. Default 10s.
	Timeout time.Duration
	// RetryInitial and RetryMax bound the retry backoff. Defaults 1s and
	// 5s: shorter than the daemon's 10m cap, so that the drain after an
	// outage measures throughput and not the backoff.
	RetryInitial time.Duration
	RetryMax     time.Duration
	// QueueSize is [freeswitch] queue_size. Default 4096, the daemon's.
	QueueSize int
	// LogLevel is [log] level. Default warn.
	LogLevel string
}

func (o *ConfigOptions) setDefaults(dir string) {
	if o.App == "" {
		o.App = "survey"
	}
	if o.SpoolPath == "" {
		o.SpoolPath = filepath.Join(dir, "spool", "spool.db")
	}
	if o.Workers <= 0 {
		o.Workers = 32
	}
	if o.PerApp <= 0 {
		o.PerApp = 8
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.RetryInitial <= 0 {
		o.RetryInitial = time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 5 * time.Second
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 4096
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
}

// WriteConfig writes a postcall configuration for a load run into dir and
// returns the main file's path. The main file postcall.toml points at the
// fake FreeSWITCH and a spool file. The application file apps.d/APP.toml is
// a REST application that posts a JSON body built from the call's variables
// to the sink, with the call id in the path.
func WriteConfig(dir string, o ConfigOptions) (string, error) {
	if o.ESLAddr == "" || o.SinkURL == "" {
		return "", fmt.Errorf("missing address in the load configuration: fake FreeSWITCH %q, sink %q", o.ESLAddr, o.SinkURL)
	}
	o.setDefaults(dir)
	if strings.ContainsAny(o.App, "/\\\"\n") {
		return "", fmt.Errorf("application name %q is not valid here: use letters, digits, '-' and '_'", o.App)
	}
	if err := os.MkdirAll(filepath.Join(dir, "apps.d"), 0o755); err != nil {
		return "", fmt.Errorf("create the configuration folder: %w", err)
	}

	mainFile := filepath.Join(dir, "postcall.toml")
	if err := os.WriteFile(mainFile, []byte(mainConfig(o)), 0o644); err != nil {
		return "", fmt.Errorf("write the main configuration: %w", err)
	}
	appFile := filepath.Join(dir, "apps.d", o.App+".toml")
	if err := os.WriteFile(appFile, []byte(appConfig(o)), 0o644); err != nil {
		return "", fmt.Errorf("write the application configuration: %w", err)
	}
	return mainFile, nil
}

func mainConfig(o ConfigOptions) string {
	return `# Written by postcall-load for a load run. It points postcall at the fake
# FreeSWITCH and the sink of postcall-load; every other setting is the
# daemon's default unless a comment says otherwise.
apps = ["apps.d/*.toml"]

[freeswitch]
address = ` + strconv.Quote(o.ESLAddr) + `
password = "ClueCon"
reconnect_min = "100ms"
reconnect_max = "1s"
queue_size = ` + strconv.Itoa(o.QueueSize) + `

[spool]
path = ` + strconv.Quote(filepath.ToSlash(o.SpoolPath)) + `

[delivery]
workers = ` + strconv.Itoa(o.Workers) + `
per_app = ` + strconv.Itoa(o.PerApp) + `
timeout = ` + strconv.FormatFloat(o.Timeout.Seconds(), 'f', -1, 64) + `

# Shorter than the default 10m cap, so that the drain after an outage
# measures delivery and not the backoff.
[delivery.retry]
initial_delay = ` + strconv.Quote(o.RetryInitial.String()) + `
max_delay = ` + strconv.Quote(o.RetryMax.String()) + `

[admin]
listen = ` + strconv.Quote(o.AdminAddr) + `

[log]
level = ` + strconv.Quote(o.LogLevel) + `
`
}

// appConfig is a POST RAW application with a JSON body, the shape of a
// typical Fuse post-call webservice that stores survey answers.
func appConfig(o ConfigOptions) string {
	return `# Written by postcall-load: posts every call to the sink, with the call id
# in the path so the sink can match it.
name = ` + strconv.Quote(o.App) + `
type = "rest"
request_type = "POST RAW"
url = ` + strconv.Quote(strings.TrimSuffix(o.SinkURL, "/")+"/calls/{{session.id}}") + `
body = '''
{"call": "{{session.id}}", "ani": "{{session.connection.ani}}", "dnis": "{{session.connection.dnis}}",
 "caller": "{{call.caller_name}}", "termination": "{{call.termination}}", "cause": "{{call.hangup_cause}}",
 "start": "{{call.start}}", "end": "{{call.end}}", "seconds": "{{call.duration}}",
 "q1": "{{q1}}", "comment": "{{comment}}", "special": "{{special}}", "score": "{{exit.fuse_score}}"}
'''

[[headers]]
name = "Content-Type"
value = "application/json"

[[headers]]
name = "X-Caller-Name"
value = "{{call.caller_name}}"
`
}
