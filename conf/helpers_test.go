package conf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles creates files under dir from a map of relative path to text.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// mustErrors returns the problems of a failed load, failing the test when
// the load succeeded or returned another kind of error.
func mustErrors(t *testing.T, err error) Errors {
	t.Helper()
	if err == nil {
		t.Fatal("load succeeded; want errors")
	}
	var list Errors
	if !errors.As(err, &list) {
		t.Fatalf("error is %T, want conf.Errors: %v", err, err)
	}
	if len(list) == 0 {
		t.Fatal("conf.Errors is empty")
	}
	return list
}

// errorFor returns the problem reported for key, failing the test when
// there is none.
func errorFor(t *testing.T, list Errors, key string) *Error {
	t.Helper()
	for _, e := range list {
		if e.Key == key {
			return e
		}
	}
	t.Fatalf("no error for key %q in:\n%v", key, list)
	return nil
}

// restApp is a valid REST application file; tests append to it.
const restApp = `name = "survey"
type = "rest"
request_type = "POST"
url = "https://crm.example.com/api/calls"
`

// mainFile is a main file for a test folder: a relative spool path keeps
// the test away from /var/lib.
const mainFile = `apps = ["apps.d/*.toml"]

[spool]
path = "spool.db"
`

// loadDir writes a main file and the given application files into a new
// folder and loads it.
func loadDir(t *testing.T, files map[string]string) (*Config, error, string) {
	t.Helper()
	dir := t.TempDir()
	if _, ok := files["postcall.toml"]; !ok {
		files["postcall.toml"] = mainFile
	}
	writeFiles(t, dir, files)
	c, err := Load(filepath.Join(dir, "postcall.toml"))
	return c, err, dir
}

func assertContains(t *testing.T, field, text, want string) {
	t.Helper()
	if !strings.Contains(text, want) {
		t.Errorf("%s = %q, want it to contain %q", field, text, want)
	}
}
