package esl_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/postcall/postcall/esl"
)

// captureBody returns the body of the one frame in a capture file.
func captureBody(b *testing.B, name string) []byte {
	b.Helper()
	frame, err := esl.NewFrameReader(bytes.NewReader(readFile(&testing.T{}, "testdata/"+name)), 0).ReadFrame()
	if err != nil {
		b.Fatal(err)
	}
	return frame.Body
}

func BenchmarkDecodeJSON(b *testing.B) {
	body := captureBody(b, "real-freeswitch-1.10.12/hangup_complete_ivr_exit.json")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := esl.DecodeJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePlain(b *testing.B) {
	body := captureBody(b, "real-freeswitch-1.10.12/hangup_complete_ivr_exit.plain")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := esl.DecodePlain(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeJSON(b *testing.B) {
	ev, err := esl.DecodeJSON(captureBody(b, "real-freeswitch-1.10.12/hangup_complete_ivr_exit.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		esl.EncodeJSON(ev)
	}
}

// BenchmarkReadFrame reads a stream of 100 real JSON event frames.
func BenchmarkReadFrame(b *testing.B) {
	frame := readFile(&testing.T{}, "testdata/real-freeswitch-1.10.12/hangup_complete_ivr_exit.json")
	stream := bytes.Repeat(frame, 100)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		fr := esl.NewFrameReader(bytes.NewReader(stream), 0)
		for {
			if _, err := fr.ReadFrame(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}
