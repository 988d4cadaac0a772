package spool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/postcall/postcall/delivery"
)

// ErrNotFound is returned by Get when no job has the requested key.
var ErrNotFound = errors.New("job not found")

// ErrClosed is returned by a Store after Close and by a Queue after Shutdown.
var ErrClosed = errors.New("spool is closed")

// Store keeps jobs and their delivery records. Implementations must be safe
// for concurrent use. Jobs passed in are not retained, and jobs returned are
// copies that the caller may change.
type Store interface {
	// Add stores jobs durably (written and fsync'd before it returns) and
	// reports, per job, whether it was new. A job whose Key is already
	// stored, in any state, is not stored again: that is the dedup record
	// that makes a repeated hangup after a restart fire nothing. A job with
	// an empty State is stored as pending.
	Add(ctx context.Context, jobs []*delivery.Job) (added []bool, err error)

	// Due returns up to limit pending jobs with NextAt <= now, earliest
	// first, without loading the other jobs into memory.
	Due(ctx context.Context, now time.Time, limit int) ([]*delivery.Job, error)

	// Schedule returns the due jobs that q selects, earliest NextAt first,
	// and next: the earliest NextAt among the pending jobs that q did not
	// skip and that were not returned (ok is false when there is none). The
	// queue uses it to fill free workers without letting an application at
	// its concurrency limit hold back the others.
	Schedule(ctx context.Context, q DueQuery) (jobs []*delivery.Job, next time.Time, ok bool, err error)

	// NextDue returns the earliest NextAt among pending jobs (ok is false
	// when there is none).
	NextDue(ctx context.Context) (next time.Time, ok bool, err error)

	// Update writes each job's delivery record (State, Attempts, NextAt,
	// LastError, LastStatus, UpdatedAt) and keeps the stored request. A job
	// whose key is no longer stored (it was purged) is skipped, so an attempt
	// that ends after a purge cannot bring the job back.
	Update(ctx context.Context, jobs []*delivery.Job) error

	// Get returns the job stored under key, or ErrNotFound.
	Get(ctx context.Context, key string) (*delivery.Job, error)

	// List returns the jobs that f selects, oldest CreatedAt first.
	List(ctx context.Context, f Filter) ([]*delivery.Job, error)

	// Retry makes the dead or pending jobs that f selects pending and due
	// now. Attempts and LastError are kept, so a retried job that fails again
	// after its MaxAttempts or MaxAge is dead again after one attempt. It
	// returns how many jobs it changed.
	Retry(ctx context.Context, f Filter) (int, error)

	// Purge deletes the jobs that f selects, in any state, with their dedup
	// record, and returns how many it deleted.
	Purge(ctx context.Context, f Filter) (int, error)

	// Counts returns the number of jobs per application and state.
	Counts(ctx context.Context) (map[string]map[delivery.State]int, error)

	// Compact deletes delivered jobs whose UpdatedAt is before olderThan and
	// returns how many it deleted. Delivered jobs are the dedup memory, so
	// olderThan should leave the period in which a call can repeat.
	Compact(ctx context.Context, olderThan time.Time) (int, error)

	// Close releases the store. Calls after Close return ErrClosed.
	Close() error
}

// BatchWriter is implemented by a Store that can add jobs and write
// delivery records in one transaction. The queue uses it when the store
// has it, so that new jobs and attempt outcomes share one commit.
type BatchWriter interface {
	// Write adds the jobs in add as Store.Add does and writes the delivery
	// records of update as Store.Update does. It reports, per job of add,
	// whether it was new. On error nothing is written.
	Write(ctx context.Context, add, update []*delivery.Job) (added []bool, err error)
}

// Admin is the part of a Store that the command line uses. Both a Store and
// a Client (the daemon's admin listener) implement it.
type Admin interface {
	Get(ctx context.Context, key string) (*delivery.Job, error)
	List(ctx context.Context, f Filter) ([]*delivery.Job, error)
	Retry(ctx context.Context, f Filter) (int, error)
	Purge(ctx context.Context, f Filter) (int, error)
}

// Filter selects jobs for List, Retry and Purge. A zero field selects every
// job, so the zero Filter selects all of them.
type Filter struct {
	// Key selects one job.
	Key string
	// App selects the jobs of one application.
	App string
	// State selects the jobs in one state.
	State delivery.State
	// OlderThan selects jobs created before this time.
	OlderThan time.Time
	// NewerThan selects jobs created after this time.
	NewerThan time.Time
	// Limit bounds how many jobs are returned or changed, oldest first.
	// 0 means no limit.
	Limit int
}

// IsZero reports whether f selects every job.
func (f Filter) IsZero() bool {
	return f.Key == "" && f.App == "" && f.State == "" && f.OlderThan.IsZero() && f.NewerThan.IsZero() && f.Limit == 0
}

// match reports whether the job with these fields passes f. Limit is
// applied by the caller.
func (f Filter) match(key, app string, state delivery.State, created time.Time) bool {
	if f.Key != "" && f.Key != key {
		return false
	}
	if f.App != "" && f.App != app {
		return false
	}
	if f.State != "" && f.State != state {
		return false
	}
	if !f.OlderThan.IsZero() && !created.Before(f.OlderThan) {
		return false
	}
	if !f.NewerThan.IsZero() && !created.After(f.NewerThan) {
		return false
	}
	return true
}

// FilterError is returned for a Filter that a store cannot apply.
type FilterError struct{ msg string }

func (e *FilterError) Error() string { return e.msg }

func filterErrorf(format string, args ...any) error {
	return &FilterError{msg: fmt.Sprintf(format, args...)}
}

// validate rejects a filter that no store can apply.
func (f Filter) validate() error {
	if f.Limit < 0 {
		return filterErrorf("invalid filter limit %d: use 0 for no limit or a positive number", f.Limit)
	}
	if f.State != "" && !validState(f.State) {
		return filterErrorf("invalid filter state %q: use pending, delivered or dead", f.State)
	}
	return nil
}

// validateRetry rejects a filter that selects only delivered jobs, which
// Retry never changes.
func (f Filter) validateRetry() error {
	if err := f.validate(); err != nil {
		return err
	}
	if f.State == delivery.StateDelivered {
		return filterErrorf("invalid retry of delivered jobs: only dead and pending jobs can be retried")
	}
	return nil
}

// DueQuery selects the due jobs that Store.Schedule returns.
type DueQuery struct {
	// Now is the time a job must be due by (NextAt <= Now).
	Now time.Time
	// Limit bounds the jobs returned overall. It must be positive.
	Limit int
	// AppLimit returns how many jobs of app may be returned; 0 or less
	// skips the application. Nil allows every application up to Limit.
	AppLimit func(app string) int
	// Skip reports whether the job with key must be left out, for example
	// because it is in flight. Nil skips none.
	Skip func(key string) bool
}

func validState(s delivery.State) bool {
	switch s {
	case delivery.StatePending, delivery.StateDelivered, delivery.StateDead:
		return true
	}
	return false
}

// validateJob checks the fields a store needs and returns the state the
// job is stored in.
func validateJob(j *delivery.Job) (delivery.State, error) {
	if j == nil {
		return "", errors.New("invalid job: nil")
	}
	if j.Key == "" {
		return "", fmt.Errorf("invalid job of app %q (call %s): the key is empty", j.App, j.CallID)
	}
	if j.App == "" {
		return "", fmt.Errorf("invalid job %s: the app is empty", j.Key)
	}
	state := j.State
	if state == "" {
		state = delivery.StatePending
	}
	if !validState(state) {
		return "", fmt.Errorf("invalid job %s: unknown state %q", j.Key, j.State)
	}
	return state, nil
}

// cloneJob returns a deep copy of j.
func cloneJob(j *delivery.Job) *delivery.Job {
	if j == nil {
		return nil
	}
	c := *j
	if j.Missing != nil {
		c.Missing = append([]string(nil), j.Missing...)
	}
	if j.Request != nil {
		r := *j.Request
		if r.Header != nil {
			r.Header = append([]delivery.Field(nil), r.Header...)
		}
		if r.Body != nil {
			r.Body = append([]byte(nil), r.Body...)
		}
		c.Request = &r
	}
	if j.SOAP != nil {
		s := *j.SOAP
		if s.Params != nil {
			s.Params = append([]delivery.Field(nil), s.Params...)
		}
		c.SOAP = &s
	}
	return &c
}
