package spool

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/postcall/postcall/delivery"
)

// writeOp is one caller's change, run in one transaction with others. fn may
// run more than once (when another change in the same batch fails), so it
// must set its results from scratch each time.
type writeOp struct {
	fn   func(tx *bolt.Tx) error
	done chan error
}

// committer is the only writer of a bolt file. It takes every change that
// is waiting when the previous commit ends and applies them in one
// transaction, so concurrent callers share one fsync (group commit). While
// the store is idle a change is committed at once, with no added delay.
type committer struct {
	db       *bolt.DB
	path     string
	maxBatch int
	ops      chan *writeOp

	mu       sync.RWMutex
	closed   bool
	finished chan struct{}
}

func newCommitter(db *bolt.DB, path string, maxBatch int) *committer {
	c := &committer{
		db:       db,
		path:     path,
		maxBatch: maxBatch,
		ops:      make(chan *writeOp, maxBatch),
		finished: make(chan struct{}),
	}
	go c.run()
	return c
}

func (c *committer) isClosed() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.closed
}

// close stops taking changes, waits until the queued ones are committed,
// and reports whether this call closed it.
func (c *committer) close() bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.closed = true
	close(c.ops)
	c.mu.Unlock()
	<-c.finished
	return true
}

// write queues fn and waits for its commit. The caller's context bounds
// only the wait for a place in the queue: once queued, the change is
// committed or fails with the batch.
func (c *committer) write(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	op := &writeOp{fn: fn, done: make(chan error, 1)}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return ErrClosed
	}
	select {
	case c.ops <- op:
	case <-ctx.Done():
		c.mu.RUnlock()
		return ctx.Err()
	}
	c.mu.RUnlock()
	return <-op.done
}

func (c *committer) run() {
	defer close(c.finished)
	batch := make([]*writeOp, 0, c.maxBatch)
	for op := range c.ops {
		batch = append(batch[:0], op)
	gather:
		for len(batch) < c.maxBatch {
			select {
			case more, ok := <-c.ops:
				if !ok {
					break gather
				}
				batch = append(batch, more)
			default:
				break gather
			}
		}
		c.commit(batch)
	}
}

// opError marks an error that one change returned, as opposed to an error
// of the transaction itself.
type opError struct{ err error }

func (e opError) Error() string { return e.err.Error() }

// commit applies batch in one transaction. A change that returns an error
// gets that error and the others are applied again without it.
func (c *committer) commit(batch []*writeOp) {
	for len(batch) > 0 {
		failed := -1
		err := c.db.Update(func(tx *bolt.Tx) error {
			for i, op := range batch {
				if err := op.fn(tx); err != nil {
					failed = i
					return opError{err}
				}
			}
			return nil
		})
		if failed >= 0 {
			batch[failed].done <- err.(opError).err
			batch = append(batch[:failed], batch[failed+1:]...)
			continue
		}
		if err != nil {
			err = fmt.Errorf("write spool %s: %w", c.path, err)
		}
		for _, op := range batch {
			op.done <- err
		}
		return
	}
}

// encoded is a job prepared for Add outside the transaction.
type encoded struct {
	key    []byte
	job    []byte
	record []byte
	rec    record
}

// Add implements Store. It encodes the jobs before it queues the write, so
// the common transaction does only the lookups and puts.
func (s *BoltStore) Add(ctx context.Context, jobs []*delivery.Job) ([]bool, error) {
	return s.Write(ctx, jobs, nil)
}

// Update implements Store.
func (s *BoltStore) Update(ctx context.Context, jobs []*delivery.Job) error {
	_, err := s.Write(ctx, nil, jobs)
	return err
}

// Write implements BatchWriter: it adds one set of jobs and updates the
// delivery records of another in one transaction.
func (s *BoltStore) Write(ctx context.Context, add, update []*delivery.Job) ([]bool, error) {
	prepared, err := prepareAdds(add)
	if err != nil {
		return nil, err
	}
	for _, j := range update {
		if _, err := validateJob(j); err != nil {
			return nil, err
		}
	}

	added := make([]bool, len(add))
	err = s.w.write(ctx, func(tx *bolt.Tx) error {
		if err := s.applyAdds(tx, prepared, added); err != nil {
			return err
		}
		return s.applyUpdates(tx, update)
	})
	if err != nil {
		return nil, err
	}
	return added, nil
}

func prepareAdds(jobs []*delivery.Job) ([]encoded, error) {
	prepared := make([]encoded, len(jobs))
	for i, j := range jobs {
		state, err := validateJob(j)
		if err != nil {
			return nil, err
		}
		c := cloneJob(j)
		c.State = state
		rec := recordOf(c, state)
		jv, err := encodeJob(c)
		if err != nil {
			return nil, fmt.Errorf("encode job %s: %w", j.Key, err)
		}
		rv, err := encodeRecord(&rec)
		if err != nil {
			return nil, fmt.Errorf("encode delivery record of job %s: %w", j.Key, err)
		}
		prepared[i] = encoded{key: []byte(j.Key), job: jv, record: rv, rec: rec}
	}
	return prepared, nil
}

// applyAdds stores the prepared jobs whose keys are new and sets added.
func (s *BoltStore) applyAdds(tx *bolt.Tx, prepared []encoded, added []bool) error {
	jobsB, recordsB := tx.Bucket(bucketJobs), tx.Bucket(bucketRecords)
	for i, e := range prepared {
		added[i] = false
		if recordsB.Get(e.key) != nil {
			continue
		}
		if err := jobsB.Put(e.key, e.job); err != nil {
			return err
		}
		if err := recordsB.Put(e.key, e.record); err != nil {
			return err
		}
		if err := indexPut(tx, e.key, e.rec); err != nil {
			return err
		}
		added[i] = true
	}
	return nil
}

// applyUpdates writes the delivery records of jobs that are still stored.
func (s *BoltStore) applyUpdates(tx *bolt.Tx, jobs []*delivery.Job) error {
	for _, j := range jobs {
		key := []byte(j.Key)
		old, ok, err := s.readRecord(tx, key)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		next := old.withDelivery(j)
		if next.State == "" {
			next.State = delivery.StatePending
		}
		if err := s.putRecord(tx, key, old, next); err != nil {
			return err
		}
	}
	return nil
}

// putRecord replaces the delivery record old of key with next and moves
// the job between indexes and counters.
func (s *BoltStore) putRecord(tx *bolt.Tx, key []byte, old, next record) error {
	v, err := encodeRecord(&next)
	if err != nil {
		return fmt.Errorf("encode delivery record of job %s: %w", key, err)
	}
	if err := indexDelete(tx, key, old); err != nil {
		return err
	}
	if err := tx.Bucket(bucketRecords).Put(key, v); err != nil {
		return err
	}
	return indexPut(tx, key, next)
}

// indexPut adds the job to the index of its state and counts it.
func indexPut(tx *bolt.Tx, key []byte, r record) error {
	switch r.State {
	case delivery.StatePending:
		b, err := tx.Bucket(bucketDue).CreateBucketIfNotExists([]byte(r.App))
		if err != nil {
			return err
		}
		if err := b.Put(indexKey(r.NextAt, string(key)), []byte{}); err != nil {
			return err
		}
	case delivery.StateDelivered:
		if err := tx.Bucket(bucketDelivered).Put(indexKey(r.UpdatedAt, string(key)), []byte{}); err != nil {
			return err
		}
	}
	return addCount(tx, r.App, r.State, 1)
}

// indexDelete removes the job from the index of its state and uncounts it.
func indexDelete(tx *bolt.Tx, key []byte, r record) error {
	switch r.State {
	case delivery.StatePending:
		due := tx.Bucket(bucketDue)
		if b := due.Bucket([]byte(r.App)); b != nil {
			if err := b.Delete(indexKey(r.NextAt, string(key))); err != nil {
				return err
			}
			if k, _ := b.Cursor().First(); k == nil {
				if err := due.DeleteBucket([]byte(r.App)); err != nil {
					return err
				}
			}
		}
	case delivery.StateDelivered:
		if err := tx.Bucket(bucketDelivered).Delete(indexKey(r.UpdatedAt, string(key))); err != nil {
			return err
		}
	}
	return addCount(tx, r.App, r.State, -1)
}

func addCount(tx *bolt.Tx, app string, state delivery.State, delta int64) error {
	b := tx.Bucket(bucketCounts)
	k := countKey(app, state)
	var n int64
	if v := b.Get(k); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n += delta
	if n <= 0 {
		return b.Delete(k)
	}
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, uint64(n))
	return b.Put(k, v)
}

// deleteJob removes a job, its record and its index entry.
func (s *BoltStore) deleteJob(tx *bolt.Tx, key []byte, r record) error {
	if err := indexDelete(tx, key, r); err != nil {
		return err
	}
	if err := tx.Bucket(bucketRecords).Delete(key); err != nil {
		return err
	}
	return tx.Bucket(bucketJobs).Delete(key)
}

// Retry implements Store.
func (s *BoltStore) Retry(ctx context.Context, f Filter) (int, error) {
	if err := f.validateRetry(); err != nil {
		return 0, err
	}
	retryable := func(r record) bool { return r.State != delivery.StateDelivered }
	return s.changeSelected(ctx, f, retryable, func(tx *bolt.Tx, key []byte, r record) error {
		now := s.now()
		next := r
		next.State = delivery.StatePending
		next.NextAt = now
		next.UpdatedAt = now
		return s.putRecord(tx, key, r, next)
	})
}

// Purge implements Store.
func (s *BoltStore) Purge(ctx context.Context, f Filter) (int, error) {
	if err := f.validate(); err != nil {
		return 0, err
	}
	return s.changeSelected(ctx, f, anyRecord, s.deleteJob)
}

// changeSelected selects keys in a read transaction, so the scan does not
// hold up other writers, then applies change to each one that still
// matches in a write transaction.
func (s *BoltStore) changeSelected(ctx context.Context, f Filter, keep func(record) bool, change func(tx *bolt.Tx, key []byte, r record) error) (int, error) {
	var keys []selected
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		keys, err = s.selectKeys(tx, f, keep)
		return err
	})
	if err != nil || len(keys) == 0 {
		return 0, err
	}

	changed := 0
	err = s.w.write(ctx, func(tx *bolt.Tx) error {
		changed = 0
		for _, sel := range keys {
			key := []byte(sel.key)
			r, ok, err := s.readRecord(tx, key)
			if err != nil {
				return err
			}
			if !ok || !f.match(sel.key, r.App, r.State, r.CreatedAt) || !keep(r) {
				continue
			}
			if err := change(tx, key, r); err != nil {
				return err
			}
			changed++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return changed, nil
}

// compactChunk bounds the jobs one Compact transaction deletes, so a large
// compaction does not hold up Add for long.
const compactChunk = 5000

// Compact implements Store.
func (s *BoltStore) Compact(ctx context.Context, olderThan time.Time) (int, error) {
	limit := timeNanos(olderThan)
	total := 0
	for {
		n := 0
		err := s.w.write(ctx, func(tx *bolt.Tx) error {
			n = 0
			var stale, keys [][]byte
			c := tx.Bucket(bucketDelivered).Cursor()
			for k, _ := c.First(); k != nil && len(keys) < compactChunk; k, _ = c.Next() {
				at, _, ok := parseIndexKey(k)
				if !ok || at >= limit {
					break
				}
				keys = append(keys, append([]byte(nil), k...))
			}
			for _, k := range keys {
				key := k[8:]
				r, ok, err := s.readRecord(tx, key)
				if err != nil {
					return err
				}
				if !ok || r.State != delivery.StateDelivered {
					// An entry left behind by an older record: drop it only.
					stale = append(stale, k)
					continue
				}
				if err := s.deleteJob(tx, key, r); err != nil {
					return err
				}
				n++
			}
			for _, k := range stale {
				if err := tx.Bucket(bucketDelivered).Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		total += n
		if err != nil {
			return total, err
		}
		if n < compactChunk {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}
