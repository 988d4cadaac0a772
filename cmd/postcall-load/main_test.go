package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/postcall/postcall/loadtest"
)

func TestParseDefaults(t *testing.T) {
	f, err := parse(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	o := f.opts
	checks := []struct {
		name      string
		got, want any
	}{
		{"esl", o.ESLAddr, "127.0.0.1:8021"},
		{"sink", o.SinkAddr, "127.0.0.1:18080"},
		{"admin", o.AdminAddr, "127.0.0.1:19466"},
		{"calls", o.Plan.Calls, 10000},
		{"rate", o.Plan.Rate, 0.0},
		{"per-app", o.PerApp, 8},
		{"sink-down", o.SinkDown, ""},
		{"drain", o.Drain, time.Minute},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	f, err := parse([]string{"-duration", "30s", "-rate", "500", "-sink-down", "10s", "-exit-share", "0.5"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	o := f.opts
	if o.Plan.Calls != 0 {
		t.Errorf("calls = %d, want 0 when only -duration is set", o.Plan.Calls)
	}
	if o.Plan.Duration != 30*time.Second || o.Plan.Rate != 500 {
		t.Errorf("plan = %+v, want 500 calls/s for 30s", o.Plan)
	}
	if o.SinkDown != loadtest.SinkDownFor || o.SinkDownFor != 10*time.Second {
		t.Errorf("sink outage = %q %v, want %q 10s", o.SinkDown, o.SinkDownFor, loadtest.SinkDownFor)
	}
	if o.ExitShare != 0.5 {
		t.Errorf("exit share = %v, want 0.5", o.ExitShare)
	}
}

func TestRunExitCodes(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"help", []string{"-help"}, 0},
		{"unknown flag", []string{"-frobnicate"}, 2},
		{"extra argument", []string{"now"}, 2},
		{"invalid outage", []string{"-sink-down", "sometimes"}, 2},
		{"invalid run", []string{"-rate", "-5", "-esl", "127.0.0.1:0", "-sink", "127.0.0.1:0", "-inprocess"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := run(tc.args, &stdout, &stderr); got != tc.want {
				t.Errorf("exit code %d, want %d; stderr:\n%s", got, tc.want, stderr.String())
			}
		})
	}
}

func TestRunInProcessJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"-inprocess", "-calls", "200", "-esl", "127.0.0.1:0", "-sink", "127.0.0.1:0",
		"-admin", "", "-send-timeout", "30s", "-json", "-write-config", t.TempDir()}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d, want 0; stderr:\n%s\nstdout:\n%s", code, stderr.String(), stdout.String())
	}
	var rep loadtest.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("the output is not a JSON report: %v\n%s", err, stdout.String())
	}
	if rep.Delivered != 200 || rep.Missing != 0 {
		t.Errorf("delivered %d, missing %d; want 200 and 0", rep.Delivered, rep.Missing)
	}
	if !strings.HasSuffix(rep.Settings.Config, "postcall.toml") {
		t.Errorf("the report names config %q, want the written postcall.toml", rep.Settings.Config)
	}
}
