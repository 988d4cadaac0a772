package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeConfig writes a main file and the given application files into a
// new folder and returns the main file's path.
func writeConfig(t *testing.T, apps map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	main := "apps = [\"apps.d/*.toml\"]\n[spool]\npath = \"" + filepath.ToSlash(filepath.Join(dir, "spool.db")) + "\"\n[admin]\nlisten = \"\"\n"
	if err := os.WriteFile(filepath.Join(dir, "postcall.toml"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "apps.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range apps {
		if err := os.WriteFile(filepath.Join(dir, "apps.d", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "postcall.toml")
}

func runCommand(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

const validREST = `name = "survey"
type = "rest"
request_type = "POST RAW"
url = "http://127.0.0.1:9/calls/{{session.id}}"
body = '''{"caller": "{{session.connection.ani}}", "q1": "{{q1}}"}'''

[[headers]]
name = "Content-Type"
value = "application/json"
`

func TestCheckValidConfig(t *testing.T) {
	path := writeConfig(t, map[string]string{"survey.toml": validREST})
	code, out, errOut := runCommand("check", "-config", path, "-v")
	if code != 0 {
		t.Fatalf("check exit code = %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"ok: survey", "POST http://127.0.0.1:9/calls/", "Content-Type: application/json", "configuration ok: 1 application"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "q1") {
		t.Errorf("check output does not warn about the IVR variable q1:\n%s", out)
	}
}

func TestCheckRejects(t *testing.T) {
	tests := []struct {
		name string
		apps map[string]string
		// want lists texts the output must contain: the file, the key and
		// the remedy.
		want []string
	}{
		{
			name: "unknown key",
			apps: map[string]string{"survey.toml": strings.Replace(validREST, "request_type", "request_typ", 1)},
			want: []string{"survey.toml:3", "request_typ", "request_type"},
		},
		{
			name: "same application in two files",
			apps: map[string]string{"a.toml": validREST, "b.toml": validREST},
			want: []string{"a.toml", "b.toml", `"survey"`},
		},
		{
			name: "placeholder in host",
			apps: map[string]string{"survey.toml": strings.Replace(validREST, "127.0.0.1:9", "{{session.connection.dnis}}.example.com", 1)},
			want: []string{"survey.toml", "url", "host"},
		},
		{
			name: "invalid request type",
			apps: map[string]string{"survey.toml": strings.Replace(validREST, `"POST RAW"`, `"PATCH"`, 1)},
			want: []string{"survey.toml:3", "request_type", "PATCH", "GET, POST, POST RAW, PUT or DELETE"},
		},
		{
			name: "raw JSON body not valid JSON",
			apps: map[string]string{"survey.toml": strings.Replace(validREST, `"q1": "{{q1}}"}`, `"q1": {{q1}}}`, 1)},
			want: []string{"survey.toml", "body", "JSON"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.apps)
			code, out, errOut := runCommand("check", "-config", path)
			if code == 0 {
				t.Fatalf("check exit code = 0, want non-zero\nstdout:\n%s", out)
			}
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("check output lacks %q:\nstdout:\n%s\nstderr:\n%s", want, out, errOut)
				}
			}
		})
	}
}

func TestHelpForEveryCommand(t *testing.T) {
	for _, name := range []string{"run", "check", "render", "send", "wsdl", "spool", "status", "reload", "demo", "version"} {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runCommand(name, "-help")
			if code != 0 {
				t.Fatalf("%s -help exit code = %d, want 0", name, code)
			}
			if !strings.Contains(errOut, "Usage: postcall "+name) {
				t.Errorf("%s -help output lacks its usage line:\n%s", name, errOut)
			}
		})
	}
}

func TestUnknownCommand(t *testing.T) {
	code, _, errOut := runCommand("frobnicate")
	if code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Fatalf("exit code %d, stderr %q", code, errOut)
	}
}

func TestCheckNotesBodyWithoutContentType(t *testing.T) {
	app := strings.Replace(validREST, "[[headers]]\nname = \"Content-Type\"\nvalue = \"application/json\"\n", "", 1)
	path := writeConfig(t, map[string]string{"survey.toml": app})
	code, out, _ := runCommand("check", "-config", path)
	if code != 0 {
		t.Fatalf("check exit code %d:\n%s", code, out)
	}
	if !strings.Contains(out, "body looks like JSON but no Content-Type header names JSON") {
		t.Errorf("check does not note the unescaped JSON body:\n%s", out)
	}
}
