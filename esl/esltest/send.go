package esltest

import (
	"fmt"
	"time"

	"github.com/postcall/postcall/esl"
)

// Frame returns ev as a whole frame in format ("json" or "plain"): the outer
// Content-Length (in bytes) and Content-Type headers, a blank line and the
// encoded event.
func Frame(ev esl.Event, format string) []byte {
	var body []byte
	contentType := esl.ContentTypeEventJSON
	if format == "plain" {
		body = esl.EncodePlain(ev)
		contentType = esl.ContentTypeEventPlain
	} else {
		body = esl.EncodeJSON(ev)
	}
	frame := fmt.Appendf(nil, "Content-Length: %d\nContent-Type: %s\n\n", len(body), contentType)
	return append(frame, body...)
}

// SendEvent queues ev for every client subscribed to it, encoded in the
// format each one subscribed with, and returns how many clients it was
// queued for. When a client's queue stays full for SendTimeout, the event
// is dropped for that client and counted in Dropped, so a slow client
// delays SendEvent by at most SendTimeout.
func (s *Server) SendEvent(ev esl.Event) int {
	name, subclass := ev.Name(), ev.Subclass()
	frames := make(map[string][]byte, 2)
	queued := 0
	for _, c := range s.openConns() {
		format, ok := c.wants(name, subclass)
		if !ok {
			continue
		}
		frame, ok := frames[format]
		if !ok {
			frame = Frame(ev, format)
			frames[format] = frame
		}
		if c.enqueue(item{data: frame}, true) {
			queued++
		}
	}
	return queued
}

// SendFrame queues raw bytes, for example a captured frame, for every
// subscribed client, as one write, and returns how many clients it was
// queued for. The bytes are sent as they are, whatever the subscription.
// Like SendEvent, it drops them for a client whose queue stays full.
func (s *Server) SendFrame(raw []byte) int {
	queued := 0
	for _, c := range s.openConns() {
		if c.subscribed() && c.enqueue(item{data: raw}, true) {
			queued++
		}
	}
	return queued
}

// SendChunks writes chunks to every subscribed client, one write per chunk
// with gap between writes, and waits until they are written. It returns how
// many clients got them. The pieces need not be whole frames, which
// reproduces events split across TCP reads.
func (s *Server) SendChunks(chunks [][]byte, gap time.Duration) int {
	var waits []chan struct{}
	for _, c := range s.openConns() {
		if !c.subscribed() {
			continue
		}
		done := make(chan struct{})
		if c.enqueue(item{chunks: chunks, gap: gap, done: done}, false) {
			waits = append(waits, done)
		}
	}
	for _, done := range waits {
		<-done
	}
	return len(waits)
}

// Disconnect sends a disconnect notice to every client and closes the
// connections once the notice is written, as FreeSWITCH does when it shuts
// down. It returns when the connections are closed.
func (s *Server) Disconnect() {
	s.endAll(closeConn)
}

// DisconnectHoldOpen sends a disconnect notice to every client but keeps
// the sockets open, sending and replying to nothing more, until Close.
func (s *Server) DisconnectHoldOpen() {
	s.endAll(holdOpen)
}

func (s *Server) endAll(after afterWrite) {
	type pending struct {
		c    *conn
		done chan struct{}
	}
	var waits []pending
	for _, c := range s.openConns() {
		c.mu.Lock()
		c.subscription = "" // no event may follow the notice
		c.mu.Unlock()

		done := make(chan struct{})
		if c.enqueue(item{data: []byte(disconnectNotice), after: after, done: done}, false) {
			waits = append(waits, pending{c: c, done: done})
		}
	}
	for _, p := range waits {
		select {
		case <-p.done:
		case <-time.After(closeWait):
		}
		if after == closeConn {
			p.c.close() // the writer closed it already unless it was blocked
		}
	}
}

// CloseConnections closes every connection without a notice, as when
// FreeSWITCH is killed: the clients read EOF.
func (s *Server) CloseConnections() {
	for _, c := range s.openConns() {
		c.close()
	}
}

// Reset closes every connection with SO_LINGER 0, so the clients see a
// connection reset.
func (s *Server) Reset() {
	for _, c := range s.openConns() {
		c.reset()
	}
}

// Stall makes every open connection stop replying and sending while its
// socket stays open, until Resume or Close. Connections accepted later are
// served normally, so a client that reconnects gets a working session.
func (s *Server) Stall() {
	for _, c := range s.openConns() {
		c.stall()
	}
}

// Resume lets stalled connections go on.
func (s *Server) Resume() {
	for _, c := range s.openConns() {
		c.unstall()
	}
}

func (s *Server) openConns() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshot(nil)
}
