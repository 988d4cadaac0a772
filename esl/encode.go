package esl

import (
	"strconv"
	"unicode/utf8"
)

// EncodePlain returns ev as the body of a text/event-plain frame, the way
// FreeSWITCH serializes an event: one "Name: value" line per header with the
// value URL-encoded (see URLEncode), then a blank line. When ev has a body,
// a "Content-Length" line with its byte length and the body follow the
// headers instead of the blank line. Headers named Content-Length in ev are
// left out, because the length is always computed from Body. Names are
// written as they are, so a name with a line break or ": " cannot be read
// back.
func EncodePlain(ev Event) []byte {
	buf := make([]byte, 0, 64*len(ev.Headers)+len(ev.Body)+32)
	for _, h := range ev.Headers {
		if h.Name == "Content-Length" {
			continue
		}
		buf = append(buf, h.Name...)
		buf = append(buf, ": "...)
		buf = appendURLEncoded(buf, h.Value)
		buf = append(buf, '\n')
	}
	if len(ev.Body) > 0 {
		buf = append(buf, "Content-Length: "...)
		buf = strconv.AppendInt(buf, int64(len(ev.Body)), 10)
		buf = append(buf, "\n\n"...)
		return append(buf, ev.Body...)
	}
	return append(buf, '\n')
}

// EncodeJSON returns ev as the body of a text/event-json frame: one object
// member per header, in order, with a repeated name written as a repeated
// key. When ev has a body, "Content-Length" and "_body" members end the
// object, as FreeSWITCH writes them. Headers named Content-Length in ev are
// left out, because the length is always computed from Body.
func EncodeJSON(ev Event) []byte {
	buf := make([]byte, 0, 64*len(ev.Headers)+len(ev.Body)+32)
	buf = append(buf, '{')
	first := true
	member := func(name, value string) {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendJSONString(buf, name)
		buf = append(buf, ':')
		buf = appendJSONString(buf, value)
	}
	for _, h := range ev.Headers {
		if h.Name != "Content-Length" {
			member(h.Name, h.Value)
		}
	}
	if len(ev.Body) > 0 {
		member("Content-Length", strconv.Itoa(len(ev.Body)))
		member("_body", string(ev.Body))
	}
	return append(buf, '}')
}

// appendJSONString appends s as a JSON string. It escapes quotes,
// backslashes and control characters, writes other UTF-8 as it is, and
// replaces each invalid byte with U+FFFD, as encoding/json does.
func appendJSONString(buf []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				buf = append(buf, '\\', c)
			case c == '\n':
				buf = append(buf, '\\', 'n')
			case c == '\r':
				buf = append(buf, '\\', 'r')
			case c == '\t':
				buf = append(buf, '\\', 't')
			case c < 0x20:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				buf = append(buf, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, "\uFFFD"...)
		} else {
			buf = append(buf, s[i:i+size]...)
		}
		i += size
	}
	return append(buf, '"')
}

// plainUnsafe marks the ASCII bytes URLEncode escapes besides control
// characters: the ones FreeSWITCH's URL encoder escapes in plain events
// (space, quote, #, %, &, +, :, ;, <, =, >, ?, @, [, \, ], ^, `, {, |, }).
// Comma, slash and apostrophe stay literal, as in real FreeSWITCH output.
var plainUnsafe = func() (t [256]bool) {
	for _, c := range []byte(" \"#%&+:;<=>?@[\\]^`{|}") {
		t[c] = true
	}
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	for c := 0x7f; c < 0x100; c++ {
		t[c] = true
	}
	return t
}()

// URLEncode escapes s the way FreeSWITCH escapes plain event values, except
// that every % is escaped. FreeSWITCH 1.10.12 leaves a % followed by two
// uppercase hex digits as it is, which makes such values ambiguous. URLDecode reverses
// URLEncode exactly for valid UTF-8.
func URLEncode(s string) string {
	return string(appendURLEncoded(nil, s))
}

func appendURLEncoded(buf []byte, s string) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plainUnsafe[c] {
			buf = append(buf, '%', hexDigits[c>>4], hexDigits[c&0xf])
			continue
		}
		buf = append(buf, c)
	}
	return buf
}
