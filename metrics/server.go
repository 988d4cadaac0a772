package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

// DefaultAddr is the admin listener's address when none is given. It is
// on loopback because the listener has no authentication.
const DefaultAddr = "127.0.0.1:9466"

// The built-in routes of the admin listener.
const (
	PathMetrics = "/metrics"
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
)

// Timeouts of the admin listener. A scrape of postcall's metrics takes
// milliseconds, so these bound only stuck or slow clients.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

// Server is the admin listener: /metrics, /healthz, /readyz and the extra
// handlers the daemon mounts, such as the spool admin API.
type Server struct {
	addr    string
	metrics *Metrics
	ready   func() error
	extra   map[string]http.Handler
	logger  logrus.FieldLogger

	mu       sync.Mutex
	server   *http.Server
	listener net.Listener
	served   chan struct{}
	stopped  bool
}

// NewServer returns an admin listener for addr (DefaultAddr when empty)
// that serves m. ready reports whether postcall can take calls: nil means
// ready, and an error's text is the reason shown by /readyz. A nil ready
// is always ready. extra maps http.ServeMux patterns, such as "/spool/",
// to handlers; they must not use the built-in paths. A nil logger logs to
// logrus's standard logger. Nothing listens until Start.
func NewServer(addr string, m *Metrics, ready func() error, extra map[string]http.Handler, logger logrus.FieldLogger) *Server {
	if addr == "" {
		addr = DefaultAddr
	}
	if logger == nil {
		logger = logrus.StandardLogger()
	}
	return &Server{
		addr:    addr,
		metrics: m,
		ready:   ready,
		extra:   extra,
		logger:  logger.WithField("component", "admin"),
	}
}

// Start listens on the address and serves in the background until
// Shutdown. It fails when the address is in use, when an extra pattern is
// invalid or takes a built-in path, and when called a second time.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.server != nil {
		return fmt.Errorf("admin listener %s: already started: a Server starts once, so create a new one with NewServer", s.addr)
	}

	mux, err := s.routes()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return listenError(s.addr, err)
	}

	s.listener = ln
	s.server = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(warnWriter{s.logger}, "", 0),
	}
	s.served = make(chan struct{})
	go s.serve(s.server, ln, s.served)

	entry := s.logger.WithField("addr", ln.Addr().String())
	if !isLoopback(ln.Addr()) {
		entry.Warn("admin listener is reachable from the network: it has no authentication, so set listen in [admin] to a loopback address or firewall the port")
	}
	entry.Info("admin listener started")
	return nil
}

func (s *Server) serve(server *http.Server, ln net.Listener, served chan struct{}) {
	defer close(served)
	if err := server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.logger.WithError(err).Error("admin listener stopped serving: /metrics, /healthz and /readyz are unavailable until restart")
	}
}

func listenError(addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("admin listener %s: address already in use: stop the other process on that port "+
			"(another postcall?) or set listen in [admin] to a free address: %w", addr, err)
	}
	return fmt.Errorf("admin listener %s: listen failed: check listen in [admin]: %w", addr, err)
}

func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// Addr returns the address the listener is bound to, with the port the
// system chose for port 0, or the configured address before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener != nil {
		return s.listener.Addr().String()
	}
	return s.addr
}

// Shutdown stops accepting connections and waits for requests in progress.
// When ctx is done first, it closes the remaining connections and returns
// the context's error. It may be called more than once and before Start.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	server, served := s.server, s.served
	if server == nil || s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	s.mu.Unlock()

	err := server.Shutdown(ctx)
	if err != nil {
		server.Close()
		err = fmt.Errorf("admin listener %s: shutdown did not finish in time, closed open connections: %w", s.addr, err)
	}
	<-served
	s.logger.Info("admin listener stopped")
	return err
}

// routes builds the request router. http.ServeMux panics on an invalid or
// conflicting pattern, and that panic is returned as an error instead.
func (s *Server) routes() (mux *http.ServeMux, err error) {
	if s.metrics == nil {
		return nil, errors.New("admin listener: no metrics given: pass the daemon's *metrics.Metrics to NewServer")
	}
	mux = http.NewServeMux()
	mux.Handle("GET "+PathMetrics, s.metrics.Handler(errorLogger{s.logger}))
	mux.HandleFunc("GET "+PathHealthz, s.healthz)
	mux.HandleFunc("GET "+PathReadyz, s.readyz)

	for pattern, handler := range s.extra {
		if err := mountExtra(mux, pattern, handler); err != nil {
			return nil, err
		}
	}
	return mux, nil
}

func mountExtra(mux *http.ServeMux, pattern string, handler http.Handler) (err error) {
	path := pattern
	if _, after, ok := strings.Cut(pattern, " "); ok {
		path = strings.TrimSpace(after)
	}
	switch strings.TrimSuffix(path, "/") {
	case PathMetrics, PathHealthz, PathReadyz:
		return fmt.Errorf("admin listener: handler pattern %q uses a built-in path: mount it elsewhere", pattern)
	}
	if handler == nil {
		return fmt.Errorf("admin listener: handler for pattern %q is nil: pass a handler or leave the pattern out", pattern)
	}

	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("admin listener: invalid handler pattern %q: %v", pattern, r)
		}
	}()
	mux.Handle(pattern, handler)
	return nil
}

// healthz reports that the process runs and serves requests.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "ok")
}

// readyz reports 200 when ready returns nil, else 503 with the reason.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if s.ready != nil {
		if err := s.ready(); err != nil {
			writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
	}
	writeText(w, http.StatusOK, "ok")
}

func writeText(w http.ResponseWriter, status int, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, text+"\n")
}

// errorLogger adapts a logrus logger to promhttp.Logger at error level.
type errorLogger struct {
	logger logrus.FieldLogger
}

func (l errorLogger) Println(v ...any) {
	l.logger.Error("serving metrics failed: " + strings.TrimSpace(fmt.Sprintln(v...)))
}

// warnWriter turns the lines net/http logs, such as a failed accept or a
// panic in a handler, into logrus warnings.
type warnWriter struct {
	logger logrus.FieldLogger
}

func (w warnWriter) Write(p []byte) (int, error) {
	w.logger.Warn(strings.TrimSpace(string(p)))
	return len(p), nil
}
