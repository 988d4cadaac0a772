// Package spooltest holds the test suite that every spool.Store
// implementation must pass. A new implementation runs Run and, when it keeps
// jobs across a restart, RunDurable from its own tests.
//
// The suite only uses the Store interface and files in t.TempDir(); it
// never opens a network connection.
package spooltest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/spool"
)

// base is the creation time of the suite's jobs. It is in the past so that
// a store's own clock (used by Retry) is always later.
var base = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// NewJob returns a pending REST job with a request that exercises every
// stored field.
func NewJob(key, app string, created time.Time) *delivery.Job {
	return &delivery.Job{
		Key:         key,
		App:         app,
		CallID:      "call-" + key,
		CoreUUID:    "c0c0c0c0-0000-4000-8000-000000000001",
		Kind:        delivery.KindREST,
		CreatedAt:   created,
		Termination: "caller_hangup",
		Missing:     []string{"request.data.unset"},
		Request: &delivery.Request{
			Method: "POST",
			URL:    "https://example.com/hook/" + key + "?ani=%2B15550100",
			Header: []delivery.Field{{Name: "X-Account", Value: "42"}, {Name: "X-Account", Value: "43"}},
			Body:   []byte("ani=%2B1555010001&name=Test+Caller"),
		},
		State:     delivery.StatePending,
		NextAt:    created,
		UpdatedAt: created,
	}
}

// Run runs the Store contract tests. newStore must return a new, empty
// store for each subtest; Run closes it.
func Run(t *testing.T, newStore func(t *testing.T) spool.Store) {
	t.Helper()
	open := func(t *testing.T) spool.Store {
		s := newStore(t)
		t.Cleanup(func() { s.Close() })
		return s
	}
	t.Run("AddAndGet", func(t *testing.T) { testAddAndGet(t, open(t)) })
	t.Run("AddRejectsInvalidJobs", func(t *testing.T) { testAddInvalid(t, open(t)) })
	t.Run("AddDedup", func(t *testing.T) { testAddDedup(t, open(t)) })
	t.Run("DueOrderAndLimit", func(t *testing.T) { testDueOrder(t, open(t)) })
	t.Run("NextDue", func(t *testing.T) { testNextDue(t, open(t)) })
	t.Run("ScheduleLimitsAndSkips", func(t *testing.T) { testSchedule(t, open(t)) })
	t.Run("Update", func(t *testing.T) { testUpdate(t, open(t)) })
	t.Run("Retry", func(t *testing.T) { testRetry(t, open(t)) })
	t.Run("Purge", func(t *testing.T) { testPurge(t, open(t)) })
	t.Run("Counts", func(t *testing.T) { testCounts(t, open(t)) })
	t.Run("Compact", func(t *testing.T) { testCompact(t, open(t)) })
	t.Run("ListFilters", func(t *testing.T) { testListFilters(t, open(t)) })
	t.Run("ConcurrentAdd", func(t *testing.T) { testConcurrentAdd(t, open(t)) })
	t.Run("BatchWrite", func(t *testing.T) { testBatchWrite(t, open(t)) })
	t.Run("ClosedStore", func(t *testing.T) { testClosed(t, newStore(t)) })
}

func mustAdd(t *testing.T, s spool.Store, jobs ...*delivery.Job) []bool {
	t.Helper()
	added, err := s.Add(context.Background(), jobs)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	if len(added) != len(jobs) {
		t.Fatalf("Add returned %d results for %d jobs", len(added), len(jobs))
	}
	return added
}

func mustUpdate(t *testing.T, s spool.Store, jobs ...*delivery.Job) {
	t.Helper()
	if err := s.Update(context.Background(), jobs); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func mustGet(t *testing.T, s spool.Store, key string) *delivery.Job {
	t.Helper()
	j, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return j
}

func mustList(t *testing.T, s spool.Store, f spool.Filter) []*delivery.Job {
	t.Helper()
	jobs, err := s.List(context.Background(), f)
	if err != nil {
		t.Fatalf("List(%+v): %v", f, err)
	}
	return jobs
}

func keysOf(jobs []*delivery.Job) []string {
	keys := make([]string, len(jobs))
	for i, j := range jobs {
		keys[i] = j.Key
	}
	return keys
}

// withRecord returns a copy of j in state with the given next attempt.
func withRecord(j *delivery.Job, state delivery.State, attempts int, next time.Time) *delivery.Job {
	c := *j
	c.State = state
	c.Attempts = attempts
	c.NextAt = next
	c.UpdatedAt = next
	return &c
}

// CompareJobs returns a description of the first field in which got differs
// from want, or "" when they are equal. Times are compared with Equal.
func CompareJobs(got, want *delivery.Job) string {
	if got == nil || want == nil {
		if got != want {
			return fmt.Sprintf("got %v, want %v", got, want)
		}
		return ""
	}
	checks := []struct {
		name string
		same bool
		g, w any
	}{
		{"Key", got.Key == want.Key, got.Key, want.Key},
		{"App", got.App == want.App, got.App, want.App},
		{"CallID", got.CallID == want.CallID, got.CallID, want.CallID},
		{"CoreUUID", got.CoreUUID == want.CoreUUID, got.CoreUUID, want.CoreUUID},
		{"Kind", got.Kind == want.Kind, got.Kind, want.Kind},
		{"Private", got.Private == want.Private, got.Private, want.Private},
		{"CreatedAt", got.CreatedAt.Equal(want.CreatedAt), got.CreatedAt, want.CreatedAt},
		{"Termination", got.Termination == want.Termination, got.Termination, want.Termination},
		{"Missing", slices.Equal(got.Missing, want.Missing), got.Missing, want.Missing},
		{"Request", sameRequest(got.Request, want.Request), got.Request, want.Request},
		{"SOAP", sameSOAP(got.SOAP, want.SOAP), got.SOAP, want.SOAP},
		{"State", got.State == want.State, got.State, want.State},
		{"Attempts", got.Attempts == want.Attempts, got.Attempts, want.Attempts},
		{"NextAt", got.NextAt.Equal(want.NextAt), got.NextAt, want.NextAt},
		{"LastError", got.LastError == want.LastError, got.LastError, want.LastError},
		{"LastStatus", got.LastStatus == want.LastStatus, got.LastStatus, want.LastStatus},
		{"UpdatedAt", got.UpdatedAt.Equal(want.UpdatedAt), got.UpdatedAt, want.UpdatedAt},
	}
	for _, c := range checks {
		if !c.same {
			return fmt.Sprintf("job %s: %s is %v, want %v", want.Key, c.name, c.g, c.w)
		}
	}
	return ""
}

func sameRequest(a, b *delivery.Request) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Method == b.Method && a.URL == b.URL && slices.Equal(a.Header, b.Header) && string(a.Body) == string(b.Body)
}

func sameSOAP(a, b *delivery.SOAPCall) bool {
	if a == nil || b == nil {
		return a == b
	}
	return slices.Equal(a.Params, b.Params)
}

func testAddAndGet(t *testing.T, s spool.Store) {
	rest := NewJob("k1", "survey", base)
	soap := NewJob("k2", "crm", base.Add(time.Second))
	soap.Kind = delivery.KindSOAP
	soap.Request = nil
	soap.SOAP = &delivery.SOAPCall{Params: []delivery.Field{{Name: "b", Value: "2"}, {Name: "a", Value: "<1>"}}}
	soap.Private = true

	added := mustAdd(t, s, rest, soap)
	if !added[0] || !added[1] {
		t.Fatalf("Add reported %v for two new jobs, want [true true]", added)
	}
	for _, want := range []*delivery.Job{rest, soap} {
		if diff := CompareJobs(mustGet(t, s, want.Key), want); diff != "" {
			t.Error(diff)
		}
	}

	got := mustGet(t, s, "k1")
	got.Request.Header[0].Value = "changed"
	if again := mustGet(t, s, "k1"); again.Request.Header[0].Value != "42" {
		t.Errorf("changing a returned job changed the stored one: header is %q", again.Request.Header[0].Value)
	}

	_, err := s.Get(context.Background(), "unknown")
	if !errors.Is(err, spool.ErrNotFound) {
		t.Errorf("Get of an unknown key returned %v, want ErrNotFound", err)
	}
}

func testAddInvalid(t *testing.T, s spool.Store) {
	cases := []struct {
		name string
		job  *delivery.Job
	}{
		{"empty key", NewJob("", "survey", base)},
		{"empty app", NewJob("k1", "", base)},
		{"unknown state", withRecord(NewJob("k1", "survey", base), "sent", 0, base)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := s.Add(context.Background(), []*delivery.Job{c.job}); err == nil {
				t.Fatal("Add accepted an invalid job")
			}
		})
	}
	if jobs := mustList(t, s, spool.Filter{}); len(jobs) != 0 {
		t.Errorf("invalid jobs were stored: %v", keysOf(jobs))
	}
}

func testAddDedup(t *testing.T, s spool.Store) {
	first := NewJob("dup", "survey", base)
	if added := mustAdd(t, s, first); !added[0] {
		t.Fatal("first Add of a key reported it as not new")
	}

	repeat := NewJob("dup", "survey", base.Add(time.Minute))
	repeat.Request.URL = "https://example.com/other"
	if added := mustAdd(t, s, repeat); added[0] {
		t.Error("second Add of a key reported it as new")
	}
	if got := mustGet(t, s, "dup"); got.Request.URL != first.Request.URL {
		t.Errorf("second Add replaced the stored request: URL is %q", got.Request.URL)
	}

	inOneCall := mustAdd(t, s, NewJob("pair", "survey", base), NewJob("pair", "survey", base))
	if !slices.Equal(inOneCall, []bool{true, false}) {
		t.Errorf("Add of the same key twice in one call reported %v, want [true false]", inOneCall)
	}

	for _, state := range []delivery.State{delivery.StateDelivered, delivery.StateDead} {
		key := "done-" + string(state)
		mustAdd(t, s, NewJob(key, "survey", base))
		mustUpdate(t, s, withRecord(NewJob(key, "survey", base), state, 1, base))
		if added := mustAdd(t, s, NewJob(key, "survey", base)); added[0] {
			t.Errorf("Add of a key whose job is %s reported it as new", state)
		}
		if got := mustGet(t, s, key); got.State != state {
			t.Errorf("Add of a repeated key changed the state from %s to %s", state, got.State)
		}
	}
}

func testDueOrder(t *testing.T, s spool.Store) {
	now := base.Add(time.Hour)
	mustAdd(t, s,
		withRecord(NewJob("late", "a", base), delivery.StatePending, 0, now.Add(time.Second)),
		withRecord(NewJob("third", "b", base), delivery.StatePending, 0, now.Add(-time.Minute)),
		withRecord(NewJob("first", "a", base), delivery.StatePending, 0, now.Add(-time.Hour)),
		withRecord(NewJob("second", "c", base), delivery.StatePending, 0, now.Add(-30*time.Minute)),
		withRecord(NewJob("exact", "b", base), delivery.StatePending, 0, now),
		withRecord(NewJob("dead", "a", base), delivery.StateDead, 3, now.Add(-2*time.Hour)),
		withRecord(NewJob("delivered", "a", base), delivery.StateDelivered, 1, now.Add(-2*time.Hour)),
	)

	cases := []struct {
		name  string
		limit int
		want  []string
	}{
		{"all due", 10, []string{"first", "second", "third", "exact"}},
		{"limit", 2, []string{"first", "second"}},
		{"zero limit", 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			jobs, err := s.Due(context.Background(), now, c.limit)
			if err != nil {
				t.Fatalf("Due: %v", err)
			}
			if got := keysOf(jobs); !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
				t.Errorf("Due(now, %d) returned %v, want %v", c.limit, got, c.want)
			}
		})
	}

	jobs, err := s.Due(context.Background(), now, 1)
	if err != nil {
		t.Fatalf("Due: %v", err)
	}
	if len(jobs) != 1 || jobs[0].Request == nil || jobs[0].Request.URL == "" {
		t.Fatalf("Due returned %v, want the whole first job with its request", jobs)
	}
}

func testNextDue(t *testing.T, s spool.Store) {
	ctx := context.Background()
	if _, ok, err := s.NextDue(ctx); err != nil || ok {
		t.Fatalf("NextDue of an empty store returned ok=%v err=%v, want false and nil", ok, err)
	}
	earliest := base.Add(5 * time.Minute)
	mustAdd(t, s,
		withRecord(NewJob("dead", "a", base), delivery.StateDead, 1, base),
		withRecord(NewJob("later", "a", base), delivery.StatePending, 0, base.Add(time.Hour)),
		withRecord(NewJob("earliest", "b", base), delivery.StatePending, 0, earliest),
	)
	next, ok, err := s.NextDue(ctx)
	if err != nil || !ok {
		t.Fatalf("NextDue returned ok=%v err=%v", ok, err)
	}
	if !next.Equal(earliest) {
		t.Errorf("NextDue returned %v, want %v (dead jobs do not count)", next, earliest)
	}

	mustUpdate(t, s, withRecord(NewJob("earliest", "b", base), delivery.StateDelivered, 1, earliest))
	next, _, _ = s.NextDue(ctx)
	if !next.Equal(base.Add(time.Hour)) {
		t.Errorf("NextDue after delivery returned %v, want %v", next, base.Add(time.Hour))
	}
}

func testSchedule(t *testing.T, s spool.Store) {
	now := base.Add(time.Hour)
	mustAdd(t, s,
		withRecord(NewJob("a1", "a", base), delivery.StatePending, 0, now.Add(-3*time.Minute)),
		withRecord(NewJob("a2", "a", base), delivery.StatePending, 0, now.Add(-2*time.Minute)),
		withRecord(NewJob("a3", "a", base), delivery.StatePending, 0, now.Add(-time.Minute)),
		withRecord(NewJob("b1", "b", base), delivery.StatePending, 0, now.Add(-90*time.Second)),
		withRecord(NewJob("b2", "b", base), delivery.StatePending, 0, now.Add(10*time.Minute)),
		withRecord(NewJob("c1", "c", base), delivery.StatePending, 0, now.Add(5*time.Minute)),
	)
	limits := func(m map[string]int) func(string) int {
		return func(app string) int { return m[app] }
	}
	skip := func(keys ...string) func(string) bool {
		return func(k string) bool { return slices.Contains(keys, k) }
	}

	cases := []struct {
		name     string
		query    spool.DueQuery
		want     []string
		wantNext time.Time
		wantOK   bool
	}{
		{
			name:     "no limits",
			query:    spool.DueQuery{Now: now, Limit: 10},
			want:     []string{"a1", "a2", "b1", "a3"},
			wantNext: now.Add(5 * time.Minute), wantOK: true,
		},
		{
			name:     "app at its limit is skipped",
			query:    spool.DueQuery{Now: now, Limit: 10, AppLimit: limits(map[string]int{"b": 5, "c": 5})},
			want:     []string{"b1"},
			wantNext: now.Add(5 * time.Minute), wantOK: true,
		},
		{
			name:     "app limit leaves due jobs behind",
			query:    spool.DueQuery{Now: now, Limit: 10, AppLimit: limits(map[string]int{"a": 1, "b": 5, "c": 5})},
			want:     []string{"a1", "b1"},
			wantNext: now.Add(-2 * time.Minute), wantOK: true,
		},
		{
			name:     "overall limit leaves due jobs behind",
			query:    spool.DueQuery{Now: now, Limit: 2},
			want:     []string{"a1", "a2"},
			wantNext: now.Add(-90 * time.Second), wantOK: true,
		},
		{
			name:     "skipped keys",
			query:    spool.DueQuery{Now: now, Limit: 10, Skip: skip("a1", "b1")},
			want:     []string{"a2", "a3"},
			wantNext: now.Add(5 * time.Minute), wantOK: true,
		},
		{
			name:     "only skipped apps have due jobs",
			query:    spool.DueQuery{Now: now, Limit: 10, AppLimit: limits(map[string]int{"c": 1})},
			want:     nil,
			wantNext: now.Add(5 * time.Minute), wantOK: true,
		},
		{
			name:   "nothing left",
			query:  spool.DueQuery{Now: now, Limit: 10, AppLimit: limits(map[string]int{"a": 3})},
			want:   []string{"a1", "a2", "a3"},
			wantOK: false,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			jobs, next, ok, err := s.Schedule(context.Background(), c.query)
			if err != nil {
				t.Fatalf("Schedule: %v", err)
			}
			if got := keysOf(jobs); !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
				t.Errorf("Schedule returned %v, want %v", got, c.want)
			}
			if ok != c.wantOK {
				t.Fatalf("Schedule returned ok=%v, want %v", ok, c.wantOK)
			}
			if ok && !next.Equal(c.wantNext) {
				t.Errorf("Schedule returned next %v, want %v", next, c.wantNext)
			}
		})
	}

	if _, _, _, err := s.Schedule(context.Background(), spool.DueQuery{Now: now}); err == nil {
		t.Error("Schedule accepted a query without a limit")
	}
}

func testUpdate(t *testing.T, s spool.Store) {
	j := NewJob("k1", "survey", base)
	mustAdd(t, s, j)

	later := base.Add(10 * time.Minute)
	change := withRecord(NewJob("k1", "survey", base), delivery.StatePending, 2, later)
	change.LastError = "HTTP status 503"
	change.LastStatus = 503
	change.Request = nil
	change.CallID = "other"
	mustUpdate(t, s, change)

	want := withRecord(j, delivery.StatePending, 2, later)
	want.LastError, want.LastStatus = "HTTP status 503", 503
	if diff := CompareJobs(mustGet(t, s, "k1"), want); diff != "" {
		t.Errorf("after Update: %s", diff)
	}

	due, err := s.Due(context.Background(), base.Add(time.Minute), 10)
	if err != nil {
		t.Fatalf("Due: %v", err)
	}
	if len(due) != 0 {
		t.Errorf("a job moved to a later NextAt is still due: %v", keysOf(due))
	}
	due, _ = s.Due(context.Background(), later, 10)
	if !slices.Equal(keysOf(due), []string{"k1"}) {
		t.Errorf("Due at the new NextAt returned %v, want [k1]", keysOf(due))
	}

	delivered := withRecord(j, delivery.StateDelivered, 3, later.Add(time.Minute))
	delivered.LastStatus = 200
	mustUpdate(t, s, delivered)
	if due, _ := s.Due(context.Background(), later.Add(time.Hour), 10); len(due) != 0 {
		t.Errorf("a delivered job is still due: %v", keysOf(due))
	}

	mustUpdate(t, s, withRecord(NewJob("purged", "survey", base), delivery.StateDead, 1, base))
	if _, err := s.Get(context.Background(), "purged"); !errors.Is(err, spool.ErrNotFound) {
		t.Errorf("Update of a key that is not stored created it (Get returned %v)", err)
	}
}

func testRetry(t *testing.T, s spool.Store) {
	ctx := context.Background()
	dead := withRecord(NewJob("dead", "survey", base), delivery.StateDead, 5, base)
	dead.LastError = "HTTP status 404"
	mustAdd(t, s,
		dead,
		withRecord(NewJob("other-dead", "crm", base), delivery.StateDead, 5, base),
		withRecord(NewJob("delivered", "survey", base), delivery.StateDelivered, 1, base),
		withRecord(NewJob("waiting", "survey", base), delivery.StatePending, 2, base.Add(100*365*24*time.Hour)),
	)

	before := time.Now()
	n, err := s.Retry(ctx, spool.Filter{App: "survey"})
	if err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if n != 2 {
		t.Errorf("Retry changed %d jobs, want 2 (the dead and the pending job of survey)", n)
	}
	got := mustGet(t, s, "dead")
	if got.State != delivery.StatePending {
		t.Errorf("retried job is %s, want pending", got.State)
	}
	if got.Attempts != 5 || got.LastError != "HTTP status 404" {
		t.Errorf("Retry changed the history: attempts %d, last error %q", got.Attempts, got.LastError)
	}
	if got.NextAt.Before(before.Add(-time.Second)) || got.NextAt.After(time.Now().Add(time.Second)) {
		t.Errorf("retried job has NextAt %v, want about now", got.NextAt)
	}
	due, err := s.Due(ctx, time.Now().Add(time.Second), 10)
	if err != nil {
		t.Fatalf("Due: %v", err)
	}
	if keys := keysOf(due); !slices.Contains(keys, "dead") || !slices.Contains(keys, "waiting") {
		t.Errorf("Due after Retry returned %v, want dead and waiting", keys)
	}
	if got := mustGet(t, s, "delivered"); got.State != delivery.StateDelivered {
		t.Errorf("Retry changed a delivered job to %s", got.State)
	}
	if got := mustGet(t, s, "other-dead"); got.State != delivery.StateDead {
		t.Errorf("Retry of app survey changed a job of app crm to %s", got.State)
	}

	if _, err := s.Retry(ctx, spool.Filter{State: delivery.StateDelivered}); err == nil {
		t.Error("Retry of delivered jobs returned no error")
	}
	if n, err := s.Retry(ctx, spool.Filter{Key: "other-dead"}); err != nil || n != 1 {
		t.Errorf("Retry by key changed %d jobs (error %v), want 1", n, err)
	}
}

func testPurge(t *testing.T, s spool.Store) {
	ctx := context.Background()
	mustAdd(t, s,
		withRecord(NewJob("dead1", "survey", base), delivery.StateDead, 5, base),
		withRecord(NewJob("dead2", "crm", base), delivery.StateDead, 5, base),
		withRecord(NewJob("pending", "survey", base), delivery.StatePending, 0, base),
	)
	n, err := s.Purge(ctx, spool.Filter{State: delivery.StateDead, App: "survey"})
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if n != 1 {
		t.Errorf("Purge deleted %d jobs, want 1", n)
	}
	if _, err := s.Get(ctx, "dead1"); !errors.Is(err, spool.ErrNotFound) {
		t.Errorf("Get of a purged job returned %v, want ErrNotFound", err)
	}
	if added := mustAdd(t, s, NewJob("dead1", "survey", base)); !added[0] {
		t.Error("Add after Purge reported the key as known: the dedup record was kept")
	}

	n, err = s.Purge(ctx, spool.Filter{Key: "pending"})
	if err != nil || n != 1 {
		t.Fatalf("Purge by key deleted %d jobs (error %v), want 1", n, err)
	}
	if due, _ := s.Due(ctx, base.Add(time.Hour), 10); slices.Contains(keysOf(due), "pending") {
		t.Error("a purged pending job is still due")
	}
	if keys := keysOf(mustList(t, s, spool.Filter{})); !slices.Equal(keys, []string{"dead1", "dead2"}) {
		t.Errorf("after Purge the store lists %v, want [dead1 dead2]", keys)
	}
}

func testCounts(t *testing.T, s spool.Store) {
	mustAdd(t, s,
		NewJob("p1", "survey", base),
		NewJob("p2", "survey", base),
		NewJob("p3", "crm", base),
		withRecord(NewJob("d1", "survey", base), delivery.StateDead, 1, base),
	)
	mustUpdate(t, s, withRecord(NewJob("p2", "survey", base), delivery.StateDelivered, 1, base))
	if _, err := s.Purge(context.Background(), spool.Filter{Key: "p3"}); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	mustAdd(t, s, NewJob("p1", "survey", base))

	counts, err := s.Counts(context.Background())
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	want := map[string]map[delivery.State]int{
		"survey": {delivery.StatePending: 1, delivery.StateDelivered: 1, delivery.StateDead: 1},
	}
	if got := fmt.Sprint(normalizeCounts(counts)); got != fmt.Sprint(want) {
		t.Errorf("Counts returned %v, want %v", got, want)
	}
}

// normalizeCounts drops zero entries, which a store may or may not return.
func normalizeCounts(counts map[string]map[delivery.State]int) map[string]map[delivery.State]int {
	out := make(map[string]map[delivery.State]int)
	for app, states := range counts {
		for state, n := range states {
			if n == 0 {
				continue
			}
			if out[app] == nil {
				out[app] = make(map[delivery.State]int)
			}
			out[app][state] = n
		}
	}
	return out
}

func testCompact(t *testing.T, s spool.Store) {
	old := base.Add(-48 * time.Hour)
	recent := base.Add(-time.Hour)
	mustAdd(t, s,
		withRecord(NewJob("old-delivered", "survey", old), delivery.StateDelivered, 1, old),
		withRecord(NewJob("recent-delivered", "survey", old), delivery.StateDelivered, 1, recent),
		withRecord(NewJob("old-dead", "survey", old), delivery.StateDead, 9, old),
		withRecord(NewJob("old-pending", "survey", old), delivery.StatePending, 9, old),
	)
	n, err := s.Compact(context.Background(), base.Add(-24*time.Hour))
	if err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if n != 1 {
		t.Errorf("Compact deleted %d jobs, want 1", n)
	}
	keys := keysOf(mustList(t, s, spool.Filter{}))
	sort.Strings(keys)
	if want := []string{"old-dead", "old-pending", "recent-delivered"}; !slices.Equal(keys, want) {
		t.Errorf("after Compact the store lists %v, want %v", keys, want)
	}
	if added := mustAdd(t, s, NewJob("old-delivered", "survey", base)); !added[0] {
		t.Error("a compacted key is still known to Add")
	}
}

func testListFilters(t *testing.T, s spool.Store) {
	mustAdd(t, s,
		withRecord(NewJob("j3", "survey", base.Add(3*time.Hour)), delivery.StateDead, 1, base),
		withRecord(NewJob("j1", "survey", base.Add(1*time.Hour)), delivery.StatePending, 0, base),
		withRecord(NewJob("j2", "crm", base.Add(2*time.Hour)), delivery.StateDead, 1, base),
		withRecord(NewJob("j4", "crm", base.Add(4*time.Hour)), delivery.StateDelivered, 1, base),
	)
	cases := []struct {
		name   string
		filter spool.Filter
		want   []string
	}{
		{"all, oldest first", spool.Filter{}, []string{"j1", "j2", "j3", "j4"}},
		{"app", spool.Filter{App: "crm"}, []string{"j2", "j4"}},
		{"state", spool.Filter{State: delivery.StateDead}, []string{"j2", "j3"}},
		{"key", spool.Filter{Key: "j3"}, []string{"j3"}},
		{"unknown key", spool.Filter{Key: "nope"}, nil},
		{"older than", spool.Filter{OlderThan: base.Add(2 * time.Hour)}, []string{"j1"}},
		{"newer than", spool.Filter{NewerThan: base.Add(2 * time.Hour)}, []string{"j3", "j4"}},
		{"window", spool.Filter{NewerThan: base.Add(time.Hour), OlderThan: base.Add(4 * time.Hour)}, []string{"j2", "j3"}},
		{"limit keeps the oldest", spool.Filter{Limit: 2}, []string{"j1", "j2"}},
		{"combined", spool.Filter{App: "survey", State: delivery.StateDead, Limit: 5}, []string{"j3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := keysOf(mustList(t, s, c.filter))
			if !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
				t.Errorf("List(%+v) returned %v, want %v", c.filter, got, c.want)
			}
		})
	}
	if _, err := s.List(context.Background(), spool.Filter{State: "sent"}); err == nil {
		t.Error("List accepted an unknown state")
	}
	if _, err := s.List(context.Background(), spool.Filter{Limit: -1}); err == nil {
		t.Error("List accepted a negative limit")
	}
}

func testConcurrentAdd(t *testing.T, s spool.Store) {
	const (
		goroutines = 16
		perRound   = 5
		rounds     = 10
	)
	// Goroutines g and g+1 submit the same keys, so each key is raced.
	var (
		mu       sync.Mutex
		newCount = make(map[string]int)
		wg       sync.WaitGroup
	)
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for r := range rounds {
				jobs := make([]*delivery.Job, perRound)
				for i := range jobs {
					jobs[i] = NewJob(fmt.Sprintf("g%d-r%d-%d", g/2, r, i), fmt.Sprintf("app%d", g%3), base)
				}
				added, err := s.Add(context.Background(), jobs)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for i, ok := range added {
					if ok {
						newCount[jobs[i].Key]++
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Add: %v", err)
	}

	wantKeys := goroutines / 2 * rounds * perRound
	if len(newCount) != wantKeys {
		t.Errorf("%d keys were reported new, want %d", len(newCount), wantKeys)
	}
	for key, n := range newCount {
		if n != 1 {
			t.Errorf("key %s was reported new %d times, want once", key, n)
		}
	}
	if jobs := mustList(t, s, spool.Filter{}); len(jobs) != wantKeys {
		t.Errorf("the store lists %d jobs, want %d", len(jobs), wantKeys)
	}
}

func testClosed(t *testing.T, s spool.Store) {
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close returned %v, want nil", err)
	}
	ctx := context.Background()
	if _, err := s.Add(ctx, []*delivery.Job{NewJob("k", "a", base)}); !errors.Is(err, spool.ErrClosed) {
		t.Errorf("Add after Close returned %v, want ErrClosed", err)
	}
	if _, err := s.Get(ctx, "k"); !errors.Is(err, spool.ErrClosed) {
		t.Errorf("Get after Close returned %v, want ErrClosed", err)
	}
	if _, err := s.Due(ctx, base, 1); !errors.Is(err, spool.ErrClosed) {
		t.Errorf("Due after Close returned %v, want ErrClosed", err)
	}
}

func testBatchWrite(t *testing.T, s spool.Store) {
	bw, ok := s.(spool.BatchWriter)
	if !ok {
		t.Skip("the store does not implement BatchWriter")
	}
	mustAdd(t, s, NewJob("old", "survey", base))
	done := withRecord(NewJob("old", "survey", base), delivery.StateDelivered, 1, base.Add(time.Minute))
	added, err := bw.Write(context.Background(), []*delivery.Job{NewJob("new", "survey", base), NewJob("old", "survey", base)}, []*delivery.Job{done})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if !slices.Equal(added, []bool{true, false}) {
		t.Errorf("Write reported %v for a new and a stored key, want [true false]", added)
	}
	if got := mustGet(t, s, "old"); got.State != delivery.StateDelivered {
		t.Errorf("Write left the updated job %s, want delivered", got.State)
	}
	if got := mustGet(t, s, "new"); got.State != delivery.StatePending {
		t.Errorf("Write stored the new job as %s, want pending", got.State)
	}
	if _, err := bw.Write(context.Background(), []*delivery.Job{NewJob("valid", "survey", base)}, []*delivery.Job{NewJob("", "survey", base)}); err == nil {
		t.Error("Write accepted an update without a key")
	}
	if _, err := s.Get(context.Background(), "valid"); !errors.Is(err, spool.ErrNotFound) {
		t.Errorf("a Write that failed stored its new job (Get returned %v)", err)
	}
}
