package loadtest

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postcall/postcall/conf"
)

func TestWriteConfigLoads(t *testing.T) {
	dir := t.TempDir()
	mainFile, err := WriteConfig(dir, ConfigOptions{
		ESLAddr: "127.0.0.1:8021", SinkURL: "http://127.0.0.1:18080", App: "crm-lookup",
		AdminAddr: "127.0.0.1:19466", PerApp: 4, Workers: 16,
		RetryInitial: 200 * time.Millisecond, RetryMax: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(mainFile)
	if err != nil {
		t.Fatalf("the written configuration does not load: %v", err)
	}

	m := cfg.Main
	checks := []struct {
		name      string
		got, want any
	}{
		{"freeswitch address", m.FreeSWITCH.Address, "127.0.0.1:8021"},
		{"spool path", m.Spool.Path, filepath.Join(dir, "spool", "spool.db")},
		{"per_app", m.Delivery.PerApp, 4},
		{"workers", m.Delivery.Workers, 16},
		{"retry initial_delay", m.Delivery.Retry.InitialDelay.D(), 200 * time.Millisecond},
		{"retry max_delay", m.Delivery.Retry.MaxDelay.D(), 2 * time.Second},
		{"admin listen", m.Admin.Listen, "127.0.0.1:19466"},
		{"applications", len(cfg.Apps), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	app := cfg.App("crm-lookup")
	if app == nil {
		t.Fatal("application crm-lookup is not configured")
	}
	if app.URL != "http://127.0.0.1:18080/calls/{{session.id}}" {
		t.Errorf("application URL = %q, want the sink with the call id in the path", app.URL)
	}
	if app.RequestType != conf.RequestPOSTRaw {
		t.Errorf("request type = %q, want POST RAW", app.RequestType)
	}
}

func TestWriteConfigRejectsInvalidInput(t *testing.T) {
	cases := []struct {
		name string
		opts ConfigOptions
		want string
	}{
		{"missing sink", ConfigOptions{ESLAddr: "127.0.0.1:8021"}, "missing address"},
		{"missing fake FreeSWITCH", ConfigOptions{SinkURL: "http://127.0.0.1:1"}, "missing address"},
		{"application name with a slash", ConfigOptions{ESLAddr: "127.0.0.1:8021", SinkURL: "http://127.0.0.1:1", App: "a/b"}, "not valid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := WriteConfig(t.TempDir(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("WriteConfig error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseSinkDown(t *testing.T) {
	cases := []struct {
		value    string
		wantMode string
		wantFor  time.Duration
		wantErr  bool
	}{
		{"", "", 0, false},
		{"spooled", SinkDownUntilSpooled, 0, false},
		{"always", SinkDownAlways, 0, false},
		{"30s", SinkDownFor, 30 * time.Second, false},
		{"0s", "", 0, true},
		{"-1s", "", 0, true},
		{"later", "", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.value, func(t *testing.T) {
			mode, d, err := ParseSinkDown(tc.value)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseSinkDown(%q) error = %v, want error %v", tc.value, err, tc.wantErr)
			}
			if mode != tc.wantMode || d != tc.wantFor {
				t.Errorf("ParseSinkDown(%q) = %q, %v; want %q, %v", tc.value, mode, d, tc.wantMode, tc.wantFor)
			}
		})
	}
}
