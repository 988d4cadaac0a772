package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/postcall/postcall/conf"
	"github.com/postcall/postcall/daemon"
	"github.com/postcall/postcall/delivery"
	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/esl/esltest"
)

// BaselineResult is the speed of one bare loop.
type BaselineResult struct {
	Count     int     `json:"count"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
}

func newBaselineResult(count int, elapsed time.Duration) BaselineResult {
	r := BaselineResult{Count: count, Seconds: elapsed.Seconds()}
	if elapsed > 0 {
		r.PerSecond = float64(count) / elapsed.Seconds()
	}
	return r
}

// RenderRequests renders the requests the daemon would send for calls 0
// to n-1 of gen, with the configuration in mainFile: the same bodies and
// headers, idempotency key included.
func RenderRequests(ctx context.Context, mainFile string, gen *Generator, n int) ([]*delivery.Request, error) {
	cfg, err := conf.Load(mainFile)
	if err != nil {
		return nil, err
	}
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	apps, err := daemon.BuildApps(cfg, daemon.BuildOptions{Logger: quiet, UserAgent: "postcall-load"})
	if err != nil {
		return nil, err
	}
	reqs := make([]*delivery.Request, 0, n)
	for seq := range n {
		hangup, exit, err := gen.HangupEvent(seq)
		if err != nil {
			return nil, fmt.Errorf("decode generated call %d: %w", seq, err)
		}
		app := daemon.AppOf(cfg, &hangup, exit)
		job, err := daemon.RenderJob(cfg, apps, app, &hangup, exit)
		if err != nil {
			return nil, fmt.Errorf("render generated call %d: %w", seq, err)
		}
		req, err := daemon.WireRequest(ctx, cfg, apps, job, "postcall-load")
		if err != nil {
			return nil, fmt.Errorf("render generated call %d: %w", seq, err)
		}
		reqs = append(reqs, req)
	}
	return reqs, nil
}

// DeliveryBaseline posts total requests, cycling through reqs, with
// concurrency workers sharing one net/http client and nothing else, and
// returns how fast that went. Every request carries BaselineHeader, so the
// sink does not count it as a delivery.
func DeliveryBaseline(ctx context.Context, reqs []*delivery.Request, concurrency, total int) (BaselineResult, error) {
	if len(reqs) == 0 || concurrency <= 0 || total <= 0 {
		return BaselineResult{}, errors.New("delivery baseline needs requests, a concurrency and a count")
	}
	transport := &http.Transport{
		MaxIdleConns:        concurrency,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     90 * time.Second,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: time.Minute}

	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				if err := post(ctx, client, reqs[i%len(reqs)]); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return BaselineResult{}, fmt.Errorf("delivery baseline: %w", firstErr)
	}
	if err := ctx.Err(); err != nil {
		return BaselineResult{}, err
	}
	return newBaselineResult(total, elapsed), nil
}

func post(ctx context.Context, client *http.Client, r *delivery.Request) error {
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return err
	}
	for _, h := range r.Header {
		if h.Name == "Content-Length" {
			continue // net/http sets it from the body
		}
		req.Header.Add(h.Name, h.Value)
	}
	req.Header.Set(BaselineHeader, "1")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// IngestBaseline serves calls of gen from a new fake FreeSWITCH (with
// fakeOpts) as fast as possible to a bare client, and returns how fast the
// client read the events. The client authenticates and subscribes, and then
// only reads and decodes frames with the esl package.
func IngestBaseline(ctx context.Context, gen *Generator, fakeOpts esltest.Options, calls int) (BaselineResult, error) {
	fakeOpts.Addr = "127.0.0.1:0"
	fake := esltest.NewServer(fakeOpts)
	defer fake.Close()

	conn, err := net.Dial("tcp", fake.Addr())
	if err != nil {
		return BaselineResult{}, fmt.Errorf("ingest baseline: connect to the fake FreeSWITCH: %w", err)
	}
	defer conn.Close()
	frames := esl.NewFrameReader(conn, 0)
	if err := subscribeBare(conn, frames, gen.Format()); err != nil {
		return BaselineResult{}, fmt.Errorf("ingest baseline: %w", err)
	}

	want := 0
	for seq := range calls {
		want++
		if gen.HasExit(seq) {
			want++
		}
	}
	type readResult struct {
		end time.Time
		err error
	}
	done := make(chan readResult, 1)
	go func() {
		for n := 0; n < want; {
			f, err := frames.ReadFrame()
			if err != nil {
				done <- readResult{err: err}
				return
			}
			if _, isEvent, err := esl.DecodeFrame(&f); err != nil {
				done <- readResult{err: err}
				return
			} else if isEvent {
				n++
			}
		}
		done <- readResult{end: time.Now()}
	}()

	sent := gen.Send(ctx, fake, NewTracker(), Plan{Calls: calls})
	var res readResult
	select {
	case res = <-done:
	case <-ctx.Done():
		return BaselineResult{}, ctx.Err()
	}
	if res.err != nil {
		return BaselineResult{}, fmt.Errorf("ingest baseline: read events: %w", res.err)
	}
	if sent.NotQueued > 0 || fake.Dropped() > 0 {
		return BaselineResult{}, fmt.Errorf("ingest baseline: %d events were not queued and %d dropped; the bare reader should never fall behind", sent.NotQueued, fake.Dropped())
	}
	return newBaselineResult(want, res.end.Sub(sent.Start)), nil
}

// subscribeBare authenticates with the default password and subscribes to
// the events the generator sends, reading each reply.
func subscribeBare(conn net.Conn, frames *esl.FrameReader, format string) error {
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	defer conn.SetDeadline(time.Time{})

	f, err := frames.ReadFrame()
	if err != nil {
		return fmt.Errorf("read auth/request: %w", err)
	}
	if ct := f.ContentType(); ct != esl.ContentTypeAuthRequest {
		return fmt.Errorf("expected auth/request, got %q", ct)
	}
	for _, command := range []string{
		"auth " + esl.DefaultPassword,
		"event " + format + " CHANNEL_HANGUP_COMPLETE CUSTOM fuse::exit",
	} {
		if _, err := io.WriteString(conn, command+"\n\n"); err != nil {
			return fmt.Errorf("send %q: %w", strings.Fields(command)[0], err)
		}
		reply, err := frames.ReadFrame()
		if err != nil {
			return fmt.Errorf("read the reply to %q: %w", strings.Fields(command)[0], err)
		}
		if text := reply.Get("Reply-Text"); !strings.HasPrefix(text, "+OK") {
			return fmt.Errorf("%q was rejected: %s", strings.Fields(command)[0], text)
		}
	}
	return nil
}
