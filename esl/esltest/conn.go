package esltest

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// item is one unit of work for a connection's writer.
type item struct {
	data   []byte
	chunks [][]byte      // written one write each, with gap between them
	gap    time.Duration // pause between chunks
	after  afterWrite
	done   chan struct{} // closed when the item is written or dropped, if not nil
}

type afterWrite int

// closeWait bounds the wait for the final frames of a connection that the
// server ends.
const closeWait = 5 * time.Second

const (
	keepOpen  afterWrite = iota
	closeConn            // close the socket after the item
	holdOpen             // stop serving but keep the socket open
)

// conn is one accepted client. A reader goroutine replies to commands and a
// writer goroutine drains the send queue, so replies and events leave in
// the order they were queued.
type conn struct {
	srv *Server
	nc  net.Conn
	log logrus.FieldLogger
	out chan item

	closeOnce sync.Once
	done      chan struct{}

	mu           sync.Mutex
	authed       bool
	subscription string   // the event command, "" until subscribed
	format       string   // "json" or "plain"
	eventNames   []string // subscribed names before CUSTOM
	subclasses   []string // subscribed subclasses after CUSTOM
	allCustom    bool     // CUSTOM without subclasses
	resume       chan struct{}
	drops        int
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{
		srv:  s,
		nc:   nc,
		log:  s.log.WithField("peer", nc.RemoteAddr().String()),
		out:  make(chan item, s.opts.SendQueue),
		done: make(chan struct{}),
	}
}

func (c *conn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		_ = c.nc.Close()
		c.srv.remove(c)
	})
}

// reset closes the socket with SO_LINGER 0, so the peer gets a TCP reset.
func (c *conn) reset() {
	if tcp, ok := c.nc.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	c.close()
}

// serve runs the connection until it closes.
func (c *conn) serve() {
	defer c.close()
	c.log.Debug("accepted a connection")

	if c.srv.opts.RejectACL {
		_, _ = c.nc.Write([]byte(rudeRejection + disconnectNotice))
		return
	}

	go c.writeLoop()
	if !c.enqueueReply([]byte(authRequest)) {
		return
	}
	c.readLoop()
}

// readLoop reads commands and hands them to handleLoop. It keeps reading
// while the connection is stalled, so a client that closes a stalled
// connection is noticed.
func (c *conn) readLoop() {
	commands := make(chan string, 64)
	go c.handleLoop(commands)
	defer close(commands)

	br := bufio.NewReader(c.nc)
	for {
		command, err := readCommand(br)
		if err != nil {
			c.log.WithError(err).Debug("connection ended")
			return
		}
		c.srv.record(command)
		select {
		case commands <- command:
		case <-c.done:
			return
		}
	}
}

// handleLoop replies to commands in order, waiting while the connection is
// stalled.
func (c *conn) handleLoop(commands <-chan string) {
	for command := range commands {
		c.waitIfStalled()
		if c.handle(command) {
			continue
		}
		// The writer closes the socket once the final frames are out; the
		// wait is bounded in case the client stopped reading.
		select {
		case <-c.done:
		case <-time.After(closeWait):
		}
		c.close()
		return
	}
}

// handle replies to one command and reports whether to keep reading.
func (c *conn) handle(command string) bool {
	verb, args, _ := strings.Cut(command, " ")

	c.mu.Lock()
	authed := c.authed
	c.mu.Unlock()

	if !authed {
		c.log.WithField("command", verb).Debug("received a command before authentication")
		if verb == "auth" && args == c.srv.opts.Password {
			c.mu.Lock()
			c.authed = true
			c.mu.Unlock()
			return c.enqueueReply([]byte(acceptedReply))
		}
		// Wrong password: FreeSWITCH replies, sends a notice and closes.
		c.enqueue(item{data: []byte(invalidReply + disconnectNotice), after: closeConn}, false)
		return false
	}

	c.log.WithField("command", command).Debug("received a command")
	switch verb {
	case "event":
		return c.subscribe(command, args)
	case "api":
		if args == "status" {
			return c.enqueueReply(apiResponse(apiStatusBody))
		}
		name, _, _ := strings.Cut(args, " ")
		return c.enqueueReply(apiResponse("-ERR " + name + " Command not found!\n"))
	case "exit":
		c.enqueue(item{data: append(commandReply("+OK bye"), disconnectNotice...), after: closeConn}, false)
		return false
	default:
		return c.enqueueReply([]byte(notFoundReply))
	}
}

// subscribe handles "event FORMAT NAME... [CUSTOM SUBCLASS...]".
func (c *conn) subscribe(command, args string) bool {
	words := strings.Fields(args)
	if len(words) < 2 {
		return c.enqueueReply(commandReply("-ERR no keywords supplied"))
	}
	format := words[0]
	if format != "json" && format != "plain" {
		return c.enqueueReply(commandReply("-ERR format " + format + " is not supported by esltest"))
	}

	var names, subclasses []string
	custom := false
	for _, w := range words[1:] {
		switch {
		case w == "CUSTOM":
			custom = true
		case custom:
			subclasses = append(subclasses, w)
		default:
			names = append(names, w)
		}
	}

	c.mu.Lock()
	c.subscription = command
	c.format = format
	c.eventNames = names
	c.subclasses = subclasses
	c.allCustom = custom && len(subclasses) == 0
	c.mu.Unlock()

	ok := c.enqueueReply(commandReply("+OK event listener enabled " + format))
	c.srv.mu.Lock()
	c.srv.notify()
	c.srv.mu.Unlock()
	return ok
}

// wants reports whether the subscription covers an event, and the format to
// encode it in.
func (c *conn) wants(name, subclass string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subscription == "" {
		return "", false
	}
	for _, n := range c.eventNames {
		if n == "ALL" || n == name {
			return c.format, true
		}
	}
	if name == "CUSTOM" && (c.allCustom || containsString(c.subclasses, subclass)) {
		return c.format, true
	}
	return "", false
}

func (c *conn) subscribed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subscription != ""
}

// enqueueReply queues a reply; replies are never dropped. It reports false
// when the connection closed first.
func (c *conn) enqueueReply(data []byte) bool {
	return c.enqueue(item{data: data}, false)
}

// enqueue queues it. A droppable item waits at most SendTimeout for room in
// a full queue and is then dropped and counted. It reports whether the item
// was queued.
func (c *conn) enqueue(it item, droppable bool) bool {
	select {
	case c.out <- it:
		return true
	case <-c.done:
		return false
	default:
	}

	var timeout <-chan time.Time
	if droppable {
		timer := time.NewTimer(c.srv.opts.SendTimeout)
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case c.out <- it:
		return true
	case <-c.done:
		return false
	case <-timeout:
		c.countDrop()
		return false
	}
}

func (c *conn) countDrop() {
	c.srv.mu.Lock()
	c.srv.dropped++
	c.srv.mu.Unlock()

	c.mu.Lock()
	c.drops++
	drops := c.drops
	c.mu.Unlock()

	limit := c.srv.opts.MaxDrops
	c.log.WithField("dropped", drops).Debug("dropped an event because the client reads too slowly")
	if limit > 0 && drops >= limit {
		c.log.Debug("closing a client that lost too many events")
		c.close()
	}
}

func (c *conn) writeLoop() {
	for {
		select {
		case <-c.done:
			return
		case it := <-c.out:
			c.waitIfStalled()
			err := c.write(it)
			if it.done != nil {
				close(it.done)
			}
			if err != nil {
				c.log.WithError(err).Debug("write failed")
				c.close()
				return
			}
			switch it.after {
			case closeConn:
				c.close()
				return
			case holdOpen:
				c.stall()
			}
		}
	}
}

func (c *conn) write(it item) error {
	if it.data != nil {
		if _, err := c.nc.Write(it.data); err != nil {
			return err
		}
	}
	for i, chunk := range it.chunks {
		if i > 0 && it.gap > 0 {
			select {
			case <-time.After(it.gap):
			case <-c.done:
				return net.ErrClosed
			}
		}
		if _, err := c.nc.Write(chunk); err != nil {
			return err
		}
	}
	return nil
}

// stall makes the connection stop answering and sending until resumed.
func (c *conn) stall() {
	c.mu.Lock()
	if c.resume == nil {
		c.resume = make(chan struct{})
	}
	c.mu.Unlock()
}

func (c *conn) unstall() {
	c.mu.Lock()
	if c.resume != nil {
		close(c.resume)
		c.resume = nil
	}
	c.mu.Unlock()
}

func (c *conn) waitIfStalled() {
	c.mu.Lock()
	resume := c.resume
	c.mu.Unlock()
	if resume == nil {
		return
	}
	select {
	case <-resume:
	case <-c.done:
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
