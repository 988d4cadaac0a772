package conf

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Load reads the main file at path and every application file its apps
// patterns match, and returns the validated configuration with defaults
// applied and secrets resolved.
//
// The error, if any, is an Errors value listing every problem found in
// every file, in file order, so that `postcall check` can print them all.
// A main file that is not valid TOML stops the loading there, because its
// apps patterns are unknown. Problems that do not stop the daemon, such as
// a pattern that matches no file, are returned in Config.Warnings.
//
// Relative paths in a file are relative to that file's folder.
func Load(path string) (*Config, error) {
	return osLoader().load(path)
}

// LoadMain loads and checks only the main file, with no application, for
// commands that need the spool and admin settings even while an
// application file is broken.
func LoadMain(path string) (*Config, error) {
	main, st, parsed := osLoader().loadMain(path)
	if !parsed || len(st.errs) > 0 {
		return nil, st.errs
	}
	return &Config{File: path, Main: main}, nil
}

func (l *loader) load(path string) (*Config, error) {
	main, st, parsed := l.loadMain(path)
	errs := st.errs
	files := []string{path}
	if !parsed {
		return nil, errs
	}

	appFiles, warnings := findAppFiles(st, path, main.Apps)
	errs = st.errs

	var apps []*App
	type owner struct {
		app  *App
		line int
	}
	owners := make(map[string]owner)
	for _, file := range appFiles {
		files = append(files, file)
		app, appState := l.loadApp(file, &main)
		errs = append(errs, appState.errs...)
		if app == nil || app.Name == "" {
			continue
		}

		line, _ := appState.src.position("name")
		if first, exists := owners[app.Name]; exists {
			where := first.app.File
			if first.line > 0 {
				where += ":" + strconv.Itoa(first.line)
			}
			appState.errs = nil
			appState.add("name", fmt.Sprintf("application %q is defined twice, here and in %s", app.Name, where),
				"give each application file its own name value, or remove one of the files", nil)
			errs = append(errs, appState.errs...)
			continue
		}
		owners[app.Name] = owner{app: app, line: line}
		apps = append(apps, app)
	}

	if len(errs) > 0 {
		sortErrors(errs, files)
		return nil, errs
	}
	if len(apps) == 0 && len(main.Apps) > 0 {
		warnings = append(warnings, fmt.Sprintf("%s: no application file was found, so no post-call request will be sent", path))
	}
	return &Config{File: path, Main: main, Apps: apps, Warnings: warnings}, nil
}

// loadMain reads and checks the main file. parsed is false when the file
// could not be read or is not valid TOML.
func (l *loader) loadMain(path string) (main Main, st *fileState, parsed bool) {
	st = newFileState(path, reflect.TypeOf(Main{}))
	main = Defaults()
	data, err := l.readFile(path, maxConfigFileSize)
	if err != nil {
		st.errs = append(st.errs, &Error{
			File: path, Message: fmt.Sprintf("cannot read the main file: %v", err),
			Remedy: "check the path given with -config and the file's permissions", Err: err,
		})
		return main, st, false
	}
	if !st.parse(string(data), &main) {
		return main, st, false
	}
	st.checkMain(l, filepath.Dir(path), &main)
	return main, st, true
}

// findAppFiles expands the apps patterns, relative to the main file's
// folder. A pattern that names a folder means every .toml file in it. Each
// pattern's matches are sorted, a file matched twice is loaded once, and a
// pattern that matches nothing is a warning.
func findAppFiles(st *fileState, mainPath string, patterns []string) (files, warnings []string) {
	dir := filepath.Dir(mainPath)
	seen := make(map[string]bool)
	for i, pattern := range patterns {
		key := indexKey("apps", i+1)
		if pattern == "" {
			st.add(key, key+" is empty", `write a pattern such as "apps.d/*.toml", or remove it`, nil)
			continue
		}
		full := resolvePath(dir, pattern)
		if info, err := os.Stat(full); err == nil && info.IsDir() {
			full = filepath.Join(full, "*.toml")
		}
		matches, err := filepath.Glob(full)
		if err != nil {
			st.add(key, fmt.Sprintf("apps pattern %q is not valid: %v", pattern, err),
				"fix the pattern; it uses the syntax of Go's filepath.Match", err)
			continue
		}
		slices.Sort(matches)

		found := 0
		for _, m := range matches {
			if info, err := os.Stat(m); err != nil || !info.Mode().IsRegular() {
				continue
			}
			found++
			if !seen[m] {
				seen[m] = true
				files = append(files, m)
			}
		}
		if found == 0 {
			warnings = append(warnings, fmt.Sprintf("%s: apps pattern %q matches no file", mainPath, pattern))
		}
	}
	return files, warnings
}

// checkMain validates the main file and resolves the ESL password.
func (st *fileState) checkMain(l *loader, dir string, m *Main) {
	st.checkFreeSWITCH(l, dir, &m.FreeSWITCH)

	v := m.Variables
	st.checkName("variables.app", v.App, "the channel variable that names the application, such as fuse_app")
	st.checkName("variables.prefix", v.Prefix, "the prefix of IVR variables, such as fuse_var_")
	st.checkName("variables.exit", v.Exit, "the channel variable that marks an IVR exit, such as fuse_exit")

	if m.Spool.Path == "" {
		st.add("spool.path", "spool.path is empty", "name the spool file, for example /var/lib/postcall/spool.db", nil)
	}
	m.Spool.Path = resolvePath(dir, m.Spool.Path)
	st.checkAtLeastOne("spool.memory_queue", m.Spool.MemoryQueue)
	st.checkPositive("spool.keep_delivered", m.Spool.KeepDelivered)

	d := &m.Delivery
	st.checkAtLeastOne("delivery.workers", d.Workers)
	st.checkAtLeastOne("delivery.per_app", d.PerApp)
	st.checkTimeout("delivery.timeout", d.Timeout)
	if !isToken(d.IdempotencyHeader) {
		st.add("delivery.idempotency_header", fmt.Sprintf("delivery.idempotency_header %q is not a valid HTTP header name", d.IdempotencyHeader),
			"use a header name such as Idempotency-Key", nil)
	}
	if d.MaxResponseBytes <= 0 {
		st.add("delivery.max_response_bytes", "delivery.max_response_bytes must be above 0", `use a size such as "64KiB"`, nil)
	}
	if strings.ContainsAny(d.UserAgent, "\r\n\x00") {
		st.add("delivery.user_agent", "delivery.user_agent contains a line break or NUL", "write it on one line", nil)
	}
	st.checkRetry("delivery.retry", d.Retry)

	if m.Admin.Listen != "" {
		st.checkHostPort("admin.listen", m.Admin.Listen, false)
	}
	m.Admin.PIDFile = resolvePath(dir, m.Admin.PIDFile)

	st.checkChoice("log.level", m.Log.Level, "debug", "info", "warn", "error")
	st.checkChoice("log.format", m.Log.Format, "text", "json")
}

func (st *fileState) checkFreeSWITCH(l *loader, dir string, fs *FreeSWITCH) {
	st.checkHostPort("freeswitch.address", fs.Address, true)

	before := len(st.errs)
	st.resolveSecret(l, dir, secretKeys{table: "freeswitch", inline: "password", file: "password_file", envs: "password_env"},
		&fs.Password, &fs.PasswordFile, fs.PasswordEnv, false)
	if len(st.errs) == before && fs.Password == "" {
		st.add("freeswitch.password", "freeswitch.password is empty",
			"set the Event Socket password of event_socket.conf.xml, or leave it out for ClueCon", nil)
	}
	if len(st.errs) == before && strings.ContainsAny(fs.Password, "\r\n") {
		st.add("freeswitch.password", "the Event Socket password contains a line break",
			"the auth command is one line: remove the line break", nil)
	}

	if fs.ExitSubclass == "" || strings.ContainsAny(fs.ExitSubclass, " \t\r\n") {
		st.add("freeswitch.exit_subclass", fmt.Sprintf("freeswitch.exit_subclass %q is not valid", fs.ExitSubclass),
			"write the CUSTOM event subclass the IVR fires, without spaces, such as fuse::exit", nil)
	}
	st.checkChoice("freeswitch.event_format", fs.EventFormat, "json", "plain")
	st.checkPositive("freeswitch.reconnect_min", fs.ReconnectMin)
	st.checkPositive("freeswitch.reconnect_max", fs.ReconnectMax)
	if fs.ReconnectMax < fs.ReconnectMin {
		st.add("freeswitch.reconnect_max", fmt.Sprintf("freeswitch.reconnect_max %s is shorter than reconnect_min %s",
			fs.ReconnectMax.D(), fs.ReconnectMin.D()), "make reconnect_max at least as long as reconnect_min", nil)
	}
	st.checkPositive("freeswitch.auth_timeout", fs.AuthTimeout)
	st.checkPositive("freeswitch.watchdog", fs.Watchdog)
	st.checkAtLeastOne("freeswitch.queue_size", fs.QueueSize)
}

// checkRetry checks the main file's retry policy, which has every field.
func (st *fileState) checkRetry(path string, r Retry) {
	st.checkPositive(path+".initial_delay", r.InitialDelay)
	st.checkPositive(path+".max_delay", r.MaxDelay)
	if r.MaxDelay < r.InitialDelay {
		st.add(path+".max_delay", fmt.Sprintf("%s.max_delay %s is shorter than initial_delay %s", path, r.MaxDelay.D(), r.InitialDelay.D()),
			"make max_delay at least as long as initial_delay", nil)
	}
	if !finite(r.Multiplier) || r.Multiplier < 1 || r.Multiplier > 100 {
		st.add(path+".multiplier", fmt.Sprintf("%s.multiplier %v is not valid", path, r.Multiplier),
			"use a number from 1 to 100; 2 doubles the delay after each attempt", nil)
	}
	if r.MaxAttempts < 0 {
		st.add(path+".max_attempts", fmt.Sprintf("%s.max_attempts %d is negative", path, r.MaxAttempts),
			"use 0 for no limit, or the number of attempts", nil)
	}
	st.checkPositive(path+".max_age", r.MaxAge)
	st.checkPositive(path+".max_retry_after", r.MaxRetryAfter)
}

func (st *fileState) checkPositive(key string, d Duration) {
	if d <= 0 {
		st.add(key, fmt.Sprintf("%s must be longer than 0s", key), `write a duration such as "5s"`, nil)
	}
}

func (st *fileState) checkAtLeastOne(key string, n int) {
	if n < 1 {
		st.add(key, fmt.Sprintf("%s %d is not valid", key, n), "use a whole number of 1 or more", nil)
	}
}

func (st *fileState) checkName(key, value, hint string) {
	if value == "" || strings.ContainsAny(value, " \t\r\n") {
		st.add(key, fmt.Sprintf("%s %q is not valid", key, value), "write "+hint, nil)
	}
}

func (st *fileState) checkChoice(key, value string, choices ...string) {
	if slices.Contains(choices, value) {
		return
	}
	quoted := make([]string, len(choices))
	for i, c := range choices {
		quoted[i] = strconv.Quote(c)
	}
	st.add(key, fmt.Sprintf("%s %q is not valid", key, value), "use "+joinChoices(quoted), nil)
}

// joinChoices writes a, b or c.
func joinChoices(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// checkHostPort checks a host:port address. The host may be empty (all
// interfaces) only when hostRequired is false.
func (st *fileState) checkHostPort(key, value string, hostRequired bool) {
	example := "127.0.0.1:8021"
	if key == "admin.listen" {
		example = "127.0.0.1:9466"
	}
	host, port, err := net.SplitHostPort(value)
	if err != nil {
		st.add(key, fmt.Sprintf("%s %q is not a host:port address", key, value),
			"write it as host:port, for example "+example, err)
		return
	}
	if hostRequired && host == "" {
		st.add(key, fmt.Sprintf("%s %q has no host", key, value), "write the host before the colon, for example "+example, nil)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		st.add(key, fmt.Sprintf("%s %q has no valid port", key, value), "use a port number from 1 to 65535", nil)
	}
}
