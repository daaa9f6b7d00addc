package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// apolloUsage introduces the vs-apollo mode.
const apolloUsage = `usage: loadtest vs-apollo -apollo DIR [-call-floor DIR] [flags]

Runs the Apollo Server baseline of -apollo and our server with its
cross-request cache off (once with MEMORIES_BATCH=off, once with its
defaults), and with -call-floor the bare gqlgen server making the same
get_metadata call, all in front of one emulator process. They answer the
same one-video query, ids rotating over -videos videos so that every request
is an upstream call, driven in turn by -concurrency clients for -duration
each, then, if wrk is installed, by wrk for -rounds interleaved rounds of
-duration per server. It prints the rates, the upstream calls each server
made, CPU per request and the ratios to Apollo. With -base-bin, another
build of ours runs with its defaults beside the others, as "base,
defaults": the ratios of both builds to the floor come from the same
rounds, a change's effect side by side.

`

// apolloFlags are the vs-apollo mode's flags.
func apolloFlags() *modeFlags {
	f := newModeFlags("vs-apollo", apolloUsage)
	f.apolloFlag(true, "the directory of the Apollo Server baseline (scripts/apollo-baseline); npm ci runs there if node_modules is missing")
	f.StringVar(&f.o.callFloor, "call-floor", "", "the directory of the bare gqlgen server (../shared/bench/gqlgen-floor), built with a resolver that makes the same get_metadata call with net/http and encoding/json and nothing else, and measured beside the others as \"gqlgen-floor + call\": the ceiling of a gqlgen server that makes that call; empty leaves it out")
	f.durationFlag(60*time.Second, "the measured run of the Go clients against each server, and each wrk run")
	f.concurrencyFlag("concurrent clients (and wrk connections), each sending one request at a time; also our server's MEMORIES_MAX_CONCURRENCY")
	f.roundsFlag(3, "the interleaved wrk rounds, each a run of -duration against every server")
	// The comparison is about the servers' own cost: no latency.
	f.upstreamFlags(0, "upstream calls per second the emulator allows, and our server's MEMORIES_RATE_LIMIT; high so that it does not dominate")
	f.videosFlag("distinct videos the emulator serves and the query's id rotates over")
	f.serverFlags("file for our servers' logs, FILE.batch-off and FILE.batch-on; empty discards them")
	f.StringVar(&f.o.baseBin, "base-bin", "", "another build of our server (go build -o), run with its defaults beside the others as \"base, defaults\"; empty leaves it out")
	return f
}

// rotateLua is the wrk script of the vs-apollo mode: the same query as the
// Go clients, its video number rotating over the load test's videos.
//
//go:embed rotate-videos.lua
var rotateLua []byte

// apolloQuery is the one-video query both servers answer in the vs-apollo
// mode, with a video number in place of %s.
const apolloQuery = `{"query":"{ video(videoNo: \"%s\") { videoNo videoName status size } }"}`

// callFloorResolvers replaces gqlgen-floor's resolvers in the vs-apollo
// mode's "gqlgen-floor + call": the same get_metadata call as Apollo's and
// ours, and nothing else.
//
//go:embed callfloor-resolvers.go.txt
var callFloorResolvers []byte

// callFloorName names the "gqlgen-floor + call" server in the reports,
// and baseName the -base-bin build.
const (
	callFloorName = "gqlgen-floor + call (get_metadata)"
	baseName      = "base, defaults"
)

// vsApollo is the vs-apollo mode: one emulator process serves o.videos
// videos to the Apollo Server baseline in o.apolloDir
// (scripts/apollo-baseline) and to our server with the cross-request cache
// off, run twice: with MEMORIES_BATCH=off (one get_metadata call per video,
// the call Apollo makes) and with its defaults (which choose the call: for
// one video, get_metadata while its budget has room); with
// o.callFloor, also to the bare gqlgen server making the same call. Each is
// driven in turn by the same closed loop of o.concurrency clients for
// o.duration, ids rotating so that no two requests in flight share a video
// and each is an upstream call; then, if wrk is installed, by wrk for
// o.rounds interleaved rounds. It prints the rates, the upstream calls each
// server made and the ratios.
func vsApollo(ctx context.Context, o *options, bin, tmp string) error {
	dir := o.apolloDir
	if _, err := exec.LookPath("node"); err != nil {
		return errors.New("vs-apollo needs Node.js 20 or later on PATH")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); errors.Is(err, os.ErrNotExist) {
		fmt.Printf("npm ci in %s\n", dir)
		npm := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		npm.Dir = dir
		if out, err := npm.CombinedOutput(); err != nil {
			return fmt.Errorf("npm ci in %s: %v\n%s", dir, err, out)
		}
	}

	emu, err := startEmulatorProcess(ctx, emulatorConfig{
		Videos: o.videos, Rate: o.upstreamRate, Burst: upstreamBurst(o), Latency: o.latency,
	})
	if err != nil {
		return err
	}
	defer emu.stop()

	apollo, err := startApollo(ctx, dir, emu.url)
	if err != nil {
		return err
	}
	defer apollo.stop()
	targets := []target{{"Apollo (get_metadata)", apollo.url, apollo.pid()}}
	if o.callFloor != "" {
		f, err := startFloor(ctx, o.callFloor, tmp, "callfloor", map[string][]byte{"graph/schema.resolvers.go": callFloorResolvers}, "MEMORIES_BASE_URL="+emu.url, "MEMORIES_API_KEY="+loadKey)
		if err != nil {
			return err
		}
		defer f.stop()
		targets = append(targets, target{callFloorName, f.url, f.pid()})
	}
	type build struct{ name, bin, batch string }
	builds := []build{
		{"ours, MEMORIES_BATCH=off (get_metadata)", bin, "off"},
		// Not "(list_videos)": a batch of one goes to get_metadata while
		// that budget has room; the calls column says which.
		{"ours, defaults", bin, "on"},
	}
	if o.baseBin != "" {
		builds = append(builds, build{baseName, o.baseBin, "on"})
	}
	for _, b := range builds {
		batch := b.batch
		env := upstreamEnv(o, emu.url)
		cacheOff(env)
		env["MEMORIES_BATCH"] = batch
		// Out of the way like the rate limit: Apollo's fetch has no cap on
		// the calls in flight, and with 16 (the default) our calls queue
		// behind each other.
		env["MEMORIES_MAX_CONCURRENCY"] = strconv.Itoa(o.concurrency)
		logPath := o.serverLog
		if logPath != "" {
			logPath += ".batch-" + batch
			if b.name == baseName {
				logPath += ".base"
			}
		}
		srv, err := o.startServer(ctx, b.bin, env, logPath)
		if err != nil {
			return err
		}
		defer srv.stop()
		targets = append(targets, target{b.name, "http://" + srv.addr + "/query", srv.pid()})
	}

	videos := makeVideos(o.videos)
	bodies := make([][]byte, len(videos.nos))
	for i, no := range videos.nos {
		bodies[i] = fmt.Appendf(nil, apolloQuery, no)
	}
	n := uint64(len(bodies))
	warm := min(max(o.duration/5, time.Second), 5*time.Second)
	fmt.Printf("vs-apollo: %s, cache off on ours, MEMORIES_MAX_CONCURRENCY=%d; video numbers rotating over %d videos\n", strings.ReplaceAll(fmt.Sprintf(apolloQuery, "…"), `\"`, `"`), o.concurrency, o.videos)
	fmt.Printf("emulator: its own process, latency %v, rate %s/s; %d clients, %v measured after %v of warm-up per server\n",
		o.latency, strconv.FormatFloat(o.upstreamRate, 'f', -1, 64), o.concurrency, o.duration, warm)
	fmt.Printf("machine: %s/%s, %d CPUs (%s), %s; the servers, the emulator and the clients share them\n\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), runtime.Version())

	fmt.Println("Go closed loop (answers checked: HTTP 200, no errors, the video asked with its name, status and size);")
	fmt.Println("CPU per request of the server, the emulator and the load generator, and the cores used by processes outside the test (from /proc, 10 ms ticks):")
	fmt.Println("| server | req/s | requests | upstream calls | calls/request | 0429s | CPU/request server, emulator, load gen | other load | vs Apollo |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---|---:|---:|")
	var (
		apolloRate float64
		busiest    float64 // the most CPU other processes used during a run, in cores
	)
	defer func() {
		if busiest > 0.2 {
			fmt.Printf("\nother processes used up to %.2f cores during a run: rows with other load well above 0 are not comparable; run again on a quiet machine\n", busiest)
		}
	}()
	for _, t := range targets {
		var (
			cpu0  [3]time.Duration
			busy0 time.Duration
		)
		res, err := closedLoop(ctx, o, t.url, loadSpec{
			body: func(i uint64) []byte { return bodies[i%n] },
			check: func(i uint64, answer []byte) error {
				return checkVideoAnswer(answer, int(i%n), videos.nos[i%n])
			},
			warm: warm,
			ready: func() error {
				cpu0, busy0 = cpuTimes(t.pid, emu.pid(), os.Getpid()), machineBusy()
				return emu.reset()
			},
		})
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		cpu, busy := cpuTimes(t.pid, emu.pid(), os.Getpid()), machineBusy()
		other := otherCores(busy-busy0, res.elapsed, cpu, cpu0, 0)
		busiest = max(busiest, other)
		st, err := emu.stats()
		if err != nil {
			return err
		}
		if apolloRate == 0 {
			apolloRate = res.rate()
		}
		fmt.Printf("| %s | %.0f | %d | %s | %.2f | %d | %s | %.2f cores | %.2fx |\n", t.name, res.rate(), res.requests, st,
			float64(st.calls())/float64(res.requests), st.RateLimited, perRequest(res.requests, cpu[0]-cpu0[0], cpu[1]-cpu0[1], cpu[2]-cpu0[2]),
			other, res.rate()/apolloRate)
	}

	wrk, err := exec.LookPath("wrk")
	if err != nil {
		fmt.Println("\nwrk: not installed, skipped")
		return nil
	}
	wrkBusiest, err := apolloWrk(ctx, o, wrk, tmp, emu, targets)
	busiest = max(busiest, wrkBusiest)
	return err
}

// apolloWrk is the wrk part of the vs-apollo mode: o.rounds rounds,
// each a run of wrk against every target in turn (roundOrder), and the medians over
// the rounds. It returns the most CPU, in cores, that other processes used
// during a run.
func apolloWrk(ctx context.Context, o *options, wrk, tmp string, emu *emulatorProcess, targets []target) (busiest float64, err error) {
	script := filepath.Join(tmp, "rotate-videos.lua")
	if err := os.WriteFile(script, rotateLua, 0o644); err != nil {
		return busiest, err
	}
	const wrkThreads = 2
	args := []string{fmt.Sprintf("-t%d", wrkThreads), fmt.Sprintf("-c%d", o.concurrency), fmt.Sprintf("-d%ds", max(1, int(o.duration.Seconds()))), "-s", script}
	fmt.Printf("\nwrk %s -s rotate-videos.lua URL -- %d %d (%d rounds, interleaved; answers checked: HTTP 200, a video, no errors):\n", strings.Join(args[:3], " "), o.videos, wrkThreads, o.rounds)
	fmt.Println("| round | server | req/s | requests | upstream calls | calls/request | 0429s | bad answers, socket errors | CPU/request server, emulator, wrk | other load | vs Apollo |")
	fmt.Println("|---:|---|---:|---:|---:|---:|---:|---|---|---:|---:|")
	rates := make([][]float64, len(targets))  // per target, per round
	ratios := make([][]float64, len(targets)) // the same, over Apollo's rate in that round
	cpus := make([][]float64, len(targets))   // the server's µs of CPU per request
	for round := 1; round <= o.rounds; round++ {
		apolloRate := 0.0
		for _, i := range roundOrder(len(targets), round) {
			t := targets[i]
			// Let the calls of the previous run's last requests land first.
			time.Sleep(500 * time.Millisecond)
			if err := emu.reset(); err != nil {
				return busiest, err
			}
			w, err := runWrk(ctx, wrk, append(args, t.url, "--", strconv.Itoa(o.videos), strconv.Itoa(wrkThreads)), t.pid, emu.pid(), os.Getpid())
			if err != nil {
				return busiest, fmt.Errorf("wrk against %s: %w", t.name, err)
			}
			busiest = max(busiest, w.other)
			st, err := emu.stats()
			if err != nil {
				return busiest, err
			}
			if i == 0 {
				apolloRate = w.rate
			}
			rates[i] = append(rates[i], w.rate)
			ratios[i] = append(ratios[i], w.rate/apolloRate)
			cpus[i] = append(cpus[i], cpuMicros(w.cpu[0], w.requests))
			fmt.Printf("| %d | %s | %.0f | %d | %s | %.2f | %d | %d, %s | %s | %.2f cores | %.2fx |\n", round, t.name, w.rate, w.requests, st,
				float64(st.calls())/float64(max(1, w.requests)), st.RateLimited, w.bad, w.socketErrors,
				perRequest(w.requests, w.cpu[0], w.cpu[1], w.wrkCPU), w.other, w.rate/apolloRate)
			if w.bad > 0 || w.socketErrors != "none" {
				return busiest, fmt.Errorf("wrk against %s: %d bad answers, socket errors %s", t.name, w.bad, w.socketErrors)
			}
		}
	}
	floor := slices.IndexFunc(targets, func(t target) bool { return t.name == callFloorName })
	fmt.Printf("\nmedians over the %d wrk rounds:\n", o.rounds)
	fmt.Println("| server | req/s | server µs CPU/request | vs Apollo (per round, then median) | vs gqlgen-floor + call (quartiles) | CPU/request vs gqlgen-floor + call's |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	for i, t := range targets {
		vsFloor, cpuVsFloor := "–", "–"
		if floor >= 0 {
			// Per round, then the median: the rounds of one target are
			// seconds apart from the floor's, the runs minutes.
			per, cpu := make([]float64, len(rates[i])), make([]float64, len(rates[i]))
			for r := range per {
				per[r] = rates[i][r] / rates[floor][r]
				cpu[r] = cpus[i][r] / max(cpus[floor][r], 1e-9)
			}
			lower, upper := quartiles(per)
			vsFloor = fmt.Sprintf("%.2f (%.2f–%.2f)", median(per), lower, upper)
			cpuVsFloor = fmt.Sprintf("%.2fx", median(cpu))
		}
		fmt.Printf("| %s | %.0f | %.0f | %.2fx | %s | %s |\n", t.name, median(rates[i]), median(cpus[i]), median(ratios[i]), vsFloor, cpuVsFloor)
	}
	ours := slices.IndexFunc(targets, func(t target) bool { return t.name == "ours, defaults" })
	if base := slices.IndexFunc(targets, func(t target) bool { return t.name == baseName }); base >= 0 && ours >= 0 {
		fmt.Printf("\nthis build against -base-bin, both with their defaults, round by round: %s\n", againstBase(rates[ours], rates[base], cpus[ours], cpus[base]))
	}
	return busiest, nil
}

// againstBase compares a build's rounds with the base build's, round by
// round: the median and quartiles of the rate ratio, the median CPU per
// request ratio, and in how many rounds the build was the faster.
func againstBase(rates, baseRates, cpus, baseCPUs []float64) string {
	per, cpu := make([]float64, len(rates)), make([]float64, len(rates))
	faster := 0
	for r := range per {
		per[r] = rates[r] / baseRates[r]
		cpu[r] = cpus[r] / max(baseCPUs[r], 1e-9)
		if rates[r] > baseRates[r] {
			faster++
		}
	}
	lower, upper := quartiles(per)
	return fmt.Sprintf("req/s %.3fx (%.3f–%.3f), CPU per request %.3fx, faster in %d of %d rounds", median(per), lower, upper, median(cpu), faster, len(per))
}

// roundOrder is the order of the n targets in the given round: Apollo's
// (the first) first, for the ratios to it; the others in turn in odd
// rounds and in reverse in even ones, so that none always follows another.
func roundOrder(n, round int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if round%2 == 0 && n > 1 {
		slices.Reverse(order[1:])
	}
	return order
}

// checkVideoAnswer checks an answer to apolloQuery for the i-th load-test
// video, numbered no (see makeVideos).
func checkVideoAnswer(answer []byte, i int, no string) error {
	var out struct {
		Data *struct {
			Video *struct {
				VideoNo   string `json:"videoNo"`
				VideoName string `json:"videoName"`
				Status    string `json:"status"`
				Size      int64  `json:"size"`
			} `json:"video"`
		} `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(answer, &out); err != nil {
		return fmt.Errorf("answer is not JSON: %.120s", answer)
	}
	if len(out.Errors) > 0 || out.Data == nil || out.Data.Video == nil {
		return fmt.Errorf("video %s: want data and no errors, got %.200s", no, answer)
	}
	v := out.Data.Video
	if v.VideoNo != no || v.VideoName != fmt.Sprintf("load-clip-%d", i) || v.Status != "PARSE" || v.Size != 1_000_000+int64(i)*7919 {
		return fmt.Errorf("video %s: wrong answer %.200s", no, answer)
	}
	return nil
}
