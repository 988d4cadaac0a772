package loadtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/postcall/postcall/esl"
	"github.com/postcall/postcall/esl/esltest"
	"github.com/postcall/postcall/hooks"
)

// GeneratorOptions configure a Generator.
type GeneratorOptions struct {
	// Format is the event format the daemon subscribed with: "json"
	// (default) or "plain".
	Format string
	// App is the value of the application variable in every call.
	// Default: the captures' own, "survey".
	App string
	// AppVar and Prefix are the daemon's application variable and IVR
	// variable prefix. Defaults: fuse_app and fuse_var_.
	AppVar string
	Prefix string
	// ExitShare is the share of calls, from 0 to 1, whose IVR fires CUSTOM
	// fuse::exit before the hangup. The calls are spread evenly.
	ExitShare float64
}

// Generator builds the events of numbered calls from real captured events:
// each call has its own Unique-ID and IVR values and keeps the captures'
// Core-UUID, size and header count. It is safe for concurrent use.
type Generator struct {
	hangup     *frameTemplate
	exit       *frameTemplate
	exitHangup *frameTemplate
	coreUUID   string
	format     string
	exitShare  float64
	// idPrefix is the first 24 characters of every call id, random per
	// generator; the last 12 are the call's number in hex.
	idPrefix string
	seed     uint64
}

// Call is the events of one generated call.
type Call struct {
	Seq int
	// ID is the call's Unique-ID.
	ID string
	// Key is the idempotency key the daemon derives from Core-UUID and
	// Unique-ID.
	Key string
	// Frames are whole ESL frames in the order FreeSWITCH sends them: the
	// exit event, when the call has one, then the hangup.
	Frames [][]byte
}

// NewGenerator prepares the captured events for opts.
func NewGenerator(opts GeneratorOptions) (*Generator, error) {
	if opts.Format == "" {
		opts.Format = "json"
	}
	if opts.AppVar == "" {
		opts.AppVar = hooks.DefaultAppVar
	}
	if opts.Prefix == "" {
		opts.Prefix = hooks.DefaultPrefix
	}
	if opts.ExitShare < 0 || opts.ExitShare > 1 {
		return nil, fmt.Errorf("exit share %v is not valid: use a number from 0 to 1", opts.ExitShare)
	}
	topts := templateOptions{format: opts.Format, app: opts.App, appVar: opts.AppVar, prefix: opts.Prefix}

	g := &Generator{exitShare: opts.ExitShare, format: opts.Format}
	var cores []string
	for _, c := range []struct {
		file string
		dst  **frameTemplate
	}{
		{captureHangup, &g.hangup},
		{captureExit, &g.exit},
		{captureExitHangup, &g.exitHangup},
	} {
		ev, err := readCapture(c.file)
		if err != nil {
			return nil, err
		}
		if *c.dst, err = newFrameTemplate(ev, topts); err != nil {
			return nil, fmt.Errorf("prepare %s: %w", c.file, err)
		}
		cores = append(cores, ev.Get("Core-UUID"))
	}
	for _, core := range cores[1:] {
		if core != cores[0] {
			return nil, fmt.Errorf("the embedded captures come from different FreeSWITCH instances (Core-UUID %s and %s)", cores[0], core)
		}
	}
	g.coreUUID = cores[0]

	var random [16]byte
	_, _ = rand.Read(random[:]) // crypto/rand.Read is documented to never return an error
	g.idPrefix = formatIDPrefix(random[:10])
	g.seed = binary.LittleEndian.Uint64(random[8:])
	return g, nil
}

// formatIDPrefix returns "xxxxxxxx-xxxx-4xxx-8xxx-" from 10 random bytes,
// the start of a version 4 UUID.
func formatIDPrefix(b []byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-"
}

// Format returns the event format of the generated frames, json or plain.
func (g *Generator) Format() string { return g.format }

// CoreUUID returns the Core-UUID every generated event carries.
func (g *Generator) CoreUUID() string { return g.coreUUID }

// HasExit reports whether call seq fires the exit event before its hangup.
func (g *Generator) HasExit(seq int) bool {
	return int(float64(seq+1)*g.exitShare) > int(float64(seq)*g.exitShare)
}

// CallID returns the Unique-ID of call seq.
func (g *Generator) CallID(seq int) string {
	return fmt.Sprintf("%s%012x", g.idPrefix, uint64(seq)&0xffffffffffff)
}

// Call builds the frames of call seq.
func (g *Generator) Call(seq int) Call {
	id := g.CallID(seq)
	c := Call{Seq: seq, ID: id, Key: hooks.Key(g.coreUUID, id)}
	seed := mix64(g.seed + uint64(seq))
	if g.HasExit(seq) {
		c.Frames = [][]byte{g.exit.build(id, seed), g.exitHangup.build(id, seed)}
	} else {
		c.Frames = [][]byte{g.hangup.build(id, seed)}
	}
	return c
}

// HangupEvent returns the decoded hangup event of call seq, and its exit
// event or nil, for rendering the same requests the daemon renders.
func (g *Generator) HangupEvent(seq int) (hangup esl.Event, exit *esl.Event, err error) {
	c := g.Call(seq)
	events := make([]esl.Event, 0, len(c.Frames))
	for _, f := range c.Frames {
		frame, err := esl.NewFrameReader(bytes.NewReader(f), 0).ReadFrame()
		if err != nil {
			return esl.Event{}, nil, err
		}
		ev, _, err := esl.DecodeFrame(&frame)
		if err != nil {
			return esl.Event{}, nil, err
		}
		events = append(events, ev)
	}
	hangup = events[len(events)-1]
	if len(events) > 1 {
		exit = &events[0]
	}
	return hangup, exit, nil
}

// Plan is how many calls to send and how fast.
type Plan struct {
	// Rate is calls per second; 0 sends as fast as the fake server's queue
	// takes them, which is as fast as the daemon reads.
	Rate float64
	// Calls ends the run after that many calls; 0 means no limit.
	Calls int
	// Duration ends the run after that long; 0 means no limit. At least
	// one of Calls and Duration must be set.
	Duration time.Duration
}

// SendResult is the account of one Send.
type SendResult struct {
	Calls  int
	Events int
	// NotQueued counts frames that reached no client: they were dropped
	// after waiting for room in a full send queue, or no client was
	// subscribed.
	NotQueued int
	Start     time.Time
	End       time.Time
}

// Send sends the calls of plan through fake, registering each call with
// tracker before its hangup is queued. It returns when the plan is done or
// ctx ends.
func (g *Generator) Send(ctx context.Context, fake *esltest.Server, tracker *Tracker, plan Plan) SendResult {
	res := SendResult{Start: time.Now()}
	interval := time.Duration(0)
	if plan.Rate > 0 {
		interval = time.Duration(float64(time.Second) / plan.Rate)
	}
	for seq := 0; ; seq++ {
		if plan.Calls > 0 && seq >= plan.Calls {
			break
		}
		now := time.Now()
		if plan.Duration > 0 && now.Sub(res.Start) >= plan.Duration {
			break
		}
		if ctx.Err() != nil {
			break
		}
		if interval > 0 {
			due := res.Start.Add(time.Duration(seq) * interval)
			if wait := due.Sub(now); wait > 0 && !sleep(ctx, wait) {
				break
			}
		}

		call := g.Call(seq)
		last := len(call.Frames) - 1
		for i, frame := range call.Frames {
			if i == last {
				tracker.Sent(call.ID, call.Key)
			} else {
				tracker.EventSent()
			}
			if fake.SendFrame(frame) == 0 {
				res.NotQueued++
			}
			res.Events++
		}
		res.Calls++
	}
	res.End = time.Now()
	return res
}

// sleep waits for d and reports false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
