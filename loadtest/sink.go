package loadtest

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// BaselineHeader marks the requests of the delivery baseline, which the
// sink counts but does not match to calls.
const BaselineHeader = "X-Postcall-Load-Baseline"

// SinkOptions configure a Sink.
type SinkOptions struct {
	// Addr is the address to listen on. Default 127.0.0.1:18080.
	Addr string
	// Delay is how long the sink waits before it responds to each request.
	Delay time.Duration
	// FailRatio is the share of requests, from 0 to 1, that get 503
	// Service Unavailable instead of 200.
	FailRatio float64
	// KeyHeader names the header that carries the idempotency key.
	// Default Idempotency-Key.
	KeyHeader string
	// Down starts the sink down: it accepts connections and resets them at
	// once, as a crashed webservice behind an open port does, until Up.
	Down bool
	// Tracker receives every request that is not a baseline request.
	Tracker *Tracker
}

// Sink is the webservice stand-in: an HTTP server on loopback that responds
// to every request and records when each call's request arrived. It finds
// the call by the idempotency key header or by a path segment equal to the
// call id.
type Sink struct {
	opts SinkOptions
	ln   net.Listener
	srv  *http.Server
	down atomic.Bool

	baseline atomic.Int64
	failed   atomic.Int64
	reset    atomic.Int64

	mu   sync.Mutex
	upAt time.Time
}

// StartSink listens on opts.Addr and serves until Close.
func StartSink(opts SinkOptions) (*Sink, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:18080"
	}
	if opts.KeyHeader == "" {
		opts.KeyHeader = "Idempotency-Key"
	}
	if opts.FailRatio < 0 || opts.FailRatio > 1 {
		return nil, fmt.Errorf("sink fail ratio %v is not valid: use a number from 0 to 1", opts.FailRatio)
	}
	if opts.Tracker == nil {
		return nil, errors.New("missing tracker in sink options")
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("start the sink on %s: %w; choose a free address with -sink", opts.Addr, err)
	}
	s := &Sink{opts: opts, ln: ln}
	s.down.Store(opts.Down)
	if !opts.Down {
		s.upAt = time.Now()
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(&resettingListener{Listener: ln, sink: s})
	return s, nil
}

// URL returns the sink's base URL, for example http://127.0.0.1:18080.
func (s *Sink) URL() string { return "http://" + s.ln.Addr().String() }

// Up makes a down sink answer requests from now on.
func (s *Sink) Up() {
	s.mu.Lock()
	if s.upAt.IsZero() {
		s.upAt = time.Now()
	}
	s.mu.Unlock()
	s.down.Store(false)
}

// Down makes the sink reset every new connection until Up. Connections
// that are already open keep being served.
func (s *Sink) Down() {
	s.mu.Lock()
	s.upAt = time.Time{}
	s.mu.Unlock()
	s.down.Store(true)
}

// UpAt returns when the sink came up, or the zero time while it is down.
func (s *Sink) UpAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upAt
}

// Close stops the sink and closes its connections.
func (s *Sink) Close() { s.srv.Close() }

// SinkCounts are the sink's own counters.
type SinkCounts struct {
	// Baseline counts the requests of the delivery baseline.
	Baseline int64
	// Failed counts requests answered 503 by the fail ratio.
	Failed int64
	// Reset counts connections reset while the sink was down.
	Reset int64
}

// Counts returns the sink's counters.
func (s *Sink) Counts() SinkCounts {
	return SinkCounts{Baseline: s.baseline.Load(), Failed: s.failed.Load(), Reset: s.reset.Load()}
}

// ServeHTTP reads the whole request, waits for the delay, answers 200 or,
// by the fail ratio, 503, and records the request with its arrival time.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	_, _ = io.Copy(io.Discard, r.Body)

	if s.opts.Delay > 0 {
		t := time.NewTimer(s.opts.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			// The client gave up: nothing was delivered.
			t.Stop()
			s.record(r, arrived, false)
			return
		}
	}
	if r.Header.Get(BaselineHeader) != "" {
		s.baseline.Add(1)
		w.WriteHeader(http.StatusOK)
		return
	}

	if s.opts.FailRatio > 0 && rand.Float64() < s.opts.FailRatio {
		s.failed.Add(1)
		s.record(r, arrived, false)
		http.Error(w, "failure injected by postcall-load -sink-fail", http.StatusServiceUnavailable)
		return
	}
	s.record(r, arrived, true)
	w.WriteHeader(http.StatusOK)
}

func (s *Sink) record(r *http.Request, arrived time.Time, delivered bool) {
	if r.Header.Get(BaselineHeader) != "" {
		return
	}
	s.opts.Tracker.Received(arrived, delivered, RequestKeys(r.Header.Get(s.opts.KeyHeader), r.URL.Path)...)
}

// RequestKeys returns the keys a request may be tracked under: its
// idempotency key, when set, then the path segments from the last one back.
func RequestKeys(idempotencyKey, path string) []string {
	keys := make([]string, 0, 4)
	if idempotencyKey != "" {
		keys = append(keys, idempotencyKey)
	}
	for path != "" {
		i := strings.LastIndexByte(path, '/')
		if segment := path[i+1:]; segment != "" {
			keys = append(keys, segment)
		}
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return keys
}

// resettingListener resets every connection it accepts while the sink is
// down, so a client sees the webservice as unreachable.
type resettingListener struct {
	net.Listener
	sink *Sink
}

func (l *resettingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || !l.sink.down.Load() {
			return c, err
		}
		// Count first, so the count includes the reset once the client
		// has seen it.
		l.sink.reset.Add(1)
		if tcp, ok := c.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0)
		}
		_ = c.Close()
	}
}
