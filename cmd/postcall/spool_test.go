package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/spool"
)

// seedSpool writes jobs into the spool file of the configuration at path.
func seedSpool(t *testing.T, dir string, jobs ...*delivery.Job) {
	t.Helper()
	store, err := spool.OpenBolt(filepath.Join(dir, "spool.db"), spool.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Add(context.Background(), jobs); err != nil {
		t.Fatal(err)
	}
	if err := store.Update(context.Background(), jobs); err != nil {
		t.Fatal(err)
	}
}

func spoolJob(key, app string, state delivery.State, private bool) *delivery.Job {
	now := time.Now().UTC()
	return &delivery.Job{
		Key: key, App: app, CallID: "call-" + key, Kind: delivery.KindREST, Private: private,
		CreatedAt: now, UpdatedAt: now, NextAt: now, State: state, Attempts: 3,
		LastError: "HTTP 500 from /secret-path?token=leak",
		Request: &delivery.Request{
			Method: "POST", URL: "http://127.0.0.1:9/secret-path?token=leak",
			Header: []delivery.Field{{Name: "X-Token", Value: "leak-header"}},
			Body:   []byte("caller=leak-body"),
		},
	}
}

func TestSpoolCommandsOnFile(t *testing.T) {
	privateApp := strings.Replace(validREST, `name = "survey"`, "name = \"vault\"\nprivate = true", 1)
	path := writeConfig(t, map[string]string{"survey.toml": validREST, "vault.toml": privateApp})
	dir := filepath.Dir(path)
	seedSpool(t, dir,
		spoolJob("k-dead", "survey", delivery.StateDead, false),
		spoolJob("k-private", "vault", delivery.StatePending, true),
		spoolJob("k-done", "survey", delivery.StateDelivered, false))

	code, out, errOut := runCommand("spool", "list", "-config", path)
	if code != 0 {
		t.Fatalf("spool list exit code %d: %s", code, errOut)
	}
	for _, key := range []string{"k-dead", "k-private", "k-done"} {
		if !strings.Contains(out, key) {
			t.Errorf("spool list lacks %s:\n%s", key, out)
		}
	}

	code, out, _ = runCommand("spool", "list", "-config", path, "-state", "dead")
	if code != 0 || !strings.Contains(out, "k-dead") || strings.Contains(out, "k-done") {
		t.Errorf("spool list -state dead = %d:\n%s", code, out)
	}

	code, out, errOut = runCommand("spool", "show", "-config", path, "k-private")
	if code != 0 {
		t.Fatalf("spool show exit code %d: %s", code, errOut)
	}
	if strings.Contains(out, "leak") {
		t.Errorf("spool show of a private job shows its data:\n%s", out)
	}
	if !strings.Contains(out, "vault") || !strings.Contains(out, "127.0.0.1:9") {
		t.Errorf("spool show of a private job lacks the application or host:\n%s", out)
	}

	// Flags may follow the key.
	code, out, _ = runCommand("spool", "show", "k-dead", "-config", path)
	if code != 0 || !strings.Contains(out, "secret-path") {
		t.Errorf("spool show of a public job hides its request (exit %d):\n%s", code, out)
	}

	code, _, errOut = runCommand("spool", "purge", "-config", path)
	if code != 2 || !strings.Contains(errOut, "-all") {
		t.Errorf("spool purge without a filter: exit %d, stderr %q", code, errOut)
	}

	code, out, _ = runCommand("spool", "retry", "-config", path, "k-dead")
	if code != 0 || !strings.Contains(out, "1 jobs made pending") {
		t.Errorf("spool retry KEY: exit %d:\n%s", code, out)
	}
	code, out, _ = runCommand("spool", "list", "-config", path, "-state", "dead")
	if code != 0 || !strings.Contains(out, "no jobs match") {
		t.Errorf("a retried dead job is still dead: exit %d:\n%s", code, out)
	}

	code, out, _ = runCommand("spool", "purge", "-config", path, "-app", "survey")
	if code != 0 || !strings.Contains(out, "2 jobs purged") {
		t.Errorf("spool purge -app survey: exit %d:\n%s", code, out)
	}
	code, _, errOut = runCommand("spool", "show", "-config", path, "k-dead")
	if code == 0 || !strings.Contains(errOut, "not found") {
		t.Errorf("show of a purged job: exit %d, stderr %q", code, errOut)
	}
}

func TestSpoolCommandRejectsBadFilter(t *testing.T) {
	path := writeConfig(t, map[string]string{"survey.toml": validREST})
	code, _, errOut := runCommand("spool", "list", "-config", path, "-state", "lost")
	if code != 2 || !strings.Contains(errOut, "lost") {
		t.Errorf("spool list -state lost: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), "spool.db")); err == nil {
		t.Errorf("a rejected command created the spool file")
	}
}

func TestSpoolCommandWithoutSpoolFile(t *testing.T) {
	path := writeConfig(t, map[string]string{"survey.toml": validREST})
	code, _, errOut := runCommand("spool", "list", "-config", path)
	if code == 0 || !strings.Contains(errOut, "does not exist") {
		t.Errorf("spool list without a spool file: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), "spool.db")); err == nil {
		t.Errorf("spool list created the spool file")
	}
}

func TestSpoolCommandWithBrokenAppFile(t *testing.T) {
	path := writeConfig(t, map[string]string{"survey.toml": strings.Replace(validREST, `"POST RAW"`, `"PATCH"`, 1)})
	seedSpool(t, filepath.Dir(path), spoolJob("k-1", "survey", delivery.StateDead, false))
	code, out, errOut := runCommand("spool", "list", "-config", path)
	if code != 0 || !strings.Contains(out, "k-1") {
		t.Errorf("spool list with a broken application file: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "PATCH") || !strings.Contains(errOut, "postcall check") {
		t.Errorf("spool list does not warn about the broken file: %q", errOut)
	}
}
