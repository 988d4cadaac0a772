package loadtest

import (
	"bytes"
	"embed"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/postcall/postcall/esl"
)

// captures holds the events recorded from a real FreeSWITCH 1.10.12 that
// every generated call is cloned from.
//
//go:embed captures/*.json
var captures embed.FS

// The captured events the generator clones: an IVR call that ended with
// fuse_exit set, and a call whose IVR fired CUSTOM fuse::exit before its
// hangup.
const (
	captureHangup     = "captures/hangup_complete_ivr_exit.json"
	captureExit       = "captures/custom_fuse_exit.json"
	captureExitHangup = "captures/hangup_complete_custom_exit.json"
)

// uuidLen is the length of a FreeSWITCH Unique-ID in its text form.
const uuidLen = 36

// readCapture returns the one event of an embedded capture file.
func readCapture(name string) (esl.Event, error) {
	data, err := captures.ReadFile(name)
	if err != nil {
		return esl.Event{}, fmt.Errorf("read embedded capture %s: %w", name, err)
	}
	events, err := esl.ReadEvents(bytes.NewReader(data))
	if err != nil {
		return esl.Event{}, fmt.Errorf("decode embedded capture %s: %w", name, err)
	}
	if len(events) != 1 {
		return esl.Event{}, fmt.Errorf("embedded capture %s contains %d events, expected 1", name, len(events))
	}
	return events[0], nil
}

// variedByte is one ASCII letter or digit of a varied header value, at its
// position in the encoded frame.
type variedByte struct {
	offset int
	// class is '0' for a digit, 'a' for a lower-case and 'A' for an
	// upper-case letter; the replacement keeps the class.
	class byte
	// salt is a hash of the header name and the byte's index in the value,
	// so that one call gives the same header the same value in every event.
	salt uint64
}

// frameTemplate is a captured event encoded once as a whole frame, with the
// positions of the bytes that change from call to call. Building a call's
// frame is then a copy and a few byte writes, so the generator stays cheap
// next to the daemon it measures.
type frameTemplate struct {
	frame    []byte
	idOffset []int
	varied   []variedByte
	headers  int
}

// templateOptions control how a captured event becomes a template.
type templateOptions struct {
	// format is "json" or "plain", as the client subscribed.
	format string
	// app replaces the values of the application variable, both as the
	// channel variable (variable_fuse_app) and as the exit event's own
	// header (fuse_app).
	app    string
	appVar string
	// prefix is the IVR variable prefix (fuse_var_). Values of channel
	// variables with this prefix change from call to call.
	prefix string
}

// newFrameTemplate encodes ev as a frame in opts.format. Every header whose
// value equals the event's Unique-ID becomes a slot for the call's id. The
// ASCII letters and digits of the IVR's values become slots for the call's
// own values: those of IVR variables, and of the exit event's own fuse_
// headers other than the application and exit variables. The encoded length
// does not depend on the slot contents, because letters and digits are
// never escaped.
func newFrameTemplate(ev esl.Event, opts templateOptions) (*frameTemplate, error) {
	id := ev.Get("Unique-ID")
	if len(id) != uuidLen {
		return nil, fmt.Errorf("captured %s event has Unique-ID %q, expected a %d-character UUID", ev.Name(), id, uuidLen)
	}
	if len(ev.Body) > 0 {
		return nil, fmt.Errorf("captured %s event has a body; only events without one can be templates", ev.Name())
	}
	if opts.format != "json" && opts.format != "plain" {
		return nil, fmt.Errorf("event format %q is not supported: use json or plain", opts.format)
	}

	t := &frameTemplate{headers: len(ev.Headers)}
	var body []byte
	if opts.format == "json" {
		body = append(body, '{')
	}
	first := true
	for _, h := range ev.Headers {
		if h.Name == "Content-Length" {
			continue
		}
		if opts.app != "" && (h.Name == "variable_"+opts.appVar || h.Name == opts.appVar) {
			h.Value = opts.app
		}
		if opts.format == "json" && !first {
			body = append(body, ',')
		}
		first = false
		member := encodeMember(h, opts.format)
		valueEnd := len(body) + len(member) - 1 // before the closing quote or LF
		body = append(body, member...)

		switch {
		case h.Value == id:
			t.idOffset = append(t.idOffset, valueEnd-uuidLen)
		case variesPerCall(h.Name, opts):
			varied, err := variedBytes(h, opts.format, valueEnd)
			if err != nil {
				return nil, err
			}
			t.varied = append(t.varied, varied...)
		}
	}
	if opts.format == "json" {
		body = append(body, '}')
	} else {
		body = append(body, '\n')
	}

	contentType := esl.ContentTypeEventJSON
	if opts.format == "plain" {
		contentType = esl.ContentTypeEventPlain
	}
	head := fmt.Appendf(nil, "Content-Length: %d\nContent-Type: %s\n\n", len(body), contentType)
	t.frame = append(head, body...)
	for i := range t.idOffset {
		t.idOffset[i] += len(head)
	}
	for i := range t.varied {
		t.varied[i].offset += len(head)
	}
	return t, nil
}

// encodeMember returns one header as the esl encoders write it: a JSON
// object member `"name":"value"`, or a plain line "name: value\n".
func encodeMember(h esl.Header, format string) []byte {
	single := esl.Event{Headers: []esl.Header{h}}
	if format == "json" {
		out := esl.EncodeJSON(single)
		return out[1 : len(out)-1]
	}
	out := esl.EncodePlain(single)
	return out[:len(out)-1] // EncodePlain ends the header block with a blank line
}

// encodeValue returns how the esl encoders write value.
func encodeValue(value, format string) []byte {
	member := encodeMember(esl.Header{Name: "v", Value: value}, format)
	if format == "json" {
		return member[len(`"v":"`) : len(member)-1]
	}
	return member[len("v: ") : len(member)-1]
}

// variesPerCall reports whether a header's value is one of the IVR's own
// values, which differ from call to call.
func variesPerCall(name string, opts templateOptions) bool {
	if strings.HasPrefix(name, "variable_"+opts.prefix) || strings.HasPrefix(name, opts.prefix) {
		return true
	}
	// The exit event carries the IVR's values as its own headers
	// (fuse_score, fuse_note); the application and exit markers stay.
	return strings.HasPrefix(name, "fuse_") && name != opts.appVar && name != "fuse_exit"
}

// variedBytes returns the letters and digits of h's value, at their
// offsets in a body where the encoded value ends at valueEnd. It encodes
// the value one rune at a time to find each byte's offset, and fails if
// that does not add up to the encoding of the whole value.
func variedBytes(h esl.Header, format string, valueEnd int) ([]variedByte, error) {
	whole := encodeValue(h.Value, format)
	start := valueEnd - len(whole)
	var out []variedByte
	pos := 0
	for i, r := range h.Value {
		enc := encodeValue(string(r), format)
		if class := charClass(r); class != 0 && len(enc) == 1 {
			out = append(out, variedByte{offset: start + pos, class: class, salt: saltOf(h.Name, i)})
		}
		pos += len(enc)
	}
	if pos != len(whole) {
		return nil, fmt.Errorf("header %s: encoding its value rune by rune gives %d bytes, the whole value %d; it cannot be varied per call", h.Name, pos, len(whole))
	}
	return out, nil
}

func charClass(r rune) byte {
	switch {
	case r >= '0' && r <= '9':
		return '0'
	case r >= 'a' && r <= 'z':
		return 'a'
	case r >= 'A' && r <= 'Z':
		return 'A'
	}
	return 0
}

func saltOf(name string, index int) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	h.Write([]byte(strconv.Itoa(index)))
	return h.Sum64()
}

// build returns a new frame for one call: the template with id in every
// Unique-ID slot and the varied bytes chosen from seed. The frame is a new
// slice, because the fake server keeps it until it is written.
func (t *frameTemplate) build(id string, seed uint64) []byte {
	frame := make([]byte, len(t.frame))
	copy(frame, t.frame)
	for _, off := range t.idOffset {
		copy(frame[off:off+uuidLen], id)
	}
	for _, v := range t.varied {
		frame[v.offset] = pick(v.class, mix64(seed^v.salt))
	}
	return frame
}

// pick returns a character of class chosen by n.
func pick(class byte, n uint64) byte {
	switch class {
	case '0':
		return '0' + byte(n%10)
	case 'a':
		return 'a' + byte(n%26)
	default:
		return 'A' + byte(n%26)
	}
}

// mix64 is the SplitMix64 finalizer: a fast, well-spread hash of n.
func mix64(n uint64) uint64 {
	n += 0x9e3779b97f4a7c15
	n = (n ^ (n >> 30)) * 0xbf58476d1ce4e5b9
	n = (n ^ (n >> 27)) * 0x94d049bb133111eb
	return n ^ (n >> 31)
}
