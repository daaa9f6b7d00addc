package main

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// floorUsage introduces the vs-floor mode.
const floorUsage = `usage: loadtest vs-floor -floor DIR [flags]

Builds the bare gqlgen server of -floor (../shared/bench/gqlgen-floor) and
runs it beside ours (sandbox mode, cache warm), both running throughout.
They answer the same one-video query in turn, driven by -concurrency
clients for -duration each, then, if wrk is installed, by wrk -t2 for
-rounds interleaved rounds of -duration per server (recommended: -duration
5s -rounds 10). It prints the rates, CPU per request and the ratios (median
and mean over the rounds). With -features the floor also gives each request
an id, recovers panics, writes an access record and keeps latency metrics:
the ratio is then what ours costs beyond those features. Ours answers the
repeated query from its response cache; -server-env RESPONSE_CACHE_BYTES=0
measures it executing every request from its video cache.

`

// floorFlags are the vs-floor mode's flags.
func floorFlags() *modeFlags {
	f := newModeFlags("vs-floor", floorUsage)
	f.floorFlag(true, "the directory of the bare gqlgen server (../shared/bench/gqlgen-floor)")
	f.BoolVar(&f.o.floorFeatures, "features", false, "build the floor with a request id, panic recovery, an access record and latency metrics (featuresfloor-server.go.txt)")
	f.durationFlag(60*time.Second, "the run of the Go clients against each server, and each wrk run (-duration 5s -rounds 10 is the recommended setting)")
	f.concurrencyFlag("concurrent clients (and wrk connections), each sending one request at a time")
	f.roundsFlag(10, "the interleaved wrk rounds, each a run of -duration against the floor and then ours")
	f.serverFlags("file for our server's log; empty discards it")
	return f
}

// floorVideo is the video both servers answer in the vs-floor mode: the
// vendor's example, which our server's sandbox serves.
const floorVideo = "VI606404158946574336"

// floorQuery is the query both servers answer in the vs-floor mode: one
// video, a cache hit on ours after the first request.
const floorQuery = `{"query":"{ video(videoNo: \"` + floorVideo + `\") { videoNo videoName status size } }"}`

// featuresFloorServer replaces gqlgen-floor's server.go for vs-floor
// -features: the same server with what every production one does per
// request, from the standard library alone (a request id in the context,
// panic recovery, an access record through slog's text handler into a
// buffered writer, a latency histogram and a counter kept with atomics, as
// Prometheus keeps them). Against it, the ratio is what our server costs
// beyond those features.
//
//go:embed featuresfloor-server.go.txt
var featuresFloorServer []byte

// oneVideoLua is the wrk script of the vs-floor mode: floorQuery every
// time, answers checked.
//
//go:embed one-video.lua
var oneVideoLua []byte

// vsFloor is the vs-floor mode: it builds the bare gqlgen server in
// o.floorDir (shared/bench/gqlgen-floor) and runs it beside ours (sandbox
// mode, the server's defaults), both on loopback for the whole mode. It
// drives each in turn with the same closed loop of o.concurrency clients
// for o.duration, which also warms them, and prints both rates and their
// ratio; then, if wrk is installed, it runs o.rounds interleaved rounds of
// wrk (the floor, then ours, o.duration each) and prints per round the
// rates, the CPU each server spent per request and the load of other
// processes, and the median and mean of the per-round ratios.
func vsFloor(ctx context.Context, o *options, bin, tmp string) error {
	floorName, build, files := "gqlgen-floor", "gqlgen-floor", map[string][]byte(nil)
	if o.floorFeatures {
		floorName, build, files = "gqlgen-floor + features", "featuresfloor", map[string][]byte{"server.go": featuresFloorServer}
	}
	floor, err := startFloor(ctx, o.floorDir, tmp, build, files)
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
		{floorName, floor.url, floor.pid()},
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

// floorWrk is the wrk part of the vs-floor mode: o.rounds rounds, each a
// run of wrk against targets[0] (the floor) then targets[1] (ours), both
// servers up throughout.
func floorWrk(ctx context.Context, o *options, wrk, tmp string, targets []target) error {
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
	fmt.Printf("\nours/floor req/s over %d rounds: median %.2f, mean %.2f (target: at least 0.90); median req/s floor %.0f, ours %.0f\n",
		len(ratios), median(ratios), mean, median(floorRates), median(ourRates))
	fmt.Printf("median CPU per request: floor %.1f µs, ours %.1f µs; floor/ours %.2f\n", median(floorCPU), median(ourCPU), median(floorCPU)/median(ourCPU))
	if busiest > 0.2 {
		fmt.Printf("other processes used up to %.2f cores during a run: rounds with other load well above 0 are less comparable; run again on a quiet machine\n", busiest)
	}
	return nil
}
