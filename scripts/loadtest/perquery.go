package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// perQueryUsage introduces the per-query mode.
const perQueryUsage = `usage: loadtest per-query -sizes N,N,... [flags]

For each count of -sizes, with MEMORIES_BATCH on and off, a fresh emulator
and server answer one query for that many videos, both endpoints at
-upstream-rate calls/s (set it to 5, the vendor's) with a burst of 5. It
prints the wall times, the videos that answered and the upstream calls by
endpoint as a table.

`

// perQueryFlags are the per-query mode's flags.
func perQueryFlags() *modeFlags {
	f := newModeFlags("per-query", perQueryUsage)
	f.Func("sizes", "comma-separated video counts, such as 10,60,500,2000: one query, for that many videos, per count and MEMORIES_BATCH setting", func(s string) (err error) {
		f.o.sizes, err = parseSizes(s)
		return err
	})
	f.check(func() error {
		if len(f.o.sizes) == 0 {
			return errors.New("-sizes N,N,... is required")
		}
		return nil
	})
	f.upstreamFlags(5*time.Millisecond, "upstream calls per second the emulator allows on each endpoint, and the server's MEMORIES_RATE_LIMIT and MEMORIES_LIST_RATE_LIMIT (5 is the vendor's)")
	f.serverFlags("file for the server's log, written anew by each row's server; empty discards it")
	return f
}

// perQuery is the per-query mode: for each size, with batching on and
// off, a fresh emulator and server at the vendor's rate (both endpoints
// at rate calls/s, burst 5) answer one videos query for that many distinct
// videos, and the wall time, the videos that answered and the upstream
// calls by endpoint are printed as a table.
func perQuery(ctx context.Context, o *options, bin, _ string) error {
	videos := makeVideos(slices.Max(o.sizes))
	rate := strconv.FormatFloat(o.upstreamRate, 'f', -1, 64)
	fmt.Printf("one videos query per row: emulator and server at %s calls/s, burst 5, per endpoint; upstream latency %v; REQUEST_TIMEOUT 30s\n\n", rate, o.latency)
	fmt.Println("| videos | MEMORIES_BATCH | wall time | answered | errors | list_videos calls | get_metadata calls | 0429s |")
	fmt.Println("|---:|---|---:|---:|---|---:|---:|---:|")
	for _, batch := range []string{"on", "off"} {
		for _, n := range o.sizes {
			row, err := perQueryRow(ctx, o, bin, videos, n, batch, rate)
			if err != nil {
				return err
			}
			fmt.Println(row)
		}
	}
	return nil
}

func perQueryRow(ctx context.Context, o *options, bin string, videos videoSet, n int, batch, rate string) (string, error) {
	emu, err := emulator.Start(emulator.Options{
		Addr: "127.0.0.1:0", Keys: []string{loadKey}, Videos: videos.emulator[:n], Latency: o.latency,
		RateLimit: o.upstreamRate, Burst: 5, ListRateLimit: o.upstreamRate, ListBurst: 5, ListPageCap: 200,
	})
	if err != nil {
		return "", err
	}
	defer emu.Close()
	srv, err := o.startServer(ctx, bin, map[string]string{
		"MEMORIES_BASE_URL": emu.URL(), "MEMORIES_API_KEY": loadKey,
		"MEMORIES_RATE_LIMIT": rate, "MEMORIES_RATE_BURST": "5",
		"MEMORIES_LIST_RATE_LIMIT": rate, "MEMORIES_LIST_RATE_BURST": "5",
		"MEMORIES_BATCH": batch, "LOG_LEVEL": o.logLevel,
	}, o.serverLog)
	if err != nil {
		return "", err
	}
	defer srv.stop()

	body, err := json.Marshal(map[string]any{
		"query":     `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo videoName size status } }`,
		"variables": map[string]any{"nos": videos.nos[:n]},
	})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+srv.addr+"/query", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		return "", err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	wall := time.Since(start)
	if err != nil {
		return "", err
	}
	var out struct {
		Data struct {
			Videos []*struct {
				VideoNo string `json:"videoNo"`
			} `json:"videos"`
		} `json:"data"`
		Errors []struct {
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return "", fmt.Errorf("%d videos, batch %s: answer is not JSON: %.80s", n, batch, raw)
	}
	answered := 0
	for i, v := range out.Data.Videos {
		if v != nil {
			if v.VideoNo != videos.nos[i] {
				return "", fmt.Errorf("%d videos, batch %s: videos[%d] is %s, want %s", n, batch, i, v.VideoNo, videos.nos[i])
			}
			answered++
		}
	}
	codes := map[string]int{}
	for _, e := range out.Errors {
		codes[e.Extensions.Code]++
	}
	var errs []string
	for code, c := range codes {
		errs = append(errs, fmt.Sprintf("%d %s", c, code))
	}
	slices.Sort(errs)
	if len(errs) == 0 {
		errs = []string{"none"}
	}
	st := emu.Stats()
	return fmt.Sprintf("| %d | %s | %.2f s | %d | %s | %d | %d | %d |", n, batch, wall.Seconds(), answered,
		strings.Join(errs, ", "), st.List.Requests, st.Requests, st.RateLimited+st.List.RateLimited), nil
}

// parseSizes reads a comma-separated list of positive video counts.
func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 10_000 {
			return nil, fmt.Errorf("%q is not a count from 1 to 10000", f)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}
