package conf

import (
	"testing"
)

func TestScanSourcePositions(t *testing.T) {
	text := "# comment\n" + // 1
		"name = \"a\"\n" + // 2
		"\"quoted.key\" = 1\n" + // 3
		"dotted . inner = 2\n" + // 4
		"list = [\n" + // 5
		"  \"x\",\n" + // 6
		"  { k = 1 },\n" + // 7
		"]\n" + // 8
		"[[headers]]\n" + // 9
		"name = \"A\"\n" + // 10
		"[[headers]]\n" + // 11
		"  value = '''\n" + // 12
		"line'''\n" + // 13
		"[headers.sub]\n" + // 14
		"x = 1979-05-27 07:32:00\n" + // 15
		"[retry]\n" + // 16
		"max = \"\"\"a\n\"b\"\"\"\"\n" + // 17-18
		"after = { a = \"}\", b = [1, 2] }\n" // 19

	src, newer := scanSource(text)
	if len(newer) != 0 {
		t.Errorf("TOML 1.0 text reported as newer: %+v", newer)
	}
	tests := []struct {
		key       string
		line, col int
	}{
		{"name", 2, 1},
		{`"quoted.key"`, 3, 1},
		{"dotted", 4, 1},
		{"dotted.inner", 4, 1},
		{"list", 5, 1},
		{"list[1]", 6, 3},
		{"list[2]", 7, 3},
		{"list[2].k", 7, 5},
		{"headers", 9, 1},
		{"headers[1]", 9, 1},
		{"headers[1].name", 10, 1},
		{"headers[2]", 11, 1},
		{"headers[2].value", 12, 3},
		{"headers[2].sub", 14, 1},
		{"headers[2].sub.x", 15, 1},
		{"retry.max", 17, 1},
		{"retry.after", 19, 1},
		{"retry.after.b", 19, 20},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			p, ok := src.keys[tt.key]
			if !ok {
				t.Fatalf("key %s not found; keys: %v", tt.key, src.keys)
			}
			if p.line != tt.line || p.col != tt.col {
				t.Errorf("position = %d:%d, want %d:%d", p.line, p.col, tt.line, tt.col)
			}
		})
	}
	if got := src.valueText("headers[2].sub.x"); got != "1979-05-27 07:32:00" {
		t.Errorf("valueText = %q, want the date-time with its space", got)
	}
	if line, _ := src.position("headers[2].missing"); line != 11 {
		t.Errorf("position of a missing key = line %d, want 11 (its [[headers]] entry)", line)
	}
}

func TestScanSourceNewerSyntax(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		line, col int
		message   string
	}{
		{name: "inline table newline", text: "a = 1\nt = {\n x = 1 }\n", line: 2, col: 5, message: "inline table t is written over several lines"},
		{name: "inline table comment", text: "t = { x = 1, # c\n}\n", line: 1, col: 5, message: "inline table t contains a comment"},
		{name: "inline table trailing comma", text: "t = { x = 1, }\n", line: 1, col: 5, message: "inline table t ends with a comma"},
		{name: "nested inline table", text: "[s]\nt = [ { x = {\ny = 1 } } ]\n", line: 2, col: 13, message: "inline table s.t[1].x is written"},
		{name: "escape e", text: "s = \"a\\eb\"\n", line: 1, col: 7, message: `escape \e is TOML 1.1`},
		{name: "escape x", text: "s = \"\"\"\nab\\x41\"\"\"\n", line: 2, col: 3, message: `escape \x is TOML 1.1`},
		{name: "time without seconds", text: "t = 07:32\n", line: 1, col: 5, message: "time 07:32 has no seconds"},
		{name: "date-time without seconds", text: "t = 1979-05-27T07:32Z\n", line: 1, col: 5, message: "has no seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, newer := scanSource(tt.text)
			if len(newer) != 1 {
				t.Fatalf("got %d findings, want 1: %+v", len(newer), newer)
			}
			n := newer[0]
			if n.line != tt.line || n.col != tt.col {
				t.Errorf("position = %d:%d, want %d:%d", n.line, n.col, tt.line, tt.col)
			}
			assertContains(t, "message", n.message, tt.message)
		})
	}
}

func TestScanSourceAllowsTOML10(t *testing.T) {
	for name, text := range map[string]string{
		"array over lines in inline table":  "t = { a = [\n1,\n2,\n] }\n",
		"multi-line string in inline table": "t = { a = \"\"\"\nx\"\"\" }\n",
		"escaped backslash before e":        "s = \"\\\\e\"\n",
		"time with seconds":                 "t = 07:32:00\n",
		"literal with backslash x":          "s = '\\x41'\n",
		"colon in a string":                 "s = \"07:32\"\n",
		"trailing comma in array":           "a = [1, 2,]\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, newer := scanSource(text); len(newer) != 0 {
				t.Errorf("findings for valid TOML 1.0: %+v", newer)
			}
		})
	}
}

func TestParentKey(t *testing.T) {
	tests := map[string]string{
		"a":              "",
		"a.b":            "a",
		"a.b[2]":         "a.b",
		"a.b[2].c":       "a.b[2]",
		`a."x.y"`:        "a",
		`"x.y".z`:        `"x.y"`,
		"headers[10]":    "headers",
		"variables.name": "variables",
	}
	for in, want := range tests {
		if got := parentKey(in); got != want {
			t.Errorf("parentKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPlaceholders(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []span
	}{
		{name: "none", in: "https://h/x"},
		{name: "two", in: "a{{x}}b{{ y }}", want: []span{{1, 6}, {7, 14}}},
		{name: "unclosed", in: "a{{x", want: nil},
		{name: "adjacent", in: "{{a}}{{b}}", want: []span{{0, 5}, {5, 10}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := placeholders(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("placeholders(%q) = %v, want %v", tt.in, got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("placeholders(%q)[%d] = %v, want %v", tt.in, i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestCheckURLAllowsPlaceholdersInPathAndQuery(t *testing.T) {
	for _, u := range []string{
		"https://crm.example.com/calls/{{session.id}}?ani={{session.connection.ani}}",
		"http://127.0.0.1:8080/{{a}}/{{b}}#{{c}}",
		"https://[::1]:8443/x/{{a}}",
		"https://user:pw@crm.example.com/{{a}}",
	} {
		st := newFileState("f", nil)
		st.checkURL("url", u)
		if len(st.errs) > 0 {
			t.Errorf("checkURL(%q): %v", u, st.errs)
		}
	}
}

func TestAuthorityPart(t *testing.T) {
	tests := map[string]string{
		"h.example.com":      "",
		"\x00.example.com":   "host",
		"h.example.com:\x00": "port",
		"u\x00:p@h":          "userinfo",
		"u:p@\x00":           "host",
		"[::\x00]:80":        "host",
		"[::1]:\x00":         "port",
	}
	for in, want := range tests {
		if got := authorityPart(in, "\x00"); got != want {
			t.Errorf("authorityPart(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClosestName(t *testing.T) {
	names := []string{"headers", "method", "name", "request_type", "timeout", "url"}
	tests := map[string]string{
		"timout":       "timeout",
		"methd":        "method",
		"Name":         "name",
		"URL":          "url",
		"header":       "headers",
		"request_typ":  "request_type",
		"requesttype":  "request_type",
		"completely":   "",
		"u":            "",
		"url_template": "url",
	}
	for in, want := range tests {
		if got := closestName(in, names); got != want {
			t.Errorf("closestName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsToken(t *testing.T) {
	for in, want := range map[string]bool{
		"X-Caller": true, "Content-Type": true, "x_y.z~!": true,
		"": false, "X Caller": false, "X:": false, "Ä": false, "a\r": false,
	} {
		if got := isToken(in); got != want {
			t.Errorf("isToken(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzScanSource(f *testing.F) {
	for _, seed := range []string{
		"a = 1\n", "t = { a = [\n1 ] }\n", "[[a.b]]\n[a.b.c]\nx = '''\n'''''\n",
		"s = \"\\e\\x41\"\n", "t = 1979-05-27 07:32\n", "\"k\\u00e9\".x = 1\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		src, newer := scanSource(text)
		for key, p := range src.keys {
			if p.line < 1 || p.col < 1 || p.value >= len(text)+1 {
				t.Errorf("key %s has position %+v", key, p)
			}
		}
		for _, n := range newer {
			if n.line < 1 || n.message == "" {
				t.Errorf("finding %+v has no position or message", n)
			}
		}
	})
}
