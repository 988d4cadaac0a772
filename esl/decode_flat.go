package esl

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// decodeFlatJSON decodes the shape FreeSWITCH sends (one object whose
// values are strings, literals or arrays of them) about ten times faster
// than the token stream of encoding/json. It reports false for anything
// else, nested values and invalid input included, and DecodeJSON then
// falls back to decodeJSONTokens, which gives the same result or the error.
func decodeFlatJSON(body []byte) (Event, bool) {
	// One string copy of the body backs every name and value without
	// escapes, so a 150-header event costs a handful of allocations rather
	// than two per header.
	p := flatParser{body: body, text: string(body)}
	p.skipSpace()
	if !p.consume('{') {
		return Event{}, false
	}

	var ev Event
	haveBody := false
	p.skipSpace()
	if p.consume('}') {
		return ev, p.atEnd()
	}
	// Each member has four quotes (name and string value), so this sizes
	// the headers once; counting one byte is much faster than a pair.
	ev.Headers = make([]Header, 0, 1+bytes.Count(body, []byte{'"'})/4)
	for {
		p.skipSpace()
		name, ok := p.str()
		if !ok {
			return Event{}, false
		}
		p.skipSpace()
		if !p.consume(':') {
			return Event{}, false
		}
		p.skipSpace()

		start := len(ev.Headers)
		if ev.Headers, ok = p.appendValue(ev.Headers, name); !ok {
			return Event{}, false
		}
		if name == "_body" {
			if !haveBody && len(ev.Headers) > start {
				ev.Body = []byte(ev.Headers[start].Value)
				haveBody = true
			}
			ev.Headers = ev.Headers[:start]
		}

		p.skipSpace()
		if p.consume(',') {
			continue
		}
		if !p.consume('}') {
			return Event{}, false
		}
		if len(ev.Headers) == 0 {
			ev.Headers = nil
		}
		return ev, p.atEnd()
	}
}

type flatParser struct {
	body []byte
	text string // the same bytes as body
	pos  int
}

func (p *flatParser) skipSpace() {
	for p.pos < len(p.body) {
		switch p.body[p.pos] {
		case ' ', '\t', '\r', '\n':
			p.pos++
		default:
			return
		}
	}
}

func (p *flatParser) consume(c byte) bool {
	if p.pos < len(p.body) && p.body[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *flatParser) atEnd() bool {
	p.skipSpace()
	return p.pos == len(p.body)
}

// appendValue appends the Headers of one member value: one for a string or
// literal, one per element for an array of them.
func (p *flatParser) appendValue(headers []Header, name string) ([]Header, bool) {
	if !p.consume('[') {
		value, ok := p.scalar()
		return append(headers, Header{Name: name, Value: value}), ok
	}

	p.skipSpace()
	if p.consume(']') {
		return headers, true
	}
	for {
		p.skipSpace()
		value, ok := p.scalar()
		if !ok {
			return nil, false
		}
		headers = append(headers, Header{Name: name, Value: value})
		p.skipSpace()
		if p.consume(',') {
			continue
		}
		return headers, p.consume(']')
	}
}

// scalar reads a string or a literal (number, true, false, null).
func (p *flatParser) scalar() (string, bool) {
	if p.pos < len(p.body) && p.body[p.pos] == '"' {
		return p.str()
	}

	start := p.pos
	for p.pos < len(p.body) {
		switch p.body[p.pos] {
		case ',', ']', '}', ' ', '\t', '\r', '\n':
			goto end
		case '{', '[', '"':
			return "", false
		}
		p.pos++
	}
end:
	literal := p.body[start:p.pos]
	if len(literal) == 0 || !json.Valid(literal) {
		return "", false
	}
	return p.text[start:p.pos], true
}

// str reads a JSON string. A string without escapes is copied as it is,
// with invalid UTF-8 replaced per byte like encoding/json does; one with
// escapes goes to json.Unmarshal.
func (p *flatParser) str() (string, bool) {
	if !p.consume('"') {
		return "", false
	}
	start := p.pos
	escaped, ascii := false, true
	for p.pos < len(p.body) {
		// Skip the plain bytes in a tight loop on locals, because through p
		// the compiler reloads the fields on every byte. Most of an event is
		// plain.
		body, i := p.body, p.pos
		for i < len(body) && !stringSpecial[body[i]] {
			i++
		}
		p.pos = i
		if p.pos >= len(p.body) {
			break
		}
		c := p.body[p.pos]
		switch {
		case c == '"':
			raw := p.body[start:p.pos]
			p.pos++
			if escaped {
				var s string
				if err := json.Unmarshal(p.body[start-1:p.pos], &s); err != nil {
					return "", false
				}
				return s, true
			}
			if !ascii && !utf8.Valid(raw) {
				return validUTF8(string(raw)), true
			}
			return p.text[start : p.pos-1], true
		case c == '\\':
			escaped = true
			p.pos += 2
			continue
		case c < 0x20:
			return "", false // control characters must be escaped
		default: // c >= utf8.RuneSelf
			ascii = false
		}
		p.pos++
	}
	return "", false
}

// stringSpecial marks the bytes that end the plain run inside a JSON
// string: the quote, the backslash, control characters and non-ASCII.
var stringSpecial = func() (t [256]bool) {
	for c := range t {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf
	}
	return t
}()
