package spool

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"slices"
	"sync"
	"time"

	"github.com/postcall/postcall/delivery"
)

// MemoryStore is a Store that keeps jobs in memory. It is the reference
// implementation of the Store contract and serves tests; its jobs are lost
// when the process ends.
type MemoryStore struct {
	mu     sync.Mutex
	closed bool
	now    func() time.Time
	jobs   map[string]*delivery.Job
	// due holds, per application, the pending jobs sorted by NextAt and key.
	due map[string][]dueEntry
}

var _ Store = (*MemoryStore)(nil)

// NewMemory returns an empty MemoryStore that uses time.Now for Retry.
func NewMemory() *MemoryStore {
	return &MemoryStore{
		now:  time.Now,
		jobs: make(map[string]*delivery.Job),
		due:  make(map[string][]dueEntry),
	}
}

// SetNow sets the clock that Retry uses for NextAt and UpdatedAt.
func (m *MemoryStore) SetNow(now func() time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = now
}

func (m *MemoryStore) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	return nil
}

func (m *MemoryStore) indexAdd(j *delivery.Job) {
	if j.State != delivery.StatePending {
		return
	}
	e := dueEntry{at: timeNanos(j.NextAt), key: j.Key}
	list := m.due[j.App]
	i, _ := slices.BinarySearchFunc(list, e, compareDue)
	m.due[j.App] = slices.Insert(list, i, e)
}

func (m *MemoryStore) indexRemove(j *delivery.Job) {
	if j.State != delivery.StatePending {
		return
	}
	e := dueEntry{at: timeNanos(j.NextAt), key: j.Key}
	list := m.due[j.App]
	i, found := slices.BinarySearchFunc(list, e, compareDue)
	if !found {
		return
	}
	list = slices.Delete(list, i, i+1)
	if len(list) == 0 {
		delete(m.due, j.App)
		return
	}
	m.due[j.App] = list
}

// Add implements Store.
func (m *MemoryStore) Add(ctx context.Context, jobs []*delivery.Job) ([]bool, error) {
	return m.Write(ctx, jobs, nil)
}

// Write implements BatchWriter.
func (m *MemoryStore) Write(ctx context.Context, add, update []*delivery.Job) ([]bool, error) {
	states := make([]delivery.State, len(add))
	for i, j := range add {
		state, err := validateJob(j)
		if err != nil {
			return nil, err
		}
		states[i] = state
	}
	for _, j := range update {
		if _, err := validateJob(j); err != nil {
			return nil, err
		}
	}
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()

	added := make([]bool, len(add))
	for i, j := range add {
		if _, ok := m.jobs[j.Key]; ok {
			continue
		}
		c := cloneJob(j)
		c.State = states[i]
		m.jobs[c.Key] = c
		m.indexAdd(c)
		added[i] = true
	}
	m.updateLocked(update)
	return added, nil
}

// Due implements Store.
func (m *MemoryStore) Due(ctx context.Context, now time.Time, limit int) ([]*delivery.Job, error) {
	if limit <= 0 {
		return nil, nil
	}
	jobs, _, _, err := m.Schedule(ctx, DueQuery{Now: now, Limit: limit})
	return jobs, err
}

// Schedule implements Store.
func (m *MemoryStore) Schedule(ctx context.Context, q DueQuery) ([]*delivery.Job, time.Time, bool, error) {
	if q.Limit <= 0 {
		return nil, time.Time{}, false, fmt.Errorf("invalid due query limit %d: it must be positive", q.Limit)
	}
	if err := m.lock(ctx); err != nil {
		return nil, time.Time{}, false, err
	}
	defer m.mu.Unlock()

	sel := newDueSelector(q)
	for app, list := range m.due {
		sel.addApp(app, entriesOf(list))
	}
	picked, next, ok := sel.result()
	jobs := make([]*delivery.Job, len(picked))
	for i, e := range picked {
		jobs[i] = cloneJob(m.jobs[e.key])
	}
	return jobs, next, ok, nil
}

func entriesOf(list []dueEntry) iter.Seq2[int64, string] {
	return func(yield func(int64, string) bool) {
		for _, e := range list {
			if !yield(e.at, e.key) {
				return
			}
		}
	}
}

// NextDue implements Store.
func (m *MemoryStore) NextDue(ctx context.Context) (time.Time, bool, error) {
	if err := m.lock(ctx); err != nil {
		return time.Time{}, false, err
	}
	defer m.mu.Unlock()

	var first *delivery.Job
	for _, list := range m.due {
		j := m.jobs[list[0].key]
		if first == nil || j.NextAt.Before(first.NextAt) {
			first = j
		}
	}
	if first == nil {
		return time.Time{}, false, nil
	}
	return first.NextAt, true, nil
}

// Update implements Store.
func (m *MemoryStore) Update(ctx context.Context, jobs []*delivery.Job) error {
	_, err := m.Write(ctx, nil, jobs)
	return err
}

func (m *MemoryStore) updateLocked(jobs []*delivery.Job) {
	for _, j := range jobs {
		stored, ok := m.jobs[j.Key]
		if !ok {
			continue
		}
		m.indexRemove(stored)
		r := recordOf(stored, stored.State).withDelivery(j)
		if r.State == "" {
			r.State = delivery.StatePending
		}
		r.apply(stored)
		m.indexAdd(stored)
	}
}

// Get implements Store.
func (m *MemoryStore) Get(ctx context.Context, key string) (*delivery.Job, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()

	j, ok := m.jobs[key]
	if !ok {
		return nil, fmt.Errorf("job %q: %w", key, ErrNotFound)
	}
	return cloneJob(j), nil
}

// selectLocked returns the stored jobs that f selects, oldest first.
func (m *MemoryStore) selectLocked(f Filter, keep func(*delivery.Job) bool) []*delivery.Job {
	var out []*delivery.Job
	for _, j := range m.jobs {
		if f.match(j.Key, j.App, j.State, j.CreatedAt) && keep(j) {
			out = append(out, j)
		}
	}
	slices.SortFunc(out, compareCreated)
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out
}

func compareCreated(a, b *delivery.Job) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.Key, b.Key)
}

func anyJob(*delivery.Job) bool { return true }

// List implements Store.
func (m *MemoryStore) List(ctx context.Context, f Filter) ([]*delivery.Job, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()

	selected := m.selectLocked(f, anyJob)
	out := make([]*delivery.Job, len(selected))
	for i, j := range selected {
		out[i] = cloneJob(j)
	}
	return out, nil
}

// Retry implements Store.
func (m *MemoryStore) Retry(ctx context.Context, f Filter) (int, error) {
	if err := f.validateRetry(); err != nil {
		return 0, err
	}
	if err := m.lock(ctx); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()

	now := m.now()
	selected := m.selectLocked(f, func(j *delivery.Job) bool { return j.State != delivery.StateDelivered })
	for _, j := range selected {
		m.indexRemove(j)
		j.State = delivery.StatePending
		j.NextAt = now
		j.UpdatedAt = now
		m.indexAdd(j)
	}
	return len(selected), nil
}

// Purge implements Store.
func (m *MemoryStore) Purge(ctx context.Context, f Filter) (int, error) {
	if err := f.validate(); err != nil {
		return 0, err
	}
	if err := m.lock(ctx); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()

	selected := m.selectLocked(f, anyJob)
	for _, j := range selected {
		m.indexRemove(j)
		delete(m.jobs, j.Key)
	}
	return len(selected), nil
}

// Counts implements Store.
func (m *MemoryStore) Counts(ctx context.Context) (map[string]map[delivery.State]int, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()

	out := make(map[string]map[delivery.State]int)
	for _, j := range m.jobs {
		if out[j.App] == nil {
			out[j.App] = make(map[delivery.State]int)
		}
		out[j.App][j.State]++
	}
	return out, nil
}

// Compact implements Store.
func (m *MemoryStore) Compact(ctx context.Context, olderThan time.Time) (int, error) {
	if err := m.lock(ctx); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()

	n := 0
	for key, j := range m.jobs {
		if j.State == delivery.StateDelivered && j.UpdatedAt.Before(olderThan) {
			delete(m.jobs, key)
			n++
		}
	}
	return n, nil
}

// Close implements Store. It drops every job.
func (m *MemoryStore) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.jobs = nil
	m.due = nil
	return nil
}
