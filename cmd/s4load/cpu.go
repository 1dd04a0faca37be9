package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// cpuTicks returns utime+stime of a process from /proc/<pid>/stat ("self"
// for this one), in clock ticks.
func cpuTicks(pid string) (uint64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	return parseStatTicks(b)
}

// parseStatTicks reads fields 14 (utime) and 15 (stime) of a /proc/PID/stat
// line. The command name (field 2) is in parentheses and may contain spaces
// or parentheses, so fields are counted from the last ')'.
func parseStatTicks(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc stat line")
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc stat line: %d fields", len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed /proc stat utime/stime %q %q", f[11], f[12])
	}
	return utime + stime, nil
}

// clockTicks is USER_HZ from getconf CLK_TCK, or 100 (Linux's value on
// every common architecture) if that fails.
func clockTicks() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && v > 0 {
			return v
		}
	}
	return 100
}

// cpuMeter measures the CPU-seconds a process uses between start and stop.
type cpuMeter struct {
	pid    string
	before uint64
	err    error
}

func startCPU(pid string) *cpuMeter {
	m := &cpuMeter{pid: pid}
	m.before, m.err = cpuTicks(pid)
	return m
}

// stop returns the CPU-seconds since start, or nil if either read failed.
func (m *cpuMeter) stop(hz float64) (*float64, error) {
	if m.err != nil {
		return nil, m.err
	}
	after, err := cpuTicks(m.pid)
	if err != nil {
		return nil, err
	}
	v := round3(float64(after-m.before) / hz)
	return &v, nil
}
