package spool_test

import (
	"path/filepath"
	"testing"

	"github.com/postcall/postcall/spool"
	"github.com/postcall/postcall/spool/spooltest"
)

func openBoltIn(t *testing.T, dir string) spool.Store {
	t.Helper()
	s, err := spool.OpenBolt(filepath.Join(dir, "spool", "spool.db"), spool.BoltOptions{})
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	return s
}

func TestMemoryStore(t *testing.T) {
	spooltest.Run(t, func(t *testing.T) spool.Store { return spool.NewMemory() })
}

func TestBoltStore(t *testing.T) {
	spooltest.Run(t, func(t *testing.T) spool.Store { return openBoltIn(t, t.TempDir()) })
}

func TestBoltStoreDurable(t *testing.T) {
	spooltest.RunDurable(t, openBoltIn, "TestBoltCrashChild")
}

// TestBoltCrashChild is the child process of TestBoltStoreDurable; it skips
// in a normal run.
func TestBoltCrashChild(t *testing.T) {
	spooltest.CrashChild(t, openBoltIn)
}
