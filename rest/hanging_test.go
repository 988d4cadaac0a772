package rest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/render"
)

// stallServer accepts TCP connections on loopback and runs behave on each
// until the test ends, when it closes the listener and every connection.
type stallServer struct {
	listener net.Listener
	done     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

func newStallServer(t *testing.T, behave func(conn net.Conn, done <-chan struct{})) *stallServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &stallServer{listener: l, done: make(chan struct{})}
	srv.wg.Go(func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			srv.mu.Lock()
			srv.conns = append(srv.conns, conn)
			srv.mu.Unlock()
			srv.wg.Go(func() { behave(conn, srv.done) })
		}
	})
	t.Cleanup(srv.close)
	return srv
}

func (srv *stallServer) close() {
	select {
	case <-srv.done:
		return
	default:
	}
	close(srv.done)
	srv.listener.Close()
	srv.mu.Lock()
	for _, c := range srv.conns {
		c.Close()
	}
	srv.mu.Unlock()
	srv.wg.Wait()
}

func (srv *stallServer) addr() string { return srv.listener.Addr().String() }

// The behaviours of a webservice that never finishes its response.

func acceptAndIgnore(conn net.Conn, done <-chan struct{}) {
	<-done
}

func headersThenStall(conn net.Conn, done <-chan struct{}) {
	if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
		return
	}
	_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab")
	<-done
}

// dripper returns a behaviour that sends a valid 200 response one byte
// every interval, starting after the headers when bodyOnly is set.
func dripper(interval time.Duration, bodyOnly bool) func(net.Conn, <-chan struct{}) {
	return func(conn net.Conn, done <-chan struct{}) {
		if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
			return
		}
		body := strings.Repeat("x", 200)
		response := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		if bodyOnly {
			head, rest, _ := strings.Cut(response, "\r\n\r\n")
			if _, err := io.WriteString(conn, head+"\r\n\r\n"); err != nil {
				return
			}
			response = rest
		}
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for i := range len(response) {
			select {
			case <-done:
				return
			case <-ticker.C:
			}
			if _, err := conn.Write([]byte{response[i]}); err != nil {
				return
			}
		}
		<-done
	}
}

// blackholeDial emulates a TCP connect that gets no reply, because it
// blocks until the attempt's context ends.
func blackholeDial(ctx context.Context, network, address string) (net.Conn, error) {
	<-ctx.Done()
	return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
}

// openFiles counts the open file descriptors of the process, or returns -1
// where /proc is not available.
func openFiles() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries)
}

// waitForBaseline polls until the goroutines and open files are back to
// the counts taken before the test.
func waitForBaseline(t *testing.T, goroutines, files int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		nowGoroutines, nowFiles := runtime.NumGoroutine(), openFiles()
		if nowGoroutines <= goroutines && nowFiles <= files {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			n := runtime.Stack(buf, true)
			t.Fatalf("goroutines %d (baseline %d), open files %d (baseline %d) after the test:\n%s",
				nowGoroutines, goroutines, nowFiles, files, buf[:n])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCase20HangingServer sends to webservices that never finish their
// response, in parallel with deliveries to a healthy one on another Sender.
func TestCase20HangingServer(t *testing.T) {
	const (
		timeout = 1500 * time.Millisecond
		slack   = 2 * time.Second
		perCase = 10
	)
	baseGoroutines, baseFiles := runtime.NumGoroutine(), openFiles()

	t.Run("endpoints", func(t *testing.T) {
		cases := []struct {
			name   string
			url    func(t *testing.T) string
			dialer func(ctx context.Context, network, address string) (net.Conn, error)
		}{
			{name: "accept and ignore", url: func(t *testing.T) string {
				return "http://" + newStallServer(t, acceptAndIgnore).addr() + "/hook"
			}},
			{name: "headers then stall", url: func(t *testing.T) string {
				return "http://" + newStallServer(t, headersThenStall).addr() + "/hook"
			}},
			{name: "slow drip", url: func(t *testing.T) string {
				return "http://" + newStallServer(t, dripper(2*time.Second, false)).addr() + "/hook"
			}},
			{name: "slow drip body", url: func(t *testing.T) string {
				return "http://" + newStallServer(t, dripper(100*time.Millisecond, true)).addr() + "/hook"
			}},
			{name: "TLS stall", url: func(t *testing.T) string {
				return "https://" + newStallServer(t, acceptAndIgnore).addr() + "/hook"
			}},
			{name: "blackhole connect", url: func(t *testing.T) string {
				// Nothing listens here, and the dialer never dials.
				return "http://127.0.0.1:9/hook"
			}, dialer: blackholeDial},
		}

		healthySrv, healthyRec := newServer(t, nil)
		healthy := newTestSender(t, Options{Timeout: timeout})
		healthyTmpl := newTestTemplate(t, &conf.App{RequestType: "POST", URL: healthySrv.URL + "/hook", Params: []conf.Param{{Name: "n", Value: "{{n}}"}}})

		type result struct {
			name string
			out  delivery.Outcome
		}
		hanging := make(chan result, len(cases)*perCase)
		var wg sync.WaitGroup
		for _, tc := range cases {
			sender := newTestSender(t, Options{Timeout: timeout, DialContext: tc.dialer})
			tmpl := newTestTemplate(t, &conf.App{RequestType: "POST", URL: tc.url(t), Params: []conf.Param{{Name: "n", Value: "{{n}}"}}})
			for i := range perCase {
				job := newJob(t, tmpl, render.Vars{"n": fmt.Sprint(i)})
				wg.Go(func() { hanging <- result{tc.name, send(sender, job)} })
			}
		}

		// The healthy endpoint responds while every hanging attempt is
		// still waiting for its timeout.
		for i := range 2 * perCase {
			out := send(healthy, newJob(t, healthyTmpl, render.Vars{"n": fmt.Sprint(i)}))
			if out.Class != delivery.Delivered {
				t.Errorf("healthy delivery %d: class %v, error %v", i, out.Class, out.Err)
			}
			if out.Duration >= timeout {
				t.Errorf("healthy delivery %d took %s, as long as the hanging ones", i, out.Duration)
			}
		}
		if got := len(healthyRec.all()); got != 2*perCase {
			t.Errorf("healthy server received %d requests, want %d", got, 2*perCase)
		}

		wg.Wait()
		close(hanging)
		counts := map[string]int{}
		for r := range hanging {
			counts[r.name]++
			if counts[r.name] == 1 {
				t.Logf("%s: %v", r.name, r.out.Err)
			}
			if r.out.Class != delivery.Retryable {
				t.Errorf("%s: class %v, want retryable (error %v)", r.name, r.out.Class, r.out.Err)
			}
			if r.out.Duration > timeout+slack {
				t.Errorf("%s: attempt took %s, want at most %s", r.name, r.out.Duration, timeout+slack)
			}
			if r.out.Err == nil || !strings.Contains(r.out.Err.Error(), "timed out") {
				t.Errorf("%s: error %v, want a timeout", r.name, r.out.Err)
			}
			if !errors.Is(r.out.Err, context.DeadlineExceeded) && !strings.Contains(r.out.Err.Error(), "timeout") {
				t.Errorf("%s: error %v does not wrap context.DeadlineExceeded", r.name, r.out.Err)
			}
		}
		for _, tc := range cases {
			if counts[tc.name] != perCase {
				t.Errorf("%s: %d results, want %d", tc.name, counts[tc.name], perCase)
			}
		}
	})

	// The subtest's cleanups closed the servers and the Senders' idle
	// connections.
	waitForBaseline(t, baseGoroutines, baseFiles)
}
