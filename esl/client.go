package esl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// ErrAuthFailed reports that FreeSWITCH rejected the password ("-ERR
// invalid"). The client keeps retrying with backoff.
var ErrAuthFailed = errors.New("esl: authentication failed")

// ErrACLRejected reports that FreeSWITCH sent text/rude-rejection instead of
// auth/request: the client's address is not allowed by apply-inbound-acl.
// The client keeps retrying with backoff.
var ErrACLRejected = errors.New("esl: rejected by FreeSWITCH ACL")

// ErrNotConnected reports a command sent while no connection is subscribed.
var ErrNotConnected = errors.New("esl: not connected to FreeSWITCH")

// dropLogInterval is the minimum time between two log entries about
// dropped events.
const dropLogInterval = time.Second

// Client keeps one authenticated, subscribed Event Socket connection to
// FreeSWITCH and hands the events on through Events().
type Client struct {
	cfg    Config
	log    logrus.FieldLogger
	events chan Event
	rand   func() float64

	started   atomic.Bool
	received  atomic.Uint64
	bytesRead atomic.Uint64

	mu              sync.Mutex
	status          Status
	current         *session
	lastDropLog     time.Time
	droppedSinceLog int
	// overflowing is set after a wait for room in the queue timed out, and
	// cleared when an event finds room at once.
	overflowing atomic.Bool
}

// New returns a client for cfg, with defaults filled in. It does not
// connect; Run does.
func New(cfg Config) *Client {
	cfg = cfg.withDefaults()
	c := &Client{
		cfg:    cfg,
		log:    cfg.Logger.WithField("addr", cfg.Addr),
		events: make(chan Event, cfg.QueueSize),
		rand:   cfg.Rand,
	}
	if c.rand == nil {
		c.rand = rand.Float64
	}
	return c
}

// Events returns the channel of decoded events, in wire order. The consumer
// must drain it; when it is full new events are dropped (see Status). The
// channel is closed when Run returns.
func (c *Client) Events() <-chan Event { return c.events }

// Subscription returns the event command the client sends after each
// authentication.
func (c *Client) Subscription() string { return c.cfg.subscription() }

// Status returns a snapshot of the connection state and counters.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.status.clone()
	st.Received = c.received.Load()
	st.BytesRead = c.bytesRead.Load()
	return st
}

// Run connects, authenticates, subscribes and reads events until ctx is
// done, reconnecting with backoff whenever the connection fails. It returns
// nil after ctx is done and the connection is closed, or an error at once
// when the Config is invalid or Run was already called. Run may be called
// only once per Client.
func (c *Client) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return errors.New("esl: Run called twice on the same Client; create a new Client instead")
	}
	defer close(c.events)
	if err := c.cfg.Validate(); err != nil {
		return err
	}

	failures := 0
	for {
		res := c.runSession(ctx)
		if ctx.Err() != nil {
			c.log.Info("stopped the FreeSWITCH event socket client")
			return nil
		}

		if res.subscribed {
			failures = 0
		} else {
			failures++
		}
		delay := c.backoff(failures)
		c.logFailure(res, failures, delay)

		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			c.log.Info("stopped the FreeSWITCH event socket client")
			return nil
		case <-timer.C:
		}
	}
}

// sessionResult is the outcome of one connection.
type sessionResult struct {
	subscribed bool
	uptime     time.Duration
	err        error
}

// runSession runs one connection from dial to close.
func (c *Client) runSession(ctx context.Context) sessionResult {
	dialCtx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	conn, err := c.dial(dialCtx)
	cancel()
	if err != nil {
		err = fmt.Errorf("esl: connect to %s: %w", c.cfg.Addr, err)
		c.recordError(err)
		return sessionResult{err: err}
	}

	s := newSession(conn, &c.cfg, &c.bytesRead)
	stop := context.AfterFunc(ctx, func() { s.end(errSessionDone) })
	defer stop()

	if err := c.authenticate(s); err != nil {
		// When ctx ended first, the session's cause is errSessionDone and
		// the read error it provoked is not recorded.
		s.end(err)
		err = s.cause()
		c.recordError(err)
		return sessionResult{err: err}
	}

	var wg sync.WaitGroup
	wg.Go(func() { c.readLoop(s) })
	defer wg.Wait()

	if err := c.subscribe(s); err != nil {
		s.end(err)
		err = s.cause()
		c.recordError(err)
		return sessionResult{err: err}
	}

	connectedAt := time.Now()
	c.markConnected(s, connectedAt)
	wg.Go(func() { c.watchdog(s) })

	<-s.done
	err = s.cause()
	c.markDisconnected(err)
	return sessionResult{subscribed: true, uptime: time.Since(connectedAt), err: err}
}

func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	if c.cfg.Dial != nil {
		return c.cfg.Dial(ctx, "tcp", c.cfg.Addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", c.cfg.Addr)
}

// authenticate waits for auth/request, sends the password and checks the
// reply, all within AuthTimeout. It runs before the read loop starts, so it
// reads frames itself.
func (c *Client) authenticate(s *session) error {
	timeout := c.cfg.AuthTimeout
	_ = s.conn.SetDeadline(time.Now().Add(timeout))

	if err := c.awaitAuthRequest(s, timeout); err != nil {
		return err
	}
	// The command carries the password, so it is written here and never
	// logged or put into an error.
	if _, err := io.WriteString(s.conn, "auth "+c.cfg.Password+"\n\n"); err != nil {
		return fmt.Errorf("esl: send auth command: %w", err)
	}
	if err := c.awaitAuthReply(s, timeout); err != nil {
		return err
	}

	_ = s.conn.SetDeadline(time.Time{})
	return nil
}

func (c *Client) awaitAuthRequest(s *session, timeout time.Duration) error {
	for {
		f, err := s.frames.ReadFrame()
		if err != nil {
			return authReadError(err, "auth/request", timeout)
		}
		switch f.ContentType() {
		case ContentTypeAuthRequest:
			return nil
		case ContentTypeRudeRejection:
			return rejection(f)
		case ContentTypeDisconnectNotice:
			return fmt.Errorf("esl: FreeSWITCH ended the session before authentication: %w", ErrDisconnected)
		}
	}
}

func (c *Client) awaitAuthReply(s *session, timeout time.Duration) error {
	for {
		f, err := s.frames.ReadFrame()
		if err != nil {
			return authReadError(err, "the reply to auth", timeout)
		}
		switch f.ContentType() {
		case ContentTypeCommandReply:
			text := f.Get("Reply-Text")
			if strings.HasPrefix(text, "+OK") {
				return nil
			}
			return fmt.Errorf("%w (%s): check the Event Socket password against event_socket.conf.xml", ErrAuthFailed, text)
		case ContentTypeRudeRejection:
			return rejection(f)
		case ContentTypeDisconnectNotice:
			return fmt.Errorf("esl: FreeSWITCH ended the session before replying to auth: %w", ErrDisconnected)
		}
	}
}

func rejection(f Frame) error {
	return fmt.Errorf("%w (text/rude-rejection: %s): allow this host in apply-inbound-acl of event_socket.conf.xml",
		ErrACLRejected, strings.TrimSpace(string(truncate(f.Body, 200))))
}

func authReadError(err error, waitingFor string, timeout time.Duration) error {
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return fmt.Errorf("esl: authentication timed out after %s waiting for %s: %w", timeout, waitingFor, err)
	}
	return fmt.Errorf("esl: connection lost while waiting for %s: %w", waitingFor, readError(err))
}

// subscribe sends the event command and waits for its reply.
func (c *Client) subscribe(s *session) error {
	command := c.cfg.subscription()
	w, err := s.send(command)
	if err != nil {
		return err
	}

	timer := time.NewTimer(c.cfg.CommandTimeout)
	defer timer.Stop()
	select {
	case r := <-w:
		if r.err != nil {
			return r.err
		}
		text := r.frame.Get("Reply-Text")
		if !strings.HasPrefix(text, "+OK") {
			return fmt.Errorf("esl: FreeSWITCH rejected the subscription %q (%s): check Events and Subclasses", command, text)
		}
		return nil
	case <-timer.C:
		return fmt.Errorf("esl: subscription %q timed out after %s without a reply", command, c.cfg.CommandTimeout)
	}
}

// readLoop is the only reader of the socket. It hands replies to waiting
// commands and events to the queue, waiting on a full queue for at most
// Config.QueueWait.
func (c *Client) readLoop(s *session) {
	for {
		f, err := s.frames.ReadFrame()
		if err != nil {
			s.end(readError(err))
			return
		}

		switch ct := f.ContentType(); ct {
		case ContentTypeCommandReply, ContentTypeAPIResponse:
			if !s.deliver(f) {
				c.log.WithField("content_type", ct).Debug("skipped a reply that no command was waiting for")
			}
		case ContentTypeEventJSON, ContentTypeEventPlain:
			c.handleEvent(&f)
		case ContentTypeDisconnectNotice:
			// FreeSWITCH may hold the socket open after the notice, so the
			// session ends here and not at EOF.
			s.end(ErrDisconnected)
			return
		default:
			// log/data and content types added in later FreeSWITCH versions
			// carry nothing postcall needs.
			c.log.WithField("content_type", ct).Debug("skipped a frame of an unhandled content type")
		}
	}
}

// handleEvent decodes one event frame and offers it to the queue without
// blocking.
func (c *Client) handleEvent(f *Frame) {
	ev, _, err := DecodeFrame(f)
	if err != nil {
		c.mu.Lock()
		c.status.Undecodable++
		c.mu.Unlock()
		c.log.WithError(err).Error("skipped an event whose body could not be decoded")
		return
	}

	c.received.Add(1)
	select {
	case c.events <- ev:
		c.overflowing.Store(false)
		return
	default:
	}

	// The queue is full. A short wait lets a burst pass while FreeSWITCH
	// holds the next events. After a wait that timed out, drop at once, so
	// a stalled consumer cannot hold the socket.
	if c.cfg.QueueWait > 0 && !c.overflowing.Load() {
		wait := time.NewTimer(c.cfg.QueueWait)
		defer wait.Stop()
		select {
		case c.events <- ev:
			return
		case <-wait.C:
		}
	}
	c.overflowing.Store(true)
	c.drop(&ev)
}

// drop counts an event the full queue could not take and logs it, at most
// once per dropLogInterval.
func (c *Client) drop(ev *Event) {
	id := ev.Get("Unique-ID")
	if id == "" {
		id = ev.Name()
	}

	c.mu.Lock()
	c.status.Dropped++
	total := c.status.Dropped
	c.status.LastDropped = append(c.status.LastDropped, id)
	if n := len(c.status.LastDropped); n > maxLastDropped {
		c.status.LastDropped = append(c.status.LastDropped[:0], c.status.LastDropped[n-maxLastDropped:]...)
	}
	c.droppedSinceLog++
	now := time.Now()
	logIt := now.Sub(c.lastDropLog) >= dropLogInterval
	count := c.droppedSinceLog
	if logIt {
		c.lastDropLog = now
		c.droppedSinceLog = 0
	}
	c.mu.Unlock()

	if logIt {
		c.log.WithFields(logrus.Fields{
			"call_id":       ev.Get("Unique-ID"),
			"event":         ev.Name(),
			"dropped":       count,
			"dropped_total": total,
			"queue_size":    cap(c.events),
		}).Warn("event queue is full, dropped events; the consumer is too slow")
	}
}

// watchdog sends "api status" every Watchdog interval and ends the session
// when nothing has arrived for twice that long.
func (c *Client) watchdog(s *session) {
	interval := c.cfg.Watchdog
	check := time.NewTicker(max(interval/4, time.Millisecond))
	defer check.Stop()
	nextPing := time.Now().Add(interval)

	for {
		select {
		case <-s.done:
			return
		case now := <-check.C:
			if idle := s.idle(now); idle >= 2*interval {
				s.end(fmt.Errorf("%w: nothing received from FreeSWITCH for %s", ErrWatchdog, idle.Round(time.Millisecond)))
				return
			}
			if now.Before(nextPing) {
				continue
			}
			nextPing = now.Add(interval)
			// Any reply counts as traffic, so the watchdog does not wait for it.
			if _, err := s.send("api status"); err != nil {
				return
			}
		}
	}
}

// API sends "api COMMAND" on the current connection and returns the body of
// its api/response. It fails at once with ErrNotConnected when no
// connection is subscribed, and with an error wrapping ErrDisconnected when
// FreeSWITCH ends the session before replying.
func (c *Client) API(ctx context.Context, command string) (string, error) {
	if command == "" || strings.ContainsAny(command, "\r\n") {
		return "", fmt.Errorf("esl: invalid api command %q: it must be one non-empty line", command)
	}
	c.mu.Lock()
	s := c.current
	c.mu.Unlock()
	if s == nil {
		return "", ErrNotConnected
	}

	w, err := s.send("api " + command)
	if err != nil {
		return "", err
	}
	select {
	case r := <-w:
		if r.err != nil {
			return "", r.err
		}
		if ct := r.frame.ContentType(); ct != ContentTypeAPIResponse {
			return "", fmt.Errorf("esl: api %s: expected an api/response, got %s %q", command, ct, r.frame.Get("Reply-Text"))
		}
		return string(r.frame.Body), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// backoff returns the delay before the next connection attempt after
// failures failed attempts in a row: ReconnectMin doubled per failure, capped
// at ReconnectMax, then scaled by a random factor in [0.5, 1) and kept
// within [ReconnectMin, ReconnectMax].
func (c *Client) backoff(failures int) time.Duration {
	base := c.cfg.ReconnectMin
	for i := 1; i < failures && base < c.cfg.ReconnectMax; i++ {
		base *= 2
	}
	base = min(base, c.cfg.ReconnectMax)
	delay := time.Duration(float64(base) * (0.5 + 0.5*c.rand()))
	return min(max(delay, c.cfg.ReconnectMin), c.cfg.ReconnectMax)
}

func (c *Client) markConnected(s *session, at time.Time) {
	c.mu.Lock()
	gapStart := c.status.DisconnectedSince
	reason := c.status.LastError
	c.current = s
	c.status.Connected = true
	c.status.ConnectedSince = at
	c.status.DisconnectedSince = time.Time{}
	if !gapStart.IsZero() {
		c.status.Reconnects++
		c.status.Gaps = append(c.status.Gaps, Gap{Start: gapStart, End: at, Reason: reason})
		if n := len(c.status.Gaps); n > c.cfg.GapHistory {
			c.status.Gaps = append(c.status.Gaps[:0], c.status.Gaps[n-c.cfg.GapHistory:]...)
		}
	}
	c.mu.Unlock()

	entry := c.log.WithField("subscription", c.cfg.subscription())
	if gapStart.IsZero() {
		entry.Info("connected to FreeSWITCH")
		return
	}
	entry.WithFields(logrus.Fields{
		"gap_ms": at.Sub(gapStart).Milliseconds(),
		"reason": reason,
	}).Info("reconnected to FreeSWITCH; events of the gap were not received")
}

func (c *Client) markDisconnected(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.current = nil
	c.status.Connected = false
	c.status.ConnectedSince = time.Time{}
	c.status.DisconnectedSince = time.Now()
	if err != nil && !errors.Is(err, errSessionDone) {
		c.status.LastError = err.Error()
		c.status.Cause = err
	}
}

func (c *Client) recordError(err error) {
	if errors.Is(err, errSessionDone) {
		return
	}
	c.mu.Lock()
	c.status.LastError = err.Error()
	c.status.Cause = err
	c.mu.Unlock()
}

// logFailure logs why a connection ended or could not be set up.
func (c *Client) logFailure(res sessionResult, failures int, delay time.Duration) {
	entry := c.log.WithFields(logrus.Fields{
		"error":       res.err,
		"retry_in_ms": delay.Milliseconds(),
	})
	switch {
	case res.subscribed:
		entry.WithField("duration_ms", res.uptime.Milliseconds()).
			Warn("disconnected from FreeSWITCH; events are lost until the client reconnects")
	case errors.Is(res.err, ErrAuthFailed), errors.Is(res.err, ErrACLRejected):
		entry.WithField("attempt", failures).Error("FreeSWITCH rejected the connection; retrying with backoff")
	default:
		entry.WithField("attempt", failures).Warn("connecting to FreeSWITCH failed; retrying with backoff")
	}
}
