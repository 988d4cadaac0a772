package spool

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/postcall/postcall/delivery"
)

func TestIndexKeyOrder(t *testing.T) {
	times := []time.Time{
		{},
		time.Unix(0, math.MinInt64).Add(-time.Hour),
		time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, -1),
		time.Unix(0, 0),
		time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC),
		time.Date(2025, 6, 1, 9, 0, 0, 1, time.UTC),
		time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for i := 1; i < len(times); i++ {
		a, b := indexKey(times[i-1], "k"), indexKey(times[i], "k")
		if bytes.Compare(a, b) > 0 {
			t.Errorf("index key of %v sorts after that of %v", times[i-1], times[i])
		}
	}
	at, key, ok := parseIndexKey(indexKey(times[5], "call/1"))
	if !ok || key != "call/1" || !nanosTime(at).Equal(times[5]) {
		t.Errorf("parseIndexKey returned %v %q %v", nanosTime(at), key, ok)
	}
	if _, _, ok := parseIndexKey([]byte("short")); ok {
		t.Error("parseIndexKey accepted a key shorter than its time")
	}
}

func TestDecodeRejectsOtherVersions(t *testing.T) {
	good, err := encodeJob(testJob("k1", "survey"))
	if err != nil {
		t.Fatalf("encodeJob: %v", err)
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"future version", append([]byte{formatVersion + 1}, good[1:]...)},
		{"no version byte", good[1:]},
		{"truncated JSON", good[:len(good)/2]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := decodeJob(c.data); err == nil {
				t.Error("decodeJob accepted the value")
			}
		})
	}
	rec := recordOf(testJob("k1", "survey"), delivery.StatePending)
	data, _ := encodeRecord(&rec)
	if _, err := decodeRecord(bytes.Replace(data, []byte(`"pending"`), []byte(`"sent"`), 1)); err == nil {
		t.Error("decodeRecord accepted an unknown state")
	}
}

func FuzzDecodeJob(f *testing.F) {
	for _, j := range []*delivery.Job{testJob("k1", "survey"), soapJob("k2"), privateJob("k3")} {
		data, err := encodeJob(j)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{formatVersion})
	f.Add([]byte{formatVersion, '{', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := decodeJob(data)
		if err != nil {
			return
		}
		again, err := encodeJob(j)
		if err != nil {
			t.Fatalf("encodeJob of a decoded job: %v", err)
		}
		j2, err := decodeJob(again)
		if err != nil {
			t.Fatalf("decodeJob of a re-encoded job: %v", err)
		}
		third, _ := encodeJob(j2)
		if !bytes.Equal(again, third) {
			t.Fatalf("encoding is not stable:\n%s\n%s", again, third)
		}
	})
}

func FuzzDecodeRecord(f *testing.F) {
	for _, state := range []delivery.State{delivery.StatePending, delivery.StateDelivered, delivery.StateDead} {
		j := testJob("k1", "survey")
		j.LastError = "HTTP status 503"
		rec := recordOf(j, state)
		data, _ := encodeRecord(&rec)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRecord(data)
		if err != nil {
			return
		}
		if !validState(r.State) {
			t.Fatalf("decodeRecord returned state %q", r.State)
		}
		again, err := encodeRecord(&r)
		if err != nil {
			t.Fatalf("encodeRecord: %v", err)
		}
		if _, err := decodeRecord(again); err != nil {
			t.Fatalf("decodeRecord of a re-encoded record: %v", err)
		}
	})
}
