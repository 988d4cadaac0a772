package conf

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// source is the text of one configuration file with the position of each
// key in it. toml.MetaData does not expose key positions, so a small scanner
// of our own finds them.
type source struct {
	text string
	keys map[string]keyPos
}

// keyPos is the position of a key, a table header or an array element.
type keyPos struct {
	line, col int
	// value is the byte offset where the value starts, or -1 for a table
	// header.
	value int
}

// newerSyntax is a construct that BurntSushi/toml v1.6.0 accepts because it
// implements TOML 1.1, but that TOML 1.0 rejects.
type newerSyntax struct {
	line, col int
	key       string
	// inlineTable is set for an inline table written over several lines;
	// the caller words the remedy, because it depends on the schema.
	inlineTable bool
	message     string
	remedy      string
}

// position returns the line and column of the key path, or of the nearest
// enclosing table or array entry that has one. It returns zeros when no
// position is known.
func (s *source) position(path string) (line, col int) {
	for path != "" {
		if p, ok := s.keys[path]; ok {
			return p.line, p.col
		}
		path = parentKey(path)
	}
	return 0, 0
}

// valueText returns the unquoted value written for the key path, as it
// appears in the file, or "" when the key's position is unknown.
func (s *source) valueText(path string) string {
	p, ok := s.keys[path]
	if !ok || p.value < 0 || p.value >= len(s.text) {
		return ""
	}
	end := bareValueEnd(s.text, p.value)
	return s.text[p.value:end]
}

// parentKey strips the last part of a key path: "a.b[2].c" becomes
// "a.b[2]", "a.b[2]" becomes "a.b".
func parentKey(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	depth := 0
	for i := len(path) - 1; i >= 0; i-- {
		switch path[i] {
		case '"':
			depth ^= 1
		case '.':
			if depth == 0 {
				return path[:i]
			}
		}
	}
	return ""
}

// joinKey appends one key part to a path, quoting the part as TOML does when
// it is not a bare key.
func joinKey(path, part string) string {
	if !isBareKey(part) {
		part = strconv.Quote(part)
	}
	if path == "" {
		return part
	}
	return path + "." + part
}

// indexKey names entry i (counting from 1) of the array at path.
func indexKey(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isBareKeyByte(s[i]) {
			return false
		}
	}
	return true
}

func isBareKeyByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// localDate matches a TOML date at the start of a value.
var localDate = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)

// shortTime finds a time of day written without seconds, which only TOML
// 1.1 allows ("07:32", "1979-05-27T07:32Z").
var shortTime = regexp.MustCompile(`(?:^|[Tt ])[0-9]{2}:[0-9]{2}(?:$|[^:0-9])`)

// bareValueEnd returns the end of the unquoted value that starts at offset
// i: a number, boolean or date-time. A date followed by a space and a time
// is one value, as TOML allows a space between the two.
func bareValueEnd(text string, i int) int {
	start := i
	for i < len(text) && !strings.ContainsRune(" \t\r\n,]}#", rune(text[i])) {
		i++
	}
	if localDate.MatchString(text[start:i]) && i+3 < len(text) &&
		text[i] == ' ' && isDigit(text[i+1]) && isDigit(text[i+2]) && text[i+3] == ':' {
		i++
		for i < len(text) && !strings.ContainsRune(" \t\r\n,]}#", rune(text[i])) {
			i++
		}
	}
	return i
}

// scanner walks TOML text that BurntSushi/toml has already parsed without
// error, so it can trust the syntax. Every loop step consumes at least one
// byte, so the scan ends on any text; FuzzScanSource checks that it does
// not panic.
type scanner struct {
	text      string
	i         int
	line      int
	lineStart int
	table     string
	// arrays counts the entries of each array of tables, by resolved path.
	arrays map[string]int
	keys   map[string]keyPos
	newer  []newerSyntax
}

// scanSource indexes the keys of text and lists every construct that needs
// TOML 1.1.
func scanSource(text string) (*source, []newerSyntax) {
	s := &scanner{
		text:   text,
		line:   1,
		arrays: make(map[string]int),
		keys:   make(map[string]keyPos),
	}
	if strings.HasPrefix(text, "\ufeff") {
		s.i = len("\ufeff")
		s.lineStart = s.i
	}
	for s.i < len(s.text) {
		before := s.i
		switch c := s.text[s.i]; c {
		case '\n':
			s.newline()
		case ' ', '\t', '\r':
			s.i++
		case '#':
			s.skipComment()
		case '[':
			s.header()
		default:
			s.keyValue(s.table)
		}
		if s.i == before {
			s.i++
		}
	}
	return &source{text: text, keys: s.keys}, s.newer
}

func (s *scanner) newline() {
	s.i++
	s.line++
	s.lineStart = s.i
}

func (s *scanner) column(offset int) int {
	if offset < s.lineStart || offset > len(s.text) {
		return 1
	}
	return utf8.RuneCountInString(s.text[s.lineStart:offset]) + 1
}

func (s *scanner) peek(prefix string) bool { return strings.HasPrefix(s.text[s.i:], prefix) }

func (s *scanner) skipBlanks() {
	for s.i < len(s.text) && (s.text[s.i] == ' ' || s.text[s.i] == '\t') {
		s.i++
	}
}

func (s *scanner) skipComment() {
	for s.i < len(s.text) && s.text[s.i] != '\n' {
		s.i++
	}
}

func (s *scanner) record(path string, line, col, value int) {
	if _, ok := s.keys[path]; !ok {
		s.keys[path] = keyPos{line: line, col: col, value: value}
	}
}

// header reads a [table] or [[array of tables]] header and makes it the
// current table.
func (s *scanner) header() {
	line, col := s.line, s.column(s.i)
	isArray := s.peek("[[")
	if isArray {
		s.i += 2
	} else {
		s.i++
	}
	parts := s.keyParts()
	s.skipBlanks()
	if isArray && s.peek("]]") {
		s.i += 2
	} else if s.peek("]") {
		s.i++
	}

	path := ""
	for n, part := range parts {
		path = joinKey(path, part)
		if count := s.arrays[path]; count > 0 && !(isArray && n == len(parts)-1) {
			path = indexKey(path, count)
		}
	}
	s.record(path, line, col, -1)
	if isArray {
		s.arrays[path]++
		path = indexKey(path, s.arrays[path])
		s.record(path, line, col, -1)
	}
	s.table = path
}

// keyParts reads a dotted key and returns its parts, unquoted.
func (s *scanner) keyParts() []string {
	var parts []string
	for s.i < len(s.text) {
		s.skipBlanks()
		if s.i >= len(s.text) {
			break
		}
		switch s.text[s.i] {
		case '"':
			start := s.i + 1
			s.basicString(false)
			end := max(start, s.i-1)
			parts = append(parts, unquoteBasic(s.text[start:end]))
		case '\'':
			start := s.i + 1
			s.literalString(false)
			end := max(start, s.i-1)
			parts = append(parts, s.text[start:end])
		default:
			start := s.i
			for s.i < len(s.text) && isBareKeyByte(s.text[s.i]) {
				s.i++
			}
			if s.i == start {
				return parts
			}
			parts = append(parts, s.text[start:s.i])
		}
		s.skipBlanks()
		if !s.peek(".") {
			break
		}
		s.i++
	}
	return parts
}

// keyValue reads one key = value pair in the table at prefix.
func (s *scanner) keyValue(prefix string) {
	line, col := s.line, s.column(s.i)
	path := prefix
	parts := s.keyParts()
	for n, part := range parts {
		path = joinKey(path, part)
		if n < len(parts)-1 {
			// A dotted key also defines its parent tables here.
			s.record(path, line, col, -1)
		}
	}
	s.skipBlanks()
	if !s.peek("=") {
		return
	}
	s.i++
	s.skipBlanks()
	s.record(path, line, col, s.i)
	s.value(path)
}

func (s *scanner) value(path string) {
	if s.i >= len(s.text) {
		return
	}
	switch {
	case s.peek(`"""`):
		s.basicString(true)
	case s.peek(`"`):
		s.basicString(false)
	case s.peek(`'''`):
		s.literalString(true)
	case s.peek(`'`):
		s.literalString(false)
	case s.peek("{"):
		s.inlineTable(path)
	case s.peek("["):
		s.array(path)
	default:
		s.bareValue()
	}
}

func (s *scanner) bareValue() {
	start := s.i
	s.i = bareValueEnd(s.text, s.i)
	if s.i == start {
		return
	}
	if loc := shortTime.FindStringIndex(s.text[start:s.i]); loc != nil {
		s.newer = append(s.newer, newerSyntax{
			line:    s.line,
			col:     s.column(start),
			message: fmt.Sprintf("time %s has no seconds, which TOML 1.0 requires", s.text[start:s.i]),
			remedy:  "add the seconds (07:30:00), or quote the value if it is text",
		})
	}
}

// basicString skips a "..." or """...""" string and reports the escapes
// that only TOML 1.1 has.
func (s *scanner) basicString(multiline bool) {
	if multiline {
		s.i += 3
	} else {
		s.i++
	}
	for s.i < len(s.text) {
		switch c := s.text[s.i]; {
		case c == '\\':
			s.escape()
		case c == '"' && !multiline:
			s.i++
			return
		case c == '"' && s.peek(`"""`):
			s.skipQuoteRun('"')
			return
		case c == '\n':
			if !multiline {
				return
			}
			s.newline()
		default:
			s.i++
		}
	}
}

// escape skips one escape sequence in a basic string.
func (s *scanner) escape() {
	if s.i+1 >= len(s.text) {
		s.i++
		return
	}
	switch next := s.text[s.i+1]; next {
	case 'e', 'x':
		replacement := `\u001b`
		if next == 'x' {
			replacement = `\u00` + hexDigits(s.text[s.i+2:])
		}
		s.newer = append(s.newer, newerSyntax{
			line:    s.line,
			col:     s.column(s.i),
			message: fmt.Sprintf(`escape \%c is TOML 1.1, not TOML 1.0`, next),
			remedy:  fmt.Sprintf(`write it as %s`, replacement),
		})
		s.i += 2
	case '\n':
		// A backslash at the end of a line inside """...""": the newline is
		// counted by the caller's loop.
		s.i++
	default:
		s.i += 2
	}
}

func hexDigits(s string) string {
	if len(s) >= 2 && isHex(s[0]) && isHex(s[1]) {
		return strings.ToUpper(s[:2])
	}
	return "XX"
}

func isHex(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// literalString skips a literal string, with one or three single quotes.
func (s *scanner) literalString(multiline bool) {
	if multiline {
		s.i += 3
	} else {
		s.i++
	}
	for s.i < len(s.text) {
		switch c := s.text[s.i]; {
		case c == '\'' && !multiline:
			s.i++
			return
		case c == '\'' && s.peek(`'''`):
			s.skipQuoteRun('\'')
			return
		case c == '\n':
			if !multiline {
				return
			}
			s.newline()
		default:
			s.i++
		}
	}
}

// skipQuoteRun skips the closing delimiter of a multi-line string. A run of
// four or five quotes ends the string with one or two quotes as content, so
// the closing delimiter is the last three of the run.
func (s *scanner) skipQuoteRun(quote byte) {
	n := 0
	for s.i < len(s.text) && s.text[s.i] == quote && n < 5 {
		s.i++
		n++
	}
}

// inlineTable reads { key = value, ... }. TOML 1.0 wants it on one line,
// with no comment inside and no comma before the closing brace.
func (s *scanner) inlineTable(path string) {
	line, col := s.line, s.column(s.i)
	s.i++
	reported := false
	afterComma := false
	report := func(inline bool, message, remedy string) {
		if reported {
			return
		}
		reported = true
		s.newer = append(s.newer, newerSyntax{
			line: line, col: col, key: path, inlineTable: inline,
			message: message, remedy: remedy,
		})
	}

	for s.i < len(s.text) {
		before := s.i
		switch c := s.text[s.i]; c {
		case ' ', '\t', '\r':
			s.i++
		case '\n':
			report(true, fmt.Sprintf("inline table %s is written over several lines", path), "")
			s.newline()
		case '#':
			report(true, fmt.Sprintf("inline table %s contains a comment", path), "")
			s.skipComment()
		case '}':
			if afterComma {
				report(false, fmt.Sprintf("inline table %s ends with a comma", path),
					"TOML 1.0 allows no comma before the closing brace: remove it")
			}
			s.i++
			return
		case ',':
			afterComma = true
			s.i++
		default:
			afterComma = false
			s.keyValue(path)
		}
		if s.i == before {
			s.i++
		}
	}
}

// array reads [ value, ... ] and records the position of each element.
func (s *scanner) array(path string) {
	s.i++
	index := 1
	started := false
	for s.i < len(s.text) {
		before := s.i
		switch c := s.text[s.i]; c {
		case ' ', '\t', '\r':
			s.i++
		case '\n':
			s.newline()
		case '#':
			s.skipComment()
		case ']':
			s.i++
			return
		case ',':
			index++
			started = false
			s.i++
		default:
			element := indexKey(path, index)
			if !started {
				s.record(element, s.line, s.column(s.i), s.i)
				started = true
			}
			s.value(element)
		}
		if s.i == before {
			s.i++
		}
	}
}

// unquoteBasic decodes the escapes of a basic-string key. The text has
// already been checked by the TOML parser; an escape it cannot decode is
// kept as written.
func unquoteBasic(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'b':
			b.WriteByte('\b')
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'f':
			b.WriteByte('\f')
		case 'r':
			b.WriteByte('\r')
		case 'e':
			b.WriteByte(0x1b)
		case '"', '\\':
			b.WriteByte(s[i])
		case 'x', 'u', 'U':
			width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[s[i]]
			if i+width < len(s) {
				if r, err := strconv.ParseUint(s[i+1:i+1+width], 16, 32); err == nil {
					b.WriteRune(rune(r))
					i += width
					continue
				}
			}
			b.WriteByte('\\')
			b.WriteByte(s[i])
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
