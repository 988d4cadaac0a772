package esl_test

import (
	"bufio"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/esl/esltest"
)

const case01File = "testdata/01-esl-split-and-coalesced.esl"

// case01Writes returns the stream of case 01 and the four writes it is
// delivered in, as the chunks file lists them.
func case01Writes(t *testing.T) ([]byte, [][]byte) {
	t.Helper()
	stream, err := os.ReadFile(case01File)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/01-esl-split-and-coalesced.chunks.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	var writes [][]byte
	offset := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n, err := strconv.Atoi(line)
		if err != nil {
			t.Fatalf("chunks file: %v", err)
		}
		writes = append(writes, stream[offset:offset+n])
		offset += n
	}
	if offset != len(stream) || len(writes) != 4 {
		t.Fatalf("chunks cover %d of %d bytes in %d writes, want all in 4", offset, len(stream), len(writes))
	}
	return stream, writes
}

// decodeArrivals decodes the events among frames.
func decodeArrivals(t *testing.T, arrivals []frameArrival) ([]esl.Event, []int) {
	t.Helper()
	var events []esl.Event
	var after []int
	for _, a := range arrivals {
		ev, ok, err := esl.DecodeFrame(&a.frame)
		if err != nil {
			t.Fatalf("DecodeFrame: %v", err)
		}
		if ok {
			events = append(events, ev)
			after = append(after, a.chunks)
		}
	}
	return events, after
}

func checkCase01Events(t *testing.T, events []esl.Event) {
	t.Helper()
	if len(events) != 2 {
		t.Fatalf("got %d events, want exactly 2", len(events))
	}
	wantIDs := []string{"a1a1a1a1-0000-4000-8000-000000000001", "a1a1a1a1-0000-4000-8000-000000000002"}
	for i, ev := range events {
		if got := ev.Get("Unique-ID"); got != wantIDs[i] {
			t.Errorf("event %d Unique-ID = %q, want %q", i+1, got, wantIDs[i])
		}
	}
	want := `"5000" <sip:5000@192.0.2.10;user=phone>`
	if got := events[1].Get("variable_sip_full_to"); got != want {
		t.Errorf("variable_sip_full_to = %q, want %q", got, want)
	}
}

// TestCase01SplitAndCoalesced sends case 01 in its four writes through the
// fake server and a real client: event 1 must come out before write 2 is
// sent, and event 2 only after the final LF.
func TestCase01SplitAndCoalesced(t *testing.T) {
	_, writes := case01Writes(t)
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	client, _ := startClient(t, esl.Config{Addr: srv.Addr(), Format: "plain"})
	waitSubscribed(t, srv)

	srv.SendFrame(writes[0])
	first := receive(t, client)
	if got := first.Get("Unique-ID"); got != "a1a1a1a1-0000-4000-8000-000000000001" {
		t.Fatalf("first event Unique-ID = %q", got)
	}

	srv.SendFrame(writes[1])
	srv.SendFrame(writes[2])
	// Everything but the final LF is out. Once the client has read all of
	// it, it must still hold event 2 back.
	handshake := len("Content-Type: auth/request\n\n") +
		len("Content-Type: command/reply\nReply-Text: +OK accepted\n\n") +
		len("Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n")
	wantRead := uint64(handshake + len(writes[0]) + len(writes[1]) + len(writes[2]))
	waitFor(t, "client read writes 1 to 3", func() bool {
		return client.Status().BytesRead == wantRead
	})
	select {
	case ev := <-client.Events():
		t.Fatalf("event %s came out before the final LF", ev.Get("Unique-ID"))
	default:
	}

	srv.SendFrame(writes[3])
	second := receive(t, client)
	checkCase01Events(t, []esl.Event{first, second})
	if st := client.Status(); st.Received != 2 {
		t.Errorf("client received %d events, want 2", st.Received)
	}
}

// TestCase01FourWritesFrameTiming feeds the four writes to a frame reader
// and checks after which write each event comes out, without any timing.
func TestCase01FourWritesFrameTiming(t *testing.T) {
	stream, writes := case01Writes(t)
	var cuts []int
	offset := 0
	for _, w := range writes[:len(writes)-1] {
		offset += len(w)
		cuts = append(cuts, offset)
	}

	arrivals, err := readInChunks(t, stream, cuts)
	if err != nil {
		t.Fatal(err)
	}
	events, after := decodeArrivals(t, arrivals)
	checkCase01Events(t, events)
	if !slices.Equal(after, []int{1, 4}) {
		t.Errorf("events came out after writes %v, want [1 4]", after)
	}
}

// TestCase01EverySplitPoint splits the stream at every byte offset, and at
// random sets of offsets, and expects the same frames each time, each one
// returned as soon as the piece holding its last byte was read.
func TestCase01EverySplitPoint(t *testing.T) {
	stream, _ := case01Writes(t)
	ends := frameEnds(t, stream)
	want, err := readInChunks(t, stream, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantEvents, _ := decodeArrivals(t, want)
	checkCase01Events(t, wantEvents)

	check := func(t *testing.T, cuts []int) {
		arrivals, err := readInChunks(t, stream, cuts)
		if err != nil {
			t.Fatalf("cuts %v: %v", cuts, err)
		}
		if len(arrivals) != len(want) {
			t.Fatalf("cuts %v: got %d frames, want %d", cuts, len(arrivals), len(want))
		}
		for i, a := range arrivals {
			if !slices.Equal(a.frame.Header, want[i].frame.Header) || string(a.frame.Body) != string(want[i].frame.Body) {
				t.Fatalf("cuts %v: frame %d differs", cuts, i)
			}
			// The piece holding the frame's last byte is piece number
			// (cuts before that byte) + 1.
			wantAfter := 1
			for _, c := range cuts {
				if c < ends[i] {
					wantAfter++
				}
			}
			if a.chunks != wantAfter {
				t.Fatalf("cuts %v: frame %d came out after piece %d, want %d", cuts, i, a.chunks, wantAfter)
			}
		}
	}

	t.Run("single split", func(t *testing.T) {
		for k := 1; k < len(stream); k++ {
			check(t, []int{k})
		}
	})
	t.Run("random multi split", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for range 300 {
			cuts := make([]int, 1+rng.IntN(12))
			for i := range cuts {
				cuts[i] = 1 + rng.IntN(len(stream)-1)
			}
			slices.Sort(cuts)
			cuts = slices.Compact(cuts)
			check(t, cuts)
		}
	})
	t.Run("one byte per read", func(t *testing.T) {
		cuts := make([]int, 0, len(stream)-1)
		for k := 1; k < len(stream); k++ {
			cuts = append(cuts, k)
		}
		check(t, cuts)
	})
}

// TestCase01ChunksOverNetwork sends random splits of the stream through the
// fake server with SendChunks and expects the same two events each time.
func TestCase01ChunksOverNetwork(t *testing.T) {
	stream, _ := case01Writes(t)
	srv := esltest.NewServer(esltest.Options{})
	defer srv.Close()
	client, _ := startClient(t, esl.Config{Addr: srv.Addr(), Format: "plain"})
	waitSubscribed(t, srv)

	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 5 {
		var chunks [][]byte
		prev := 0
		for prev < len(stream) {
			next := min(len(stream), prev+1+rng.IntN(700))
			chunks = append(chunks, stream[prev:next])
			prev = next
		}
		if n := srv.SendChunks(chunks, time.Millisecond); n != 1 {
			t.Fatalf("round %d: chunks went to %d clients, want 1", round, n)
		}
		checkCase01Events(t, []esl.Event{receive(t, client), receive(t, client)})
	}
}
