// Package spool keeps post-call jobs durably and schedules their delivery.
//
// A Store holds every job with its delivery record: BoltStore keeps them in
// one bbolt file and MemoryStore in memory. A job's key is its dedup record,
// so a call that was already stored, in any state, is never stored or sent
// again, also after a restart.
//
// A Queue takes submitted jobs and writes them to the Store in group
// commits. It hands due jobs to a bounded pool of senders with a
// per-application limit and records each outcome: delivered, retried later
// with exponential backoff and jitter, or dead (kept with its last error).
// NewHandler and Client let the command line list, show, retry and purge
// jobs while the daemon holds the file lock.
//
// The spool never drops a submitted job silently: when the store cannot be
// written, jobs wait in a bounded memory queue and Submit blocks once it is
// full. It never logs a private application's request data; it logs only the
// error text a sender returns, which senders redact.
package spool
