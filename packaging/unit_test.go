package packaging_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const unitPath = "postcall.service"

// daemonShutdownDeadline is how long "postcall run" lets in-flight attempts
// finish after SIGTERM (the default ShutdownTimeout of package daemon).
// TimeoutStopSec must be longer, or systemd kills the daemon mid-attempt.
const daemonShutdownDeadline = 10 * time.Second

// unitEntry is one assignment in a systemd unit file.
type unitEntry struct {
	section string
	key     string
	value   string
	line    int
}

// unitFile is a parsed unit file: its assignments in file order.
type unitFile []unitEntry

// values returns every value assigned to key in section, in file order.
func (u unitFile) values(section, key string) []string {
	var out []string
	for _, e := range u {
		if e.section == section && e.key == key {
			out = append(out, e.value)
		}
	}
	return out
}

// parseUnit reads the subset of the systemd unit syntax that unit files
// use: [Section] headers, Key=Value lines, comment lines starting with # or
// ;, and lines continued with a trailing backslash. Like systemd, it joins
// a continued line with a space and trims spaces around keys and values.
// A line ends at LF, CRLF or a lone CR.
func parseUnit(r io.Reader) (unitFile, error) {
	var (
		unit    unitFile
		section string
		pending string
		start   int
	)
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	text := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(data))
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if pending == "" {
			start = n
			if line == "" || line[0] == '#' || line[0] == ';' {
				continue
			}
		}
		if strings.HasSuffix(line, `\`) {
			pending += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		line, pending = pending+line, ""

		if strings.HasPrefix(line, "[") {
			if !strings.HasSuffix(line, "]") || len(line) < 3 {
				return nil, fmt.Errorf("line %d: invalid section header %q", start, line)
			}
			section = line[1 : len(line)-1]
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: %q is not a Key=Value assignment", start, line)
		}
		if section == "" {
			return nil, fmt.Errorf("line %d: assignment %q comes before any section", start, line)
		}
		key = strings.TrimSpace(key)
		if key == "" {
			return nil, fmt.Errorf("line %d: assignment %q has no key", start, line)
		}
		unit = append(unit, unitEntry{section: section, key: key, value: strings.TrimSpace(value), line: start})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if pending != "" {
		return nil, fmt.Errorf("line %d: the file ends inside a continued line", start)
	}
	return unit, nil
}

// parseTimespan reads a systemd time span such as "30s", "1min 30s" or a
// bare number of seconds.
func parseTimespan(s string) (time.Duration, error) {
	units := map[string]time.Duration{
		"ms": time.Millisecond, "msec": time.Millisecond,
		"s": time.Second, "sec": time.Second, "second": time.Second, "seconds": time.Second,
		"m": time.Minute, "min": time.Minute, "minute": time.Minute, "minutes": time.Minute,
		"h": time.Hour, "hr": time.Hour, "hour": time.Hour, "hours": time.Hour,
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty time span")
	}
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	var total time.Duration
	rest := s
	for rest != "" {
		rest = strings.TrimLeft(rest, " ")
		digits := len(rest) - len(strings.TrimLeft(rest, "0123456789"))
		if digits == 0 {
			return 0, fmt.Errorf("time span %q: expected a number at %q", s, rest)
		}
		n, _ := strconv.Atoi(rest[:digits])
		rest = strings.TrimLeft(rest[digits:], " ")
		unitLen := len(rest) - len(strings.TrimLeft(rest, "abcdefghijklmnopqrstuvwxyz"))
		unit, ok := units[rest[:unitLen]]
		if !ok {
			return 0, fmt.Errorf("time span %q: unknown unit %q", s, rest[:unitLen])
		}
		total += time.Duration(n) * unit
		rest = rest[unitLen:]
	}
	return total, nil
}

func loadUnit(t *testing.T) unitFile {
	t.Helper()
	f, err := os.Open(unitPath)
	if err != nil {
		t.Fatalf("open the unit: %v", err)
	}
	defer f.Close()
	unit, err := parseUnit(f)
	if err != nil {
		t.Fatalf("parse %s: %v", unitPath, err)
	}
	return unit
}

func TestParseUnit(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    unitFile
		wantErr string
	}{
		{
			name:  "sections, comments and spaces",
			input: "# comment\n[Unit]\n; other comment\nDescription = a b \n\n[Service]\nUser=postcall\n",
			want: unitFile{
				{section: "Unit", key: "Description", value: "a b", line: 4},
				{section: "Service", key: "User", value: "postcall", line: 7},
			},
		},
		{
			name:  "empty value",
			input: "[Service]\nCapabilityBoundingSet=\n",
			want:  unitFile{{section: "Service", key: "CapabilityBoundingSet", value: "", line: 2}},
		},
		{
			name:  "continued line",
			input: "[Service]\nExecStart=/usr/bin/postcall run \\\n  -config /etc/postcall/postcall.toml\n",
			want:  unitFile{{section: "Service", key: "ExecStart", value: "/usr/bin/postcall run  -config /etc/postcall/postcall.toml", line: 2}},
		},
		{
			name:  "repeated key",
			input: "[Service]\nSystemCallFilter=@system-service\nSystemCallFilter=~@privileged\n",
			want: unitFile{
				{section: "Service", key: "SystemCallFilter", value: "@system-service", line: 2},
				{section: "Service", key: "SystemCallFilter", value: "~@privileged", line: 3},
			},
		},
		{name: "assignment before section", input: "User=postcall\n", wantErr: "line 1: assignment"},
		{name: "line without equals", input: "[Service]\nUser postcall\n", wantErr: "line 2: \"User postcall\" is not"},
		{name: "unclosed section", input: "[Service\n", wantErr: "line 1: invalid section header"},
		{name: "missing key", input: "[Service]\n=yes\n", wantErr: "line 2: assignment \"=yes\" has no key"},
		{name: "continuation at end", input: "[Service]\nUser=postcall \\\n", wantErr: "line 2: the file ends inside"},
		{
			name:  "carriage returns end lines",
			input: "[Service]\r\nUser=postcall\rGroup=postcall\r\n",
			want: unitFile{
				{section: "Service", key: "User", value: "postcall", line: 2},
				{section: "Service", key: "Group", value: "postcall", line: 3},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseUnit(strings.NewReader(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseUnit() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseUnit() error = %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("parseUnit() = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseTimespan(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    time.Duration
		wantErr bool
	}{
		{name: "bare seconds", input: "90", want: 90 * time.Second},
		{name: "seconds", input: "30s", want: 30 * time.Second},
		{name: "minutes and seconds", input: "1min 30s", want: 90 * time.Second},
		{name: "no space between parts", input: "1m30s", want: 90 * time.Second},
		{name: "milliseconds", input: "500ms", want: 500 * time.Millisecond},
		{name: "unknown unit", input: "3 fortnights", wantErr: true},
		{name: "empty", input: "", wantErr: true},
		{name: "infinity is not a span", input: "infinity", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTimespan(tt.input)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseTimespan(%q) = %v, want an error", tt.input, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseTimespan(%q) error = %v", tt.input, err)
			}
			if got != tt.want {
				t.Errorf("parseTimespan(%q) = %v, want %v", tt.input, got, tt.want)
			}
		})
	}
}

// TestUnitSettings checks that each required setting is assigned exactly
// once with the expected value, so no later line silently overrides it.
func TestUnitSettings(t *testing.T) {
	unit := loadUnit(t)
	tests := []struct {
		section, key, want string
	}{
		{"Unit", "Wants", "network-online.target"},
		{"Service", "User", "postcall"},
		{"Service", "Group", "postcall"},
		{"Service", "ExecStart", "/usr/bin/postcall run -config /etc/postcall/postcall.toml"},
		{"Service", "ExecReload", "/bin/kill -HUP $MAINPID"},
		{"Service", "Restart", "on-failure"},
		{"Service", "StateDirectory", "postcall"},
		{"Service", "StateDirectoryMode", "0700"},
		{"Service", "ConfigurationDirectory", "postcall"},
		{"Service", "UMask", "0077"},
		{"Service", "NoNewPrivileges", "yes"},
		{"Service", "CapabilityBoundingSet", ""},
		{"Service", "ProtectSystem", "strict"},
		{"Service", "ProtectHome", "yes"},
		{"Service", "PrivateTmp", "yes"},
		{"Service", "PrivateDevices", "yes"},
		{"Service", "ProtectKernelTunables", "yes"},
		{"Service", "ProtectKernelModules", "yes"},
		{"Service", "ProtectKernelLogs", "yes"},
		{"Service", "ProtectControlGroups", "yes"},
		{"Service", "RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
		{"Service", "RestrictNamespaces", "yes"},
		{"Service", "LockPersonality", "yes"},
		{"Service", "MemoryDenyWriteExecute", "yes"},
		{"Service", "SystemCallArchitectures", "native"},
		{"Service", "SystemCallFilter", "@system-service"},
		{"Install", "WantedBy", "multi-user.target"},
	}
	for _, tt := range tests {
		t.Run(tt.section+"/"+tt.key, func(t *testing.T) {
			got := unit.values(tt.section, tt.key)
			if len(got) != 1 {
				t.Fatalf("[%s] %s is assigned %d times (%q), want exactly once", tt.section, tt.key, len(got), got)
			}
			if got[0] != tt.want {
				t.Errorf("[%s] %s=%s, want %s=%s", tt.section, tt.key, got[0], tt.key, tt.want)
			}
		})
	}
}

func TestUnitOrdering(t *testing.T) {
	unit := loadUnit(t)

	var after []string
	for _, v := range unit.values("Unit", "After") {
		after = append(after, strings.Fields(v)...)
	}
	for _, want := range []string{"network-online.target", "freeswitch.service"} {
		if !slices.Contains(after, want) {
			t.Errorf("After= lists %q, want it to include %s", after, want)
		}
	}

	// FreeSWITCH is an ordering hint only: postcall reconnects on its own,
	// and it must not start, stop or fail together with FreeSWITCH.
	for _, key := range []string{"Wants", "Requires", "Requisite", "BindsTo", "PartOf", "Upholds"} {
		for _, v := range unit.values("Unit", key) {
			if slices.Contains(strings.Fields(v), "freeswitch.service") {
				t.Errorf("%s=%s: freeswitch.service must appear in After= only", key, v)
			}
		}
	}
}

func TestUnitStopTimeout(t *testing.T) {
	unit := loadUnit(t)
	values := unit.values("Service", "TimeoutStopSec")
	if len(values) != 1 {
		t.Fatalf("TimeoutStopSec is assigned %d times, want once", len(values))
	}
	got, err := parseTimespan(values[0])
	if err != nil {
		t.Fatalf("TimeoutStopSec: %v", err)
	}
	if got <= daemonShutdownDeadline {
		t.Errorf("TimeoutStopSec=%s (%v), want more than the daemon's %v shutdown deadline", values[0], got, daemonShutdownDeadline)
	}
}

// TestUnitConfigIsConffile checks that the file ExecStart passes to -config
// is one the package marks as a configuration file.
func TestUnitConfigIsConffile(t *testing.T) {
	unit := loadUnit(t)
	args := strings.Fields(unit.values("Service", "ExecStart")[0])
	i := slices.Index(args, "-config")
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("ExecStart %q has no -config FILE", args)
	}
	conffiles, err := os.ReadFile(filepath.Join("debian", "conffiles"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Fields(string(conffiles)), args[i+1]) {
		t.Errorf("debian/conffiles does not list %s, the file ExecStart reads", args[i+1])
	}
}

// TestUnitVerify runs systemd-analyze verify on the unit, with ExecStart
// pointing at an executable that exists here (this test binary), because
// verify rejects a missing program.
func TestUnitVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not found: install systemd to verify the unit")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "ExecStart=/usr/bin/postcall ", "ExecStart="+self+" ", 1)
	if text == string(data) {
		t.Fatal("the unit has no line starting with ExecStart=/usr/bin/postcall")
	}
	copyPath := filepath.Join(t.TempDir(), "postcall.service")
	if err := os.WriteFile(copyPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(analyze, "verify", "--man=no", copyPath)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	err = cmd.Run()
	output := stderr.String()
	if err != nil {
		t.Fatalf("systemd-analyze verify failed: %v\n%s", err, output)
	}
	// verify exits 0 on unknown keys and invalid values, and reports them
	// as warnings naming the file. Warnings about other units are the
	// host's and are ignored.
	for _, line := range strings.Split(output, "\n") {
		if strings.Contains(line, copyPath) || strings.HasPrefix(line, "postcall.service:") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
}

// FuzzParseUnit checks that parseUnit never panics and that every entry it
// returns has a section, a key without spaces at its ends, and no line
// break in its key or value.
func FuzzParseUnit(f *testing.F) {
	if data, err := os.ReadFile(unitPath); err == nil {
		f.Add(string(data))
	}
	f.Add("[Service]\nExecStart=/bin/true \\\n  -x\n")
	f.Add("[Unit]\n;c\n#c\nA=\n")
	f.Fuzz(func(t *testing.T, input string) {
		unit, err := parseUnit(strings.NewReader(input))
		if err != nil {
			return
		}
		for _, e := range unit {
			if e.section == "" || e.key == "" || e.key != strings.TrimSpace(e.key) {
				t.Errorf("entry %+v has an empty section or key, or spaces around the key", e)
			}
			if strings.ContainsAny(e.key+e.value, "\r\n") {
				t.Errorf("entry %+v contains a line break", e)
			}
		}
	})
}
