package packaging_test

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// testVersion contains a "+" so the test covers a Debian version that is
// not a bare dotted number.
const testVersion = "0.0.1+test"

// debianArch maps Go's GOARCH to the Debian architecture the build script
// uses for it by default.
var debianArch = map[string]string{
	"amd64": "amd64", "arm64": "arm64", "386": "i386", "ppc64le": "ppc64el",
	"s390x": "s390x", "riscv64": "riscv64",
}

// debEntry is one line of "dpkg-deb --contents".
type debEntry struct {
	mode  string // for example -rw-r--r--
	owner string // user/group
}

// runTool runs a command and fails the test with its output when it fails.
func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// parseContents reads "dpkg-deb --contents" output: mode, owner/group,
// size, date, time and path on each line.
func parseContents(t *testing.T, listing string) map[string]debEntry {
	t.Helper()
	entries := map[string]debEntry{}
	sc := bufio.NewScanner(strings.NewReader(listing))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			t.Fatalf("unexpected dpkg-deb --contents line %q", sc.Text())
		}
		path := strings.Join(fields[5:], " ")
		entries[path] = debEntry{mode: fields[0], owner: fields[1]}
	}
	return entries
}

// buildPackage runs build-deb.sh into a temporary folder and returns the
// path of the package it wrote.
func buildPackage(t *testing.T) string {
	t.Helper()
	dist := t.TempDir()
	cmd := exec.Command("sh", "build-deb.sh", testVersion)
	cmd.Env = append(os.Environ(), "DIST_DIR="+dist)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("build-deb.sh %s: %v\n%s", testVersion, err, out)
	}
	arch := strings.TrimSpace(runTool(t, "dpkg", "--print-architecture"))
	deb := filepath.Join(dist, "postcall_"+testVersion+"_"+arch+".deb")
	if _, err := os.Stat(deb); err != nil {
		t.Fatalf("build-deb.sh did not write %s: %v\n%s", deb, err, out)
	}
	return deb
}

// rewriteMainFile copies the packaged main file to dir with its absolute
// paths moved: the applications into appsDir and the spool into dir. It
// fails when a packaged path is not found, so the test notices a changed
// layout.
func rewriteMainFile(t *testing.T, packaged, appsDir, dir string) string {
	t.Helper()
	data, err := os.ReadFile(packaged)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, r := range []struct{ from, to string }{
		{`apps = ["/etc/postcall/apps.d/*.toml"]`, `apps = ["` + appsDir + `/*.toml"]`},
		{`path = "/var/lib/postcall/spool.db"`, `path = "` + filepath.Join(dir, "spool.db") + `"`},
	} {
		if strings.Count(text, r.from) != 1 {
			t.Fatalf("the packaged main file does not contain %q exactly once", r.from)
		}
		text = strings.Replace(text, r.from, r.to, 1)
	}
	path := filepath.Join(dir, "postcall.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDebianPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the Debian package; skipped in -short mode")
	}
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not found: install the dpkg package to test the Debian package")
	}
	deb := buildPackage(t)
	arch := strings.TrimSpace(runTool(t, "dpkg", "--print-architecture"))

	root := t.TempDir()
	runTool(t, "dpkg-deb", "-x", deb, root)
	control := t.TempDir()
	runTool(t, "dpkg-deb", "-e", deb, control)
	contents := parseContents(t, runTool(t, "dpkg-deb", "--contents", deb))

	t.Run("control fields", func(t *testing.T) {
		want := map[string]string{
			"Package":      "postcall",
			"Version":      testVersion,
			"Architecture": arch,
			"Depends":      "adduser",
			"Suggests":     "freeswitch",
			"Recommends":   "",
		}
		for field, value := range want {
			got := strings.TrimSpace(runTool(t, "dpkg-deb", "--field", deb, field))
			if got != value {
				t.Errorf("control field %s = %q, want %q", field, got, value)
			}
		}
		if got := strings.TrimSpace(runTool(t, "dpkg-deb", "--field", deb, "Maintainer")); got == "" {
			t.Error("control field Maintainer is empty")
		}
		info := runTool(t, "dpkg-deb", "--info", deb)
		for _, file := range []string{"control", "conffiles", "md5sums", "postinst", "prerm", "postrm"} {
			if !strings.Contains(info, " "+file+" ") {
				t.Errorf("dpkg-deb --info does not list the control file %s:\n%s", file, info)
			}
		}
	})

	t.Run("file modes", func(t *testing.T) {
		want := map[string]string{
			"./usr/bin/postcall":                                                    "-rwxr-xr-x",
			"./lib/systemd/system/postcall.service":                                 "-rw-r--r--",
			"./etc/postcall/":                                                       "drwxr-xr-x",
			"./etc/postcall/postcall.toml":                                          "-rw-r-----",
			"./etc/postcall/apps.d/":                                                "drwxr-x---",
			"./etc/postcall/apps.d/example.toml.sample":                             "-rw-r--r--",
			"./usr/share/doc/postcall/README":                                       "-rw-r--r--",
			"./usr/share/doc/postcall/copyright":                                    "-rw-r--r--",
			"./usr/share/doc/postcall/variables.md":                                 "-rw-r--r--",
			"./usr/share/doc/postcall/dialplan.md":                                  "-rw-r--r--",
			"./usr/share/doc/postcall/examples/calls/hangup_complete_ivr_exit.json": "-rw-r--r--",
			"./usr/share/doc/postcall/changelog.gz":                                 "-rw-r--r--",
			"./usr/share/man/man1/postcall.1.gz":                                    "-rw-r--r--",
			"./usr/share/lintian/overrides/postcall":                                "-rw-r--r--",
		}
		for path, mode := range want {
			entry, ok := contents[path]
			if !ok {
				t.Errorf("the package does not contain %s", path)
				continue
			}
			if entry.mode != mode {
				t.Errorf("%s has mode %s, want %s", path, entry.mode, mode)
			}
		}
		for path, entry := range contents {
			if entry.owner != "root/root" {
				t.Errorf("%s is owned by %s, want root/root", path, entry.owner)
			}
			if entry.mode[5] == 'w' || entry.mode[8] == 'w' {
				t.Errorf("%s has mode %s: writable by group or others", path, entry.mode)
			}
			if strings.ContainsAny(entry.mode, "sStT") {
				t.Errorf("%s has mode %s: setuid, setgid or sticky", path, entry.mode)
			}
			if strings.HasPrefix(path, "./var/") {
				t.Errorf("%s: the package must not ship the spool folder; postinst and systemd create it", path)
			}
			if strings.HasPrefix(path, "./etc/postcall/apps.d/") && strings.HasSuffix(path, ".toml") {
				t.Errorf("%s would be loaded by the apps.d/*.toml pattern; a fresh install must have no application", path)
			}
		}
	})

	t.Run("conffiles", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(control, "conffiles"))
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Fields(string(data))
		var want []string
		for path, entry := range contents {
			if strings.HasPrefix(path, "./etc/") && entry.mode[0] == '-' {
				want = append(want, strings.TrimPrefix(path, "."))
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("conffiles lists %q, want every file under /etc: %q", got, want)
		}
	})

	t.Run("maintainer scripts", func(t *testing.T) {
		for _, name := range []string{"postinst", "prerm", "postrm"} {
			path := filepath.Join(control, name)
			info, err := os.Stat(path)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if info.Mode().Perm() != 0o755 {
				t.Errorf("%s has mode %v, want 0755", name, info.Mode().Perm())
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(data, []byte("#!/bin/sh\n")) {
				t.Errorf("%s does not start with #!/bin/sh", name)
			}
			if out, err := exec.Command("sh", "-n", path).CombinedOutput(); err != nil {
				t.Errorf("sh -n %s: %v\n%s", name, err, out)
			}
		}
	})

	t.Run("md5sums", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(control, "md5sums"))
		if err != nil {
			t.Fatal(err)
		}
		listed := 0
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			sum, path, ok := strings.Cut(line, "  ")
			if !ok {
				t.Fatalf("md5sums line %q is not \"SUM  PATH\"", line)
			}
			file, err := os.ReadFile(filepath.Join(root, path))
			if err != nil {
				t.Errorf("md5sums lists %s: %v", path, err)
				continue
			}
			got := md5.Sum(file)
			if hex.EncodeToString(got[:]) != sum {
				t.Errorf("md5sums: %s has sum %x, the list says %s", path, got, sum)
			}
			listed++
		}
		shipped := 0
		for path, entry := range contents {
			if entry.mode[0] == '-' && !strings.HasPrefix(path, "./etc/") {
				shipped++
			}
		}
		if listed != shipped {
			t.Errorf("md5sums lists %d files, want every file outside /etc (%d)", listed, shipped)
		}
	})

	t.Run("unit file", func(t *testing.T) {
		packaged, err := os.ReadFile(filepath.Join(root, "lib/systemd/system/postcall.service"))
		if err != nil {
			t.Fatal(err)
		}
		source, err := os.ReadFile(unitPath)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(packaged, source) {
			t.Error("the packaged unit differs from packaging/postcall.service")
		}
	})

	t.Run("copyright", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(root, "usr/share/doc/postcall/copyright"))
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		for _, module := range []string{"github.com/BurntSushi/toml@", "github.com/sirupsen/logrus@",
			"go.etcd.io/bbolt@", "github.com/prometheus/client_golang@", "go@go"} {
			if !strings.Contains(text, module) {
				t.Errorf("copyright has no license section for %s", module)
			}
		}
	})

	t.Run("lintian", func(t *testing.T) {
		lintian, err := exec.LookPath("lintian")
		if err != nil {
			t.Skip("lintian not found: install it to check the package against Debian policy")
		}
		// lintian exits non-zero on errors; the output names each tag.
		out, _ := exec.Command(lintian, deb).CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			switch {
			case strings.HasPrefix(line, "E: "):
				t.Errorf("lintian: %s", line)
			case strings.HasPrefix(line, "W: "):
				// Warnings depend on the lintian version, so they are
				// shown but do not fail the test.
				t.Logf("lintian: %s", line)
			}
		}
	})

	// The remaining checks run the packaged binary, so they need a package
	// for this machine.
	if debianArch[runtime.GOARCH] != arch {
		t.Logf("skipping the binary checks: the package is for %s and this test runs on GOARCH %s", arch, runtime.GOARCH)
		return
	}
	binary := filepath.Join(root, "usr/bin/postcall")

	t.Run("version", func(t *testing.T) {
		got := runTool(t, binary, "version")
		if want := "postcall " + testVersion + "\n"; got != want {
			t.Errorf("postcall version printed %q, want %q", got, want)
		}
	})

	t.Run("check sample main file", func(t *testing.T) {
		dir := t.TempDir()
		config := rewriteMainFile(t, filepath.Join(root, "etc/postcall/postcall.toml"),
			filepath.Join(root, "etc/postcall/apps.d"), dir)
		out, err := exec.Command(binary, "check", "-config", config).CombinedOutput()
		if err != nil {
			t.Fatalf("postcall check on the packaged main file: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "configuration ok: 0 applications") {
			t.Errorf("postcall check output does not report 0 applications:\n%s", out)
		}
	})

	t.Run("example application", func(t *testing.T) {
		dir := t.TempDir()
		apps := filepath.Join(dir, "apps.d")
		if err := os.Mkdir(apps, 0o700); err != nil {
			t.Fatal(err)
		}
		sample, err := os.ReadFile(filepath.Join(root, "etc/postcall/apps.d/example.toml.sample"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(apps, "example.toml"), sample, 0o600); err != nil {
			t.Fatal(err)
		}
		config := rewriteMainFile(t, filepath.Join(root, "etc/postcall/postcall.toml"), apps, dir)
		out, err := exec.Command(binary, "check", "-config", config).CombinedOutput()
		if err != nil {
			t.Fatalf("postcall check with the example application enabled: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "configuration ok: 1 application\n") {
			t.Errorf("postcall check output does not report 1 application:\n%s", out)
		}

		// The installed README tries the example on a packaged sample call.
		call := filepath.Join(root, "usr/share/doc/postcall/examples/calls/hangup_complete_ivr_exit.json")
		out, err = exec.Command(binary, "render", "-config", config, "-event", call).CombinedOutput()
		if err != nil {
			t.Fatalf("postcall render of a packaged sample call: %v\n%s", err, out)
		}
		for _, want := range []string{"# application survey, call ", "termination ivr_exit", `"q1": "5"`} {
			if !strings.Contains(string(out), want) {
				t.Errorf("postcall render output does not contain %q:\n%s", want, out)
			}
		}
	})

	t.Run("dpkg root unpack", func(t *testing.T) {
		// Only "dpkg --unpack" is run, because configuring runs postinst.
		// dpkg runs it chrooted into the root, which needs a Debian base
		// system there. With --force-script-chrootless it would run against
		// this machine's users and systemd instead.
		if os.Geteuid() != 0 {
			t.Skip("dpkg --root needs root to set file owners")
		}
		if _, err := exec.LookPath("dpkg"); err != nil {
			t.Skip("dpkg not found")
		}
		target := t.TempDir()
		admin := filepath.Join(target, "var/lib/dpkg")
		for _, dir := range []string{"info", "updates", "triggers"} {
			if err := os.MkdirAll(filepath.Join(admin, dir), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, file := range []string{"status", "available"} {
			if err := os.WriteFile(filepath.Join(admin, file), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}

		runTool(t, "dpkg", "--root="+target, "--unpack", deb)

		status := runTool(t, "dpkg", "--root="+target, "--status", "postcall")
		for _, want := range []string{
			"Status: install ok unpacked",
			"Version: " + testVersion,
			" /etc/postcall/postcall.toml ",
			" /etc/postcall/apps.d/example.toml.sample ",
		} {
			if !strings.Contains(status, want) {
				t.Errorf("dpkg --status does not contain %q:\n%s", want, status)
			}
		}
		files := runTool(t, "dpkg", "--root="+target, "--listfiles", "postcall")
		if !slices.Contains(strings.Split(files, "\n"), "/usr/bin/postcall") {
			t.Errorf("dpkg --listfiles does not list /usr/bin/postcall:\n%s", files)
		}
		info, err := os.Stat(filepath.Join(target, "usr/bin/postcall"))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o755 {
			t.Errorf("unpacked /usr/bin/postcall has mode %v, want 0755", info.Mode().Perm())
		}
	})
}
