package esl

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// Defaults used for a zero Config field.
const (
	DefaultAddr         = "127.0.0.1:8021"
	DefaultPassword     = "ClueCon"
	DefaultFormat       = "json"
	DefaultQueueSize    = 4096
	DefaultQueueWait    = 250 * time.Millisecond
	DefaultAuthTimeout  = 5 * time.Second
	DefaultWatchdog     = 10 * time.Second
	DefaultReconnectMin = 1 * time.Second
	DefaultReconnectMax = 30 * time.Second
	DefaultDialTimeout  = 5 * time.Second
	// DefaultCommandTimeout bounds one command write and the wait for the
	// reply to the event subscription.
	DefaultCommandTimeout = 5 * time.Second
	// DefaultGapHistory is how many connection gaps Status keeps.
	DefaultGapHistory = 32
)

// Config configures a Client. A zero field takes the default named in its
// comment; New fills them in.
type Config struct {
	// Addr is host:port of FreeSWITCH's mod_event_socket. Default
	// 127.0.0.1:8021.
	Addr string
	// Password is the Event Socket password (event_socket.conf.xml). Default
	// ClueCon. It is sent only in the auth command and never logged.
	Password string
	// Format is the event encoding to subscribe with: "json" (default, values
	// arrive exact) or "plain" (values arrive URL-encoded and are decoded
	// once). XML is not supported.
	Format string
	// Events are the event names to subscribe to. Default
	// CHANNEL_HANGUP_COMPLETE and HEARTBEAT. ALL and CUSTOM are rejected:
	// custom events are named by Subclasses.
	Events []string
	// Subclasses are the CUSTOM subclasses to subscribe to; they go last in
	// the event command. A nil slice means ["fuse::exit"]; an empty non-nil
	// slice subscribes to no CUSTOM event.
	Subclasses []string
	// QueueSize bounds the events read from the socket but not yet taken
	// from Events(). Default 4096.
	QueueSize int
	// QueueWait is how long the reader waits for room when the queue is
	// full before it drops the event and counts it. While it waits,
	// FreeSWITCH keeps the events in its own per-listener queue, so a burst
	// that the consumer works off soon costs nothing. After a wait that
	// timed out, events are dropped without waiting until the queue has
	// room again, so a stalled consumer cannot hold the socket. Default
	// 250ms; a negative value drops at once.
	QueueWait time.Duration
	// AuthTimeout bounds the whole authentication: the wait for
	// auth/request, the auth command and its reply. Default 5s.
	AuthTimeout time.Duration
	// Watchdog is how often "api status" is sent. A connection on which no
	// byte at all arrives for twice this long is closed and reconnected,
	// which detects a peer that stalls with the socket open. Default 10s.
	Watchdog time.Duration
	// ReconnectMin and ReconnectMax bound the delay between connection
	// attempts. The delay doubles after each failed attempt, with random
	// jitter, and starts again from ReconnectMin after a connection that
	// reached the subscribed state. Defaults 1s and 30s.
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// DialTimeout bounds one TCP connection attempt. Default 5s.
	DialTimeout time.Duration
	// CommandTimeout bounds writing a command and the wait for the reply to
	// the event subscription. Default 5s.
	CommandTimeout time.Duration
	// MaxFrameSize bounds one frame, header block and body together; a
	// bigger frame fails the connection. Default 4 MiB.
	MaxFrameSize int
	// GapHistory is how many recent connection gaps Status keeps. Default 32.
	GapHistory int
	// Logger receives the client's log entries. Default: the logrus
	// standard logger.
	Logger logrus.FieldLogger

	// Rand returns a number in [0, 1) for the reconnect jitter. Default
	// math/rand/v2.Float64. Tests may fix it.
	Rand func() float64
	// Dial opens the TCP connection. Default: a net.Dialer. Tests may
	// replace it, for example with one that blocks until its context ends.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// withDefaults returns cfg with every zero field set to its default.
func (cfg Config) withDefaults() Config {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Password == "" {
		cfg.Password = DefaultPassword
	}
	if cfg.Format == "" {
		cfg.Format = DefaultFormat
	}
	if cfg.Events == nil {
		cfg.Events = []string{"CHANNEL_HANGUP_COMPLETE", "HEARTBEAT"}
	}
	if cfg.Subclasses == nil {
		cfg.Subclasses = []string{"fuse::exit"}
	}
	setDefault(&cfg.QueueSize, DefaultQueueSize)
	setDefault(&cfg.QueueWait, DefaultQueueWait)
	setDefault(&cfg.AuthTimeout, DefaultAuthTimeout)
	setDefault(&cfg.Watchdog, DefaultWatchdog)
	setDefault(&cfg.ReconnectMin, DefaultReconnectMin)
	setDefault(&cfg.ReconnectMax, DefaultReconnectMax)
	setDefault(&cfg.DialTimeout, DefaultDialTimeout)
	setDefault(&cfg.CommandTimeout, DefaultCommandTimeout)
	setDefault(&cfg.MaxFrameSize, DefaultMaxFrameSize)
	setDefault(&cfg.GapHistory, DefaultGapHistory)
	if cfg.Logger == nil {
		cfg.Logger = logrus.StandardLogger()
	}
	return cfg
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Validate reports the first invalid field of cfg, after defaults are
// applied, naming the field and what to change.
func (cfg Config) Validate() error {
	cfg = cfg.withDefaults()

	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return fmt.Errorf("esl: invalid Addr %q: write host:port, for example 127.0.0.1:8021: %w", cfg.Addr, err)
	}
	if strings.ContainsAny(cfg.Password, " \r\n") {
		return fmt.Errorf("esl: invalid Password: it must not contain spaces or line breaks, which the auth command cannot carry")
	}
	if cfg.Format != "json" && cfg.Format != "plain" {
		return fmt.Errorf("esl: invalid Format %q: use \"json\" or \"plain\"", cfg.Format)
	}
	if len(cfg.Events) == 0 && len(cfg.Subclasses) == 0 {
		return fmt.Errorf("esl: invalid Events: no event and no subclass to subscribe to")
	}
	for _, name := range cfg.Events {
		if err := checkWord("Events", name); err != nil {
			return err
		}
		switch strings.ToUpper(name) {
		case "ALL":
			return fmt.Errorf("esl: invalid Events entry %q: name the events postcall needs, never ALL", name)
		case "CUSTOM":
			return fmt.Errorf("esl: invalid Events entry %q: list custom events in Subclasses instead", name)
		}
	}
	for _, name := range cfg.Subclasses {
		if err := checkWord("Subclasses", name); err != nil {
			return err
		}
	}

	for _, f := range []struct {
		name     string
		negative bool
		value    any
	}{
		{"QueueSize", cfg.QueueSize < 0, cfg.QueueSize},
		{"AuthTimeout", cfg.AuthTimeout < 0, cfg.AuthTimeout},
		{"Watchdog", cfg.Watchdog < 0, cfg.Watchdog},
		{"ReconnectMin", cfg.ReconnectMin < 0, cfg.ReconnectMin},
		{"ReconnectMax", cfg.ReconnectMax < 0, cfg.ReconnectMax},
		{"DialTimeout", cfg.DialTimeout < 0, cfg.DialTimeout},
		{"CommandTimeout", cfg.CommandTimeout < 0, cfg.CommandTimeout},
		{"MaxFrameSize", cfg.MaxFrameSize < 0, cfg.MaxFrameSize},
		{"GapHistory", cfg.GapHistory < 0, cfg.GapHistory},
	} {
		if f.negative {
			return fmt.Errorf("esl: invalid %s %v: it must not be negative (0 means the default)", f.name, f.value)
		}
	}
	if cfg.ReconnectMax < cfg.ReconnectMin {
		return fmt.Errorf("esl: invalid ReconnectMax %s: it must not be less than ReconnectMin %s", cfg.ReconnectMax, cfg.ReconnectMin)
	}
	return nil
}

func checkWord(field, word string) error {
	if word == "" || strings.ContainsAny(word, " \t\r\n") {
		return fmt.Errorf("esl: invalid %s entry %q: it must be one word without spaces", field, word)
	}
	return nil
}

// subscription returns the event command, for example
// "event json CHANNEL_HANGUP_COMPLETE HEARTBEAT CUSTOM fuse::exit".
func (cfg Config) subscription() string {
	var b strings.Builder
	b.WriteString("event ")
	b.WriteString(cfg.Format)
	for _, name := range cfg.Events {
		b.WriteByte(' ')
		b.WriteString(name)
	}
	if len(cfg.Subclasses) > 0 {
		b.WriteString(" CUSTOM")
		for _, name := range cfg.Subclasses {
			b.WriteByte(' ')
			b.WriteString(name)
		}
	}
	return b.String()
}
