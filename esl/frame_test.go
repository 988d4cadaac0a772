package esl_test

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/postcall/postcall/esl"
)

func TestReadFrame(t *testing.T) {
	tests := []struct {
		name    string
		stream  string
		headers []esl.Header
		body    string
	}{
		{
			name:    "auth request without body",
			stream:  "Content-Type: auth/request\n\n",
			headers: []esl.Header{{"Content-Type", "auth/request"}},
		},
		{
			name:    "body counted in bytes",
			stream:  "Content-Type: api/response\nContent-Length: 6\n\nÄ\nok\n",
			headers: []esl.Header{{"Content-Type", "api/response"}, {"Content-Length", "6"}},
			body:    "Ä\nok\n",
		},
		{
			name:    "leading blank lines are skipped",
			stream:  "\n\nContent-Type: auth/request\n\n",
			headers: []esl.Header{{"Content-Type", "auth/request"}},
		},
		{
			name:    "odd names and colons in values",
			stream:  "X-Odd,(name)~1: a: b\nEmpty:\n\n",
			headers: []esl.Header{{"X-Odd,(name)~1", "a: b"}, {"Empty", ""}},
		},
		{
			name:    "zero Content-Length",
			stream:  "Content-Type: text/event-plain\nContent-Length: 0\n\n",
			headers: []esl.Header{{"Content-Type", "text/event-plain"}, {"Content-Length", "0"}},
		},
		{
			name:    "repeated equal Content-Length",
			stream:  "Content-Length: 2\nContent-Length: 2\n\nab",
			headers: []esl.Header{{"Content-Length", "2"}, {"Content-Length", "2"}},
			body:    "ab",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fr := esl.NewFrameReader(strings.NewReader(tt.stream), 0)
			f, err := fr.ReadFrame()
			if err != nil {
				t.Fatalf("ReadFrame: %v", err)
			}
			if !slices.Equal(f.Header, tt.headers) {
				t.Errorf("headers = %q, want %q", f.Header, tt.headers)
			}
			if string(f.Body) != tt.body {
				t.Errorf("body = %q, want %q", f.Body, tt.body)
			}
			if _, err := fr.ReadFrame(); err != io.EOF {
				t.Errorf("second ReadFrame error = %v, want io.EOF", err)
			}
		})
	}
}

func TestReadFrameErrors(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		max    int
		want   error
	}{
		{"line without separator", "Content-Type auth/request\n\n", 0, esl.ErrMalformedFrame},
		{"empty name", ": x\n\n", 0, esl.ErrMalformedFrame},
		{"length not a number", "Content-Length: 1x\n\nab", 0, esl.ErrMalformedFrame},
		{"negative length", "Content-Length: -5\n\n", 0, esl.ErrMalformedFrame},
		{"length with plus sign", "Content-Length: +5\n\nabcde", 0, esl.ErrMalformedFrame},
		{"empty length", "Content-Length: \n\n", 0, esl.ErrMalformedFrame},
		{"conflicting lengths", "Content-Length: 1\nContent-Length: 2\n\nab", 0, esl.ErrMalformedFrame},
		{"huge length", "Content-Length: 99999999999\n\n", 0, esl.ErrMalformedFrame},
		{"body over the limit", "Content-Length: 100\n\n" + strings.Repeat("x", 100), 64, esl.ErrFrameTooLarge},
		{"header block over the limit", "A: " + strings.Repeat("x", 200) + "\n\n", 64, esl.ErrFrameTooLarge},
		{"endless line", strings.Repeat("y", 200<<10), 128 << 10, esl.ErrFrameTooLarge},
		{"stream ends in header", "Content-Type: auth/req", 0, io.ErrUnexpectedEOF},
		{"stream ends before blank line", "Content-Type: auth/request\n", 0, io.ErrUnexpectedEOF},
		{"stream ends in body", "Content-Length: 10\n\nabc", 0, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fr := esl.NewFrameReader(strings.NewReader(tt.stream), tt.max)
			_, err := fr.ReadFrame()
			if !errors.Is(err, tt.want) {
				t.Errorf("ReadFrame error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReadFrameBlankLinesAtEndAreEOF(t *testing.T) {
	fr := esl.NewFrameReader(strings.NewReader("Content-Type: auth/request\n\n\n\n"), 0)
	if _, err := fr.ReadFrame(); err != nil {
		t.Fatalf("first ReadFrame: %v", err)
	}
	if _, err := fr.ReadFrame(); err != io.EOF {
		t.Errorf("second ReadFrame error = %v, want io.EOF", err)
	}
}

func TestReadFrameLargeEvent(t *testing.T) {
	// Real CHANNEL_HANGUP_COMPLETE events reach 135 KB; one of 1 MiB with a
	// 200 KB header line must pass the default limit.
	value := strings.Repeat("v", 200<<10)
	body := "Event-Name: CHANNEL_HANGUP_COMPLETE\nvariable_big: " + value + "\n" + strings.Repeat("variable_x: y\n", 60000) + "\n"
	stream := "Content-Length: " + strconv.Itoa(len(body)) + "\nContent-Type: text/event-plain\n\n" + body

	events, err := esl.ReadEvents(strings.NewReader(stream))
	if err != nil {
		t.Fatalf("ReadEvents: %v", err)
	}
	if len(events) != 1 {
		t.Fatalf("got %d events, want 1", len(events))
	}
	if got := events[0].Get("variable_big"); got != value {
		t.Errorf("variable_big has %d bytes, want %d", len(got), len(value))
	}
}

// gatedReader hands out one chunk per Read after it was released, and
// reports each time the frame reader needs more data. It makes the moment
// a frame comes out observable, with no timing involved.
type gatedReader struct {
	chunks chan []byte
	need   chan struct{}
	rest   []byte
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if len(g.rest) == 0 {
		g.need <- struct{}{}
		chunk, ok := <-g.chunks
		if !ok {
			return 0, io.EOF
		}
		g.rest = chunk
	}
	n := copy(p, g.rest)
	g.rest = g.rest[n:]
	return n, nil
}

// frameArrival is a frame and how many chunks had been handed out when the
// reader returned it.
type frameArrival struct {
	frame  esl.Frame
	chunks int
}

// readInChunks feeds stream to a FrameReader in the given pieces and
// records after which piece each frame came out.
func readInChunks(t *testing.T, stream []byte, cuts []int) ([]frameArrival, error) {
	t.Helper()
	g := &gatedReader{chunks: make(chan []byte), need: make(chan struct{})}
	type result struct {
		frame esl.Frame
		err   error
	}
	results := make(chan result)
	go func() {
		fr := esl.NewFrameReader(g, 0)
		for {
			f, err := fr.ReadFrame()
			results <- result{f, err}
			if err != nil {
				return
			}
		}
	}()

	var pieces [][]byte
	prev := 0
	for _, cut := range append(cuts, len(stream)) {
		pieces = append(pieces, stream[prev:cut])
		prev = cut
	}

	var arrivals []frameArrival
	given := 0
	for {
		select {
		case r := <-results:
			if r.err == io.EOF {
				return arrivals, nil
			}
			if r.err != nil {
				return arrivals, r.err
			}
			arrivals = append(arrivals, frameArrival{r.frame, given})
		case <-g.need:
			if given == len(pieces) {
				close(g.chunks)
				continue
			}
			g.chunks <- pieces[given]
			given++
		}
	}
}

// frameEnds returns the offset just past each frame of stream.
func frameEnds(t *testing.T, stream []byte) []int {
	t.Helper()
	var ends []int
	fr := esl.NewFrameReader(bytes.NewReader(stream), 0)
	offset := 0
	for {
		f, err := fr.ReadFrame()
		if err == io.EOF {
			return ends
		}
		if err != nil {
			t.Fatalf("ReadFrame: %v", err)
		}
		offset += frameLength(f)
		ends = append(ends, offset)
	}
}

// frameLength returns the wire length of a frame that has no blank lines
// before it.
func frameLength(f esl.Frame) int {
	n := 1 // the blank line
	for _, h := range f.Header {
		n += len(h.Name) + 2 + len(h.Value) + 1
	}
	return n + len(f.Body)
}
