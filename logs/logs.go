// Package logs builds postcall's logger: text or JSON output, and a limit
// on repeated warnings and errors. The limit keeps a webservice that is down
// for hours, or a FreeSWITCH that rejects every connection, from filling the
// disk with the same line.
//
// The limit never hides the first occurrence of a message, and the entry
// that follows a suppressed run says how many were suppressed.
package logs

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// New returns a logger writing to w at level ("debug", "info", "warn" or
// "error") in format ("text" or "json"), with repeated warnings and errors
// limited to one per window (0 turns the limit off).
func New(w io.Writer, level, format string, window time.Duration) (*logrus.Logger, error) {
	lv, err := logrus.ParseLevel(level)
	if err != nil || level == "" {
		return nil, fmt.Errorf("log level %q is not valid: use debug, info, warn or error", level)
	}
	var inner logrus.Formatter
	switch format {
	case "", "text":
		inner = &logrus.TextFormatter{FullTimestamp: true}
	case "json":
		inner = &logrus.JSONFormatter{}
	default:
		return nil, fmt.Errorf("log format %q is not valid: use text or json", format)
	}
	log := logrus.New()
	log.SetOutput(w)
	log.SetLevel(lv)
	log.SetFormatter(inner)
	if window > 0 {
		log.SetFormatter(NewLimiter(inner, window))
	}
	return log, nil
}

// Limiter is a logrus.Formatter that drops a warning or error identical to
// one written less than Window ago. Entries are identical when their level,
// message and the fields app and error are equal. The next entry of that
// kind written after the window carries the field "repeated" with the count
// of entries dropped meanwhile. Entries below warning level pass unchanged.
type Limiter struct {
	inner  logrus.Formatter
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	seen map[string]*repeat
}

type repeat struct {
	last    time.Time
	dropped int
}

// maxTracked bounds the remembered messages; when full, the memory is
// cleared, which at worst lets one repeat of each message through early.
const maxTracked = 4096

// NewLimiter returns a Limiter writing through inner.
func NewLimiter(inner logrus.Formatter, window time.Duration) *Limiter {
	return &Limiter{inner: inner, window: window, now: time.Now, seen: make(map[string]*repeat)}
}

// Format formats entry through the inner formatter, or returns nothing for
// a repeat inside the window.
func (l *Limiter) Format(entry *logrus.Entry) ([]byte, error) {
	if entry.Level > logrus.WarnLevel {
		return l.inner.Format(entry)
	}
	key := fmt.Sprintf("%d\x00%s\x00%v\x00%v", entry.Level, entry.Message, entry.Data["app"], entry.Data[logrus.ErrorKey])
	now := l.now()

	l.mu.Lock()
	r, ok := l.seen[key]
	if ok && now.Sub(r.last) < l.window {
		r.dropped++
		l.mu.Unlock()
		return nil, nil
	}
	if !ok {
		if len(l.seen) >= maxTracked {
			clear(l.seen)
		}
		r = &repeat{}
		l.seen[key] = r
	}
	dropped := r.dropped
	r.last, r.dropped = now, 0
	l.mu.Unlock()

	if dropped > 0 {
		// Format a copy: the entry's Data belongs to the caller.
		data := make(logrus.Fields, len(entry.Data)+1)
		for k, v := range entry.Data {
			data[k] = v
		}
		data["repeated"] = dropped
		copied := *entry
		copied.Data = data
		entry = &copied
	}
	return l.inner.Format(entry)
}
