package spool

import (
	"cmp"
	"iter"
	"slices"
	"time"
)

// dueEntry is one pending job in an application's due index.
type dueEntry struct {
	at  int64 // NextAt, as timeNanos returns it
	key string
}

func compareDue(a, b dueEntry) int {
	if c := cmp.Compare(a.at, b.at); c != 0 {
		return c
	}
	return cmp.Compare(a.key, b.key)
}

// dueSelector applies a DueQuery to the per-application due indexes of a
// store, which are fed to it one application at a time. It reads index
// entries only, so a store decodes just the jobs it finally returns.
type dueSelector struct {
	query   DueQuery
	now     int64
	picked  []dueEntry
	next    int64
	hasNext bool
}

func newDueSelector(q DueQuery) *dueSelector {
	return &dueSelector{query: q, now: timeNanos(q.Now)}
}

func (s *dueSelector) noteNext(at int64) {
	if !s.hasNext || at < s.next {
		s.next, s.hasNext = at, true
	}
}

// addApp reads the due index of app, in order, until it finds a job that
// is not due or the application's limit is reached.
func (s *dueSelector) addApp(app string, entries iter.Seq2[int64, string]) {
	limit := s.query.Limit
	if s.query.AppLimit != nil {
		limit = min(limit, s.query.AppLimit(app))
	}
	if limit <= 0 {
		return
	}
	taken := 0
	for at, key := range entries {
		if s.query.Skip != nil && s.query.Skip(key) {
			continue
		}
		if at > s.now || taken == limit {
			s.noteNext(at)
			return
		}
		s.picked = append(s.picked, dueEntry{at: at, key: key})
		taken++
	}
}

// result returns the picked entries, earliest first and at most Limit, and
// the earliest entry left behind.
func (s *dueSelector) result() ([]dueEntry, time.Time, bool) {
	slices.SortFunc(s.picked, compareDue)
	if len(s.picked) > s.query.Limit {
		s.noteNext(s.picked[s.query.Limit].at)
		s.picked = s.picked[:s.query.Limit]
	}
	if !s.hasNext {
		return s.picked, time.Time{}, false
	}
	return s.picked, nanosTime(s.next), true
}

// nanosTime is the inverse of timeNanos for the times an index can hold.
func nanosTime(n int64) time.Time {
	return time.Unix(0, n).UTC()
}
