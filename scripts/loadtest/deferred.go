package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

const deferUsage = `usage: loadtest defer [flags]

Measures @defer over multipart/mixed: one query for -videos videos' detail
fields (resolutionLabel, fps, width, height: one get_metadata call each),
with the emulator and the server at -upstream-rate calls/s (the vendor's 5),
burst 1, and the cache off. Each round times the same query twice, on a
fresh server: under @defer (the first part, then each video's part, then
the last) and plain (the whole answer).

`

func deferFlags() *modeFlags {
	f := newModeFlags("defer", deferUsage)
	f.serverBinFlag()
	f.IntVar(&f.o.videos, "videos", 100, "detail videos the query asks for (MAX_DETAIL_VIDEOS_PER_QUERY is set to match)")
	checkAtLeast(f, "videos", &f.o.videos, 2)
	f.Float64Var(&f.o.upstreamRate, "upstream-rate", 5, "get_metadata calls per second the emulator and the server allow")
	f.roundsFlag(3, "rounds, each on a fresh emulator and server")
	return f
}

// deferTimes is one round: when the deferred query's parts arrived, and
// when the plain query's answer did, from each request's start.
type deferTimes struct {
	first       time.Duration   // the initial part: every video's list fields
	videos      []time.Duration // the part carrying each video's detail, in arrival order
	plain       time.Duration   // the whole answer without @defer
	calls       int64           // upstream calls of the deferred query
	plainCalls  int64
	parts       int
	detailCount int
}

func deferMode(ctx context.Context, o *options, bin, _ string) error {
	rate := strconv.FormatFloat(o.upstreamRate, 'f', -1, 64)
	fmt.Printf("@defer over multipart/mixed: %d detail videos at %s get_metadata calls/s (burst 1), cache off, %d rounds\n\n", o.videos, rate, o.rounds)
	fmt.Println("| round | first part | 1st video's detail | 10th | half | last (whole answer) | parts | plain query, whole answer | calls, deferred / plain |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for r := range o.rounds {
		t, err := deferRound(ctx, o, bin, rate)
		if err != nil {
			return fmt.Errorf("round %d: %w", r+1, err)
		}
		n := len(t.videos)
		fmt.Printf("| %d | %s | %s | %s | %s | %s | %d | %s | %d / %d |\n", r+1, secs(t.first), secs(t.videos[0]), secs(t.videos[min(9, n-1)]),
			secs(t.videos[n/2-1]), secs(t.videos[n-1]), t.parts, secs(t.plain), t.calls, t.plainCalls)
	}
	return nil
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func deferRound(ctx context.Context, o *options, bin, rate string) (deferTimes, error) {
	videos := makeVideos(o.videos)
	emu, err := emulator.Start(emulator.Options{
		Addr: "127.0.0.1:0", Keys: []string{loadKey}, Videos: videos.emulator, ListPageCap: 200,
		RateLimit: o.upstreamRate, Burst: 1, ListRateLimit: o.upstreamRate, ListBurst: 1,
	})
	if err != nil {
		return deferTimes{}, err
	}
	defer emu.Close()
	srv, err := o.startServer(ctx, bin, map[string]string{
		"MEMORIES_BASE_URL": emu.URL(), "MEMORIES_API_KEY": loadKey,
		"MEMORIES_RATE_LIMIT": rate, "MEMORIES_RATE_BURST": "1",
		"MEMORIES_LIST_RATE_LIMIT": rate, "MEMORIES_LIST_RATE_BURST": "1",
		"CACHE_TTL_PARSE": "0", "CACHE_TTL_DETAIL": "0", "MAX_DETAIL_VIDEOS_PER_QUERY": strconv.Itoa(o.videos),
		"REQUEST_TIMEOUT": "10m", "LOG_LEVEL": "info",
	}, "")
	if err != nil {
		return deferTimes{}, err
	}
	defer srv.stop()
	url := "http://" + srv.addr + "/query"
	vars := map[string]any{"nos": videos.nos}

	var t deferTimes
	const deferred = `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo videoName ... @defer { resolutionLabel fps width height } } }`
	if err := timeParts(ctx, url, deferred, vars, &t); err != nil {
		return t, err
	}
	st := emu.Stats()
	t.calls = st.Requests + st.List.Requests
	if t.detailCount != o.videos {
		return t, fmt.Errorf("detail for %d videos; want %d", t.detailCount, o.videos)
	}

	const plain = `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo videoName resolutionLabel fps width height } }`
	body, _ := json.Marshal(map[string]any{"query": plain, "variables": vars})
	start := time.Now()
	resp, err := postJSON(ctx, url, body, "application/json")
	if err != nil {
		return t, err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.plain = time.Since(start)
	if err != nil || resp.StatusCode != http.StatusOK || bytes.Contains(raw, []byte(`"errors"`)) {
		return t, fmt.Errorf("plain query: HTTP %d, %v: %.200s", resp.StatusCode, err, raw)
	}
	st2 := emu.Stats()
	t.plainCalls = st2.Requests + st2.List.Requests - t.calls
	return t, nil
}

func postJSON(ctx context.Context, url string, body []byte, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	return http.DefaultClient.Do(req)
}

// timeParts sends q accepting multipart/mixed and records when each part
// arrives.
func timeParts(ctx context.Context, url, q string, vars map[string]any, t *deferTimes) error {
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	start := time.Now()
	resp, err := postJSON(ctx, url, body, "multipart/mixed;deferSpec=20220824, application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	media, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || media != "multipart/mixed" {
		raw, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("HTTP %d %s: %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	r := multipart.NewReader(resp.Body, params["boundary"])
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		var part struct {
			Errors      []json.RawMessage `json:"errors"`
			Incremental []struct {
				Data   map[string]any    `json:"data"`
				Errors []json.RawMessage `json:"errors"`
			} `json:"incremental"`
		}
		if err := json.NewDecoder(p).Decode(&part); err != nil {
			return fmt.Errorf("part %d: %w", t.parts, err)
		}
		at := time.Since(start)
		if t.parts == 0 {
			t.first = at
		}
		t.parts++
		if len(part.Errors) > 0 {
			return fmt.Errorf("part %d has errors: %s", t.parts, part.Errors[0])
		}
		for _, inc := range part.Incremental {
			if len(inc.Errors) > 0 {
				return fmt.Errorf("a video's part has errors: %s", inc.Errors[0])
			}
			if inc.Data["resolutionLabel"] != nil {
				t.detailCount++
				t.videos = append(t.videos, at)
			}
		}
	}
	slices.Sort(t.videos)
	if len(t.videos) == 0 {
		return fmt.Errorf("no deferred part arrived")
	}
	return nil
}
