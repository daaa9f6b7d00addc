package main

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// rotateLua is the wrk script of the -vs-apollo mode: the same query as the
// Go clients, its video number rotating over the load test's videos.
//
//go:embed rotate-videos.lua
var rotateLua []byte

// apolloQuery is the one-video query both servers answer in the -vs-apollo
// mode, with a video number in place of %s.
const apolloQuery = `{"query":"{ video(videoNo: \"%s\") { videoNo videoName status size } }"}`

// target is one server the -vs-apollo mode measures.
type target struct {
	name string
	url  string
	pid  int
}

// vsApollo is the -vs-apollo mode: one emulator process serves o.videos
// videos to the Apollo Server baseline in dir (scripts/apollo-baseline) and
// to our server with the cross-request cache off, run twice: with
// MEMORIES_BATCH=off (one get_metadata call per video, the call Apollo
// makes) and with its defaults (list_videos). Each is driven in turn by the
// same closed loop of o.concurrency clients for o.duration, ids rotating so
// that no two requests in flight share a video and each is an upstream
// call; then, if wrk is installed, by wrk for two interleaved rounds. It
// prints the rates, the upstream calls each server made and the ratios.
func vsApollo(ctx context.Context, o options, bin, dir, tmp string) error {
	if _, err := exec.LookPath("node"); err != nil {
		return errors.New("-vs-apollo needs Node.js 20 or later on PATH")
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
		f, err := startFloor(ctx, o.callFloor, tmp, "callfloor", callFloorResolvers, "MEMORIES_BASE_URL="+emu.url, "MEMORIES_API_KEY="+loadKey)
		if err != nil {
			return err
		}
		defer f.stop()
		targets = append(targets, target{callFloorName, f.url, f.pid()})
	}
	for _, batch := range []string{"off", "on"} {
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
		}
		srv, err := o.startServer(ctx, bin, env, logPath)
		if err != nil {
			return err
		}
		defer srv.stop()
		name := "ours, MEMORIES_BATCH=off (get_metadata)"
		if batch == "on" {
			name = "ours, defaults (list_videos)"
		}
		targets = append(targets, target{name, "http://" + srv.addr + "/query", srv.pid()})
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

// apolloWrk is the wrk part of the -vs-apollo mode: o.rounds rounds,
// each a run of wrk against every target in turn, and the medians over
// the rounds. It returns the most CPU, in cores, that other processes used
// during a run.
func apolloWrk(ctx context.Context, o options, wrk, tmp string, emu *emulatorProcess, targets []target) (busiest float64, err error) {
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
		for i, t := range targets {
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
	fmt.Println("| server | req/s | server µs CPU/request | vs Apollo (per round, then median) | vs gqlgen-floor + call |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for i, t := range targets {
		vsFloor := "–"
		if floor >= 0 {
			per := make([]float64, len(rates[i]))
			for r := range per {
				per[r] = rates[i][r] / rates[floor][r]
			}
			vsFloor = fmt.Sprintf("%.2f", median(per))
		}
		fmt.Printf("| %s | %.0f | %.0f | %.2fx | %s |\n", t.name, median(rates[i]), median(cpus[i]), median(ratios[i]), vsFloor)
	}
	return busiest, nil
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

// perRequest prints CPU times divided by a request count, in µs.
func perRequest(requests int64, ds ...time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%.0f", float64(d.Microseconds())/float64(max(1, requests)))
	}
	return strings.Join(parts, ", ") + " µs"
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

// apolloProcess is the running Apollo Server baseline.
type apolloProcess struct {
	*child
	url string
}

// startApollo runs dir's server.mjs with NODE_ENV=production on a free
// loopback port against the upstream at baseURL, and waits for its
// "listening" line.
func startApollo(ctx context.Context, dir, baseURL string) (*apolloProcess, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("node", "server.mjs")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "NODE_ENV=production", "HOST=127.0.0.1", "PORT=" + strconv.Itoa(port),
		"MEMORIES_BASE_URL=" + baseURL, "MEMORIES_API_KEY=" + loadKey}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	up := make(chan struct{}, 1)
	c, err := startChild(cmd, func() { _ = cmd.Process.Signal(syscall.SIGTERM) }, 10*time.Second, func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				select {
				case up <- struct{}{}:
				default:
				}
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("start Apollo: %w", err)
	}
	if _, err := awaitReady(ctx, c, up, "Apollo"); err != nil {
		return nil, err
	}
	return &apolloProcess{child: c, url: fmt.Sprintf("http://127.0.0.1:%d/", port)}, nil
}

// emulatorChildEnv, when set, makes this binary the -vs-apollo mode's
// emulator process instead of the load test; its value is an
// emulatorConfig in JSON.
const emulatorChildEnv = "LOADTEST_EMULATOR_CHILD"

// emulatorConfig is what the emulator process serves: makeVideos(Videos)
// to loadKey, both endpoints at Rate calls/s with Burst, after Latency.
type emulatorConfig struct {
	Videos  int
	Rate    float64
	Burst   int
	Latency time.Duration
}

// emulatorStats is what the emulator process reports: the calls since the
// last reset.
type emulatorStats struct {
	GetMetadata int64
	ListVideos  int64
	RateLimited int64
}

func (s emulatorStats) calls() int64 { return s.GetMetadata + s.ListVideos }

func (s emulatorStats) String() string {
	switch {
	case s.ListVideos == 0:
		return fmt.Sprintf("%d get_metadata", s.GetMetadata)
	case s.GetMetadata == 0:
		return fmt.Sprintf("%d list_videos", s.ListVideos)
	}
	return fmt.Sprintf("%d get_metadata + %d list_videos", s.GetMetadata, s.ListVideos)
}

// emulatorChild is the emulator process: the emulator package's server,
// as "go run . emulator" starts it, on a free loopback port, and beside it
// a port that answers GET /stats with emulatorStats and POST /reset by
// resetting them. It prints both URLs on one line and serves until its
// stdin closes (the load test ended).
func emulatorChild(raw string) int {
	var c emulatorConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest emulator:", err)
		return 2
	}
	emu, err := emulator.Start(emulator.Options{
		Addr: "127.0.0.1:0", Keys: []string{loadKey}, Videos: makeVideos(c.Videos).emulator, Latency: c.Latency,
		RateLimit: c.Rate, Burst: c.Burst, ListRateLimit: c.Rate, ListBurst: c.Burst, ListPageCap: 200,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest emulator:", err)
		return 1
	}
	defer emu.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest emulator:", err)
		return 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		st := emu.Stats()
		_ = json.NewEncoder(w).Encode(emulatorStats{
			GetMetadata: st.Requests, ListVideos: st.List.Requests, RateLimited: st.RateLimited + st.List.RateLimited,
		})
	})
	mux.HandleFunc("POST /reset", func(http.ResponseWriter, *http.Request) { emu.ResetCounters() })
	go func() { _ = http.Serve(ln, mux) }()
	fmt.Printf("%s http://%s\n", emu.URL(), ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// emulatorProcess is the running emulator process.
type emulatorProcess struct {
	*child
	url      string // the upstream base URL
	statsURL string
}

// startEmulatorProcess re-executes this binary as the emulator (see
// emulatorChild), so that the emulator has a process of its own, as a
// standalone upstream would, and its counters can still be read.
func startEmulatorProcess(ctx context.Context, c emulatorConfig) (*emulatorProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cfg, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), emulatorChildEnv + "=" + string(cfg)}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	line := make(chan string, 1)
	// Closing its stdin ends it (see emulatorChild).
	ch, err := startChild(cmd, func() { _ = stdin.Close() }, 10*time.Second, func() {
		br := bufio.NewReader(stdout)
		l, _ := br.ReadString('\n')
		line <- l
		_, _ = io.Copy(io.Discard, br)
	})
	if err != nil {
		return nil, fmt.Errorf("start the emulator: %w", err)
	}
	l, err := awaitReady(ctx, ch, line, "the emulator")
	if err != nil {
		return nil, err
	}
	urls := strings.Fields(l)
	if len(urls) != 2 {
		ch.stop()
		return nil, fmt.Errorf("the emulator said %q, want its two URLs", l)
	}
	return &emulatorProcess{child: ch, url: urls[0], statsURL: urls[1]}, nil
}

func (p *emulatorProcess) reset() error {
	resp, err := http.Post(p.statsURL+"/reset", "", nil)
	if err != nil {
		return fmt.Errorf("reset the emulator's counters: %w", err)
	}
	resp.Body.Close()
	return nil
}

func (p *emulatorProcess) stats() (emulatorStats, error) {
	var st emulatorStats
	resp, err := http.Get(p.statsURL + "/stats")
	if err != nil {
		return st, fmt.Errorf("read the emulator's counters: %w", err)
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}
