package esltest

import (
	"crypto/rand"
	"fmt"

	"github.com/postcall/postcall/esl"
)

// NewUUID returns a random version 4 UUID in the form FreeSWITCH uses for
// Unique-ID.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Clone returns a copy of the template event ev for a new call. Every
// header value equal to the template's Unique-ID (Unique-ID,
// Channel-Call-UUID, variable_uuid and the like) gets one fresh UUID. Then
// each override replaces the first header of its name, or is appended when
// the event has none. Further headers of an overridden name are removed, so
// the override is the only value.
func Clone(ev esl.Event, overrides ...esl.Header) esl.Event {
	out := esl.Event{
		Headers: make([]esl.Header, len(ev.Headers), len(ev.Headers)+len(overrides)),
		Body:    append([]byte(nil), ev.Body...),
	}
	copy(out.Headers, ev.Headers)
	if len(ev.Body) == 0 {
		out.Body = nil
	}

	if oldID := ev.Get("Unique-ID"); oldID != "" {
		newID := NewUUID()
		for i := range out.Headers {
			if out.Headers[i].Value == oldID {
				out.Headers[i].Value = newID
			}
		}
	}

	for _, o := range overrides {
		out.Headers = override(out.Headers, o)
	}
	return out
}

func override(headers []esl.Header, o esl.Header) []esl.Header {
	kept := headers[:0]
	found := false
	for _, h := range headers {
		if h.Name != o.Name {
			kept = append(kept, h)
			continue
		}
		if !found {
			kept = append(kept, o)
			found = true
		}
	}
	if !found {
		kept = append(kept, o)
	}
	return kept
}
