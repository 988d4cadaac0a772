package spool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/postcall/postcall/delivery"
)

// maxReplyBytes bounds how much of an admin API reply the client reads.
const maxReplyBytes = 256 << 20

// Client calls the admin API that NewHandler serves, so that the command
// line can list, show, retry and purge jobs while the daemon holds the
// spool file. It implements Admin.
type Client struct {
	base string
	http *http.Client
}

var _ Admin = (*Client)(nil)

// NewClient returns a client for the admin listener at baseURL, for
// example "http://127.0.0.1:9466". hc may be nil for http.DefaultClient.
func NewClient(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), http: hc}
}

// List returns the jobs that f selects, oldest first.
func (c *Client) List(ctx context.Context, f Filter) ([]*delivery.Job, error) {
	var reply jobsReply
	if err := c.call(ctx, http.MethodGet, "/spool/jobs", f.Query(), &reply); err != nil {
		return nil, err
	}
	return reply.Jobs, nil
}

// Get returns the job stored under key, or an error wrapping ErrNotFound.
func (c *Client) Get(ctx context.Context, key string) (*delivery.Job, error) {
	var j delivery.Job
	if err := c.call(ctx, http.MethodGet, "/spool/jobs/"+url.PathEscape(key), nil, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// Retry makes the dead or pending jobs that f selects due now.
func (c *Client) Retry(ctx context.Context, f Filter) (int, error) {
	var reply countReply
	err := c.call(ctx, http.MethodPost, "/spool/retry", f.Query(), &reply)
	return reply.Count, err
}

// Purge deletes the jobs that f selects; the zero Filter deletes every
// job.
func (c *Client) Purge(ctx context.Context, f Filter) (int, error) {
	query := f.Query()
	if f.IsZero() {
		query.Set("all", "true")
	}
	var reply countReply
	err := c.call(ctx, http.MethodPost, "/spool/purge", query, &reply)
	return reply.Count, err
}

func (c *Client) call(ctx context.Context, method, path string, query url.Values, out any) error {
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return fmt.Errorf("invalid admin address %q: %w", c.base, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("call the spool admin API at %s: %w (is the daemon running with its admin listener on?)", c.base, err)
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, maxReplyBytes)

	if resp.StatusCode != http.StatusOK {
		var e errorReply
		data, _ := io.ReadAll(io.LimitReader(body, 64<<10))
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		msg := fmt.Sprintf("spool admin API at %s: %s %s returned %s: %s", c.base, method, path, resp.Status, e.Error)
		switch resp.StatusCode {
		case http.StatusNotFound:
			return &apiError{msg: msg, kind: ErrNotFound}
		case http.StatusServiceUnavailable:
			return &apiError{msg: msg, kind: ErrClosed}
		case http.StatusBadRequest:
			return &FilterError{msg: e.Error}
		}
		return errors.New(msg)
	}
	if err := json.NewDecoder(body).Decode(out); err != nil {
		return fmt.Errorf("read the reply of the spool admin API at %s: %w", c.base, err)
	}
	return nil
}

// apiError is an error reply that callers can match with errors.Is.
type apiError struct {
	msg  string
	kind error
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.kind }
