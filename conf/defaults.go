package conf

import (
	"time"
)

// Defaults returns the main file's settings before any file is read: the
// defaults written in the doc comments of Main and its tables. Load decodes
// the main file over this value.
func Defaults() Main {
	return Main{
		Apps: []string{"apps.d/*.toml"},
		FreeSWITCH: FreeSWITCH{
			Address:      "127.0.0.1:8021",
			Password:     "ClueCon",
			ExitSubclass: "fuse::exit",
			EventFormat:  "json",
			ReconnectMin: Duration(time.Second),
			ReconnectMax: Duration(30 * time.Second),
			AuthTimeout:  Duration(5 * time.Second),
			Watchdog:     Duration(10 * time.Second),
			QueueSize:    4096,
		},
		Variables: Variables{
			App:       "fuse_app",
			Prefix:    "fuse_var_",
			Exit:      "fuse_exit",
			ExitGrace: Duration(2 * time.Second),
		},
		Spool: Spool{
			Path:          "/var/lib/postcall/spool.db",
			MemoryQueue:   10000,
			KeepDelivered: Duration(24 * time.Hour),
		},
		Delivery: Delivery{
			Workers:           32,
			PerApp:            8,
			Timeout:           10,
			IdempotencyHeader: "Idempotency-Key",
			MaxResponseBytes:  64 << 10,
			Retry: Retry{
				InitialDelay:  Duration(time.Second),
				MaxDelay:      Duration(10 * time.Minute),
				Multiplier:    2,
				MaxAttempts:   0,
				MaxAge:        Duration(24 * time.Hour),
				MaxRetryAfter: Duration(time.Hour),
			},
		},
		Admin: Admin{
			Listen: "127.0.0.1:9466",
		},
		Log: Log{
			Level:  "info",
			Format: "text",
		},
	}
}
