package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

func TestServerHealthz(t *testing.T) {
	s, _ := startServer(t, New(), func() error { return errors.New("FreeSWITCH not connected") }, nil)

	status, body := get(t, s, PathHealthz)
	if status != http.StatusOK {
		t.Errorf("status = %d, want 200 even while not ready", status)
	}
	if body != "ok\n" {
		t.Errorf("body = %q, want %q", body, "ok\n")
	}
}

func TestServerReadyz(t *testing.T) {
	tests := []struct {
		name       string
		ready      func() error
		wantStatus int
		wantBody   string
	}{
		{name: "no check", ready: nil, wantStatus: http.StatusOK, wantBody: "ok\n"},
		{name: "ready", ready: func() error { return nil }, wantStatus: http.StatusOK, wantBody: "ok\n"},
		{
			name:       "FreeSWITCH not connected",
			ready:      func() error { return errors.New("FreeSWITCH not connected") },
			wantStatus: http.StatusServiceUnavailable,
			wantBody:   "not ready: FreeSWITCH not connected\n",
		},
		{
			name: "spool not writable",
			ready: func() error {
				return errors.New("spool /var/lib/postcall/spool.db not writable: no space left on device")
			},
			wantStatus: http.StatusServiceUnavailable,
			wantBody:   "not ready: spool /var/lib/postcall/spool.db not writable: no space left on device\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := startServer(t, New(), tc.ready, nil)

			status, body := get(t, s, PathReadyz)
			if status != tc.wantStatus {
				t.Errorf("status = %d, want %d", status, tc.wantStatus)
			}
			if body != tc.wantBody {
				t.Errorf("body = %q, want %q", body, tc.wantBody)
			}
		})
	}
}

func TestServerReadyzFollowsState(t *testing.T) {
	connected := make(chan bool, 1)
	connected <- false
	ready := func() error {
		c := <-connected
		connected <- c
		if !c {
			return errors.New("FreeSWITCH not connected")
		}
		return nil
	}
	s, _ := startServer(t, New(), ready, nil)

	if status, _ := get(t, s, PathReadyz); status != http.StatusServiceUnavailable {
		t.Errorf("status while disconnected = %d, want 503", status)
	}
	<-connected
	connected <- true
	if status, _ := get(t, s, PathReadyz); status != http.StatusOK {
		t.Errorf("status after connecting = %d, want 200", status)
	}
}

func TestServerPortInUse(t *testing.T) {
	occupied, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer occupied.Close()
	addr := occupied.Addr().String()

	s := NewServer(addr, New(), nil, nil, logrus.New())
	err = s.Start()
	if err == nil {
		s.Shutdown(context.Background())
		t.Fatalf("Start on %s, which is in use, succeeded", addr)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("error %v does not wrap EADDRINUSE", err)
	}
	for _, want := range []string{addr, "already in use", "listen in [admin]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestServerExtraHandlers(t *testing.T) {
	spool := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "spool "+r.URL.Path)
	})
	status := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "status")
	})
	s, _ := startServer(t, New(), nil, map[string]http.Handler{"/spool/": spool, "GET /status": status})

	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{path: "/spool/jobs", wantStatus: http.StatusOK, wantBody: "spool /spool/jobs"},
		{path: "/spool/jobs/abc", wantStatus: http.StatusOK, wantBody: "spool /spool/jobs/abc"},
		{path: "/status", wantStatus: http.StatusOK, wantBody: "status"},
		{path: "/healthz", wantStatus: http.StatusOK, wantBody: "ok\n"},
		{path: "/nothing", wantStatus: http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			got, body := get(t, s, tc.path)
			if got != tc.wantStatus {
				t.Errorf("status = %d, want %d", got, tc.wantStatus)
			}
			if tc.wantBody != "" && body != tc.wantBody {
				t.Errorf("body = %q, want %q", body, tc.wantBody)
			}
		})
	}
}

func TestServerRejectsBadExtra(t *testing.T) {
	ok := http.NotFoundHandler()
	tests := []struct {
		name  string
		extra map[string]http.Handler
		want  string
	}{
		{name: "metrics path", extra: map[string]http.Handler{"/metrics": ok}, want: "built-in path"},
		{name: "healthz with method", extra: map[string]http.Handler{"GET /healthz": ok}, want: "built-in path"},
		{name: "readyz subtree", extra: map[string]http.Handler{"/readyz/": ok}, want: "built-in path"},
		{name: "invalid pattern", extra: map[string]http.Handler{"GET  spool": ok}, want: "invalid handler pattern"},
		{name: "nil handler", extra: map[string]http.Handler{"/spool/": nil}, want: "is nil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewServer("127.0.0.1:0", New(), nil, tc.extra, logrus.New())
			err := s.Start()
			if err == nil {
				s.Shutdown(context.Background())
				t.Fatal("Start succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestServerMethodNotAllowed(t *testing.T) {
	s, _ := startServer(t, New(), nil, nil)
	for _, path := range []string{PathMetrics, PathHealthz, PathReadyz} {
		resp, err := http.Post("http://"+s.Addr()+path, "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s status = %d, want 405", path, resp.StatusCode)
		}
	}
}

func TestServerLifecycle(t *testing.T) {
	logger, hook := logtest.NewNullLogger()
	s := NewServer("127.0.0.1:0", New(), nil, nil, logger)

	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown before Start: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	addr := s.Addr()
	if strings.HasSuffix(addr, ":0") {
		t.Errorf("Addr = %s, want the port the system chose", addr)
	}
	if err := s.Start(); err == nil || !strings.Contains(err.Error(), "already started") {
		t.Errorf("second Start error = %v, want already started", err)
	}

	entry := hook.LastEntry()
	if entry == nil || entry.Message != "admin listener started" || entry.Data["addr"] != addr {
		t.Errorf("last log entry = %+v, want \"admin listener started\" with addr %s", entry, addr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if conn, err := net.Dial("tcp", addr); err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after Shutdown", addr)
	}
	if err := s.Start(); err == nil {
		t.Error("Start after Shutdown succeeded, want an error")
	}
}

func TestServerShutdownDeadline(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	})
	logger, _ := logtest.NewNullLogger()
	s := NewServer("127.0.0.1:0", New(), nil, map[string]http.Handler{"/slow": slow}, logger)
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer close(release)

	go func() {
		resp, err := http.Get("http://" + s.Addr() + "/slow")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-entered

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Shutdown(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown with a request in progress and a done context = %v, want context.Canceled", err)
	}
}

func TestServerDefaults(t *testing.T) {
	s := NewServer("", New(), nil, nil, nil)
	if got := s.Addr(); got != DefaultAddr {
		t.Errorf("Addr before Start = %s, want %s", got, DefaultAddr)
	}
	if DefaultAddr != "127.0.0.1:9466" {
		t.Errorf("DefaultAddr = %s, want the loopback address 127.0.0.1:9466", DefaultAddr)
	}

	started, _ := startServer(t, New(), nil, nil)
	srv := started.server
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Errorf("timeouts: read header %s, read %s, write %s, idle %s, want all set",
			srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
}

func TestServerWithoutMetrics(t *testing.T) {
	s := NewServer("127.0.0.1:0", nil, nil, nil, logrus.New())
	if err := s.Start(); err == nil {
		s.Shutdown(context.Background())
		t.Fatal("Start without metrics succeeded, want an error")
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		ip   string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.10.0.3", true},
		{"::1", true},
		{"0.0.0.0", false},
		{"::", false},
		{"10.1.2.3", false},
	}
	for _, tc := range tests {
		t.Run(tc.ip, func(t *testing.T) {
			addr := &net.TCPAddr{IP: net.ParseIP(tc.ip), Port: 9466}
			if got := isLoopback(addr); got != tc.want {
				t.Errorf("isLoopback(%s) = %v, want %v", tc.ip, got, tc.want)
			}
		})
	}
}
