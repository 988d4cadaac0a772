package loadtest

import (
	"os"
	"strings"
	"testing"
	"time"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// statLine builds a /proc/PID/stat line with the given command name and
// utime and stime fields.
func statLine(comm, utime, stime string) string {
	return "4242 (" + comm + ") S 1 4242 4242 0 -1 4194304 500 0 0 0 " + utime + " " + stime +
		" 0 0 20 0 9 0 1234 123456789 2500 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
}

func TestParseStatCPU(t *testing.T) {
	cases := []struct {
		name    string
		line    string
		want    time.Duration
		wantErr bool
	}{
		{"captured line", string(readTestdata(t, "proc_stat.txt")), 0, false},
		{"plain name", statLine("postcall", "150", "50"), 2 * time.Second, false},
		{"name with spaces and parentheses", statLine("post call) (x", "7", "3"), 100 * time.Millisecond, false},
		{"no parenthesis", "4242 postcall S 1", 0, true},
		{"too few fields", "4242 (postcall) S 1 2 3", 0, true},
		{"negative ticks", statLine("postcall", "-1", "0"), 0, true},
		{"ticks out of range", statLine("postcall", "18446744073709551615", "0"), 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStatCPU([]byte(tc.line))
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseStatCPU error = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ParseStatCPU = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseStatusMemory(t *testing.T) {
	captured := string(readTestdata(t, "proc_status.txt"))
	cases := []struct {
		name    string
		status  string
		want    ProcSample
		wantErr bool
	}{
		{"captured file", captured, ProcSample{RSS: 1592 << 10, HWM: 1592 << 10, RSSAnon: 108 << 10, RSSFile: 1484 << 10}, false},
		{"only the required fields", "VmHWM:\t 20 kB\nVmRSS:\t 10 kB\n", ProcSample{RSS: 10 << 10, HWM: 20 << 10}, false},
		{"missing VmHWM", "VmRSS:\t 10 kB\n", ProcSample{}, true},
		{"wrong unit", "VmHWM:\t 20 MB\nVmRSS:\t 10 kB\n", ProcSample{}, true},
		{"not a number", "VmHWM:\t x kB\nVmRSS:\t 10 kB\n", ProcSample{}, true},
		{"empty", "", ProcSample{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStatusMemory([]byte(tc.status))
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseStatusMemory error = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ParseStatusMemory = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseIOWriteBytes(t *testing.T) {
	cases := []struct {
		name    string
		io      string
		want    int64
		wantErr bool
	}{
		{"captured file", string(readTestdata(t, "proc_io.txt")), 20480, false},
		{"written bytes", "rchar: 1\nwrite_bytes: 4096\ncancelled_write_bytes: 0\n", 4096, false},
		{"missing", "rchar: 1\n", 0, true},
		{"negative", "write_bytes: -1\n", 0, true},
		{"not a number", "write_bytes: many\n", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseIOWriteBytes([]byte(tc.io))
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseIOWriteBytes error = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ParseIOWriteBytes = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestReadProcOfThisProcess(t *testing.T) {
	s, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS <= 0 {
		t.Errorf("RSS = %d, want a positive size", s.RSS)
	}
	if s.HWM < s.RSS {
		t.Errorf("peak RSS %d is below the current RSS %d", s.HWM, s.RSS)
	}
	if s.RSSAnon+s.RSSFile > s.RSS+(1<<20) {
		t.Errorf("RssAnon %d + RssFile %d exceed VmRSS %d", s.RSSAnon, s.RSSFile, s.RSS)
	}
}

func TestReadProcOfMissingProcess(t *testing.T) {
	// PID 0 has no /proc entry.
	if _, err := ReadProc(0); err == nil {
		t.Fatal("ReadProc(0) returned no error")
	}
}

func FuzzParseStatCPU(f *testing.F) {
	f.Add(readTestdata(f, "proc_stat.txt"))
	f.Add([]byte(statLine("post call) (x", "7", "3")))
	f.Add([]byte("1 () S"))
	f.Fuzz(func(t *testing.T, line []byte) {
		d, err := ParseStatCPU(line)
		if err == nil && d < 0 {
			t.Errorf("ParseStatCPU(%q) = %v, a negative CPU time", line, d)
		}
		if err != nil && d != 0 {
			t.Errorf("ParseStatCPU(%q) returned %v with error %v", line, d, err)
		}
	})
}

func FuzzParseStatusMemory(f *testing.F) {
	f.Add(readTestdata(f, "proc_status.txt"))
	f.Add([]byte("VmHWM:\t 20 kB\nVmRSS:\t 10 kB\n"))
	f.Add([]byte("VmRSS: 1 kB"))
	f.Fuzz(func(t *testing.T, status []byte) {
		s, err := ParseStatusMemory(status)
		if err != nil {
			return
		}
		if s.RSS < 0 || s.HWM < 0 || s.RSSAnon < 0 || s.RSSFile < 0 {
			t.Errorf("ParseStatusMemory(%q) = %+v, a negative size", status, s)
		}
		if !strings.Contains(string(status), "VmRSS") || !strings.Contains(string(status), "VmHWM") {
			t.Errorf("ParseStatusMemory(%q) succeeded without VmRSS and VmHWM", status)
		}
	})
}

func FuzzParseIOWriteBytes(f *testing.F) {
	f.Add(readTestdata(f, "proc_io.txt"))
	f.Add([]byte("write_bytes: 4096\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := ParseIOWriteBytes(data)
		if err == nil && n < 0 {
			t.Errorf("ParseIOWriteBytes(%q) = %d, a negative count", data, n)
		}
	})
}

func FuzzRequestKeys(f *testing.F) {
	f.Add("key", "/calls/abc")
	f.Add("", "//a//b/")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, key, path string) {
		keys := RequestKeys(key, path)
		for i, k := range keys {
			if k == "" {
				t.Fatalf("RequestKeys(%q, %q) returned an empty key", key, path)
			}
			if (i > 0 || key == "") && strings.Contains(k, "/") {
				t.Fatalf("RequestKeys(%q, %q) returned segment %q with a slash", key, path, k)
			}
		}
		if key != "" && (len(keys) == 0 || keys[0] != key) {
			t.Fatalf("RequestKeys(%q, %q) = %q, want the idempotency key first", key, path, keys)
		}
	})
}
