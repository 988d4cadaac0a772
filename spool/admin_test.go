package spool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postcall/postcall/delivery"
)

// secrets are the marker strings testJob puts into a request's path,
// query, header and body.
var secrets = []string{"secret-path", "secret-query", "secret-header", "secret-body"}

func privateJob(key string) *delivery.Job {
	j := testJob(key, "vault")
	j.Private = true
	j.Missing = []string{"request.data.secret-placeholder"}
	j.State = delivery.StateDead
	j.Attempts = 4
	j.LastStatus = 500
	j.LastError = "HTTP status 500: secret-response"
	j.CreatedAt = time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	return j
}

func soapJob(key string) *delivery.Job {
	j := testJob(key, "vault-soap")
	j.Kind = delivery.KindSOAP
	j.Request = nil
	j.SOAP = &delivery.SOAPCall{Params: []delivery.Field{{Name: "cardNumber", Value: "4111-secret-param"}}}
	return j
}

func TestPrivateShowRedacted(t *testing.T) {
	isPrivateApp := func(app string) bool { return app == "vault-soap" }
	cases := []struct {
		name    string
		job     *delivery.Job
		secrets []string
	}{
		{"private flag on the job", privateJob("k1"), append(slices.Clone(secrets), "secret-response", "secret-placeholder")},
		{"private app by configuration", soapJob("k2"), []string{"secret-param"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var show, table bytes.Buffer
			if err := FormatJob(&show, c.job, isPrivateApp); err != nil {
				t.Fatalf("FormatJob: %v", err)
			}
			if err := FormatTable(&table, []*delivery.Job{c.job}, isPrivateApp); err != nil {
				t.Fatalf("FormatTable: %v", err)
			}
			for _, out := range []string{show.String(), table.String()} {
				for _, s := range c.secrets {
					if strings.Contains(out, s) {
						t.Errorf("output shows private data %q:\n%s", s, out)
					}
				}
			}
			for _, want := range []string{c.job.App, c.job.CallID, Hidden} {
				if !strings.Contains(show.String(), want) {
					t.Errorf("show output lacks %q:\n%s", want, show.String())
				}
			}
			if c.job.Request != nil && !strings.Contains(show.String(), "POST https://example.com/(private)") {
				t.Errorf("show output lacks the method and host:\n%s", show.String())
			}
		})
	}

	t.Run("public job is shown in full", func(t *testing.T) {
		j := testJob("k3", "survey")
		j.LastError = "HTTP status 503"
		var show bytes.Buffer
		if err := FormatJob(&show, j, isPrivateApp); err != nil {
			t.Fatalf("FormatJob: %v", err)
		}
		for _, want := range append(slices.Clone(secrets), "HTTP status 503") {
			if !strings.Contains(show.String(), want) {
				t.Errorf("show output of a public job lacks %q:\n%s", want, show.String())
			}
		}
	})

	t.Run("control characters are quoted", func(t *testing.T) {
		j := testJob("k4", "survey")
		j.CallID = "evil\x1b[2Jcall"
		var show, table bytes.Buffer
		FormatJob(&show, j, nil)
		FormatTable(&table, []*delivery.Job{j}, nil)
		if strings.Contains(show.String(), "\x1b") || strings.Contains(table.String(), "\x1b") {
			t.Errorf("output passes an escape character to the terminal:\n%q\n%q", show.String(), table.String())
		}
	})

	t.Run("redaction leaves the original alone", func(t *testing.T) {
		j := privateJob("k5")
		Redact(j, nil)
		if !strings.Contains(j.Request.URL, "secret-path") || j.LastError == Hidden {
			t.Error("Redact changed the job it was given")
		}
	})
}

func TestFormatTable(t *testing.T) {
	pending := testJob("k1", "survey")
	pending.State = delivery.StatePending
	pending.CreatedAt = time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	pending.NextAt = time.Date(2025, 6, 1, 9, 5, 0, 0, time.UTC)
	pending.Attempts = 2
	pending.LastStatus = 503
	pending.LastError = "HTTP status 503 from example.com\nretry later"

	var out bytes.Buffer
	if err := FormatTable(&out, []*delivery.Job{pending}, nil); err != nil {
		t.Fatalf("FormatTable: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("table has %d lines, want a header and one row:\n%s", len(lines), out.String())
	}
	for _, want := range []string{"KEY", "APP", "STATE", "ATTEMPTS", "NEXT ATTEMPT", "LAST ERROR"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header lacks %q: %s", want, lines[0])
		}
	}
	for _, want := range []string{"k1", "survey", "pending", "2025-06-01T09:05:00Z", "503", "HTTP status 503 from example.com retry later"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row lacks %q: %s", want, lines[1])
		}
	}
}

// adminFixture stores jobs in a memory store served by NewHandler on an
// httptest server.
func adminFixture(t *testing.T) (*MemoryStore, *Client, *httptest.Server) {
	t.Helper()
	store := NewMemory()
	base := time.Now().Add(-time.Hour)
	dead := privateJob("dead-private")
	dead.CreatedAt = base
	public := testJob("dead-public", "survey")
	public.State, public.Attempts, public.LastError, public.CreatedAt = delivery.StateDead, 3, "HTTP status 404", base.Add(time.Minute)
	pending := testJob("pending/with slash", "survey")
	pending.State, pending.CreatedAt, pending.NextAt = delivery.StatePending, base.Add(2*time.Minute), base.Add(24*time.Hour)
	done := testJob("delivered", "survey")
	done.State, done.CreatedAt = delivery.StateDelivered, base.Add(3*time.Minute)
	if _, err := store.Add(context.Background(), []*delivery.Job{dead, public, pending, done}); err != nil {
		t.Fatalf("Add: %v", err)
	}
	srv := httptest.NewServer(NewHandler(store, func(app string) bool { return app == "vault" }))
	t.Cleanup(srv.Close)
	return store, NewClient(srv.URL, srv.Client()), srv
}

func TestHandler(t *testing.T) {
	ctx := context.Background()

	t.Run("list", func(t *testing.T) {
		_, client, _ := adminFixture(t)
		cases := []struct {
			name   string
			filter Filter
			want   []string
		}{
			{"all", Filter{}, []string{"dead-private", "dead-public", "pending/with slash", "delivered"}},
			{"dead", Filter{State: delivery.StateDead}, []string{"dead-private", "dead-public"}},
			{"app and limit", Filter{App: "survey", Limit: 1}, []string{"dead-public"}},
			{"older than", Filter{OlderThan: time.Now().Add(-time.Hour).Add(90 * time.Second)}, []string{"dead-private", "dead-public"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				jobs, err := client.List(ctx, c.filter)
				if err != nil {
					t.Fatalf("List: %v", err)
				}
				var keys []string
				for _, j := range jobs {
					keys = append(keys, j.Key)
				}
				if !slices.Equal(keys, c.want) {
					t.Errorf("List returned %v, want %v", keys, c.want)
				}
			})
		}
	})

	t.Run("list redacts private jobs", func(t *testing.T) {
		_, _, srv := adminFixture(t)
		resp, err := srv.Client().Get(srv.URL + "/spool/jobs?older_than=1m")
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		defer resp.Body.Close()
		var raw bytes.Buffer
		raw.ReadFrom(resp.Body)

		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, raw.String())
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type is %q, want application/json", ct)
		}
		for _, s := range []string{"secret-response", "secret-placeholder"} {
			if strings.Contains(raw.String(), s) {
				t.Errorf("the reply shows private data %q", s)
			}
		}

		// Only the private job hides its data; the public ones carry the
		// same marker strings in full.
		var reply jobsReply
		if err := json.Unmarshal(raw.Bytes(), &reply); err != nil {
			t.Fatalf("decode reply: %v", err)
		}
		for _, j := range reply.Jobs {
			hidden := strings.Contains(j.Request.URL, Hidden)
			if hidden != (j.App == "vault") {
				t.Errorf("job %s of app %s: URL %q", j.Key, j.App, j.Request.URL)
			}
		}
	})

	t.Run("show", func(t *testing.T) {
		_, client, _ := adminFixture(t)
		j, err := client.Get(ctx, "pending/with slash")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if j.Key != "pending/with slash" || j.State != delivery.StatePending || string(j.Request.Body) != "ssn=secret-body" {
			t.Errorf("Get returned key %q, state %s, body %q", j.Key, j.State, j.Request.Body)
		}
		private, err := client.Get(ctx, "dead-private")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if private.LastError != Hidden || string(private.Request.Body) != Hidden {
			t.Errorf("a private job is shown with last error %q and body %q", private.LastError, private.Request.Body)
		}
		if _, err := client.Get(ctx, "unknown"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get of an unknown key returned %v, want ErrNotFound", err)
		}
	})

	t.Run("retry", func(t *testing.T) {
		store, client, _ := adminFixture(t)
		n, err := client.Retry(ctx, Filter{State: delivery.StateDead, App: "survey"})
		if err != nil {
			t.Fatalf("Retry: %v", err)
		}
		if n != 1 {
			t.Errorf("Retry changed %d jobs, want 1", n)
		}
		j, _ := store.Get(ctx, "dead-public")
		if j.State != delivery.StatePending {
			t.Errorf("retried job is %s, want pending", j.State)
		}
		if _, err := client.Retry(ctx, Filter{State: delivery.StateDelivered}); !errors.As(err, new(*FilterError)) {
			t.Errorf("Retry of delivered jobs returned %v, want a FilterError", err)
		}
	})

	t.Run("purge", func(t *testing.T) {
		store, client, srv := adminFixture(t)
		resp, err := srv.Client().Post(srv.URL+"/spool/purge", "", nil)
		if err != nil {
			t.Fatalf("POST: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("purge without a filter returned %d, want 400", resp.StatusCode)
		}
		n, err := client.Purge(ctx, Filter{Key: "dead-private"})
		if err != nil || n != 1 {
			t.Fatalf("Purge by key returned %d, %v; want 1, nil", n, err)
		}
		if _, err := store.Get(ctx, "dead-private"); !errors.Is(err, ErrNotFound) {
			t.Errorf("purged job is still stored (Get returned %v)", err)
		}
		n, err = client.Purge(ctx, Filter{})
		if err != nil || n != 3 {
			t.Errorf("Purge of everything returned %d, %v; want 3, nil", n, err)
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		_, _, srv := adminFixture(t)
		cases := []struct {
			name, method, path string
			status             int
		}{
			{"unknown parameter", "GET", "/spool/jobs?sate=dead", http.StatusBadRequest},
			{"invalid state", "GET", "/spool/jobs?state=sent", http.StatusBadRequest},
			{"invalid limit", "GET", "/spool/jobs?limit=-2", http.StatusBadRequest},
			{"invalid time", "POST", "/spool/retry?older_than=yesterday", http.StatusBadRequest},
			{"repeated parameter", "POST", "/spool/purge?app=a&app=b", http.StatusBadRequest},
			{"wrong method", "DELETE", "/spool/jobs", http.StatusMethodNotAllowed},
			{"unknown job", "GET", "/spool/jobs/" + url.PathEscape("nope"), http.StatusNotFound},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", c.method, c.path, err)
				}
				resp.Body.Close()
				if resp.StatusCode != c.status {
					t.Errorf("%s %s returned %d, want %d", c.method, c.path, resp.StatusCode, c.status)
				}
			})
		}
	})
}

func TestParseFilter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		query string
		want  Filter
	}{
		{"empty", "", Filter{}},
		{"all fields", "key=k&app=a&state=dead&limit=5", Filter{Key: "k", App: "a", State: delivery.StateDead, Limit: 5}},
		{"duration", "older_than=2h", Filter{OlderThan: now.Add(-2 * time.Hour)}},
		{"time", "newer_than=2025-05-31T00:00:00Z", Filter{NewerThan: time.Date(2025, 5, 31, 0, 0, 0, 0, time.UTC)}},
		{"purge all flag", "all=true", Filter{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, _ := url.ParseQuery(c.query)
			got, err := ParseFilter(v, now)
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", c.query, err)
			}
			if got.Key != c.want.Key || got.App != c.want.App || got.State != c.want.State || got.Limit != c.want.Limit ||
				!got.OlderThan.Equal(c.want.OlderThan) || !got.NewerThan.Equal(c.want.NewerThan) {
				t.Errorf("ParseFilter(%q) = %+v, want %+v", c.query, got, c.want)
			}
		})
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, seed := range []string{"", "app=survey&state=dead", "older_than=2h&limit=10", "newer_than=2025-06-01T09:00:00Z", "key=a%2Fb", "limit=-1", "x=1", "all=true"} {
		f.Add(seed)
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, query string) {
		v, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		parsed, err := ParseFilter(v, now)
		if err != nil {
			return
		}
		again, err := ParseFilter(parsed.Query(), now)
		if err != nil {
			t.Fatalf("ParseFilter rejected the query of its own result %+v: %v", parsed, err)
		}
		if again.Key != parsed.Key || again.App != parsed.App || again.State != parsed.State || again.Limit != parsed.Limit ||
			!again.OlderThan.Equal(parsed.OlderThan) || !again.NewerThan.Equal(parsed.NewerThan) {
			t.Fatalf("round trip changed the filter: %+v became %+v", parsed, again)
		}
	})
}
