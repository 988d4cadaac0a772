package esl_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/postcall/postcall/esl"
)

// captureFiles returns every capture and case stream in testdata.
func captureFiles(f *testing.F) [][]byte {
	f.Helper()
	var out [][]byte
	for _, pattern := range []string{"testdata/*.esl", "testdata/real-freeswitch-1.10.12/*.json", "testdata/real-freeswitch-1.10.12/*.plain", "testdata/public/*.txt"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, data)
		}
	}
	return out
}

// frameBodies returns the body of every event frame of the captures whose
// content type is contentType.
func frameBodies(f *testing.F, contentType string) [][]byte {
	f.Helper()
	var bodies [][]byte
	for _, data := range captureFiles(f) {
		fr := esl.NewFrameReader(bytes.NewReader(data), 0)
		for {
			frame, err := fr.ReadFrame()
			if err != nil {
				break
			}
			if frame.ContentType() == contentType {
				bodies = append(bodies, frame.Body)
			}
		}
	}
	return bodies
}

// FuzzReadFrame feeds arbitrary streams to the frame reader. It must never
// panic, must respect the size limit, and every frame it returns must read
// back the same after being written out again.
func FuzzReadFrame(f *testing.F) {
	for _, data := range captureFiles(f) {
		f.Add(data)
	}
	f.Add([]byte("Content-Length: 5\n\nab"))
	f.Add([]byte("\n\n\nA: b\n\n"))

	const limit = 64 << 10
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := esl.NewFrameReader(bytes.NewReader(data), limit)
		for range 1000 {
			frame, err := fr.ReadFrame()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !errors.Is(err, esl.ErrMalformedFrame) && !errors.Is(err, esl.ErrFrameTooLarge) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("ReadFrame returned an unexpected error: %v", err)
				}
				return
			}
			if len(frame.Header) == 0 {
				t.Fatal("ReadFrame returned a frame without headers")
			}
			if len(frame.Body) > limit {
				t.Fatalf("body of %d bytes passed the limit of %d", len(frame.Body), limit)
			}

			again, err := esl.NewFrameReader(bytes.NewReader(writeFrame(frame)), limit).ReadFrame()
			if err != nil {
				t.Fatalf("rereading a written frame: %v", err)
			}
			if !slices.Equal(again.Header, frame.Header) || !bytes.Equal(again.Body, frame.Body) {
				t.Fatalf("frame changed when written and read again: %q / %q", frame.Header, again.Header)
			}
		}
	})
}

// writeFrame writes a frame as FreeSWITCH would.
func writeFrame(f esl.Frame) []byte {
	var b bytes.Buffer
	for _, h := range f.Header {
		b.WriteString(h.Name)
		b.WriteString(": ")
		b.WriteString(h.Value)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(f.Body)
	return b.Bytes()
}

// FuzzDecodeJSON decodes arbitrary bodies. It must never panic, must
// produce valid UTF-8, and an event it decodes must come back unchanged
// after EncodeJSON.
func FuzzDecodeJSON(f *testing.F) {
	for _, body := range frameBodies(f, esl.ContentTypeEventJSON) {
		f.Add(body)
	}
	f.Add([]byte(`{"a":["x",1,true,null,{"b":[2]}],"a":"y","_body":"z"}`))
	f.Add([]byte("{\"\xff\":\"\xfe\"}"))

	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := esl.DecodeJSON(body)
		if err != nil {
			if !errors.Is(err, esl.ErrInvalidEvent) {
				t.Fatalf("error does not wrap ErrInvalidEvent: %v", err)
			}
			return
		}
		checkValidUTF8(t, ev)

		again, err := esl.DecodeJSON(esl.EncodeJSON(ev))
		if err != nil {
			t.Fatalf("decoding EncodeJSON output: %v", err)
		}
		want := withoutContentLength(ev)
		if !slices.Equal(withoutContentLength(again), want) || !bytes.Equal(again.Body, ev.Body) {
			t.Fatalf("event changed after EncodeJSON: %q -> %q", ev.Headers, again.Headers)
		}
	})
}

// FuzzDecodePlain decodes arbitrary bodies. It must never panic, must
// produce valid UTF-8, and an event whose names can be written in plain
// form must come back unchanged after EncodePlain.
func FuzzDecodePlain(f *testing.F) {
	for _, body := range frameBodies(f, esl.ContentTypeEventPlain) {
		f.Add(body)
	}
	f.Add([]byte("A: %25%2\nContent-Length: 3\nContent-Length: 2\n\nxy"))
	f.Add([]byte("A: %ff%C3%28\n\n"))

	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := esl.DecodePlain(body)
		if err != nil {
			if !errors.Is(err, esl.ErrInvalidEvent) {
				t.Fatalf("error does not wrap ErrInvalidEvent: %v", err)
			}
			return
		}
		checkValidUTF8(t, ev)

		again, err := esl.DecodePlain(esl.EncodePlain(ev))
		if err != nil {
			t.Fatalf("decoding EncodePlain output: %v", err)
		}
		if !slices.Equal(withoutContentLength(again), withoutContentLength(ev)) {
			t.Fatalf("headers changed after EncodePlain: %q -> %q", ev.Headers, again.Headers)
		}
		if !bytes.Equal(again.Body, ev.Body) {
			t.Fatalf("body changed after EncodePlain: %q -> %q", ev.Body, again.Body)
		}
	})
}

func checkValidUTF8(t *testing.T, ev esl.Event) {
	t.Helper()
	for _, h := range ev.Headers {
		if !utf8.ValidString(h.Name) || !utf8.ValidString(h.Value) {
			t.Fatalf("header %q: %q is not valid UTF-8", h.Name, h.Value)
		}
	}
}

// withoutContentLength returns the headers other than Content-Length,
// which the encoders always compute from the body.
func withoutContentLength(ev esl.Event) []esl.Header {
	var out []esl.Header
	for _, h := range ev.Headers {
		if h.Name != "Content-Length" {
			out = append(out, h)
		}
	}
	return out
}

// TestEncodePlainNamesThatCannotBeWritten documents the one limit of the
// plain round trip: FreeSWITCH does not encode names, so a name with a line
// break or ": " cannot be read back.
func TestEncodePlainNamesThatCannotBeWritten(t *testing.T) {
	ev := esl.Event{Headers: []esl.Header{{Name: "a: b", Value: "1"}}}
	again, err := esl.DecodePlain(esl.EncodePlain(ev))
	if err != nil {
		t.Fatal(err)
	}
	if want := []esl.Header{{Name: "a", Value: "b: 1"}}; !slices.Equal(again.Headers, want) {
		t.Errorf("headers = %q, want %q", again.Headers, want)
	}
	if strings.Contains(string(esl.EncodePlain(ev)), "%") {
		t.Error("EncodePlain escaped a name")
	}
}
