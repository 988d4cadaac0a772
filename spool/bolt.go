package spool

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sirupsen/logrus"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/postcall/postcall/delivery"
)

// Bucket names of the bolt file. jobs contains each job as it was added,
// and records its delivery record. due has one nested bucket per
// application with an index of its pending jobs by NextAt. delivered
// indexes delivered jobs by UpdatedAt for Compact. counts contains the
// number of jobs per application and state.
var (
	bucketJobs      = []byte("jobs")
	bucketRecords   = []byte("records")
	bucketDue       = []byte("due")
	bucketDelivered = []byte("delivered")
	bucketCounts    = []byte("counts")
	bucketMeta      = []byte("meta")
	metaFormat      = []byte("format")
)

// BoltOptions are the settings of OpenBolt. The zero value is usable.
type BoltOptions struct {
	// LockTimeout bounds the wait for the file lock that another process
	// holds. Default 1s.
	LockTimeout time.Duration
	// MaxBatch bounds how many Add, Update and other writes share one
	// transaction. Default 1000.
	MaxBatch int
	// Logger receives warnings about file permissions. Default: the logrus
	// standard logger.
	Logger logrus.FieldLogger
	// Now is the clock that Retry uses for NextAt and UpdatedAt. Default
	// time.Now.
	Now func() time.Time
}

// BoltStore is a Store kept in one bbolt file. Writes of concurrent callers
// are grouped into one transaction and one fsync.
type BoltStore struct {
	path string
	db   *bolt.DB
	now  func() time.Time
	w    *committer
}

var _ Store = (*BoltStore)(nil)

// OpenBolt opens the spool file at path, creating it (mode 0600) and its
// directory (mode 0700) when missing. It logs a warning when an existing
// directory or file can be read by other users. When another process holds
// the file, it fails after opts.LockTimeout with an error that names that
// cause.
func OpenBolt(path string, opts BoltOptions) (*BoltStore, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1000
	}
	if opts.Logger == nil {
		opts.Logger = logrus.StandardLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if path == "" {
		return nil, errors.New("missing spool path: set [spool] path")
	}
	if err := prepareDir(filepath.Dir(path), opts.Logger); err != nil {
		return nil, err
	}
	checkFileMode(path, opts.Logger)

	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        opts.LockTimeout,
		FreelistType:   bolt.FreelistMapType,
		NoFreelistSync: true,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("spool %s is in use by another postcall process (its lock was not released within %s): stop that process or set [spool] path to another file: %w",
			path, opts.LockTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", path, err)
	}
	if err := initBuckets(db, path); err != nil {
		db.Close()
		return nil, err
	}
	s := &BoltStore{path: path, db: db, now: opts.Now}
	s.w = newCommitter(db, path, opts.MaxBatch)
	return s, nil
}

func prepareDir(dir string, log logrus.FieldLogger) error {
	info, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create spool directory %s: %w", dir, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("check spool directory %s: %w", dir, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("spool directory %s is not a directory: set [spool] path to a file in a directory", dir)
	}
	if mode := info.Mode().Perm(); mode&0o077 != 0 {
		log.WithField("path", dir).Warnf("spool directory %s has mode %04o, so other users can see the spool file: run chmod 700 %s", dir, mode, dir)
	}
	return nil
}

func checkFileMode(path string, log logrus.FieldLogger) {
	info, err := os.Stat(path)
	if err != nil {
		return
	}
	if mode := info.Mode().Perm(); mode&0o077 != 0 {
		log.WithField("path", path).Warnf("spool file %s has mode %04o, so other users can read queued requests: run chmod 600 %s", path, mode, path)
	}
}

func initBuckets(db *bolt.DB, path string) error {
	err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketJobs, bucketRecords, bucketDue, bucketDelivered, bucketCounts, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		v := meta.Get(metaFormat)
		if v == nil {
			return meta.Put(metaFormat, []byte{formatVersion})
		}
		if len(v) != 1 || v[0] != formatVersion {
			return fmt.Errorf("spool %s was written in format %v, which this build cannot read (it reads format %d): move the file away or use the postcall version that wrote it", path, v, formatVersion)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("prepare spool %s: %w", path, err)
	}
	return nil
}

// Path returns the file the store was opened from.
func (s *BoltStore) Path() string { return s.path }

// Close waits for queued writes, then closes the file.
func (s *BoltStore) Close() error {
	if !s.w.close() {
		return nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close spool %s: %w", s.path, err)
	}
	return nil
}

// view runs fn in a read transaction.
func (s *BoltStore) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.w.isClosed() {
		return ErrClosed
	}
	err := s.db.View(fn)
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// readJob decodes the job and the delivery record stored under key; it
// returns nil when the key is not stored.
func (s *BoltStore) readJob(tx *bolt.Tx, key []byte) (*delivery.Job, error) {
	rv := tx.Bucket(bucketRecords).Get(key)
	jv := tx.Bucket(bucketJobs).Get(key)
	if rv == nil || jv == nil {
		return nil, nil
	}
	j, err := decodeJob(jv)
	if err != nil {
		return nil, fmt.Errorf("read job %q from spool %s: %w", key, s.path, err)
	}
	r, err := decodeRecord(rv)
	if err != nil {
		return nil, fmt.Errorf("read delivery record of job %q from spool %s: %w", key, s.path, err)
	}
	j.Key = string(key)
	r.apply(j)
	return j, nil
}

func (s *BoltStore) readRecord(tx *bolt.Tx, key []byte) (record, bool, error) {
	rv := tx.Bucket(bucketRecords).Get(key)
	if rv == nil {
		return record{}, false, nil
	}
	r, err := decodeRecord(rv)
	if err != nil {
		return record{}, false, fmt.Errorf("read delivery record of job %q from spool %s: %w", key, s.path, err)
	}
	return r, true, nil
}

// Due implements Store.
func (s *BoltStore) Due(ctx context.Context, now time.Time, limit int) ([]*delivery.Job, error) {
	if limit <= 0 {
		return nil, nil
	}
	jobs, _, _, err := s.Schedule(ctx, DueQuery{Now: now, Limit: limit})
	return jobs, err
}

// Schedule implements Store. It reads the per-application indexes and
// decodes only the jobs it returns.
func (s *BoltStore) Schedule(ctx context.Context, q DueQuery) ([]*delivery.Job, time.Time, bool, error) {
	if q.Limit <= 0 {
		return nil, time.Time{}, false, fmt.Errorf("invalid due query limit %d: it must be positive", q.Limit)
	}
	var (
		jobs []*delivery.Job
		next time.Time
		ok   bool
	)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		due := tx.Bucket(bucketDue)
		sel := newDueSelector(q)
		err := due.ForEachBucket(func(app []byte) error {
			sel.addApp(string(app), indexEntries(due.Bucket(app)))
			return nil
		})
		if err != nil {
			return err
		}
		var picked []dueEntry
		picked, next, ok = sel.result()
		jobs = make([]*delivery.Job, 0, len(picked))
		for _, e := range picked {
			j, err := s.readJob(tx, []byte(e.key))
			if err != nil {
				return err
			}
			if j == nil || j.State != delivery.StatePending {
				// NOTE: every write keeps the index and the records in one
				// transaction, so a stale entry means a damaged file. It is
				// skipped rather than failing every query, and it stays.
				continue
			}
			jobs = append(jobs, j)
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, false, err
	}
	return jobs, next, ok, nil
}

// indexEntries iterates an index bucket in key order. The strings are
// copies, so they stay valid after the transaction.
func indexEntries(b *bolt.Bucket) iter.Seq2[int64, string] {
	return func(yield func(int64, string) bool) {
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			at, key, ok := parseIndexKey(k)
			if !ok {
				continue
			}
			if !yield(at, key) {
				return
			}
		}
	}
}

// NextDue implements Store.
func (s *BoltStore) NextDue(ctx context.Context) (time.Time, bool, error) {
	var (
		first int64
		found bool
	)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		due := tx.Bucket(bucketDue)
		return due.ForEachBucket(func(app []byte) error {
			k, _ := due.Bucket(app).Cursor().First()
			at, _, ok := parseIndexKey(k)
			if ok && (!found || at < first) {
				first, found = at, true
			}
			return nil
		})
	})
	if err != nil || !found {
		return time.Time{}, false, err
	}
	return nanosTime(first), true, nil
}

// Get implements Store.
func (s *BoltStore) Get(ctx context.Context, key string) (*delivery.Job, error) {
	var j *delivery.Job
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		j, err = s.readJob(tx, []byte(key))
		return err
	})
	if err != nil {
		return nil, err
	}
	if j == nil {
		return nil, fmt.Errorf("job %q: %w", key, ErrNotFound)
	}
	return j, nil
}

// selected is a job that a Filter matched, before its request is decoded.
type selected struct {
	key     string
	created time.Time
}

// selectKeys returns the keys that f selects, oldest first, with at most
// f.Limit entries. keep filters on the delivery record.
func (s *BoltStore) selectKeys(tx *bolt.Tx, f Filter, keep func(record) bool) ([]selected, error) {
	var out []selected
	consider := func(k, v []byte) error {
		r, err := decodeRecord(v)
		if err != nil {
			return fmt.Errorf("read delivery record of job %q from spool %s: %w", k, s.path, err)
		}
		if f.match(string(k), r.App, r.State, r.CreatedAt) && keep(r) {
			out = append(out, selected{key: string(k), created: r.CreatedAt})
		}
		return nil
	}
	records := tx.Bucket(bucketRecords)
	if f.Key != "" {
		if v := records.Get([]byte(f.Key)); v != nil {
			if err := consider([]byte(f.Key), v); err != nil {
				return nil, err
			}
		}
	} else if err := records.ForEach(consider); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b selected) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return bytes.Compare([]byte(a.key), []byte(b.key))
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

func anyRecord(record) bool { return true }

// List implements Store.
func (s *BoltStore) List(ctx context.Context, f Filter) ([]*delivery.Job, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	var jobs []*delivery.Job
	err := s.view(ctx, func(tx *bolt.Tx) error {
		keys, err := s.selectKeys(tx, f, anyRecord)
		if err != nil {
			return err
		}
		for _, sel := range keys {
			j, err := s.readJob(tx, []byte(sel.key))
			if err != nil {
				return err
			}
			if j != nil {
				jobs = append(jobs, j)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return jobs, nil
}

// Counts implements Store. It reads the counters that every write keeps,
// not the jobs.
func (s *BoltStore) Counts(ctx context.Context) (map[string]map[delivery.State]int, error) {
	out := make(map[string]map[delivery.State]int)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCounts).ForEach(func(k, v []byte) error {
			app, state, ok := parseCountKey(k)
			if !ok || len(v) != 8 {
				return fmt.Errorf("spool %s has an invalid counter %q", s.path, k)
			}
			if out[app] == nil {
				out[app] = make(map[delivery.State]int)
			}
			out[app][state] = int(binary.BigEndian.Uint64(v))
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// countKey is the application name, a zero byte and the state.
func countKey(app string, state delivery.State) []byte {
	k := make([]byte, 0, len(app)+1+len(state))
	k = append(k, app...)
	k = append(k, 0)
	return append(k, state...)
}

func parseCountKey(k []byte) (string, delivery.State, bool) {
	i := bytes.LastIndexByte(k, 0)
	if i < 0 {
		return "", "", false
	}
	return string(k[:i]), delivery.State(k[i+1:]), true
}
