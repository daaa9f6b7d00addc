package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// memSample is the server's memory at one moment.
type memSample struct {
	at       time.Duration
	rss, hwm int64 // bytes
}

// readMem reads a process's VmRSS and VmHWM (peak RSS) from /proc.
func readMem(pid int) (memSample, error) {
	var m memSample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return m, fmt.Errorf("%s: %w", name, err)
		}
		if name == "VmRSS" {
			m.rss = kb << 10
		} else {
			m.hwm = kb << 10
		}
	}
	if m.rss == 0 {
		return m, errors.New("no VmRSS in /proc status")
	}
	return m, nil
}

// cpuModel is the CPU's model name from /proc/cpuinfo, or "unknown model".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown model"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown model"
}

// cpuTimes reads the CPU time (user and system, all threads) each process
// has used so far from /proc/PID/stat; 0 where it cannot.
func cpuTimes(pids ...int) [3]time.Duration {
	var out [3]time.Duration
	for i, pid := range pids[:min(len(pids), len(out))] {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// After "pid (comm) ": state is field 3, utime and stime 14 and 15.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		out[i] = time.Duration(u+s) * (time.Second / 100) // USER_HZ is 100 on Linux
	}
	return out
}

// machineBusy is the CPU time all processes of the machine have used so
// far (the first line of /proc/stat, idle and iowait left out); 0 where it
// cannot be read.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var ticks int64
	for i, v := range f[1:min(len(f), 9)] { // user nice system idle iowait irq softirq steal
		if i == 3 || i == 4 {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / 100)
}

// otherCores is the CPU, in cores over elapsed, that the machine used
// beyond the test's processes (cpu minus cpu0, plus extra).
func otherCores(busy, elapsed time.Duration, cpu, cpu0 [3]time.Duration, extra time.Duration) float64 {
	ours := extra
	for i := range cpu {
		ours += cpu[i] - cpu0[i]
	}
	return max(0, (busy-ours).Seconds()/elapsed.Seconds())
}
