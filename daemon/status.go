package daemon

import (
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/esl"
)

// attemptRecord is one recent attempt, as status shows it. It holds no
// request data, so it is the same for private applications.
type attemptRecord struct {
	Time       time.Time `json:"time"`
	App        string    `json:"app"`
	Outcome    string    `json:"outcome"`
	Status     int       `json:"status,omitempty"`
	DurationMS int64     `json:"duration_ms"`
}

// statusRecorder keeps the most recent attempts in a ring.
type statusRecorder struct {
	mu     sync.Mutex
	recent []attemptRecord
	next   int
	full   bool
}

func newStatusRecorder(size int) *statusRecorder {
	return &statusRecorder{recent: make([]attemptRecord, size)}
}

func (r *statusRecorder) attempt(app string, class delivery.Class, status int, latency time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recent[r.next] = attemptRecord{
		Time: time.Now().UTC(), App: app, Outcome: class.String(), Status: status,
		DurationMS: latency.Milliseconds(),
	}
	r.next = (r.next + 1) % len(r.recent)
	if r.next == 0 {
		r.full = true
	}
}

// last returns the recorded attempts, newest first.
func (r *statusRecorder) last() []attemptRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.next
	if r.full {
		n = len(r.recent)
	}
	out := make([]attemptRecord, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.recent[(r.next-i+len(r.recent))%len(r.recent)])
	}
	return out
}

// Status is the daemon's state as the admin listener reports it at
// /status and `postcall status` prints it.
type Status struct {
	Version    string            `json:"version"`
	Ready      bool              `json:"ready"`
	NotReady   string            `json:"not_ready,omitempty"`
	FreeSWITCH FreeSWITCHStatus  `json:"freeswitch"`
	Apps       []AppStatus       `json:"apps"`
	Buffered   int               `json:"buffered"`
	Recent     []attemptRecord   `json:"recent_attempts"`
	Calls      map[string]uint64 `json:"calls"`
	// RestartNeeded is set when a reload found main-file settings changed
	// that only a restart applies.
	RestartNeeded bool `json:"restart_needed,omitempty"`
}

// FreeSWITCHStatus is the Event Socket part of Status.
type FreeSWITCHStatus struct {
	Address           string    `json:"address"`
	Connected         bool      `json:"connected"`
	ConnectedSince    time.Time `json:"connected_since,omitzero"`
	DisconnectedSince time.Time `json:"disconnected_since,omitzero"`
	Reconnects        int       `json:"reconnects"`
	LastError         string    `json:"last_error,omitempty"`
	EventsReceived    uint64    `json:"events_received"`
	EventsDropped     uint64    `json:"events_dropped"`
	Gaps              []esl.Gap `json:"gaps,omitempty"`
}

// AppStatus is the queue of one application.
type AppStatus struct {
	Name      string `json:"name"`
	Pending   int    `json:"pending"`
	InFlight  int    `json:"in_flight"`
	Delivered int    `json:"delivered"`
	Dead      int    `json:"dead"`
}

// Snapshot returns the daemon's current status.
func (d *Daemon) Snapshot() Status {
	st := d.client.Status()
	qs := d.queue.Stats()
	out := Status{
		Version: d.opts.Version,
		FreeSWITCH: FreeSWITCHStatus{
			Address: d.eslAddr, Connected: st.Connected,
			ConnectedSince: st.ConnectedSince, DisconnectedSince: st.DisconnectedSince,
			Reconnects: st.Reconnects, LastError: st.LastError,
			EventsReceived: st.Received, EventsDropped: st.Dropped, Gaps: st.Gaps,
		},
		Buffered:      qs.Buffered,
		RestartNeeded: d.restartNeeded.Load(),
		Recent:        d.status.last(),
	}
	if err := d.Ready(); err != nil {
		out.NotReady = err.Error()
	} else {
		out.Ready = true
	}
	for name, a := range qs.Apps {
		out.Apps = append(out.Apps, AppStatus{Name: name, Pending: a.Pending, InFlight: a.InFlight, Delivered: a.Delivered, Dead: a.Dead})
	}
	sort.Slice(out.Apps, func(i, j int) bool { return out.Apps[i].Name < out.Apps[j].Name })
	hs := d.engine.Stats()
	out.Calls = map[string]uint64{
		"events": uint64(hs.Events), "fired": uint64(hs.Fired), "duplicates": uint64(hs.Duplicates),
		"legs_skipped": uint64(hs.LegsSkipped), "unknown_apps": uint64(hs.UnknownApps),
		"submit_errors": uint64(hs.SubmitErrors),
	}
	return out
}

func (d *Daemon) serveStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(d.Snapshot())
}
