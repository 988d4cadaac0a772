package hooks

import (
	"time"

	"github.com/postcall/postcall/esl"
)

// pendingExit is an exit event waiting for the hangup of its channel.
type pendingExit struct {
	key      [keySize]byte
	event    *esl.Event
	deadline time.Time
	// done marks an entry that left the set while it is still in the queue.
	done bool
}

// pendingExits holds the waiting exit events by call key, and in arrival
// order for expiry. Every entry gets the same grace, so arrival order is
// deadline order as long as the clock does not go back.
type pendingExits struct {
	byKey map[[keySize]byte]*pendingExit
	queue []*pendingExit
	head  int
	max   int
}

func newPendingExits(max int) *pendingExits {
	return &pendingExits{byKey: make(map[[keySize]byte]*pendingExit), max: max}
}

func (p *pendingExits) len() int { return len(p.byKey) }

func (p *pendingExits) full() bool { return len(p.byKey) >= p.max }

func (p *pendingExits) has(key [keySize]byte) bool {
	_, ok := p.byKey[key]
	return ok
}

func (p *pendingExits) add(key [keySize]byte, ev *esl.Event, deadline time.Time) {
	entry := &pendingExit{key: key, event: ev, deadline: deadline}
	p.byKey[key] = entry
	p.queue = append(p.queue, entry)
}

// take removes and returns the entry of key, or nil.
func (p *pendingExits) take(key [keySize]byte) *pendingExit {
	entry, ok := p.byKey[key]
	if !ok {
		return nil
	}
	delete(p.byKey, key)
	entry.done = true
	p.skipDone()
	return entry
}

// popDue removes and returns the oldest entry whose deadline is at or
// before now, or nil.
func (p *pendingExits) popDue(now time.Time) *pendingExit {
	p.skipDone()
	if p.head == len(p.queue) || p.queue[p.head].deadline.After(now) {
		return nil
	}
	return p.popOldest()
}

// popOldest removes and returns the oldest entry, or nil.
func (p *pendingExits) popOldest() *pendingExit {
	p.skipDone()
	if p.head == len(p.queue) {
		return nil
	}
	entry := p.queue[p.head]
	p.queue[p.head] = nil
	p.head++
	delete(p.byKey, entry.key)
	entry.done = true
	p.skipDone()
	return entry
}

// nextDeadline returns the deadline of the oldest entry.
func (p *pendingExits) nextDeadline() (time.Time, bool) {
	p.skipDone()
	if p.head == len(p.queue) {
		return time.Time{}, false
	}
	return p.queue[p.head].deadline, true
}

// skipDone drops finished entries from the front of the queue and reclaims
// the queue's dead prefix once it is most of the slice.
func (p *pendingExits) skipDone() {
	for p.head < len(p.queue) && p.queue[p.head].done {
		p.queue[p.head] = nil
		p.head++
	}
	if p.head == len(p.queue) {
		p.queue = p.queue[:0]
		p.head = 0
		return
	}
	if p.head > 1024 && p.head*2 > len(p.queue) {
		n := copy(p.queue, p.queue[p.head:])
		clear(p.queue[n:])
		p.queue = p.queue[:n]
		p.head = 0
	}
}
