package spool

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/delivery"
)

// Retry defaults, the same as those of the [delivery.retry] table, for a
// policy field left at zero.
const (
	defaultInitialDelay = time.Second
	defaultMaxDelay     = 10 * time.Minute
	defaultMultiplier   = 2.0
)

// maxLastError bounds the error text kept in a job's record.
const maxLastError = 2048

// normalizeRetry fills the zero fields of p that a schedule cannot do
// without. MaxAttempts, MaxAge and MaxRetryAfter stay 0 (no limit).
func normalizeRetry(p conf.Retry) conf.Retry {
	if p.InitialDelay <= 0 {
		p.InitialDelay = conf.Duration(defaultInitialDelay)
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = conf.Duration(defaultMaxDelay)
	}
	if p.MaxDelay < p.InitialDelay {
		p.MaxDelay = p.InitialDelay
	}
	if p.Multiplier == 0 {
		p.Multiplier = defaultMultiplier
	}
	if p.Multiplier < 1 || math.IsNaN(p.Multiplier) || math.IsInf(p.Multiplier, 0) {
		p.Multiplier = 1
	}
	return p
}

// backoffCeiling returns the delay after attempt number attempts (1 for the
// first attempt) before jitter: InitialDelay * Multiplier^(attempts-1),
// capped by MaxDelay. p must be normalized.
func backoffCeiling(p conf.Retry, attempts int) time.Duration {
	if attempts < 1 {
		attempts = 1
	}
	d := float64(p.InitialDelay) * math.Pow(p.Multiplier, float64(attempts-1))
	if d >= float64(p.MaxDelay) || math.IsInf(d, 0) || math.IsNaN(d) {
		return p.MaxDelay.D()
	}
	return time.Duration(d)
}

// backoffDelay returns the wait after attempt number attempts with equal
// jitter: half of the ceiling is always waited and the other half is scaled
// by jitter, a number in [0, 1). Every job waits at least half the ceiling,
// and jobs that failed together spread over the other half.
func backoffDelay(p conf.Retry, attempts int, jitter float64) time.Duration {
	ceiling := backoffCeiling(p, attempts)
	jitter = min(max(jitter, 0), 1)
	half := ceiling / 2
	return half + time.Duration(float64(ceiling-half)*jitter)
}

// step is the scheduling result of one outcome.
type step struct {
	// retryIn is the wait before the next attempt of a job left pending.
	retryIn time.Duration
	// deadReason explains why a retryable job became dead. It is empty
	// otherwise.
	deadReason string
}

// applyOutcome writes the delivery record that out leads to into j, whose
// Attempts already counts the attempt. p must be normalized.
func applyOutcome(j *delivery.Job, out delivery.Outcome, p conf.Retry, now time.Time, jitter float64) step {
	j.UpdatedAt = now
	j.LastStatus = out.Status
	if out.Class == delivery.Delivered {
		j.State = delivery.StateDelivered
		j.LastError = ""
		return step{}
	}

	j.LastError = outcomeError(out)
	if out.Class == delivery.Permanent {
		j.State = delivery.StateDead
		return step{}
	}

	// Retryable, and a sender that returned no class is treated the same.
	wait := backoffDelay(p, j.Attempts, jitter)
	retryAfter := out.RetryAfter
	if p.MaxRetryAfter > 0 {
		retryAfter = min(retryAfter, p.MaxRetryAfter.D())
	}
	wait = max(wait, retryAfter)
	next := now.Add(wait)

	switch {
	case p.MaxAttempts > 0 && j.Attempts >= p.MaxAttempts:
		j.State = delivery.StateDead
		return step{deadReason: fmt.Sprintf("gave up after %d attempts (max_attempts)", j.Attempts)}
	case p.MaxAge > 0 && next.After(j.CreatedAt.Add(p.MaxAge.D())):
		j.State = delivery.StateDead
		return step{deadReason: fmt.Sprintf("gave up after %d attempts: the next one would be later than max_age %s after the call", j.Attempts, p.MaxAge.D())}
	}
	j.State = delivery.StatePending
	j.NextAt = next
	return step{retryIn: wait}
}

// outcomeError returns the error text kept for a failed attempt: the
// sender's error (which senders redact for private applications) or, when
// there is none, the HTTP status.
func outcomeError(out delivery.Outcome) string {
	var text string
	switch {
	case out.Err != nil:
		text = out.Err.Error()
	case out.Class != delivery.Retryable && out.Class != delivery.Permanent:
		text = fmt.Sprintf("the sender returned no outcome class (status %d)", out.Status)
	case out.Status != 0:
		text = fmt.Sprintf("HTTP status %d", out.Status)
	default:
		text = "attempt failed with no error text"
	}
	if len(text) > maxLastError {
		text = strings.ToValidUTF8(text[:maxLastError], "") + "..."
	}
	return text
}
