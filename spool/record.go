package spool

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/postcall/postcall/delivery"
)

// formatVersion is the first byte of every stored value. A value with
// another first byte was written by an incompatible version and is
// reported, not guessed at.
const formatVersion byte = 1

// record is a job's delivery record: the part that changes after Add. The
// bolt store keeps it apart from the job so that an attempt rewrites only
// this small value. App and CreatedAt are copied here so that filters and
// indexes need not decode the job.
type record struct {
	App        string         `json:"app"`
	CreatedAt  time.Time      `json:"created_at"`
	State      delivery.State `json:"state"`
	Attempts   int            `json:"attempts"`
	NextAt     time.Time      `json:"next_at"`
	LastError  string         `json:"last_error,omitempty"`
	LastStatus int            `json:"last_status,omitempty"`
	UpdatedAt  time.Time      `json:"updated_at"`
}

func recordOf(j *delivery.Job, state delivery.State) record {
	return record{
		App:        j.App,
		CreatedAt:  j.CreatedAt,
		State:      state,
		Attempts:   j.Attempts,
		NextAt:     j.NextAt,
		LastError:  j.LastError,
		LastStatus: j.LastStatus,
		UpdatedAt:  j.UpdatedAt,
	}
}

// apply copies the delivery record onto j.
func (r *record) apply(j *delivery.Job) {
	j.State = r.State
	j.Attempts = r.Attempts
	j.NextAt = r.NextAt
	j.LastError = r.LastError
	j.LastStatus = r.LastStatus
	j.UpdatedAt = r.UpdatedAt
}

// withDelivery returns r with the delivery fields of j, keeping App and
// CreatedAt as stored.
func (r record) withDelivery(j *delivery.Job) record {
	r.State = j.State
	r.Attempts = j.Attempts
	r.NextAt = j.NextAt
	r.LastError = j.LastError
	r.LastStatus = j.LastStatus
	r.UpdatedAt = j.UpdatedAt
	return r
}

func encodeJob(j *delivery.Job) ([]byte, error) {
	return encodeVersioned(j)
}

func encodeRecord(r *record) ([]byte, error) {
	return encodeVersioned(r)
}

func encodeVersioned(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(data)+1)
	out = append(out, formatVersion)
	return append(out, data...), nil
}

// decodeJob parses a stored job value.
func decodeJob(data []byte) (*delivery.Job, error) {
	var j delivery.Job
	if err := decodeVersioned(data, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// decodeRecord parses a stored delivery record and checks its state.
func decodeRecord(data []byte) (record, error) {
	var r record
	if err := decodeVersioned(data, &r); err != nil {
		return record{}, err
	}
	if !validState(r.State) {
		return record{}, fmt.Errorf("unknown state %q", r.State)
	}
	return r, nil
}

func decodeVersioned(data []byte, v any) error {
	if len(data) == 0 {
		return fmt.Errorf("empty value")
	}
	if data[0] != formatVersion {
		return fmt.Errorf("unsupported format version %d (this build reads version %d)", data[0], formatVersion)
	}
	return json.Unmarshal(data[1:], v)
}

// Times in index keys are nanoseconds since the Unix epoch, stored as a
// big-endian uint64 with the sign bit flipped so that byte order is time
// order. The zero time and times outside the int64 range are clamped.
var (
	minIndexTime = time.Unix(0, math.MinInt64)
	maxIndexTime = time.Unix(0, math.MaxInt64)
)

func timeNanos(t time.Time) int64 {
	switch {
	case t.IsZero() || t.Before(minIndexTime):
		return math.MinInt64
	case t.After(maxIndexTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// indexKey returns the 8-byte time followed by the job key.
func indexKey(t time.Time, key string) []byte {
	out := make([]byte, 8+len(key))
	binary.BigEndian.PutUint64(out, uint64(timeNanos(t))^(1<<63))
	copy(out[8:], key)
	return out
}

// parseIndexKey splits an index key into its time in nanoseconds and the
// job key.
func parseIndexKey(k []byte) (int64, string, bool) {
	if len(k) < 8 {
		return 0, "", false
	}
	return int64(binary.BigEndian.Uint64(k) ^ (1 << 63)), string(k[8:]), true
}
