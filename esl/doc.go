// Package esl is postcall's inbound client for the FreeSWITCH Event Socket.
//
// It reads frames (LF-terminated header blocks with byte-counted bodies),
// decodes text/event-json and text/event-plain events into Event values
// that keep header names, case, order and repeats exactly, and keeps one
// authenticated, subscribed connection alive with a watchdog and capped
// exponential backoff. Events leave through one bounded channel in wire
// order.
//
// The socket reader must never wait long on the consumer, because a reader
// that stops makes FreeSWITCH drop events and close the socket itself. When
// the queue is full it waits at most Config.QueueWait, then drops the event
// and counts and logs it with its Unique-ID. The package never logs the Event Socket password and never
// subscribes to ALL events or to log output.
package esl
