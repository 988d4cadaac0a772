package esl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// ErrInvalidEvent reports an event body that cannot be decoded.
var ErrInvalidEvent = errors.New("esl: invalid event body")

// DecodeJSON decodes the body of a text/event-json frame. Names keep their
// case and punctuation and repeated keys stay in order, because the object
// is read as a token stream rather than into a map. A string value is used
// as it is, since JSON values are never URL-encoded. An array gives one
// Header per element. Numbers, booleans and null give their literal JSON
// text, and a nested object or array gives its compact JSON text. The
// "_body" member becomes Event.Body (the first one, if it repeats). Invalid
// UTF-8 becomes U+FFFD, one per invalid byte.
func DecodeJSON(body []byte) (Event, error) {
	if ev, ok := decodeFlatJSON(body); ok {
		return ev, nil
	}
	return decodeJSONTokens(body)
}

// decodeJSONTokens is the general form of DecodeJSON, built on the token
// stream of encoding/json. It handles every valid input and reports every
// invalid one.
func decodeJSONTokens(body []byte) (Event, error) {
	d := jsonDecoder{body: body, dec: json.NewDecoder(bytes.NewReader(body))}
	d.dec.UseNumber()

	tok, err := d.dec.Token()
	if err != nil {
		return Event{}, fmt.Errorf("%w: json: %w", ErrInvalidEvent, err)
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		return Event{}, fmt.Errorf("%w: json: expected an object, found %v", ErrInvalidEvent, tok)
	}

	ev := Event{Headers: make([]Header, 0, bytes.Count(body, []byte(`":`)))}
	haveBody := false
	for d.dec.More() {
		tok, err := d.dec.Token()
		if err != nil {
			return Event{}, fmt.Errorf("%w: json: %w", ErrInvalidEvent, err)
		}
		name, ok := tok.(string)
		if !ok {
			return Event{}, fmt.Errorf("%w: json: expected a member name, found %v", ErrInvalidEvent, tok)
		}

		start := len(ev.Headers)
		if ev.Headers, err = d.appendValue(ev.Headers, name); err != nil {
			return Event{}, fmt.Errorf("%w: json: value of %q: %w", ErrInvalidEvent, name, err)
		}
		if name == "_body" {
			if !haveBody && len(ev.Headers) > start {
				ev.Body = []byte(ev.Headers[start].Value)
				haveBody = true
			}
			ev.Headers = ev.Headers[:start]
		}
	}

	if _, err := d.dec.Token(); err != nil { // the closing brace
		return Event{}, fmt.Errorf("%w: json: %w", ErrInvalidEvent, err)
	}
	if _, err := d.dec.Token(); err != io.EOF {
		return Event{}, fmt.Errorf("%w: json: unexpected data after the event object", ErrInvalidEvent)
	}
	if len(ev.Headers) == 0 {
		ev.Headers = nil
	}
	return ev, nil
}

// jsonDecoder reads member values from a token stream. It looks at the
// input to tell a nested object or array, which it keeps as compact JSON
// text, from an array of plain values, which gives one Header per element.
type jsonDecoder struct {
	body []byte
	dec  *json.Decoder
}

// next returns the first byte of the next value, or 0 at the end.
func (d *jsonDecoder) next() byte {
	for _, c := range d.body[d.dec.InputOffset():] {
		switch c {
		case ' ', '\t', '\r', '\n', ':', ',':
			continue
		default:
			return c
		}
	}
	return 0
}

// appendValue reads the value of member name and appends its Headers.
func (d *jsonDecoder) appendValue(headers []Header, name string) ([]Header, error) {
	if d.next() != '[' {
		text, err := d.scalarOrRaw()
		if err != nil {
			return nil, err
		}
		return append(headers, Header{Name: name, Value: text}), nil
	}

	if _, err := d.dec.Token(); err != nil { // the opening bracket
		return nil, err
	}
	for d.dec.More() {
		text, err := d.scalarOrRaw()
		if err != nil {
			return nil, err
		}
		headers = append(headers, Header{Name: name, Value: text})
	}
	if _, err := d.dec.Token(); err != nil { // the closing bracket
		return nil, err
	}
	return headers, nil
}

// scalarOrRaw reads one value: a string's content, the literal text of a
// number, boolean or null, or the compact text of an object or array.
func (d *jsonDecoder) scalarOrRaw() (string, error) {
	if c := d.next(); c == '{' || c == '[' {
		var raw json.RawMessage
		if err := d.dec.Decode(&raw); err != nil {
			return "", err
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return "", err
		}
		return validUTF8(buf.String()), nil
	}

	tok, err := d.dec.Token()
	if err != nil {
		return "", err
	}
	switch v := tok.(type) {
	case string:
		return v, nil
	case json.Number:
		return string(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	case nil:
		return "null", nil
	default:
		return "", fmt.Errorf("unexpected %v", tok)
	}
}

// DecodePlain decodes the body of a text/event-plain frame: a header block
// whose values are URL-decoded exactly once (see URLDecode), optionally
// followed by the event's own body. Names are kept exactly, except that
// invalid UTF-8 in a name becomes U+FFFD.
//
// When the block has a Content-Length header, the event's body is that many
// bytes after the blank line. FreeSWITCH may repeat the header (a SIP
// Content-Length copied into the event); the last one counts, because the
// serializer writes its own after every copied header. Every Content-Length
// stays in Headers, as it does in the JSON form. Without one, any bytes after
// the blank line are the body.
func DecodePlain(body []byte) (Event, error) {
	var ev Event
	rest := body
	for len(rest) > 0 {
		var line []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			line, rest = rest, nil
		}
		if len(line) == 0 {
			break // end of the header block
		}
		h, err := splitHeaderLine(line)
		if err != nil {
			return Event{}, fmt.Errorf("%w: plain: %w", ErrInvalidEvent, err)
		}
		ev.Headers = append(ev.Headers, Header{Name: validUTF8(h.Name), Value: URLDecode(h.Value)})
	}

	length, err := contentLength(ev.Headers, true)
	if err != nil {
		return Event{}, fmt.Errorf("%w: plain: %w", ErrInvalidEvent, err)
	}
	switch {
	case length > len(rest):
		return Event{}, fmt.Errorf("%w: plain: inner Content-Length %d is larger than the %d bytes left in the frame", ErrInvalidEvent, length, len(rest))
	case length >= 0:
		ev.Body = bytes.Clone(rest[:length])
	case len(rest) > 0:
		ev.Body = bytes.Clone(rest)
	}
	return ev, nil
}

// URLDecode decodes a plain event value exactly once. Every %XX with two
// hex digits becomes that byte. A % not followed by two hex digits stays a
// literal %, because FreeSWITCH sends such a % unencoded. A + stays a +,
// because FreeSWITCH encodes a space as %20. Bytes that are not valid UTF-8
// after decoding become U+FFFD, one per byte, so a value is never blanked.
func URLDecode(s string) string {
	if !needsDecoding(s) {
		return validUTF8(s)
	}
	buf := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			buf = append(buf, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		buf = append(buf, c)
	}
	return validUTF8(string(buf))
}

func needsDecoding(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			return true
		}
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// validUTF8 replaces each byte that is not part of valid UTF-8 with U+FFFD,
// as encoding/json does for JSON strings.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	buf := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = utf8.AppendRune(buf, utf8.RuneError)
		} else {
			buf = append(buf, s[i:i+size]...)
		}
		i += size
	}
	return string(buf)
}

// DecodeFrame decodes the event a frame carries. It reports false for a
// frame that is not a text/event-json or text/event-plain event.
func DecodeFrame(f *Frame) (Event, bool, error) {
	switch f.ContentType() {
	case ContentTypeEventJSON:
		ev, err := DecodeJSON(f.Body)
		return ev, true, err
	case ContentTypeEventPlain:
		ev, err := DecodePlain(f.Body)
		return ev, true, err
	default:
		return Event{}, false, nil
	}
}

// ReadEvents reads a capture of frames back to back
// ("Content-Length: N\nContent-Type: text/event-json\n\n<body>", or
// text/event-plain) and returns the events it holds, in order. Frames of any
// other content type (replies, log/data, notices) are skipped. On an error
// it returns the events decoded before it.
func ReadEvents(r io.Reader) ([]Event, error) {
	fr := NewFrameReader(r, 0)
	var events []Event
	for n := 1; ; n++ {
		frame, err := fr.ReadFrame()
		if err == io.EOF {
			return events, nil
		}
		if err != nil {
			return events, fmt.Errorf("esl: read frame %d of the capture: %w", n, err)
		}
		ev, ok, err := DecodeFrame(&frame)
		if err != nil {
			return events, fmt.Errorf("esl: decode frame %d of the capture (%s): %w", n, frame.ContentType(), err)
		}
		if ok {
			events = append(events, ev)
		}
	}
}
