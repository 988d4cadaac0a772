package loadtest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat.
// NOTE: Linux fixes it at 100 on x86 and arm; reading sysconf(_SC_CLK_TCK)
// would need cgo, so other architectures may report wrong CPU times.
const clockTicks = 100

// ProcSample is one reading of a process's CPU time and memory from /proc.
type ProcSample struct {
	// CPU is user plus system time.
	CPU time.Duration
	// RSS is the resident set size (VmRSS) and HWM its peak so far (VmHWM),
	// in bytes. RSSAnon and RSSFile are its anonymous and file-backed parts
	// (RssAnon and RssFile). The spool's memory-mapped file is file-backed.
	RSS     int64
	HWM     int64
	RSSAnon int64
	RSSFile int64
	// WriteBytes counts the bytes the process caused to be written to
	// storage (write_bytes of /proc/PID/io), or -1 when that file cannot be
	// read.
	WriteBytes int64
}

// ReadProc reads /proc/PID/stat and /proc/PID/status.
func ReadProc(pid int) (ProcSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcSample{}, fmt.Errorf("read the CPU time of process %d: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcSample{}, fmt.Errorf("read the memory of process %d: %w", pid, err)
	}
	cpu, err := ParseStatCPU(stat)
	if err != nil {
		return ProcSample{}, fmt.Errorf("process %d: %w", pid, err)
	}
	s, err := ParseStatusMemory(status)
	if err != nil {
		return ProcSample{}, fmt.Errorf("process %d: %w", pid, err)
	}
	s.CPU = cpu
	s.WriteBytes = -1
	if io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid)); err == nil {
		if n, err := ParseIOWriteBytes(io); err == nil {
			s.WriteBytes = n
		}
	}
	return s, nil
}

// ParseIOWriteBytes returns write_bytes of a /proc/PID/io file.
func ParseIOWriteBytes(data []byte) (int64, error) {
	for line := range bytes.Lines(data) {
		value, ok := bytes.CutPrefix(line, []byte("write_bytes:"))
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid /proc io write_bytes %q", bytes.TrimSpace(value))
		}
		return n, nil
	}
	return 0, errors.New("invalid /proc io file: write_bytes is missing")
}

// ParseStatCPU returns utime plus stime (fields 14 and 15) of a
// /proc/PID/stat line. The command name in field 2 may hold spaces and
// parentheses, so the fields are counted from its last ')'.
func ParseStatCPU(stat []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, errors.New("invalid /proc stat line: no ')' after the command name")
	}
	// Fields after the command name start with field 3, the state.
	fields := bytes.Fields(stat[end+1:])
	const utimeIndex = 14 - 3
	if len(fields) <= utimeIndex+1 {
		return 0, fmt.Errorf("invalid /proc stat line: %d fields after the command name, expected at least %d", len(fields), utimeIndex+2)
	}
	// maxTicks keeps the sum within a time.Duration.
	const maxTicks = uint64(math.MaxInt64 / int64(time.Second/clockTicks))
	var ticks uint64
	for _, f := range fields[utimeIndex : utimeIndex+2] {
		n, err := strconv.ParseUint(string(f), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid /proc stat CPU time %q: %w", f, err)
		}
		if n > maxTicks-ticks {
			return 0, fmt.Errorf("invalid /proc stat CPU time %q: out of range", f)
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / clockTicks), nil
}

// ParseStatusMemory returns VmRSS, VmHWM, RssAnon and RssFile of a
// /proc/PID/status file. VmRSS and VmHWM are required.
func ParseStatusMemory(status []byte) (ProcSample, error) {
	var s ProcSample
	fields := map[string]*int64{"VmRSS": &s.RSS, "VmHWM": &s.HWM, "RssAnon": &s.RSSAnon, "RssFile": &s.RSSFile}
	found := 0
	for line := range bytes.Lines(status) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		dst, known := fields[string(name)]
		if !known {
			continue
		}
		n, err := parseKB(value)
		if err != nil {
			return ProcSample{}, fmt.Errorf("invalid /proc status %s: %w", name, err)
		}
		*dst = n
		if string(name) == "VmRSS" || string(name) == "VmHWM" {
			found++
		}
	}
	if found < 2 {
		return ProcSample{}, errors.New("invalid /proc status: VmRSS or VmHWM is missing")
	}
	return s, nil
}

// parseKB parses a value such as "   1234 kB" into bytes.
func parseKB(value []byte) (int64, error) {
	f := bytes.Fields(value)
	if len(f) != 2 || string(f[1]) != "kB" {
		return 0, fmt.Errorf("%q is not a number of kB", bytes.TrimSpace(value))
	}
	n, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil || n < 0 || n > 1<<53 {
		return 0, fmt.Errorf("%q is not a number of kB", f[0])
	}
	return n * 1024, nil
}
