package esl

import (
	"slices"
	"time"
)

// maxLastDropped bounds Status.LastDropped.
const maxLastDropped = 64

// Status is a snapshot of the client's connection and queue, for health
// output and metrics.
type Status struct {
	// Connected reports whether the client is authenticated and subscribed.
	Connected bool
	// ConnectedSince is when the current connection was subscribed; zero
	// while not connected.
	ConnectedSince time.Time
	// DisconnectedSince is when the last connection was lost; zero while
	// connected and before the first connection. No event can be received
	// from then on, because FreeSWITCH keeps none for a disconnected client.
	DisconnectedSince time.Time
	// Reconnects counts connections subscribed again after a lost one.
	Reconnects int
	// LastError is the most recent connection error, or "".
	LastError string
	// Cause is the most recent connection error as a value, for errors.Is
	// (ErrAuthFailed, ErrACLRejected, ErrDisconnected, ErrWatchdog), or nil.
	Cause error
	// BytesRead counts the bytes read from FreeSWITCH over all connections.
	BytesRead uint64
	// Received counts events decoded and offered to the queue.
	Received uint64
	// Dropped counts events lost because the queue was full.
	Dropped uint64
	// LastDropped holds the Unique-ID (or, without one, the Event-Name) of
	// the most recently dropped events, oldest first, at most 64.
	LastDropped []string
	// Undecodable counts event frames whose body could not be decoded.
	Undecodable uint64
	// Gaps are the most recent periods without a connection, oldest first.
	Gaps []Gap
}

// Gap is a period in which no event could be received.
type Gap struct {
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Reason string    `json:"reason"`
}

// Duration returns the length of the gap.
func (g Gap) Duration() time.Duration { return g.End.Sub(g.Start) }

// clone returns a copy of s that shares no slice with it.
func (s Status) clone() Status {
	s.LastDropped = slices.Clone(s.LastDropped)
	s.Gaps = slices.Clone(s.Gaps)
	return s
}
