package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCase29InlineTableMultiline(t *testing.T) {
	file := filepath.Join("testdata", "29-inline-table-multiline.toml")
	_, err := LoadApp(file, nil)
	list := mustErrors(t, err)
	if len(list) != 1 {
		t.Fatalf("got %d errors, want 1:\n%v", len(list), list)
	}

	e := list[0]
	if e.File != file {
		t.Errorf("File = %q, want %q", e.File, file)
	}
	if e.Line != 9 || e.Column != 11 {
		t.Errorf("position = %d:%d, want 9:11 (the opening brace)", e.Line, e.Column)
	}
	if e.Key != "headers" {
		t.Errorf("Key = %q, want headers", e.Key)
	}
	assertContains(t, "Remedy", e.Remedy, "inline tables must be on one line in TOML 1.0")
	assertContains(t, "Remedy", e.Remedy, "[[headers]] entries")
	assertContains(t, "Error()", e.Error(), file+":9:11: ")
}

func TestCase29InlineTableVariants(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		line, col int
		key       string
		remedy    string
	}{
		{
			name: "table over two lines",
			text: restApp + "retry = { max_attempts = 3,\n  initial_delay = \"2s\" }\n",
			line: 5, col: 9, key: "retry",
			remedy: "use a [retry] table",
		},
		{
			name: "entry of an array of tables",
			text: restApp + "headers = [\n  { name = \"Accept\",\n    value = \"text/plain\" },\n]\n",
			line: 6, col: 3, key: "headers[1]",
			remedy: "use [[headers]] entries",
		},
		{
			name: "comment inside",
			text: restApp + "signing = { secret = \"k\" # key\n}\n",
			line: 5, col: 11, key: "signing",
			remedy: "use a [signing] table",
		},
		{
			name: "trailing comma on one line",
			text: restApp + "tls = { server_name = \"crm.example.com\", }\n",
			line: 5, col: 7, key: "tls",
			remedy: "no comma before the closing brace",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "app.toml")
			writeFiles(t, filepath.Dir(file), map[string]string{"app.toml": tt.text})
			_, err := LoadApp(file, nil)
			list := mustErrors(t, err)
			e := errorFor(t, list, tt.key)
			if e.Line != tt.line || e.Column != tt.col {
				t.Errorf("position = %d:%d, want %d:%d", e.Line, e.Column, tt.line, tt.col)
			}
			assertContains(t, "Remedy", e.Remedy, tt.remedy)
		})
	}
}

func TestCase30UnknownKeys(t *testing.T) {
	file := filepath.Join("testdata", "30-unknown-keys.toml")
	_, err := LoadApp(file, nil)
	list := mustErrors(t, err)

	tests := []struct {
		key    string
		line   int
		remedy string
	}{
		{key: "request_typ", line: 5, remedy: `did you mean "request_type"?`},
		{key: "timout", line: 7, remedy: `did you mean "timeout"?`},
		{key: "header", line: 9, remedy: `did you mean "headers"? Write each header as a [[headers]] entry`},
	}
	unknown := 0
	for _, e := range list {
		if strings.HasPrefix(e.Message, "unknown key") {
			unknown++
		}
	}
	if unknown != len(tests) {
		t.Errorf("got %d unknown-key errors, want %d (children of an unknown table are not listed):\n%v", unknown, len(tests), list)
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			e := errorFor(t, list, tt.key)
			if e.File != file {
				t.Errorf("File = %q, want %q", e.File, file)
			}
			if e.Line != tt.line {
				t.Errorf("Line = %d, want %d", e.Line, tt.line)
			}
			assertContains(t, "Message", e.Message, "unknown key "+tt.key)
			assertContains(t, "Remedy", e.Remedy, tt.remedy)
		})
	}
}

func TestCase31DuplicateKeyInFile(t *testing.T) {
	file := filepath.Join("testdata", "31-duplicate-key-infile.toml")
	_, err := LoadApp(file, nil)
	list := mustErrors(t, err)
	if len(list) != 1 {
		t.Fatalf("got %d errors, want 1:\n%v", len(list), list)
	}
	e := list[0]
	if e.File != file || e.Line != 7 {
		t.Errorf("position = %s:%d, want %s:7 (the second url)", e.File, e.Line, file)
	}
	if e.Key != "url" {
		t.Errorf("Key = %q, want url", e.Key)
	}
	assertContains(t, "Message", e.Message, "key url is defined twice")
	assertContains(t, "Remedy", e.Remedy, "keep one of them")
}

func TestCase31DuplicateTableInFile(t *testing.T) {
	file := filepath.Join("testdata", "31-duplicate-table-infile.toml")
	_, err := LoadApp(file, nil)
	list := mustErrors(t, err)
	if len(list) != 1 {
		t.Fatalf("got %d errors, want 1:\n%v", len(list), list)
	}
	e := list[0]
	if e.File != file || e.Line != 11 {
		t.Errorf("position = %s:%d, want %s:11 (the second [variables])", e.File, e.Line, file)
	}
	if e.Key != "variables" {
		t.Errorf("Key = %q, want variables", e.Key)
	}
	assertContains(t, "Message", e.Message, "table [variables] is defined twice")
	assertContains(t, "Remedy", e.Remedy, "merge both into one table")
}

func TestCase31DuplicateAppAcrossFiles(t *testing.T) {
	a, err := os.ReadFile(filepath.Join("testdata", "31-duplicate-app", "apps.d", "a.toml"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("testdata", "31-duplicate-app", "apps.d", "b.toml"))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		load   func(t *testing.T) (error, string, string)
		second string
	}{
		{
			name: "testdata order",
			load: func(t *testing.T) (error, string, string) {
				_, err := Load(filepath.Join("testdata", "31-duplicate-app", "postcall.toml"))
				dir := filepath.Join("testdata", "31-duplicate-app", "apps.d")
				return err, filepath.Join(dir, "a.toml"), filepath.Join(dir, "b.toml")
			},
		},
		{
			name: "reversed order",
			load: func(t *testing.T) (error, string, string) {
				_, err, dir := loadDir(t, map[string]string{
					"apps.d/1-billing.toml": string(b),
					"apps.d/2-crm.toml":     string(a),
				})
				return err, filepath.Join(dir, "apps.d", "1-billing.toml"), filepath.Join(dir, "apps.d", "2-crm.toml")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err, first, second := tt.load(t)
			list := mustErrors(t, err)
			if len(list) != 1 {
				t.Fatalf("got %d errors, want 1:\n%v", len(list), list)
			}
			e := list[0]
			if e.File != second {
				t.Errorf("File = %q, want the later file %q", e.File, second)
			}
			if e.Key != "name" || e.Line == 0 {
				t.Errorf("Key = %q at line %d, want name with its line", e.Key, e.Line)
			}
			assertContains(t, "Message", e.Message, `application "main_menu" is defined twice`)
			assertContains(t, "Message", e.Message, first)
			assertContains(t, "Error()", e.Error(), second)
			assertContains(t, "Remedy", e.Remedy, "give each application file its own name")
		})
	}
}

func TestCase32UnquotedDate(t *testing.T) {
	file := filepath.Join("testdata", "32-unquoted-date.toml")
	_, err := LoadApp(file, nil)
	list := mustErrors(t, err)

	tests := []struct {
		key     string
		line    int
		written string
		remedy  string
	}{
		{key: "variables.campaign_start", line: 10, written: "2024-03-10", remedy: `campaign_start = "text:2024-03-10"`},
		{key: "variables.report_cutoff", line: 11, written: "2024-03-10T02:30:00", remedy: `report_cutoff = "text:2024-03-10T02:30:00"`},
		{key: "variables.date_layout", line: 12, written: "2006-01-02", remedy: `date_layout = "text:2006-01-02"`},
		{key: "params[2].value", line: 20, written: "2024-03-10", remedy: `value = "2024-03-10"`},
	}
	if len(list) != len(tests) {
		t.Errorf("got %d errors, want %d:\n%v", len(list), len(tests), list)
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			e := errorFor(t, list, tt.key)
			if e.File != file || e.Line != tt.line {
				t.Errorf("position = %s:%d, want %s:%d", e.File, e.Line, file, tt.line)
			}
			assertContains(t, "Message", e.Message, "TOML date or time "+tt.written+",")
			assertContains(t, "Remedy", e.Remedy, "quote it")
			assertContains(t, "Remedy", e.Remedy, tt.remedy)
			for _, converted := range []string{"UTC", "+0000", "00:00:00", "03:30"} {
				if strings.Contains(e.Error(), converted) {
					t.Errorf("error %q shows a converted time (%s)", e.Error(), converted)
				}
			}
		})
	}
}

func TestCase32UnquotedDateInMainFile(t *testing.T) {
	_, err, _ := loadDir(t, map[string]string{
		"postcall.toml": mainFile + "\n[log]\nlevel = 2024-03-10\n",
	})
	list := mustErrors(t, err)
	e := errorFor(t, list, "log.level")
	if e.Line != 7 {
		t.Errorf("Line = %d, want 7", e.Line)
	}
	assertContains(t, "Remedy", e.Remedy, `level = "2024-03-10"`)
}

func TestCase34BackslashBasicString(t *testing.T) {
	file := filepath.Join("testdata", "34-backslash-basic-string.toml")
	_, err := LoadApp(file, nil)
	list := mustErrors(t, err)
	if len(list) != 1 {
		t.Fatalf("got %d errors, want 1:\n%v", len(list), list)
	}

	text, readErr := os.ReadFile(file)
	if readErr != nil {
		t.Fatal(readErr)
	}
	line := strings.Split(string(text), "\n")[6]
	wantCol := strings.Index(line, `\d`) + 1

	e := list[0]
	if e.File != file || e.Line != 7 || e.Column != wantCol {
		t.Errorf("position = %s:%d:%d, want %s:7:%d (the backslash of \\d)", e.File, e.Line, e.Column, file, wantCol)
	}
	if e.Key != "body" {
		t.Errorf("Key = %q, want body", e.Key)
	}
	assertContains(t, "Message", e.Message, `invalid escape \d`)
	assertContains(t, "Remedy", e.Remedy, `use a literal string '...' or '''...''' for text with backslashes, or double each backslash`)
}

func TestCase34BackslashLiteralString(t *testing.T) {
	app, err := LoadApp(filepath.Join("testdata", "34-backslash-literal-string.toml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"caller":"{{session.connection.ani}}","pattern":"^\\d{10}$","share":"\\\\fileserver\\calls"}`
	if app.Body != want {
		t.Errorf("Body =\n%s\nwant\n%s", app.Body, want)
	}
}
