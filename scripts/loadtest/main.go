// Command loadtest drives the server, built from this module and run as its
// own process, in front of the memories.ai emulator, with concurrent mixed
// queries on loopback for a fixed time. It reports requests, requests/s,
// non-2xx answers, GraphQL errors by code, latency percentiles and the
// server's memory (peak RSS, and RSS every 10 s to show whether it stays
// flat).
//
//	go run ./scripts/loadtest -duration 60s -concurrency 32
//
// It exits 1 if any answer was not 2xx, a request failed, or an answer was
// wrong; 130 when interrupted (Ctrl-C prints the report so far). Memory is
// read from /proc, so the memory figures need Linux.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// loadKey is the API key the server uses and the emulator accepts.
const loadKey = "load-test-key"

// Limits that keep a mistyped flag from turning into an endless run.
const (
	maxDuration    = 30 * time.Minute
	maxConcurrency = 1024
)

type options struct {
	duration     time.Duration
	concurrency  int
	maxRequests  int64
	latency      time.Duration
	upstreamRate float64
	videos       int
	cache        bool
	serverBin    string
	serverLog    string
	logLevel     string
	redisURL     string
	perQuery     string
	vsFloor      string
	rounds       int
	vsApollo     string
	callFloor    string
	serverEnv    map[string]string // -server-env, set on every server of ours
}

func main() {
	if cfg := os.Getenv(emulatorChildEnv); cfg != "" {
		os.Exit(emulatorChild(cfg)) // this binary re-executed as -vs-apollo's emulator
	}
	if len(os.Args) > 1 && os.Args[1] == "abuse" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := abuse(ctx, os.Args[2:])
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadtest abuse:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "how long to drive the server (at most 30m); with -vs-floor, also the length of each wrk run (-duration 5s -rounds 10 is the recommended setting)")
	flag.IntVar(&o.concurrency, "concurrency", 32, "concurrent clients, each sending one request at a time")
	flag.Int64Var(&o.maxRequests, "max-requests", 10_000_000, "stop after this many requests even if time is left")
	flag.DurationVar(&o.latency, "upstream-latency", 5*time.Millisecond, "latency the emulator adds to every upstream answer")
	flag.Float64Var(&o.upstreamRate, "upstream-rate", 100_000, "upstream calls per second the emulator allows, and the server's MEMORIES_RATE_LIMIT; high so that it does not dominate")
	flag.IntVar(&o.videos, "videos", 500, "distinct videos the emulator serves")
	flag.BoolVar(&o.cache, "cache", true, "leave the server's cross-request cache on (false sets every CACHE_TTL_* to 0, when the server has them)")
	flag.StringVar(&o.serverBin, "server-bin", "", "a server binary to run; empty builds this module's")
	flag.StringVar(&o.serverLog, "server-log", "", "file for the server's log; empty discards it")
	flag.StringVar(&o.logLevel, "server-log-level", "info", "the server's LOG_LEVEL (info logs one line per request, as in production)")
	flag.StringVar(&o.redisURL, "redis-url", "", "a loopback Redis for the server's REDIS_URL (shared limiter, cache and leases), under a key prefix of this run's own; empty keeps everything in process")
	flag.StringVar(&o.perQuery, "per-query", "", "instead of a load: comma-separated video counts (such as 10,60,500,2000); for each, with MEMORIES_BATCH on and off, one query for that many videos at -upstream-rate calls/s per endpoint (set it to 5, the vendor's), printed as a table of wall times")
	flag.StringVar(&o.vsFloor, "vs-floor", "", "instead of a load: the directory of the bare gqlgen server (../shared/bench/gqlgen-floor); it and our server (sandbox, cache warm), both running throughout, answer the same one-video query in turn, driven by -concurrency clients for -duration each, then, if wrk is installed, by wrk -t2 for -rounds interleaved rounds of -duration per server (recommended: -duration 5s -rounds 10); rates, CPU per request and the ratios (median and mean over the rounds) are printed")
	flag.IntVar(&o.rounds, "rounds", 10, "with -vs-floor: the interleaved wrk rounds, each a run of -duration against the floor and then ours; with -vs-apollo (default 3 there), each a run of -duration against every server")
	flag.StringVar(&o.vsApollo, "vs-apollo", "", "instead of a load: the directory of the Apollo Server baseline (scripts/apollo-baseline); it and our server with the cache off answer the same one-video query, ids rotating over -videos videos so that every request is an upstream call, in front of one emulator process (-upstream-latency 0 unless set), driven by -concurrency clients for -duration each, then by wrk if installed; rates, upstream calls and ratios are printed")
	flag.StringVar(&o.callFloor, "call-floor", "", "with -vs-apollo: the directory of the bare gqlgen server (../shared/bench/gqlgen-floor), built with a resolver that makes the same get_metadata call with net/http and encoding/json and nothing else, and measured beside the others as \"gqlgen-floor + call\": the ceiling of a gqlgen server that makes that call")
	flag.Func("server-env", "a `KEY=VALUE` to set in our server's environment after the mode's own settings, such as GOGC=200 (repeatable)", func(kv string) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return errors.New("want KEY=VALUE")
		}
		if o.serverEnv == nil {
			o.serverEnv = map[string]string{}
		}
		o.serverEnv[k] = v
		return nil
	})
	flag.Parse()
	if o.vsApollo != "" {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["upstream-latency"] {
			o.latency = 0 // the comparison is about the servers' own cost
		}
		if !set["rounds"] {
			o.rounds = 3
		}
	} else if o.callFloor != "" {
		fatalf("-call-floor goes with -vs-apollo")
	}
	if flag.NArg() > 0 {
		fatalf("unexpected arguments %q", flag.Args())
	}
	if o.duration <= 0 || o.duration > maxDuration {
		fatalf("-duration must be in (0, %v], got %v", maxDuration, o.duration)
	}
	if o.concurrency < 1 || o.concurrency > maxConcurrency {
		fatalf("-concurrency must be in [1, %d], got %d", maxConcurrency, o.concurrency)
	}
	if o.rounds < 1 || o.rounds > 100 {
		fatalf("-rounds must be in [1, 100], got %d", o.rounds)
	}
	if o.maxRequests < 1 || o.videos < 20 || o.upstreamRate < 0 || o.latency < 0 {
		fatalf("-max-requests must be positive, -videos at least 20, -upstream-rate and -upstream-latency not negative")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first Ctrl-C the default action returns, so a second
		// one ends the program at once.
		<-ctx.Done()
		stop()
	}()
	code, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadtest: "+format+"\n", args...)
	os.Exit(2)
}

// run sets up the emulator and the server, drives them and prints the
// report. It returns the exit code.
func run(ctx context.Context, o options) (int, error) {
	tmp, err := os.MkdirTemp("", "loadtest-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(tmp)

	bin := o.serverBin
	if bin == "" {
		if bin, err = buildServer(ctx, tmp); err != nil {
			return 1, err
		}
	}
	if o.vsFloor != "" {
		return 0, vsFloor(ctx, o, bin, o.vsFloor, tmp)
	}
	if o.vsApollo != "" {
		return 0, vsApollo(ctx, o, bin, o.vsApollo, tmp)
	}
	if o.perQuery != "" {
		sizes, err := parseSizes(o.perQuery)
		if err != nil {
			return 2, err
		}
		return 0, perQuery(ctx, o, bin, sizes)
	}
	hasCache := serverHasCache(ctx, bin)

	videos := makeVideos(o.videos)
	burst := upstreamBurst(o)
	emu, err := emulator.Start(emulator.Options{
		Addr:      "127.0.0.1:0", // loopback only
		Keys:      []string{loadKey},
		Videos:    videos.emulator,
		Latency:   o.latency,
		RateLimit: o.upstreamRate,
		Burst:     burst,
		// list_videos at the same rate, with the vendor's page size.
		ListRateLimit: o.upstreamRate,
		ListBurst:     burst,
		ListPageCap:   200,
	})
	if err != nil {
		return 1, err
	}
	defer emu.Close()

	env := upstreamEnv(o, emu.URL())
	redisNote := "none (in process)"
	if o.redisURL != "" {
		if err := loopbackRedis(o.redisURL); err != nil {
			return 1, err
		}
		// A prefix of this run's own; every key under it expires.
		env["REDIS_URL"], env["REDIS_KEY_PREFIX"] = o.redisURL, fmt.Sprintf("mgql-loadtest-%d", time.Now().UnixNano())
		redisNote = "shared limiter, cache and leases"
	}
	cacheNote := "absent (no CACHE_* settings in this build)"
	if hasCache {
		cacheNote = "on (server defaults)"
		if !o.cache {
			cacheOff(env)
			cacheNote = "off (CACHE_TTL_*=0)"
		}
	}
	srv, err := o.startServer(ctx, bin, env, o.serverLog)
	if err != nil {
		return 1, err
	}
	defer srv.stop()

	client := &http.Client{
		Transport: &http.Transport{
			// Loopback only: refuse to dial anything else.
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, _, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
					return nil, fmt.Errorf("refusing to dial %s: not a loopback address", addr)
				}
				return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
			},
			MaxIdleConns:        2 * o.concurrency,
			MaxIdleConnsPerHost: 2 * o.concurrency,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
		Timeout: time.Minute,
	}
	defer client.CloseIdleConnections()
	url := "http://" + srv.addr + "/query"

	// One query of each kind first, so a broken setup fails in a second,
	// not after the whole run.
	for _, k := range kinds {
		r := do(ctx, client, url, k.build(rand.New(rand.NewPCG(1, 2)), videos))
		if r.err != nil || r.status != http.StatusOK || r.wrong != "" || len(r.codes) > 0 {
			return 1, fmt.Errorf("smoke test of %s: status %d, error %v, codes %v, %s", k.name, r.status, r.err, r.codes, r.wrong)
		}
	}

	fmt.Printf("load test: %v, %d clients, upstream latency %v, upstream rate %s/s, %d videos, server cache %s, redis %s\n",
		o.duration, o.concurrency, o.latency, env["MEMORIES_RATE_LIMIT"], o.videos, cacheNote, redisNote)
	fmt.Printf("machine: %s/%s, %d CPUs (%s), %s; the server, the emulator and the clients share them\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), runtime.Version())

	emu.ResetCounters()
	res := drive(ctx, o, client, url, videos, srv.pid())
	interrupted := ctx.Err() != nil
	peak := res.peakHWM
	if m, err := readMem(srv.pid()); err == nil {
		peak = max(peak, m.hwm)
	}
	res.print(peak)
	st := emu.Stats()
	calls := st.Requests + st.List.Requests
	fmt.Printf("upstream: %d calls (%.0f/s; %d get_metadata, %d list_videos), %d answered 0429\n",
		calls, float64(calls)/res.elapsed.Seconds(), st.Requests, st.List.Requests, st.RateLimited+st.List.RateLimited)

	switch {
	case interrupted:
		fmt.Println("interrupted: the figures cover the run until Ctrl-C")
		return 130, nil
	case res.non2xx > 0 || res.failed > 0 || res.wrong > 0:
		return 1, fmt.Errorf("%d non-2xx answers, %d failed requests, %d wrong answers", res.non2xx, res.failed, res.wrong)
	}
	return 0, nil
}

// upstreamBurst is the burst the emulator allows and the server assumes: a
// tenth of a second at the rate.
func upstreamBurst(o options) int { return max(1, int(o.upstreamRate/10)) }

// upstreamEnv is the server's environment for the emulator at baseURL: the
// load test's key, -upstream-rate on both endpoints (the server's limiter
// out of the way when the emulator is unlimited), text logs at
// -server-log-level.
func upstreamEnv(o options, baseURL string) map[string]string {
	rate, burst := strconv.FormatFloat(o.upstreamRate, 'f', -1, 64), strconv.Itoa(upstreamBurst(o))
	if o.upstreamRate == 0 {
		rate, burst = "1000000000", "1000000"
	}
	return map[string]string{
		"MEMORIES_BASE_URL":   baseURL,
		"MEMORIES_API_KEY":    loadKey,
		"MEMORIES_RATE_LIMIT": rate,
		"MEMORIES_RATE_BURST": burst,
		// list_videos has a budget of its own: the same, out of the way.
		"MEMORIES_LIST_RATE_LIMIT": rate,
		"MEMORIES_LIST_RATE_BURST": burst,
		"LOG_FORMAT":               "text",
		"LOG_LEVEL":                o.logLevel,
	}
}

// cacheOff turns the server's cross-request cache off in env: every
// CACHE_TTL_* 0, so no answer is kept (fetches in flight are still shared).
func cacheOff(env map[string]string) {
	for _, k := range []string{"CACHE_TTL_PARSE", "CACHE_TTL_FAILED", "CACHE_TTL_UNPARSE", "CACHE_TTL_NOT_FOUND"} {
		env[k] = "0"
	}
}

// buildServer builds this module's server into dir.
func buildServer(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run loadtest inside the module (go run ./scripts/loadtest from the repository)")
	}
	bin := filepath.Join(dir, "memories-graphql")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Dir = filepath.Dir(gomod)
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

// serverHasCache reports whether the server has the cross-request cache
// settings, by its -h output.
func serverHasCache(ctx context.Context, bin string) bool {
	out, _ := exec.CommandContext(ctx, bin, "-h").CombinedOutput()
	return bytes.Contains(out, []byte("cache-ttl-parse"))
}

// server is the running server process.
type server struct {
	*child
	addr string
}

// listening finds the address in the server's "listening" log line.
var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

// loopbackRedis refuses a Redis URL whose host is not a loopback address:
// the load test stays on this machine.
func loopbackRedis(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("-redis-url: %w", err)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-redis-url: %q is not a loopback address", u.Hostname())
	}
	return nil
}

// startServer starts bin listening on a free loopback port with exactly env
// and o's -server-env (plus PATH) and waits for its "listening" line.
func (o options) startServer(ctx context.Context, bin string, env map[string]string, logPath string) (*server, error) {
	cmd := exec.Command(bin, "-host", "127.0.0.1", "-port", "0")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range o.serverEnv {
		cmd.Env = append(cmd.Env, k+"="+v) // the later one wins
	}
	var logw io.Writer = io.Discard
	if logPath != "" {
		f, err := os.Create(logPath)
		if err != nil {
			return nil, err
		}
		logw = f
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	addr := make(chan string, 1)
	// It drains its queries and exits on an interrupt, within 30s.
	c, err := startChild(cmd, func() { _ = cmd.Process.Signal(os.Interrupt) }, 30*time.Second, func() {
		// Keep reading to the end, so the server never blocks on its log.
		// Lines are matched until the "listening" one; the rest of the log
		// is copied as it comes, without a regexp per request line.
		br := bufio.NewReaderSize(stderr, 64<<10)
		for {
			line, err := br.ReadBytes('\n')
			logw.Write(line)
			if m := listening.FindSubmatch(line); m != nil {
				addr <- string(m[1])
				break
			}
			if err != nil {
				break
			}
		}
		_, _ = io.Copy(logw, br)
		if c, ok := logw.(io.Closer); ok {
			c.Close()
		}
	})
	if err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	a, err := awaitReady(ctx, c, addr, "the server (see -server-log)")
	if err != nil {
		return nil, err
	}
	return &server{child: c, addr: a}, nil
}

// videoSet is what the emulator serves, and what the clients ask for.
type videoSet struct {
	emulator []emulator.Video
	nos      []string
}

func makeVideos(n int) videoSet {
	var vs videoSet
	models := []string{"Canon EOS 5D", "GoPro HERO12", "iPhone 15 Pro", "DJI Mavic 3"}
	for i := range n {
		no := fmt.Sprintf("VI7%017d", i)
		data := fmt.Sprintf(`{"video_no":%q,"video_name":"load-clip-%d","duration":%d,"size":%d,"status":"PARSE",`+
			`"create_time":%d,"resolution_label":"1080P","fps":30,"width":1920,"height":1080,`+
			`"datetime_taken":%d,"camera_model":%q,"latitude":%.4f,"longitude":%.4f,"tags":["load","test","clip-%d"]}`,
			no, i, 10+i%600, 1_000_000+int64(i)*7919, 1754037217992+int64(i)*1000, 1729388400000+int64(i)*1000,
			models[i%len(models)], -60+float64(i%120), -170+float64(i%340), i)
		vs.emulator = append(vs.emulator, emulator.Video{UniqueID: "default", Data: json.RawMessage(data)})
		vs.nos = append(vs.nos, no)
	}
	return vs
}

// request is one GraphQL request and how to check its answer.
type request struct {
	kind  string
	body  []byte
	check func(data map[string]json.RawMessage) string // "" when right
}

// kind is one sort of query, with its share of the traffic.
type kind struct {
	name   string
	weight int
	build  func(r *rand.Rand, vs videoSet) request
}

const videoFields = `videoNo videoName duration size status createTime captureMetadata { cameraModel location { latitude longitude } tags }`

var kinds = []kind{
	{"single video", 30, func(r *rand.Rand, vs videoSet) request {
		no := pick(r, vs)
		return gql("single video", `query($no: ID!) { video(videoNo: $no) { `+videoFields+` } }`, map[string]any{"no": no},
			func(d map[string]json.RawMessage) string { return wantVideos(d["video"], false, []string{no}) })
	}},
	{"videos list of 20", 25, func(r *rand.Rand, vs videoSet) request {
		// 10 distinct videos, each twice, shuffled: the loader fetches 10.
		var nos []string
		for range 10 {
			no := pick(r, vs)
			nos = append(nos, no, no)
		}
		r.Shuffle(len(nos), func(i, j int) { nos[i], nos[j] = nos[j], nos[i] })
		return gql("videos list of 20", `query($nos: [ID!]!) { videos(videoNos: $nos) { `+videoFields+` } }`, map[string]any{"nos": nos},
			func(d map[string]json.RawMessage) string { return wantVideos(d["videos"], true, nos) })
	}},
	{"aliases", 15, func(r *rand.Rand, vs videoSet) request {
		// 8 aliases over 4 videos, and a list of the same 4.
		four := []string{pick(r, vs), pick(r, vs), pick(r, vs), pick(r, vs)}
		var q strings.Builder
		q.WriteString("query($nos: [ID!]!) {")
		for i := range 8 {
			fmt.Fprintf(&q, " a%d: video(videoNo: %q) { videoNo videoName size }", i, four[i%4])
		}
		q.WriteString(" all: videos(videoNos: $nos) { videoNo status } }")
		return gql("aliases", q.String(), map[string]any{"nos": four}, func(d map[string]json.RawMessage) string {
			for i := range 8 {
				if w := wantVideos(d[fmt.Sprintf("a%d", i)], false, four[i%4:i%4+1]); w != "" {
					return w
				}
			}
			return wantVideos(d["all"], true, four)
		})
	}},
	{"unknown ids", 10, func(r *rand.Rand, vs videoSet) request {
		// Fresh unknown numbers: always an upstream call, always null.
		known := pick(r, vs)
		nos := []string{fmt.Sprintf("VI0%017d", r.Int64N(1e17)), known, fmt.Sprintf("VI0%017d", r.Int64N(1e17))}
		return gql("unknown ids", `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo videoName } }`, map[string]any{"nos": nos},
			func(d map[string]json.RawMessage) string {
				return wantVideos(d["videos"], true, []string{"", known, ""})
			})
	}},
	{"_entities", 15, func(r *rand.Rand, vs videoSet) request {
		// A gateway's batch: 10 representations over 5 videos, both keys.
		var reps []map[string]any
		var nos []string
		for i := range 10 {
			no := pick(r, vs)
			if i >= 5 {
				no = nos[i-5]
			}
			rep := map[string]any{"__typename": "Video", "videoNo": no}
			if i%2 == 1 {
				rep["uniqueId"] = "default"
			}
			reps = append(reps, rep)
			nos = append(nos, no)
		}
		return gql("_entities", `query($r: [_Any!]!) { _entities(representations: $r) { ... on Video { videoNo videoName status } } }`,
			map[string]any{"r": reps},
			func(d map[string]json.RawMessage) string { return wantVideos(d["_entities"], true, nos) })
	}},
	{"introspection", 5, func(*rand.Rand, videoSet) request {
		return gql("introspection", `{ __schema { queryType { name } types { name kind fields { name } } } }`, nil,
			func(d map[string]json.RawMessage) string {
				if !bytes.Contains(d["__schema"], []byte(`"name":"Video"`)) {
					return "introspection without the Video type"
				}
				return ""
			})
	}},
}

func pick(r *rand.Rand, vs videoSet) string { return vs.nos[r.IntN(len(vs.nos))] }

func gql(kind, query string, vars map[string]any, check func(map[string]json.RawMessage) string) request {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		panic(err) // the variables are built here, from strings and maps
	}
	return request{kind: kind, body: body, check: check}
}

// wantVideos checks a video (list false) or a list of videos against nos;
// "" in nos means null.
func wantVideos(raw json.RawMessage, list bool, nos []string) string {
	var got []*struct {
		VideoNo string `json:"videoNo"`
	}
	if !list {
		raw = append(append(json.RawMessage("["), raw...), ']')
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		return fmt.Sprintf("undecodable videos %.80s: %v", raw, err)
	}
	if len(got) != len(nos) {
		return fmt.Sprintf("%d videos; want %d", len(got), len(nos))
	}
	for i, no := range nos {
		switch {
		case no == "" && got[i] != nil:
			return fmt.Sprintf("video %d is %s; want null", i, got[i].VideoNo)
		case no != "" && (got[i] == nil || got[i].VideoNo != no):
			return fmt.Sprintf("video %d is %+v; want %s", i, got[i], no)
		}
	}
	return ""
}

// result is one request's outcome.
type result struct {
	kind    string
	latency time.Duration
	status  int
	err     error
	codes   []string // extensions.code of each GraphQL error
	wrong   string   // why the answer is wrong, "" when right
}

func do(ctx context.Context, client *http.Client, url string, req request) result {
	res := result{kind: req.kind}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req.body))
	if err != nil {
		res.err = err
		return res
	}
	hr.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := client.Do(hr)
	if err != nil {
		res.err = err
		return res
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	res.latency = time.Since(start)
	res.status = resp.StatusCode
	if err != nil {
		res.err = err
		return res
	}
	var out struct {
		Data   map[string]json.RawMessage `json:"data"`
		Errors []struct {
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		res.wrong = fmt.Sprintf("answer is not JSON: %.80s", body)
		return res
	}
	for _, e := range out.Errors {
		code := e.Extensions.Code
		if code == "" {
			code = "(no code)"
		}
		res.codes = append(res.codes, code)
	}
	if len(out.Errors) == 0 {
		if out.Data == nil {
			res.wrong = "answer without data"
		} else {
			res.wrong = req.check(out.Data)
		}
	}
	return res
}

// memSample is the server's memory at one moment.
type memSample struct {
	at       time.Duration
	rss, hwm int64 // bytes
}

// report is what a run measured.
type report struct {
	elapsed    time.Duration
	requests   int64
	non2xx     int64
	failed     int64 // no answer (connection errors, timeouts)
	wrong      int64 // 2xx without errors, but not the videos asked for
	codes      map[string]int64
	latencies  []time.Duration
	byKind     map[string][]time.Duration
	firstWrong string
	firstFail  error
	samples    []memSample
	peakHWM    int64
}

// drive runs the clients until the duration has passed, the request budget
// is spent or ctx ends, sampling the server's memory every second.
func drive(ctx context.Context, o options, client *http.Client, url string, vs videoSet, pid int) *report {
	// Requests started before the end finish and count; Ctrl-C cancels them.
	deadline := time.Now().Add(o.duration)
	var issued atomic.Int64
	results := make([][]result, o.concurrency)

	total := 0
	for _, k := range kinds {
		total += k.weight
	}
	var wg sync.WaitGroup
	start := time.Now()
	for w := range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			for time.Now().Before(deadline) && ctx.Err() == nil && issued.Add(1) <= o.maxRequests {
				n := r.IntN(total)
				var k kind
				for _, k = range kinds {
					if n < k.weight {
						break
					}
					n -= k.weight
				}
				res := do(ctx, client, url, k.build(r, vs))
				if ctx.Err() != nil {
					return // cut short by Ctrl-C: not a server failure
				}
				results[w] = append(results[w], res)
			}
		}()
	}

	rep := &report{codes: map[string]int64{}, byKind: map[string][]time.Duration{}}
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				if m, err := readMem(pid); err == nil {
					m.at = time.Since(start).Round(time.Second)
					rep.samples = append(rep.samples, m)
					rep.peakHWM = max(rep.peakHWM, m.hwm)
				}
			}
		}
	}()
	wg.Wait()
	rep.elapsed = time.Since(start)
	close(stopSampling)
	<-sampled

	for _, rs := range results {
		for _, r := range rs {
			rep.requests++
			switch {
			case r.err != nil:
				rep.failed++
				if rep.firstFail == nil {
					rep.firstFail = r.err
				}
				continue
			case r.status < 200 || r.status > 299:
				rep.non2xx++
			}
			for _, c := range r.codes {
				rep.codes[c]++
			}
			if r.wrong != "" {
				rep.wrong++
				if rep.firstWrong == "" {
					rep.firstWrong = r.kind + ": " + r.wrong
				}
			}
			rep.latencies = append(rep.latencies, r.latency)
			rep.byKind[r.kind] = append(rep.byKind[r.kind], r.latency)
		}
	}
	return rep
}

func (r *report) print(peakHWM int64) {
	fmt.Printf("elapsed             %.1fs\n", r.elapsed.Seconds())
	fmt.Printf("requests            %d\n", r.requests)
	fmt.Printf("requests/s          %.1f\n", float64(r.requests)/r.elapsed.Seconds())
	fmt.Printf("non-2xx             %d\n", r.non2xx)
	fmt.Printf("failed requests     %d", r.failed)
	if r.firstFail != nil {
		fmt.Printf(" (first: %v)", r.firstFail)
	}
	fmt.Println()
	fmt.Printf("wrong answers       %d", r.wrong)
	if r.firstWrong != "" {
		fmt.Printf(" (first: %s)", r.firstWrong)
	}
	fmt.Println()
	var n int64
	codes := make([]string, 0, len(r.codes))
	for c, k := range r.codes {
		codes = append(codes, fmt.Sprintf("%s=%d", c, k))
		n += k
	}
	slices.Sort(codes)
	if len(codes) == 0 {
		codes = append(codes, "(none)")
	}
	fmt.Printf("GraphQL errors      %d %s\n", n, strings.Join(codes, " "))
	p := percentiles(r.latencies)
	fmt.Printf("latency             p50 %v  p90 %v  p99 %v  max %v\n", p[0], p[1], p[2], p[3])
	names := make([]string, 0, len(r.byKind))
	for k := range r.byKind {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		p := percentiles(r.byKind[k])
		fmt.Printf("  %-18s %7d requests  p50 %v  p99 %v\n", k, len(r.byKind[k]), p[0], p[2])
	}
	if peakHWM == 0 {
		fmt.Println("server memory       not available (needs /proc)")
		return
	}
	fmt.Printf("server peak RSS     %.1f MiB (VmHWM)\n", mib(peakHWM))
	var line []string
	for _, s := range r.samples {
		if s.at%(10*time.Second) == 0 || s == r.samples[len(r.samples)-1] {
			line = append(line, fmt.Sprintf("%v %.1f", s.at, mib(s.rss)))
		}
	}
	fmt.Printf("server RSS (MiB)    %s\n", strings.Join(line, ", "))
	if len(r.samples) >= 20 {
		// Flat: the second half of the run grows no more than 10% above
		// the RSS reached at a third of it, once caches and pools are warm.
		ref := r.samples[len(r.samples)/3].rss
		var top int64
		for _, s := range r.samples[len(r.samples)/2:] {
			top = max(top, s.rss)
		}
		verdict := "flat"
		if float64(top) > 1.1*float64(ref) {
			verdict = "GROWING"
		}
		fmt.Printf("server RSS trend    %s: %.1f MiB at %v, at most %.1f MiB in the second half\n",
			verdict, mib(ref), r.samples[len(r.samples)/3].at, mib(top))
	}
}

// percentiles returns p50, p90, p99 and max, rounded for reading.
func percentiles(ds []time.Duration) [4]time.Duration {
	var p [4]time.Duration
	if len(ds) == 0 {
		return p
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		return s[min(len(s)-1, int(q*float64(len(s))))]
	}
	for i, q := range []float64{0.50, 0.90, 0.99} {
		p[i] = round(at(q))
	}
	p[3] = round(s[len(s)-1])
	return p
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

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
