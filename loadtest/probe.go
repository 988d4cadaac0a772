package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/postcall/postcall/daemon"
)

// DaemonStatus is the part of a running daemon's status that the harness
// reads.
type DaemonStatus struct {
	Connected bool
	// EventsReceived counts events the Event Socket reader decoded;
	// EventsDropped those it lost because its queue was full.
	EventsReceived uint64
	EventsDropped  uint64
	// Fired counts jobs the spool accepted; Buffered those not written to
	// the spool file yet.
	Fired    uint64
	Buffered int
	// Job counts of the spool, over every application.
	Pending   int
	InFlight  int
	Delivered int
	Dead      int
}

// Prober reads a daemon's status.
type Prober interface {
	Probe(ctx context.Context) (DaemonStatus, error)
}

// statusJSON is the part of the admin listener's /status document the
// harness reads.
type statusJSON struct {
	FreeSWITCH struct {
		Connected      bool   `json:"connected"`
		EventsReceived uint64 `json:"events_received"`
		EventsDropped  uint64 `json:"events_dropped"`
	} `json:"freeswitch"`
	Apps []struct {
		Pending   int `json:"pending"`
		InFlight  int `json:"in_flight"`
		Delivered int `json:"delivered"`
		Dead      int `json:"dead"`
	} `json:"apps"`
	Buffered int               `json:"buffered"`
	Calls    map[string]uint64 `json:"calls"`
}

// HTTPProber reads the /status document of a daemon's admin listener.
type HTTPProber struct {
	url    string
	client *http.Client
}

// NewHTTPProber returns a prober for the admin listener at addr
// (host:port).
func NewHTTPProber(addr string) *HTTPProber {
	return &HTTPProber{
		url:    "http://" + addr + "/status",
		client: &http.Client{Timeout: 5 * time.Second},
	}
}

// Probe fetches and decodes /status.
func (p *HTTPProber) Probe(ctx context.Context) (DaemonStatus, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return DaemonStatus{}, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return DaemonStatus{}, fmt.Errorf("read the daemon status at %s: %w", p.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return DaemonStatus{}, fmt.Errorf("read the daemon status at %s: HTTP status %d; check the admin listener address", p.url, resp.StatusCode)
	}
	var doc statusJSON
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return DaemonStatus{}, fmt.Errorf("decode the daemon status at %s: %w", p.url, err)
	}
	s := DaemonStatus{
		Connected:      doc.FreeSWITCH.Connected,
		EventsReceived: doc.FreeSWITCH.EventsReceived,
		EventsDropped:  doc.FreeSWITCH.EventsDropped,
		Fired:          doc.Calls["fired"],
		Buffered:       doc.Buffered,
	}
	for _, a := range doc.Apps {
		s.Pending += a.Pending
		s.InFlight += a.InFlight
		s.Delivered += a.Delivered
		s.Dead += a.Dead
	}
	return s, nil
}

// DaemonProber reads the status of a daemon running in this process.
type DaemonProber struct{ D *daemon.Daemon }

// Probe returns the daemon's snapshot.
func (p DaemonProber) Probe(context.Context) (DaemonStatus, error) {
	st := p.D.Snapshot()
	s := DaemonStatus{
		Connected:      st.FreeSWITCH.Connected,
		EventsReceived: st.FreeSWITCH.EventsReceived,
		EventsDropped:  st.FreeSWITCH.EventsDropped,
		Fired:          st.Calls["fired"],
		Buffered:       st.Buffered,
	}
	for _, a := range st.Apps {
		s.Pending += a.Pending
		s.InFlight += a.InFlight
		s.Delivered += a.Delivered
		s.Dead += a.Dead
	}
	return s, nil
}
