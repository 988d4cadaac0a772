package spool

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/postcall/postcall/delivery"
)

// The admin API, served by NewHandler on the daemon's loopback admin
// listener so that the command line can reach the spool while the daemon
// holds the file lock:
//
//	GET  /spool/jobs?key=&app=&state=&older_than=&newer_than=&limit=
//	GET  /spool/jobs/{key}
//	POST /spool/retry?{the same filter}
//	POST /spool/purge?{the same filter}, or ?all=true to purge every job
//
// older_than and newer_than take a duration before now ("2h") or an
// RFC 3339 time. Replies are JSON: {"jobs": [...]}, a job, {"count": n}
// or {"error": "..."}. A private application's data is hidden as Redact
// describes before it leaves the daemon.

// filterParams are the query parameters ParseFilter reads.
var filterParams = []string{"key", "app", "state", "older_than", "newer_than", "limit"}

// ParseFilter reads a Filter from query parameters. now is the time that
// durations in older_than and newer_than count back from. An unknown
// parameter is an error, so that a misspelled one cannot widen a purge.
func ParseFilter(v url.Values, now time.Time) (Filter, error) {
	var f Filter
	for name, values := range v {
		if !strings.EqualFold(name, "all") && !containsString(filterParams, name) {
			return Filter{}, filterErrorf("unknown parameter %q: use %s", name, strings.Join(filterParams, ", "))
		}
		if len(values) > 1 {
			return Filter{}, filterErrorf("parameter %q is given %d times: give it once", name, len(values))
		}
	}
	f.Key = v.Get("key")
	f.App = v.Get("app")
	f.State = delivery.State(v.Get("state"))
	var err error
	if f.OlderThan, err = parseTimeParam("older_than", v.Get("older_than"), now); err != nil {
		return Filter{}, err
	}
	if f.NewerThan, err = parseTimeParam("newer_than", v.Get("newer_than"), now); err != nil {
		return Filter{}, err
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return Filter{}, filterErrorf("invalid limit %q: write a whole number, 0 for no limit", s)
		}
		f.Limit = n
	}
	if err := f.validate(); err != nil {
		return Filter{}, err
	}
	return f, nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func parseTimeParam(name, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, filterErrorf("invalid %s %q: the duration must not be negative", name, s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, filterErrorf("invalid %s %q: write a duration such as 2h or an RFC 3339 time such as 2025-06-01T09:00:00Z", name, s)
	}
	return t, nil
}

// Query returns f as the query parameters that ParseFilter reads. Times
// are written as RFC 3339 times.
func (f Filter) Query() url.Values {
	v := url.Values{}
	set := func(name, value string) {
		if value != "" {
			v.Set(name, value)
		}
	}
	set("key", f.Key)
	set("app", f.App)
	set("state", string(f.State))
	if !f.OlderThan.IsZero() {
		v.Set("older_than", f.OlderThan.Format(time.RFC3339Nano))
	}
	if !f.NewerThan.IsZero() {
		v.Set("newer_than", f.NewerThan.Format(time.RFC3339Nano))
	}
	if f.Limit > 0 {
		v.Set("limit", strconv.Itoa(f.Limit))
	}
	return v
}

type adminHandler struct {
	store   Store
	private func(app string) bool
	now     func() time.Time
}

// NewHandler returns the admin API over store (see the list above).
// private reports whether an application is private and may be nil; the
// job's own Private flag hides its data too.
func NewHandler(store Store, private func(app string) bool) http.Handler {
	h := &adminHandler{store: store, private: private, now: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /spool/jobs", h.list)
	mux.HandleFunc("GET /spool/jobs/{key...}", h.show)
	mux.HandleFunc("POST /spool/retry", h.retry)
	mux.HandleFunc("POST /spool/purge", h.purge)
	return mux
}

type jobsReply struct {
	Jobs []*delivery.Job `json:"jobs"`
}

type countReply struct {
	Count int `json:"count"`
}

type errorReply struct {
	Error string `json:"error"`
}

func (h *adminHandler) list(w http.ResponseWriter, r *http.Request) {
	f, err := ParseFilter(r.URL.Query(), h.now())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorReply{err.Error()})
		return
	}
	jobs, err := h.store.List(r.Context(), f)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	for i, j := range jobs {
		jobs[i] = Redact(j, h.private)
	}
	if jobs == nil {
		jobs = []*delivery.Job{}
	}
	writeJSON(w, http.StatusOK, jobsReply{Jobs: jobs})
}

func (h *adminHandler) show(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	j, err := h.store.Get(r.Context(), key)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, Redact(j, h.private))
}

func (h *adminHandler) retry(w http.ResponseWriter, r *http.Request) {
	f, err := ParseFilter(r.URL.Query(), h.now())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorReply{err.Error()})
		return
	}
	n, err := h.store.Retry(r.Context(), f)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, countReply{Count: n})
}

func (h *adminHandler) purge(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	f, err := ParseFilter(query, h.now())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorReply{err.Error()})
		return
	}
	all, _ := strconv.ParseBool(query.Get("all"))
	if f.IsZero() && !all {
		writeJSON(w, http.StatusBadRequest, errorReply{"purge without a filter deletes every job: add key, app, state, older_than or newer_than, or all=true"})
		return
	}
	n, err := h.store.Purge(r.Context(), f)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, countReply{Count: n})
}

// writeStoreError maps a store error to a status: 404 for an unknown job,
// 400 for a filter the store rejects, 503 when the store is closed and 500
// otherwise.
func writeStoreError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrClosed):
		status = http.StatusServiceUnavailable
	case errors.As(err, new(*FilterError)):
		status = http.StatusBadRequest
	}
	writeJSON(w, status, errorReply{err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
