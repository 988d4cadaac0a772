// Package esltest provides a fake FreeSWITCH Event Socket server, in the way
// net/http/httptest provides a fake HTTP server. It is meant for tests, the
// demo and the load generator, and must never be used to serve real calls.
//
// The server speaks the inbound protocol the way FreeSWITCH 1.10 does:
// auth/request, command/reply and api/response frames with byte-counted
// lengths, events encoded in the format the client subscribed with, and
// disconnect notices and rude rejections. It also injects faults: dropped,
// reset and stalled connections, raw and split frames, and a per-client
// send queue that drops events when the client reads too slowly, like
// mod_event_socket does.
package esltest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/postcall/postcall/esl"
	"github.com/sirupsen/logrus"
)

// Frames FreeSWITCH sends, byte for byte.
const (
	authRequest      = "Content-Type: auth/request\n\n"
	acceptedReply    = "Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
	invalidReply     = "Content-Type: command/reply\nReply-Text: -ERR invalid\n\n"
	notFoundReply    = "Content-Type: command/reply\nReply-Text: -ERR command not found\n\n"
	disconnectBody   = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
	rudeRejectBody   = "Access Denied, go away.\n"
	disconnectNotice = "Content-Type: text/disconnect-notice\nContent-Length: 67\n\n" + disconnectBody
	rudeRejection    = "Content-Type: text/rude-rejection\nContent-Length: 24\n\n" + rudeRejectBody
)

// Options configures a Server. Zero fields take the defaults named in their
// comments.
type Options struct {
	// Addr is the address to listen on. Default 127.0.0.1:0 (a free port).
	Addr string
	// Password is the Event Socket password the server accepts. Default
	// ClueCon.
	Password string
	// RejectACL makes the server greet every connection with the
	// text/rude-rejection and disconnect-notice frames and close it, as
	// FreeSWITCH does for an address that apply-inbound-acl does not allow.
	RejectACL bool
	// SendQueue bounds the frames queued for one client. Default 1024.
	SendQueue int
	// SendTimeout is how long an event may wait for room in a client's full
	// queue before it is dropped and counted. Default 500ms.
	SendTimeout time.Duration
	// MaxDrops closes a client's connection after that many dropped events,
	// as mod_event_socket kills a listener that loses too many. Default 0:
	// never.
	MaxDrops int
	// SendBuffer sets the socket send buffer (SO_SNDBUF) of accepted
	// connections, in bytes. Default 0: the system default.
	SendBuffer int
	// Logger receives debug entries about connections and commands. Default:
	// discard. The auth command is logged without its password.
	Logger logrus.FieldLogger
}

// Server is a fake FreeSWITCH Event Socket listening on a local TCP port.
type Server struct {
	opts Options
	ln   net.Listener
	log  logrus.FieldLogger
	wg   sync.WaitGroup

	mu       sync.Mutex
	conns    map[*conn]struct{}
	commands []string
	accepted int
	dropped  int
	closed   bool
	changed  chan struct{} // closed and replaced when a subscription arrives
}

// NewServer starts a server. It panics when it cannot listen, as
// httptest.NewServer does, because a test cannot go on without it.
func NewServer(opts Options) *Server {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Password == "" {
		opts.Password = esl.DefaultPassword
	}
	if opts.SendQueue <= 0 {
		opts.SendQueue = 1024
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = 500 * time.Millisecond
	}
	if opts.Logger == nil {
		discard := logrus.New()
		discard.SetOutput(io.Discard)
		opts.Logger = discard
	}

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		panic(fmt.Sprintf("esltest: listen on %s: %v", opts.Addr, err))
	}
	s := &Server{
		opts:    opts,
		ln:      ln,
		log:     opts.Logger.WithField("fake_addr", ln.Addr().String()),
		conns:   make(map[*conn]struct{}),
		changed: make(chan struct{}),
	}
	s.wg.Go(s.acceptLoop)
	return s
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops listening, closes every connection and waits for the
// server's goroutines to end.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	conns := s.snapshot(nil)
	s.mu.Unlock()

	_ = s.ln.Close()
	for _, c := range conns {
		c.close()
	}
	s.wg.Wait()
}

// Connections returns how many connections the server has accepted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Commands returns every command received, in order, without the trailing
// blank line. The auth command is recorded as it came, password included.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands)
}

// Dropped returns how many events were dropped because a client's send
// queue stayed full for longer than SendTimeout.
func (s *Server) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Subscribed returns how many open connections have sent an event command.
func (s *Server) Subscribed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.snapshot(func(c *conn) bool { return c.subscription != "" }))
}

// WaitSubscribed waits until an open connection has subscribed and returns
// its event command, for example
// "event json CHANNEL_HANGUP_COMPLETE HEARTBEAT CUSTOM fuse::exit".
func (s *Server) WaitSubscribed(ctx context.Context) (string, error) {
	for {
		s.mu.Lock()
		for c := range s.conns {
			if c.subscription != "" {
				sub := c.subscription
				s.mu.Unlock()
				return sub, nil
			}
		}
		changed := s.changed
		s.mu.Unlock()

		select {
		case <-changed:
		case <-ctx.Done():
			return "", fmt.Errorf("esltest: no client subscribed: %w", ctx.Err())
		}
	}
}

// notify wakes every WaitSubscribed call. The caller holds s.mu.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// snapshot returns the open connections that keep reports true (all when
// keep is nil). The caller holds s.mu.
func (s *Server) snapshot(keep func(*conn) bool) []*conn {
	var out []*conn
	for c := range s.conns {
		if keep == nil || keep(c) {
			out = append(out, c)
		}
	}
	return out
}

func (s *Server) acceptLoop() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.WithError(err).Debug("accept failed")
			}
			return
		}
		if tcp, ok := nc.(*net.TCPConn); ok && s.opts.SendBuffer > 0 {
			_ = tcp.SetWriteBuffer(s.opts.SendBuffer)
		}

		s.mu.Lock()
		s.accepted++
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		c := newConn(s, nc)
		s.conns[c] = struct{}{}
		s.mu.Unlock()

		s.wg.Go(c.serve)
	}
}

func (s *Server) remove(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) record(command string) {
	s.mu.Lock()
	s.commands = append(s.commands, command)
	s.mu.Unlock()
}

// readCommand reads one command: lines up to a blank line. The first line is
// the command; further lines (sendmsg headers) are joined to it with LF.
func readCommand(br *bufio.Reader) (string, error) {
	var lines []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if len(lines) == 0 {
				continue
			}
			return strings.Join(lines, "\n"), nil
		}
		lines = append(lines, line)
	}
}

// apiStatusBody is the body of the api/response to "api status", shaped
// like FreeSWITCH 1.10 output.
const apiStatusBody = "UP 0 years, 0 days, 0 hours, 0 minutes, 1 second, 0 milliseconds, 0 microseconds\n" +
	"FreeSWITCH (Version 1.10.12 fake esltest) is ready\n" +
	"0 session(s) since startup\n" +
	"0 session(s) - peak 0, last 5min 0\n" +
	"0 session(s) per Sec out of max 30, peak 0, last 5min 0\n" +
	"1000 session(s) max\n"

func apiResponse(body string) []byte {
	return fmt.Appendf(nil, "Content-Type: api/response\nContent-Length: %d\n\n%s", len(body), body)
}

func commandReply(text string) []byte {
	return fmt.Appendf(nil, "Content-Type: command/reply\nReply-Text: %s\n\n", text)
}
