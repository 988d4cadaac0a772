package render

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseNames(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		names []string
	}{
		{"no placeholder", "plain text", nil},
		{"one placeholder", "Hello {{session.connection.ani}}!", []string{"session.connection.ani"}},
		{"whitespace trimmed", "{{  exit.fuse_score\t}}", []string{"exit.fuse_score"}},
		{"newlines trimmed", "{{\n call.end \r\n}}", []string{"call.end"}},
		{"dash and colon", "{{channel.sip_h_X-Route}}{{a:b}}", []string{"channel.sip_h_X-Route", "a:b"}},
		{"duplicates listed once", "{{a}}{{b}}{{a}}", []string{"a", "b"}},
		{"unicode letters", "{{café}}", []string{"café"}},
		{"json braces kept", `{"a":{{{x}}}}`, []string{"x"}},
		{"lone closing braces", "}} {{x}} }}", []string{"x"}},
		{"single braces", "{x} {", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := Parse(tc.src)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.src, err)
			}
			if got := tmpl.Names(); !reflect.DeepEqual(got, tc.names) {
				t.Errorf("Names() = %q, want %q", got, tc.names)
			}
			if got := tmpl.Source(); got != tc.src {
				t.Errorf("Source() = %q, want %q", got, tc.src)
			}
			if got := tmpl.HasPlaceholders(); got != (len(tc.names) > 0) {
				t.Errorf("HasPlaceholders() = %v with names %q", got, tc.names)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		line    int
		column  int
		message string
	}{
		{"unclosed", "abc {{name", 1, 5, "unclosed placeholder"},
		{"unclosed single brace", "abc {{name}", 1, 5, "unclosed placeholder"},
		{"empty", "x{{}}", 1, 2, "empty placeholder"},
		{"only spaces", "x{{   }}", 1, 2, "empty placeholder"},
		{"space inside name", "{{a b}}", 1, 4, `invalid character ' '`},
		{"tab inside name", "ab{{ x\ty }}", 1, 7, `invalid character '\t'`},
		{"dollar syntax inside", "{{${x}}}", 1, 3, `without ${...}`},
		{"second line", "line one\n  é {{", 2, 5, "unclosed placeholder"},
		{"column counts characters", "ééé{{}}", 1, 4, "empty placeholder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.src)
			var perr *ParseError
			if !errors.As(err, &perr) {
				t.Fatalf("Parse(%q) error = %v, want a *ParseError", tc.src, err)
			}
			if perr.Line != tc.line {
				t.Errorf("line = %d, want %d", perr.Line, tc.line)
			}
			if perr.Column != tc.column {
				t.Errorf("column = %d, want %d", perr.Column, tc.column)
			}
			if !strings.Contains(perr.Error(), tc.message) {
				t.Errorf("error %q does not contain %q", perr.Error(), tc.message)
			}
		})
	}
}

func TestRenderKeepsText(t *testing.T) {
	src := "C:\\path\\{{ dir }} \x00 {single} %41 $x ${y}\r\n{{dir}}"
	tmpl, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	got, missing := tmpl.Render(Vars{"dir": "a\\b"}, EscapePlain)
	want := "C:\\path\\a\\b \x00 {single} %41 $x ${y}\r\na\\b"
	if got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
	if len(missing) != 0 {
		t.Errorf("missing = %q, want none", missing)
	}
}

func TestRenderMissing(t *testing.T) {
	tmpl, err := Parse("{{b}}-{{a}}-{{present}}-{{b}}-{{c}}")
	if err != nil {
		t.Fatal(err)
	}
	got, missing := tmpl.Render(Vars{"present": "p", "empty": ""}, EscapePlain)
	if got != "--p--" {
		t.Errorf("Render = %q, want %q", got, "--p--")
	}
	if want := []string{"b", "a", "c"}; !reflect.DeepEqual(missing, want) {
		t.Errorf("missing = %q, want %q", missing, want)
	}
}

func TestAppendMissingAcrossTemplates(t *testing.T) {
	first := MustParse("{{x}}{{y}}")
	second := MustParse("{{y}}{{z}}")
	var missing []string
	buf, missing := first.Append(nil, Vars{}, EscapePlain, missing)
	buf, missing = second.Append(buf, Vars{}, EscapePlain, missing)
	if len(buf) != 0 {
		t.Errorf("rendered %q, want nothing", buf)
	}
	if want := []string{"x", "y", "z"}; !reflect.DeepEqual(missing, want) {
		t.Errorf("missing = %q, want %q", missing, want)
	}
}

func TestRenderEmptyValueIsNotMissing(t *testing.T) {
	_, missing := MustParse("[{{empty}}]").Render(Vars{"empty": ""}, EscapePlain)
	if len(missing) != 0 {
		t.Errorf("missing = %q, want none", missing)
	}
}

func TestRenderUsesEscaper(t *testing.T) {
	tmpl := MustParse(`{"note":"{{note}}"}`)
	got, _ := tmpl.Render(Vars{"note": "say \"hi\"\n"}, EscapeJSON)
	if want := `{"note":"say \"hi\"\n"}`; got != want {
		t.Errorf("Render = %s, want %s", got, want)
	}
}

func TestParseNamesWithPunctuation(t *testing.T) {
	names := []string{"channel.fish,(sticks)~_1", "channel.menu@main", "session.connection.protocol.sip.headers.X-Route/Hint"}
	for _, name := range names {
		tmpl, err := Parse("<{{ " + name + " }}>")
		if err != nil {
			t.Errorf("Parse of %q: %v", name, err)
			continue
		}
		got, missing := tmpl.Render(Vars{name: "v"}, EscapePlain)
		if got != "<v>" || len(missing) != 0 {
			t.Errorf("Render of %q = %q, missing %v; want \"<v>\"", name, got, missing)
		}
	}
}
