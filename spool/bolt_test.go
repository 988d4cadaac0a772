package spool

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	logtest "github.com/sirupsen/logrus/hooks/test"
	bolt "go.etcd.io/bbolt"

	"github.com/postcall/postcall/delivery"
)

func TestBoltFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "postcall")
	path := filepath.Join(dir, "spool.db")
	s, err := OpenBolt(path, BoltOptions{Logger: discardLogger()})
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	defer s.Close()

	info, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("stat directory: %v", err)
	}
	if mode := info.Mode().Perm(); mode != 0o700 {
		t.Errorf("spool directory has mode %04o, want 0700", mode)
	}
	info, err = os.Stat(path)
	if err != nil {
		t.Fatalf("stat file: %v", err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("spool file has mode %04o, want 0600", mode)
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
}

func TestBoltWarnsWideModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wide")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "spool.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o644)

	logger, hook := logtest.NewNullLogger()
	s, err := OpenBolt(path, BoltOptions{Logger: logger})
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	defer s.Close()
	var dirWarned, fileWarned bool
	for _, e := range hook.AllEntries() {
		dirWarned = dirWarned || strings.Contains(e.Message, "chmod 700 "+dir)
		fileWarned = fileWarned || strings.Contains(e.Message, "chmod 600 "+path)
	}
	if !dirWarned {
		t.Error("no warning about the directory's mode 0755")
	}
	if !fileWarned {
		t.Error("no warning about the file's mode 0644")
	}
}

func TestBoltInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool", "spool.db")
	first, err := OpenBolt(path, BoltOptions{Logger: discardLogger()})
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	defer first.Close()

	second, err := OpenBolt(path, BoltOptions{Logger: discardLogger(), LockTimeout: 50 * time.Millisecond})
	if err == nil {
		second.Close()
		t.Fatal("a second OpenBolt of a locked file succeeded")
	}
	want := "spool " + path + " is in use by another postcall process"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestBoltRejectsOtherFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool", "spool.db")
	s, err := OpenBolt(path, BoltOptions{Logger: discardLogger()})
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	s.Close()

	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaFormat, []byte{formatVersion + 1})
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	_, err = OpenBolt(path, BoltOptions{Logger: discardLogger()})
	if err == nil || !strings.Contains(err.Error(), "cannot read") || !strings.Contains(err.Error(), path) {
		t.Errorf("OpenBolt of a file in another format returned %v, want an error naming the path and the format", err)
	}
}

// chattr makes path immutable (or mutable again with "-i"). It skips the
// test where the file system or the process cannot do that.
func chattr(t *testing.T, flag, path string) {
	t.Helper()
	out, err := exec.Command("chattr", flag, path).CombinedOutput()
	if err != nil {
		t.Skipf("chattr %s %s failed (%v: %s); this check needs a file system and rights that support the immutable flag", flag, path, err, strings.TrimSpace(string(out)))
	}
}

func TestBoltWriteErrorNamesPath(t *testing.T) {
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("chattr is not installed")
	}
	t.Run("immutable file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "spool", "spool.db")
		s, err := OpenBolt(path, BoltOptions{Logger: discardLogger()})
		if err != nil {
			t.Fatalf("OpenBolt: %v", err)
		}
		defer s.Close()
		if _, err := s.Add(context.Background(), []*delivery.Job{testJob("before", "survey")}); err != nil {
			t.Fatalf("Add before the failure: %v", err)
		}

		chattr(t, "+i", path)
		defer chattr(t, "-i", path)
		_, err = s.Add(context.Background(), []*delivery.Job{testJob("k1", "survey")})
		if err == nil {
			t.Fatal("Add to an immutable file succeeded")
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("write error %q does not name the spool path", err)
		}
		if errors.Is(err, ErrClosed) {
			t.Errorf("write error %v claims the store is closed", err)
		}
	})
	t.Run("immutable directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "spool")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		chattr(t, "+i", dir)
		defer chattr(t, "-i", dir)
		path := filepath.Join(dir, "spool.db")
		_, err := OpenBolt(path, BoltOptions{Logger: discardLogger()})
		if err == nil {
			t.Fatal("OpenBolt in an immutable directory succeeded")
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("open error %q does not name the spool path", err)
		}
	})
}
