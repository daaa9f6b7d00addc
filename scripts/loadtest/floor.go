package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// floorVideo is the video both servers answer in the -vs-floor mode: the
// vendor's example, which our server's sandbox serves.
const floorVideo = "VI606404158946574336"

// floorQuery is the query both servers answer in the -vs-floor mode: one
// video, a cache hit on ours after the first request.
const floorQuery = `{"query":"{ video(videoNo: \"` + floorVideo + `\") { videoNo videoName status size } }"}`

// oneVideoLua is the wrk script of the -vs-floor mode: floorQuery every
// time, answers checked.
//
//go:embed one-video.lua
var oneVideoLua []byte

// vsFloor is the -vs-floor mode: it builds the bare gqlgen server in dir
// (shared/bench/gqlgen-floor) and runs it beside ours (sandbox mode, the
// server's defaults), both on loopback for the whole mode. It drives each in
// turn with the same closed loop of o.concurrency clients for o.duration,
// which also warms them, and prints both rates and their ratio; then, if
// wrk is installed, it runs o.rounds interleaved rounds of wrk (the floor,
// then ours, o.duration each) and prints per round the rates, the CPU each
// server spent per request and the load of other processes, and the median
// and mean of the per-round ratios.
func vsFloor(ctx context.Context, o options, bin, dir, tmp string) error {
	floor, err := startFloor(ctx, dir, tmp, "gqlgen-floor", nil)
	if err != nil {
		return err
	}
	defer floor.stop()
	srv, err := o.startServer(ctx, bin, map[string]string{"LOG_LEVEL": o.logLevel}, o.serverLog)
	if err != nil {
		return err
	}
	defer srv.stop()
	targets := []target{
		{"gqlgen-floor", floor.url, floor.pid()},
		{"ours (hit)", "http://" + srv.addr + "/query", srv.pid()},
	}

	var rates [2]float64
	for i, t := range targets {
		res, err := closedLoop(ctx, o, t.url, loadSpec{body: constBody([]byte(floorQuery))})
		if err != nil {
			if i == 1 {
				return fmt.Errorf("our server: %w", err)
			}
			return fmt.Errorf("%s: %w", t.name, err)
		}
		rates[i] = res.rate()
	}
	fmt.Printf("same query, %d clients, %v each, one after the other on this machine:\n", o.concurrency, o.duration)
	fmt.Printf("gqlgen-floor %8.0f req/s\n", rates[0])
	fmt.Printf("ours (hit)   %8.0f req/s   %.0f%% of the floor\n", rates[1], 100*rates[1]/rates[0])

	wrk, err := exec.LookPath("wrk")
	if err != nil {
		fmt.Println("\nwrk: not installed, skipped")
		return nil
	}
	return floorWrk(ctx, o, wrk, tmp, targets)
}

// floorWrk is the wrk part of the -vs-floor mode: o.rounds rounds, each a
// run of wrk against targets[0] (the floor) then targets[1] (ours), both
// servers up throughout.
func floorWrk(ctx context.Context, o options, wrk, tmp string, targets []target) error {
	script := filepath.Join(tmp, "one-video.lua")
	if err := os.WriteFile(script, oneVideoLua, 0o644); err != nil {
		return err
	}
	const wrkThreads = 2
	args := []string{fmt.Sprintf("-t%d", wrkThreads), fmt.Sprintf("-c%d", o.concurrency), fmt.Sprintf("-d%ds", max(1, int(o.duration.Seconds()))), "-s", script}
	fmt.Printf("\nwrk %s -s one-video.lua URL, the same query: %d rounds, each the floor then ours, both servers up throughout (warmed by the closed loop above);\n",
		strings.Join(args[:3], " "), o.rounds)
	fmt.Println("answers checked (HTTP 200, the video, no errors); CPU per request of each server, user+sys from /proc (10 ms ticks);")
	fmt.Println("other load: the cores used by processes outside the test during the floor's run, ours:")
	fmt.Printf("machine: %s/%s, %d CPUs (%s); the servers and wrk share them\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel())
	fmt.Println("| round | floor req/s | floor µs CPU/request | ours req/s | ours µs CPU/request | ours/floor | other load |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---|")
	var (
		ratios, floorRates, ourRates, floorCPU, ourCPU []float64
		busiest                                        float64
	)
	for round := 1; round <= o.rounds; round++ {
		var runs [2]wrkRun
		for i, t := range targets {
			// Both servers' CPU is read, and this process's, so that only
			// processes outside the test count as other load.
			w, err := runWrk(ctx, wrk, append(args, t.url, "--", floorQuery, floorVideo), t.pid, targets[1-i].pid, os.Getpid())
			if err != nil {
				return fmt.Errorf("wrk against %s: %w", t.name, err)
			}
			if w.bad > 0 || w.socketErrors != "none" {
				return fmt.Errorf("wrk against %s, round %d: %d bad answers (non-200 or without the video), socket errors %s", t.name, round, w.bad, w.socketErrors)
			}
			runs[i] = w
			busiest = max(busiest, w.other)
		}
		f, u := runs[0], runs[1]
		fCPU := cpuMicros(f.cpu[0], f.requests)
		uCPU := cpuMicros(u.cpu[0], u.requests)
		ratio := u.rate / f.rate
		ratios, floorRates, ourRates = append(ratios, ratio), append(floorRates, f.rate), append(ourRates, u.rate)
		floorCPU, ourCPU = append(floorCPU, fCPU), append(ourCPU, uCPU)
		fmt.Printf("| %d | %.0f | %.1f | %.0f | %.1f | %.2f | %.2f, %.2f cores |\n", round, f.rate, fCPU, u.rate, uCPU, ratio, f.other, u.other)
	}
	mean := 0.0
	for _, r := range ratios {
		mean += r
	}
	mean /= float64(len(ratios))
	fmt.Printf("\nours/floor req/s over %d rounds: median %.2f, mean %.2f (target: at least 0.70); median req/s floor %.0f, ours %.0f\n",
		len(ratios), median(ratios), mean, median(floorRates), median(ourRates))
	fmt.Printf("median CPU per request: floor %.1f µs, ours %.1f µs; floor/ours %.2f\n", median(floorCPU), median(ourCPU), median(floorCPU)/median(ourCPU))
	if busiest > 0.2 {
		fmt.Printf("other processes used up to %.2f cores during a run: rounds with other load well above 0 are less comparable; run again on a quiet machine\n", busiest)
	}
	return nil
}

// cpuMicros is CPU time per request, in µs.
func cpuMicros(cpu time.Duration, requests int64) float64 {
	return float64(cpu.Microseconds()) / float64(max(1, requests))
}

// median is the median of xs (the mean of the middle two when even); 0 for
// none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// loadSpec is what closedLoop sends and how it judges the answers.
type loadSpec struct {
	// body is the i-th request's body, i counting every request of the
	// loop from 0 across all clients.
	body func(i uint64) []byte
	// check judges a 200 answer to the i-th request; nil accepts any 200.
	check func(i uint64, answer []byte) error
	// warm is how long to load the server, unmeasured, before the
	// measured run (for JIT compilers, pools and caches).
	warm time.Duration
	// ready, if set, is called after warming, just before the measured run.
	ready func() error
}

// constBody is a loadSpec body that sends b every time.
func constBody(b []byte) func(uint64) []byte { return func(uint64) []byte { return b } }

// loopResult is what a measured run did.
type loopResult struct {
	requests int64
	elapsed  time.Duration
}

func (r loopResult) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// closedLoop waits for url to answer, warms it for spec.warm, then has
// o.concurrency clients post spec's bodies back to back for o.duration; it
// counts the right answers (200, and spec.check's approval). Any other
// answer is an error.
func closedLoop(ctx context.Context, o options, url string, spec loadSpec) (loopResult, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.concurrency}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	var next atomic.Uint64
	post := func() error {
		i := next.Add(1) - 1
		resp, err := client.Post(url, "application/json", bytes.NewReader(spec.body(i)))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if spec.check == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		if spec.check == nil {
			return nil
		}
		answer, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		return spec.check(i, answer)
	}
	deadline := time.Now().Add(30 * time.Second)
	for err := post(); err != nil; err = post() {
		if time.Now().After(deadline) {
			return loopResult{}, fmt.Errorf("not answering: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	run := func(d time.Duration) (loopResult, error) {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		var (
			n    atomic.Int64
			wg   sync.WaitGroup
			fail atomic.Value
		)
		start := time.Now()
		for range o.concurrency {
			wg.Go(func() {
				for ctx.Err() == nil {
					if err := post(); err != nil {
						if ctx.Err() == nil {
							fail.Store(err)
						}
						return
					}
					n.Add(1)
				}
			})
		}
		wg.Wait()
		if err, ok := fail.Load().(error); ok {
			return loopResult{}, err
		}
		return loopResult{requests: n.Load(), elapsed: time.Since(start)}, nil
	}
	if spec.warm > 0 {
		if _, err := run(spec.warm); err != nil {
			return loopResult{}, err
		}
	}
	if spec.ready != nil {
		if err := spec.ready(); err != nil {
			return loopResult{}, err
		}
	}
	return run(o.duration)
}
