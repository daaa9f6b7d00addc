package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what parseWrk reads from wrk's report and rotate-videos.lua's.
type wrkResult struct {
	rate         float64
	requests     int64
	bad          int64
	socketErrors string
}

var (
	wrkRequests = regexp.MustCompile(`(?m)^\s*(\d+) requests in `)
	wrkRate     = regexp.MustCompile(`(?m)^Requests/sec:\s*([\d.]+)`)
	wrkBad      = regexp.MustCompile(`(?m)^bad answers: (\d+)`)
	wrkSocket   = regexp.MustCompile(`(?m)^\s*Socket errors: (.*)$`)
	wrkNon2xx   = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses: (\d+)`)
)

func parseWrk(out []byte) (wrkResult, error) {
	r := wrkResult{socketErrors: "none"}
	m1, m2, m3 := wrkRequests.FindSubmatch(out), wrkRate.FindSubmatch(out), wrkBad.FindSubmatch(out)
	if m1 == nil || m2 == nil || m3 == nil {
		return r, errors.New("unexpected wrk output")
	}
	r.requests, _ = strconv.ParseInt(string(m1[1]), 10, 64)
	r.rate, _ = strconv.ParseFloat(string(m2[1]), 64)
	r.bad, _ = strconv.ParseInt(string(m3[1]), 10, 64)
	if m := wrkSocket.FindSubmatch(out); m != nil {
		r.socketErrors = strings.TrimSpace(string(m[1]))
	}
	if m := wrkNon2xx.FindSubmatch(out); m != nil {
		// The script counts them as bad already; say so if it did not.
		if k, _ := strconv.ParseInt(string(m[1]), 10, 64); k > r.bad {
			r.bad = k
		}
	}
	return r, nil
}

// wrkRun is one run of wrk: its report, and the CPU spent meanwhile.
type wrkRun struct {
	wrkResult
	cpu    [3]time.Duration // CPU each watched process used during the run
	wrkCPU time.Duration    // CPU wrk itself used
	other  float64          // cores used by processes outside the test (see otherCores)
}

// runWrk runs wrk with args, reading the CPU times of pids (at most 3, as
// cpuTimes does) and of the whole machine before and after, and parses its
// report with parseWrk. An error carries wrk's output.
func runWrk(ctx context.Context, wrk string, args []string, pids ...int) (wrkRun, error) {
	cpu0, busy0, start := cpuTimes(pids...), machineBusy(), time.Now()
	cmd := exec.CommandContext(ctx, wrk, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkRun{}, fmt.Errorf("%v\n%s", err, out)
	}
	cpu, busy, elapsed := cpuTimes(pids...), machineBusy(), time.Since(start)
	r := wrkRun{wrkCPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	for i := range cpu {
		r.cpu[i] = cpu[i] - cpu0[i]
	}
	r.other = otherCores(busy-busy0, elapsed, cpu, cpu0, r.wrkCPU)
	if r.wrkResult, err = parseWrk(out); err != nil {
		return r, fmt.Errorf("%v\n%s", err, out)
	}
	return r, nil
}
