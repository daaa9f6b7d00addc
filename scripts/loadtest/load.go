package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// loadUsage introduces the load mode.
const loadUsage = `usage: loadtest [load] [flags]

Drives our server, built from this module and run as its own process, in
front of the memories.ai emulator (in this process), with -concurrency
clients sending mixed queries for -duration on loopback, every answer
checked. It reports requests, requests/s, non-2xx answers, GraphQL errors by
code, latency percentiles and the server's memory (peak RSS, and RSS every
10 s to show whether it stays flat). It exits 1 if any answer was not 2xx, a
request failed, an answer was wrong, or the server logged an ERROR record;
130 when interrupted (Ctrl-C prints the report so far).

`

// loadFlags are the load mode's flags.
func loadFlags() *modeFlags {
	f := newModeFlags("load", loadUsage)
	f.durationFlag(60*time.Second, "how long to drive the server")
	f.concurrencyFlag("concurrent clients, each sending one request at a time")
	f.Int64Var(&f.o.maxRequests, "max-requests", 10_000_000, "stop after this many requests even if time is left")
	checkAtLeast(f, "max-requests", &f.o.maxRequests, 1)
	f.upstreamFlags(5*time.Millisecond, "upstream calls per second the emulator allows, and the server's MEMORIES_RATE_LIMIT; high so that it does not dominate")
	f.videosFlag("distinct videos the emulator serves")
	f.BoolVar(&f.o.cache, "cache", true, "leave the server's cross-request cache on (false sets every CACHE_TTL_* to 0, when the server has them)")
	f.serverFlags("file for the server's log; empty discards it")
	f.StringVar(&f.o.redisURL, "redis-url", "", "a loopback Redis for the server's REDIS_URL (shared limiter, cache and leases), under a key prefix of this run's own; empty keeps everything in process")
	return f
}

// load is the load mode: it sets up the emulator and the server, drives
// them and prints the report.
func load(ctx context.Context, o *options, bin, _ string) error {
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
		return err
	}
	defer emu.Close()

	env := upstreamEnv(o, emu.URL())
	redisNote := "none (in process)"
	if o.redisURL != "" {
		if err := loopbackRedis(o.redisURL); err != nil {
			return err
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
		return err
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
			return fmt.Errorf("smoke test of %s: status %d, error %v, codes %v, %s", k.name, r.status, r.err, r.codes, r.wrong)
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
		return exitCode(130)
	case res.non2xx > 0 || res.failed > 0 || res.wrong > 0:
		return fmt.Errorf("%d non-2xx answers, %d failed requests, %d wrong answers", res.non2xx, res.failed, res.wrong)
	}
	return nil
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
func drive(ctx context.Context, o *options, client *http.Client, url string, vs videoSet, pid int) *report {
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
