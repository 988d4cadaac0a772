package esl

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzDecodeFlatJSON checks that the fast path never disagrees with the
// token-stream decoder: whenever it accepts an input, the general decoder
// must accept it too and return the same event.
func FuzzDecodeFlatJSON(f *testing.F) {
	files, _ := filepath.Glob("testdata/real-freeswitch-1.10.12/*.json")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		frame, err := NewFrameReader(bytes.NewReader(data), 0).ReadFrame()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame.Body)
	}
	for _, seed := range []string{
		`{}`, ` { "a" : [ "x" , 1.5e3 , true , null ] , "a":"y" , "_body":"z" } `,
		`{"e":"\u00e9\ud83d\ude42\n\"\\\/"}`, "{\"n\xff\":\"a\xfeb\"}", `{"a":[]}`,
		`{"a":01}`, `{"a":-}`, `{"a":tru}`, `{"a":"b",}`, `{"a":"b"}x`, `{"a":{"b":1}}`,
		"{\"a\":\"\x01\"}", `{"a":"\x"}`, `{"a":[1,]}`, `{"a":1 2}`,
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := decodeFlatJSON(body)
		if !ok {
			return
		}
		general, err := decodeJSONTokens(body)
		if err != nil {
			t.Fatalf("fast path accepted %q, general decoder failed: %v", body, err)
		}
		if !slices.Equal(fast.Headers, general.Headers) || !bytes.Equal(fast.Body, general.Body) {
			t.Fatalf("decoders disagree on %q:\nfast    %q %q\ngeneral %q %q", body, fast.Headers, fast.Body, general.Headers, general.Body)
		}
	})
}

// TestDecodeFlatJSONTakesRealEvents makes sure real events use the fast
// path, so the benchmark measures what production runs.
func TestDecodeFlatJSONTakesRealEvents(t *testing.T) {
	files, _ := filepath.Glob("testdata/real-freeswitch-1.10.12/*.json")
	if len(files) == 0 {
		t.Fatal("no captures found")
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		frame, err := NewFrameReader(bytes.NewReader(data), 0).ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := decodeFlatJSON(frame.Body); !ok {
			t.Errorf("%s: fast path rejected a real event", filepath.Base(file))
		}
	}
}
