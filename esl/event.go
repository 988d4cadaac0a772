package esl

// Header is one event header as it came off the wire. Name keeps its case
// and punctuation, and Value is decoded exactly once.
type Header struct {
	Name  string
	Value string
}

// Event is one decoded FreeSWITCH event.
type Event struct {
	// Headers are in wire order. A name that appears several times, or a
	// JSON array value, gives one Header per value, in order.
	Headers []Header
	// Body is the event's own body: the bytes after the inner
	// Content-Length of a plain event, or the "_body" member of a JSON one.
	Body []byte
}

// Lookup returns the first value of the header name and reports whether
// the event has it. Names are compared exactly.
func (e *Event) Lookup(name string) (string, bool) {
	for _, h := range e.Headers {
		if h.Name == name {
			return h.Value, true
		}
	}
	return "", false
}

// Get returns the first value of the header name, or "" when it is absent.
func (e *Event) Get(name string) string {
	v, _ := e.Lookup(name)
	return v
}

// Values returns every value of the header name, in wire order.
func (e *Event) Values(name string) []string {
	var vs []string
	for _, h := range e.Headers {
		if h.Name == name {
			vs = append(vs, h.Value)
		}
	}
	return vs
}

// Name returns the Event-Name header, for example CHANNEL_HANGUP_COMPLETE.
func (e *Event) Name() string { return e.Get("Event-Name") }

// Subclass returns the Event-Subclass header of a CUSTOM event.
func (e *Event) Subclass() string { return e.Get("Event-Subclass") }
