package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/hostile"
)

// abuseUsage introduces the abuse mode.
const abuseUsage = `usage: loadtest abuse [flags]

Sends each of internal/hostile's refused requests, once, to our server
(sandbox mode) and, with -apollo and -floor, to the Apollo Server baseline
and the bare gqlgen server, one server at a time, and prints per request and
server: the status, the answer's size, the server's CPU time and the growth
of its peak RSS. Then it measures a normal query's latency (one client,
cached video) alone and while -attackers clients send the most expensive
document the limits accept, a new text each time, in a loop; and again
while they send the most expensive one the server refuses.

`

// abuseFlags are the abuse mode's flags.
func abuseFlags() *modeFlags {
	f := newModeFlags("abuse", abuseUsage)
	f.apolloFlag(false, "the Apollo Server baseline's directory (scripts/apollo-baseline); empty leaves it out")
	f.floorFlag(false, "the bare gqlgen server's directory (../shared/bench/gqlgen-floor); empty leaves it out")
	f.serverBinFlag()
	f.IntVar(&f.o.attackers, "attackers", 10, "clients sending expensive documents while the normal query's latency is measured")
	checkAtLeast(f, "attackers", &f.o.attackers, 1)
	f.durationFlag(10*time.Second, "how long each latency measurement runs")
	f.DurationVar(&f.o.timeout, "timeout", 2*time.Minute, "how long one hostile request may take before it counts as a failure")
	return f
}

// abuse is the abuse mode.
func abuse(ctx context.Context, o *options, bin, tmp string) error {
	// Our server in sandbox mode: its own emulator in process, every
	// status kept long, so that a warm cache answers every video.
	env := map[string]string{
		"MEMORIES_RATE_LIMIT": "10000", "MEMORIES_RATE_BURST": "1000",
		"MEMORIES_LIST_RATE_LIMIT": "10000", "MEMORIES_LIST_RATE_BURST": "1000",
		"CACHE_TTL_UNPARSE": "1h", "CACHE_TTL_FAILED": "1h", "CACHE_TTL_NOT_FOUND": "1h", "CACHE_TTL_PARSE": "1h",
	}
	start := map[string]func() (url string, c *child, err error){
		"ours": func() (string, *child, error) {
			s, err := o.startServer(ctx, bin, env, "")
			if err != nil {
				return "", nil, err
			}
			return "http://" + s.addr + "/query", s.child, nil
		},
	}
	names := []string{"ours"}
	if o.apolloDir != "" {
		emu, err := startEmulatorProcess(ctx, emulatorConfig{Videos: 20, Rate: 1000, Burst: 100})
		if err != nil {
			return err
		}
		defer emu.stop()
		start["Apollo Server 5"] = func() (string, *child, error) {
			a, err := startApollo(ctx, o.apolloDir, emu.url)
			if err != nil {
				return "", nil, err
			}
			return a.url, a.child, nil
		}
		names = append(names, "Apollo Server 5")
	}
	if o.floorDir != "" {
		start["bare gqlgen"] = func() (string, *child, error) {
			f, err := startFloor(ctx, o.floorDir, tmp, "gqlgen-floor", nil)
			if err != nil {
				return "", nil, err
			}
			return f.url, f.child, nil
		}
		names = append(names, "bare gqlgen")
	}

	client := &http.Client{Timeout: o.timeout}
	payloads := hostile.Refused()
	fmt.Printf("hostile requests, one at a time, to each server alone (%d CPUs):\n\n", runtime.NumCPU())
	fmt.Printf("| request | body | %s |\n|---|---:|%s\n", strings.Join(names, " | "), strings.Repeat("---|", len(names)))
	results := make([][]string, len(payloads))
	for _, name := range names {
		url, c, err := start[name]()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for i, p := range payloads {
			results[i] = append(results[i], sendHostile(ctx, client, url, c.pid(), p))
			if exited(c) {
				results[i][len(results[i])-1] += " (the server died)"
				if url, c, err = start[name](); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
		}
		c.stop()
	}
	for i, p := range payloads {
		fmt.Printf("| %s | %s | %s |\n", p.Name, kib(len(mustJSON(p.Body()))), strings.Join(results[i], " | "))
	}
	fmt.Println("\neach cell: HTTP status, answer size, server CPU time, peak RSS growth")

	url, c, err := start["ours"]()
	if err != nil {
		return err
	}
	defer c.stop()
	return underAttack(ctx, url, o.attackers, o.duration)
}

// exited reports a child that is no longer running.
func exited(c *child) bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// sendHostile sends p and describes what it cost the server with process
// pid: status, answer size, CPU time and the growth of its peak RSS.
func sendHostile(ctx context.Context, client *http.Client, url string, pid int, p hostile.Payload) string {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) // resets VmHWM
	before, _ := readMem(pid)
	cpu0 := cpuTimes(pid)[0]
	status, answer, err := post(ctx, client, url, mustJSON(p.Body()))
	time.Sleep(100 * time.Millisecond) // the last of its CPU time, and its memory, settle
	cpu := cpuTimes(pid)[0] - cpu0
	after, _ := readMem(pid)
	if err != nil {
		return fmt.Sprintf("failed: %.60v, %v CPU", err, cpu.Round(10*time.Millisecond))
	}
	return fmt.Sprintf("%d, %s, %v, +%.0f MB", status, kib(answer), cpu.Round(10*time.Millisecond), mib(max(0, after.hwm-before.hwm)))
}

// post sends body and returns the status and the size of the answer.
func post(ctx context.Context, client *http.Client, url string, body []byte) (int, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, int(n), err
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// underAttack measures a normal query's latency at url alone, then while
// attackers send the costliest accepted document, a new text each time,
// and then the costliest refused one.
func underAttack(ctx context.Context, url string, attackers int, d time.Duration) error {
	var ids []string
	for _, v := range emulator.Samples() {
		no, err := v.VideoNo()
		if err != nil {
			return err
		}
		ids = append(ids, no)
	}
	normal := mustJSON(map[string]any{"query": `query Normal($no: ID!) { video(videoNo: $no) { videoNo videoName status } }`,
		"variables": map[string]any{"no": ids[0]}})
	var accepted, refused hostile.Payload
	for _, p := range hostile.Largest(2000, 100, ids) {
		if p.Name == "aliases with every field" {
			accepted = p
		}
	}
	for _, p := range hostile.Refused() {
		if p.Name == "long argument list" {
			refused = p
		}
	}
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: attackers + 1}}
	// Warm the cache and the query cache.
	for _, b := range [][]byte{normal, mustJSON(accepted.Body())} {
		if status, _, err := post(ctx, client, url, b); err != nil || status != http.StatusOK {
			return fmt.Errorf("warm-up: HTTP %d, %v", status, err)
		}
	}
	fmt.Printf("\na normal query's latency (one client, cached video), %v each:\n\n", d)
	fmt.Println("| attackers | p50 | p99 | max | normal queries | attacker requests |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	for _, run := range []struct {
		name string
		n    int
		doc  hostile.Payload
	}{
		{"none", 0, hostile.Payload{}},
		{fmt.Sprintf("%d, the costliest accepted document (%s, %s), a new text each time", attackers, accepted.Name, kib(len(accepted.Query))), attackers, accepted},
		{fmt.Sprintf("%d, the costliest refused document (%s)", attackers, refused.Name), attackers, refused},
	} {
		lat, sent, err := measureLatency(ctx, client, url, normal, run.n, run.doc, d)
		if err != nil {
			return fmt.Errorf("%s: %w", run.name, err)
		}
		p := percentiles(lat)
		fmt.Printf("| %s | %v | %v | %v | %d | %d |\n", run.name, round(p[0]), round(p[2]), round(p[3]), len(lat), sent)
	}
	return nil
}

// measureLatency runs one client sending normal for d, timing each answer,
// while n attackers send doc in a loop (a comment makes each text new);
// it returns the normal query's latencies and the attackers' requests.
func measureLatency(ctx context.Context, client *http.Client, url string, normal []byte, n int, doc hostile.Payload, d time.Duration) ([]time.Duration, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var sent atomic.Int64
	var wg sync.WaitGroup
	for a := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				p := doc
				p.Query = fmt.Sprintf("# attacker %d, request %d\n%s", a, i, doc.Query)
				if _, _, err := post(ctx, client, url, mustJSON(p.Body())); err == nil {
					sent.Add(1)
				}
			}
		}()
	}
	var lat []time.Duration
	var err error
	for ctx.Err() == nil {
		t0 := time.Now()
		status, _, e := post(ctx, client, url, normal)
		if ctx.Err() != nil {
			break
		}
		if e != nil || status != http.StatusOK {
			err = fmt.Errorf("normal query: HTTP %d, %v", status, e)
			break
		}
		lat = append(lat, time.Since(t0))
	}
	cancel()
	wg.Wait()
	slices.Sort(lat)
	return lat, sent.Load(), err
}
