package render

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Template is a parsed template: literal text and {{name}} placeholders.
// A Template is immutable and safe for concurrent use.
type Template struct {
	source string
	parts  []part
	names  []string
}

// part is one piece of a template. A literal keeps its text; a placeholder
// keeps the trimmed variable name. start and end are byte offsets of the
// piece in the source, braces included for a placeholder.
type part struct {
	text        string
	placeholder bool
	start, end  int
}

// ParseError reports a malformed placeholder. Line and Column are 1-based;
// Column counts characters, not bytes.
type ParseError struct {
	Line   int
	Column int
	Msg    string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// Parse parses a template. It fails when a "{{" has no closing "}}", when
// a placeholder is empty, or when a name holds a character other than a
// letter, a digit, "_", ".", "-" or ":". Whitespace around a name is
// trimmed. In a run of three or more "{", only the last two open the
// placeholder, so a JSON body such as {"a":{{{x}}}} keeps its own braces.
func Parse(src string) (*Template, error) {
	t := &Template{source: src}
	literalStart := 0
	pos := 0
	for {
		i := strings.Index(src[pos:], "{{")
		if i < 0 {
			break
		}
		open := pos + i
		for open+2 < len(src) && src[open+2] == '{' {
			open++
		}

		closeRel := strings.Index(src[open+2:], "}}")
		if closeRel < 0 {
			return nil, newParseError(src, open, `unclosed placeholder: add "}}" after the variable name`)
		}
		innerStart := open + 2
		innerEnd := innerStart + closeRel
		end := innerEnd + 2

		name, nameOffset := trimName(src[innerStart:innerEnd])
		if name == "" {
			return nil, newParseError(src, open, `empty placeholder: write a variable name between "{{" and "}}"`)
		}
		if strings.HasPrefix(name, "$") {
			msg := fmt.Sprintf("invalid variable name %q: placeholders are written {{name}}, without ${...}", name)
			return nil, newParseError(src, innerStart+nameOffset, msg)
		}
		if bad, r := invalidNameRune(name); bad >= 0 {
			msg := fmt.Sprintf("invalid character %q in variable name %q: a name may not contain braces, spaces or control characters", r, name)
			return nil, newParseError(src, innerStart+nameOffset+bad, msg)
		}

		if open > literalStart {
			t.parts = append(t.parts, part{text: src[literalStart:open], start: literalStart, end: open})
		}
		t.parts = append(t.parts, part{text: name, placeholder: true, start: open, end: end})
		t.names = appendUnique(t.names, name)
		pos = end
		literalStart = end
	}
	if literalStart < len(src) {
		t.parts = append(t.parts, part{text: src[literalStart:], start: literalStart, end: len(src)})
	}
	return t, nil
}

// MustParse is Parse for templates written in Go code; it panics on error.
func MustParse(src string) *Template {
	t, err := Parse(src)
	if err != nil {
		panic(fmt.Sprintf("render: %q: %v", src, err))
	}
	return t
}

// trimName trims the whitespace around a placeholder's content and returns
// the name with its byte offset in the content.
func trimName(inner string) (string, int) {
	const space = " \t\r\n"
	left := strings.TrimLeft(inner, space)
	offset := len(inner) - len(left)
	return strings.TrimRight(left, space), offset
}

// invalidNameRune returns the byte offset and value of the first rune that
// may not appear in a variable name, or -1.
func invalidNameRune(name string) (int, rune) {
	for i, r := range name {
		if !isNameRune(r) {
			return i, r
		}
	}
	return -1, 0
}

// isNameRune reports whether r may appear in a variable name. Names keep
// the punctuation FreeSWITCH allows in channel variable and header names,
// such as channel.fish,(sticks)~_1 or channel.sip_h_X-Route/Hint, so only
// braces, spaces and control characters end a name.
func isNameRune(r rune) bool {
	switch {
	case r == '{' || r == '}' || r == utf8.RuneError:
		return false
	case unicode.IsSpace(r) || unicode.IsControl(r):
		return false
	}
	return true
}

func newParseError(src string, offset int, msg string) *ParseError {
	before := src[:offset]
	line := strings.Count(before, "\n") + 1
	lineStart := strings.LastIndexByte(before, '\n') + 1
	column := utf8.RuneCountInString(before[lineStart:]) + 1
	return &ParseError{Line: line, Column: column, Msg: msg}
}

// Source returns the template text as parsed.
func (t *Template) Source() string { return t.source }

// Names returns the variable names the template uses, each once, in order
// of first use.
func (t *Template) Names() []string {
	return append([]string(nil), t.names...)
}

// HasPlaceholders reports whether the template contains a placeholder.
func (t *Template) HasPlaceholders() bool { return len(t.names) > 0 }

// Render returns the template filled with vars, each value written through
// esc, and the names that vars does not contain. A missing name renders as
// nothing.
func (t *Template) Render(vars Vars, esc Escaper) (string, []string) {
	buf, missing := t.Append(make([]byte, 0, len(t.source)+32), vars, esc, nil)
	return string(buf), missing
}

// Append renders the template onto dst like Render. The names that vars
// does not contain are appended to missing unless missing already lists
// them, so one list can collect the missing names of several templates.
func (t *Template) Append(dst []byte, vars Vars, esc Escaper, missing []string) ([]byte, []string) {
	for _, p := range t.parts {
		if !p.placeholder {
			dst = append(dst, p.text...)
			continue
		}
		value, ok := vars[p.text]
		if !ok {
			missing = appendUnique(missing, p.text)
			continue
		}
		dst = esc(dst, value)
	}
	return dst, missing
}

func appendUnique(list []string, name string) []string {
	for _, have := range list {
		if have == name {
			return list
		}
	}
	return append(list, name)
}
