package spool

import (
	"time"

	"github.com/postcall/postcall/delivery"
)

// Observer receives the events a Queue counts, for metrics. Its methods
// are called from several goroutines and must return quickly.
type Observer interface {
	// JobAccepted is called when a submitted job has been written to the
	// store.
	JobAccepted(app string)
	// JobDuplicate is called when a submitted job was not stored because
	// its key was already stored (a repeated call).
	JobDuplicate(app string)
	// Attempt is called after each delivery attempt with its outcome class,
	// HTTP status (0 when none arrived) and duration.
	Attempt(app string, class delivery.Class, status int, latency time.Duration)
	// Delivered is called when a job is delivered, with the time since the
	// job was created.
	Delivered(app string, age time.Duration)
	// Dead is called when a job becomes dead.
	Dead(app string)
	// WriteFailed is called when a write to the store fails.
	WriteFailed(err error)
}

// NopObserver is an Observer that does nothing. Embed it to implement
// only some of the methods.
type NopObserver struct{}

func (NopObserver) JobAccepted(string)                                 {}
func (NopObserver) JobDuplicate(string)                                {}
func (NopObserver) Attempt(string, delivery.Class, int, time.Duration) {}
func (NopObserver) Delivered(string, time.Duration)                    {}
func (NopObserver) Dead(string)                                        {}
func (NopObserver) WriteFailed(error)                                  {}
