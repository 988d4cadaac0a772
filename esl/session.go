package esl

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrDisconnected reports that FreeSWITCH ended the session with a
// text/disconnect-notice frame. Commands still waiting for a reply fail with
// an error that wraps it.
var ErrDisconnected = errors.New("esl: FreeSWITCH ended the session (text/disconnect-notice)")

// ErrWatchdog reports a connection on which nothing arrived for twice the
// watchdog interval.
var ErrWatchdog = errors.New("esl: watchdog timed out")

// errSessionDone ends a session whose work is over, for example after Run's
// context was canceled.
var errSessionDone = errors.New("esl: session closed")

// reply is the outcome of one command: its reply frame or why none came.
type reply struct {
	frame Frame
	err   error
}

// session is one TCP connection to FreeSWITCH. Replies are matched to
// commands by order: FreeSWITCH replies to every command with exactly
// one command/reply or api/response frame, in the order the commands came.
type session struct {
	conn         net.Conn
	frames       *FrameReader
	lastRead     atomic.Int64 // Unix nanoseconds of the last byte read
	writeTimeout time.Duration

	// writeMu keeps the order of waiters equal to the order of writes.
	writeMu sync.Mutex

	mu      sync.Mutex
	waiters []chan reply
	err     error // the reason the session ended; nil while it is open
	done    chan struct{}
}

func newSession(conn net.Conn, cfg *Config, bytesRead *atomic.Uint64) *session {
	s := &session{
		conn:         conn,
		writeTimeout: cfg.CommandTimeout,
		done:         make(chan struct{}),
	}
	s.lastRead.Store(time.Now().UnixNano())
	s.frames = NewFrameReader(activityReader{conn: conn, last: &s.lastRead, bytes: bytesRead}, cfg.MaxFrameSize)
	return s
}

// activityReader records the time of every read that returned data, so the
// watchdog counts traffic byte by byte and not only whole frames.
type activityReader struct {
	conn  net.Conn
	last  *atomic.Int64
	bytes *atomic.Uint64
}

func (r activityReader) Read(p []byte) (int, error) {
	n, err := r.conn.Read(p)
	if n > 0 {
		r.last.Store(time.Now().UnixNano())
		r.bytes.Add(uint64(n))
	}
	return n, err
}

// end closes the session for the reason err and fails every command still
// waiting for a reply. Only the first call has an effect, so the first
// reason is the one reported.
func (s *session) end(err error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = err
	waiters := s.waiters
	s.waiters = nil
	s.mu.Unlock()

	for _, w := range waiters {
		w <- reply{err: fmt.Errorf("esl: command got no reply: %w", err)}
	}
	_ = s.conn.Close()
	close(s.done)
}

// cause returns why the session ended, or nil while it is open.
func (s *session) cause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// send writes command and returns the channel that receives its reply. The
// channel is buffered, so a caller that stops waiting leaks nothing.
func (s *session) send(command string) (<-chan reply, error) {
	w := make(chan reply, 1)

	s.writeMu.Lock()
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		s.writeMu.Unlock()
		return nil, fmt.Errorf("esl: connection is closed: %w", err)
	}
	s.waiters = append(s.waiters, w)
	s.mu.Unlock()

	_ = s.conn.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	_, err := io.WriteString(s.conn, command+"\n\n")
	s.writeMu.Unlock()

	if err != nil {
		// end fails w together with every other waiter.
		s.end(fmt.Errorf("esl: write command: %w", err))
	}
	return w, nil
}

// deliver hands a reply frame to the oldest waiting command. It reports
// false when no command was waiting.
func (s *session) deliver(f Frame) bool {
	s.mu.Lock()
	if len(s.waiters) == 0 {
		s.mu.Unlock()
		return false
	}
	w := s.waiters[0]
	s.waiters[0] = nil
	s.waiters = s.waiters[1:]
	s.mu.Unlock()

	w <- reply{frame: f}
	return true
}

// idle returns how long ago the last byte arrived.
func (s *session) idle(now time.Time) time.Duration {
	return now.Sub(time.Unix(0, s.lastRead.Load()))
}

// readError turns a read failure into the reason a session ended.
func readError(err error) error {
	var netErr net.Error
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("esl: FreeSWITCH closed the connection: %w", err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("esl: FreeSWITCH closed the connection in the middle of a frame: %w", err)
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Errorf("esl: read timed out: %w", err)
	default:
		return fmt.Errorf("esl: read failed: %w", err)
	}
}
