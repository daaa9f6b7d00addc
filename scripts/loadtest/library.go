package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

const libraryUsage = `usage: loadtest library [flags]

Measures paging through whole libraries with videoLibrary. For each of
-sizes, an emulator process holds that many videos (pages of at most
-page-cap), and for each of -first a fresh server in front of it pages
through the whole library as a client would: one page at a time, after the
previous page's endCursor, until hasNextPage is false, selecting list
fields only (videoNo videoName status). The emulator and the server allow
-list-rate calls/s on each endpoint, burst 1 on both sides. A fresh server
per run keeps one run's vendor pages and videos from serving the next.

It prints, per run, the GraphQL pages, the upstream calls by endpoint (from
the emulator's counters), the wall time and the calls per second, and what
one list_videos call costs the emulator at that size. It exits 1 unless
every run saw every video exactly once, as many as totalCount.

`

// Bounds of the library mode's counts.
const (
	maxLibrarySize  = 1_000_000
	maxLibraryFirst = 200 // videoLibrary's own bound
)

func libraryFlags() *modeFlags {
	f := newModeFlags("library", libraryUsage)
	f.o.sizes, f.o.firsts = []int{1000, 10_000, 100_000}, []int{50, 200}
	f.Var(&countList{&f.o.sizes, 1, maxLibrarySize}, "sizes", "comma-separated library sizes: an emulator holding that many videos each")
	f.Var(&countList{&f.o.firsts, 1, maxLibraryFirst}, "first", "comma-separated page sizes (videoLibrary's first): a whole paging run, on a fresh server, each")
	f.Float64Var(&f.o.listRate, "list-rate", 5, "calls per second the emulator and the server (MEMORIES_LIST_RATE_LIMIT, MEMORIES_RATE_LIMIT) allow on each endpoint, burst 1 (5 is the vendor's)")
	f.IntVar(&f.o.pageCap, "page-cap", 200, "the largest list_videos page the emulator honours (the server asks for 200)")
	f.checkRange("page-cap", &f.o.pageCap, 1, 10_000)
	f.DurationVar(&f.o.latency, "upstream-latency", 20*time.Millisecond, "latency the emulator adds to every upstream answer")
	f.check(func() error {
		if !(f.o.listRate > 0) || math.IsInf(f.o.listRate, 0) {
			return fmt.Errorf("-list-rate must be positive, got %v", f.o.listRate)
		}
		if f.o.latency < 0 {
			return errors.New("-upstream-latency must not be negative")
		}
		return nil
	})
	f.serverFlags("file for the server's log, written anew by each run's server; empty discards it")
	return f
}

// countList is a flag of comma-separated counts in [lo, hi].
type countList struct {
	p      *[]int
	lo, hi int
}

func (c *countList) String() string {
	if c == nil || c.p == nil {
		return ""
	}
	parts := make([]string, len(*c.p))
	for i, n := range *c.p {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

func (c *countList) Set(s string) error {
	var ns []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < c.lo || n > c.hi {
			return fmt.Errorf("%q is not a count from %d to %d", f, c.lo, c.hi)
		}
		ns = append(ns, n)
	}
	*c.p = ns
	return nil
}

// libraryRun is one paging run through a whole library.
type libraryRun struct {
	size, first int
	pages       int
	calls       emulatorStats
	wall        time.Duration
	wrong       string // "" when every video was seen once, as many as totalCount
}

func library(ctx context.Context, o *options, bin, _ string) error {
	rate := strconv.FormatFloat(o.listRate, 'f', -1, 64)
	fmt.Printf("videoLibrary, paging through whole libraries: emulator and server at %s calls/s per endpoint, burst 1 on both; "+
		"emulator pages of at most %d (the server asks for 200); upstream latency %v; a fresh server for each run, the emulator kept for a size (counters reset)\n\n",
		rate, o.pageCap, o.latency)
	fmt.Println("| videos | first | GraphQL pages | list_videos calls | ceil(videos / page) | get_metadata calls | 0429s | wall time | calls/s | emulator time per list call | right |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	var wrong []string
	for _, n := range o.sizes {
		runs, perCall, err := librarySize(ctx, o, bin, n, rate)
		for _, r := range runs {
			right := "yes"
			if r.wrong != "" {
				right = "NO: " + r.wrong
				wrong = append(wrong, fmt.Sprintf("%d videos, first %d: %s", r.size, r.first, r.wrong))
			}
			calls := r.calls.calls()
			fmt.Printf("| %d | %d | %d | %d | %d | %d | %d | %.2f s | %.2f | %s | %s |\n", r.size, r.first, r.pages,
				r.calls.ListVideos, (r.size+min(200, o.pageCap)-1)/min(200, o.pageCap), r.calls.GetMetadata, r.calls.RateLimited,
				r.wall.Seconds(), float64(calls)/r.wall.Seconds(), round(perCall), right)
		}
		if ctx.Err() != nil {
			fmt.Println("\ninterrupted: the table covers the runs that ended before Ctrl-C")
			return exitCode(130)
		}
		if err != nil {
			return fmt.Errorf("%d videos: %w", n, err)
		}
	}
	if len(wrong) > 0 {
		fmt.Printf("\n%d runs were wrong:\n  %s\n", len(wrong), strings.Join(wrong, "\n  "))
		return exitCode(1)
	}
	return nil
}

// librarySize runs every -first against one emulator process holding n
// videos, each on a fresh server, and measures what one list call costs
// the emulator at that size. It returns the runs that ended.
func librarySize(ctx context.Context, o *options, bin string, n int, rate string) ([]libraryRun, time.Duration, error) {
	videos := makeVideos(n)
	perCall, err := listCallCost(videos, o.pageCap)
	if err != nil {
		return nil, 0, err
	}
	emu, err := startEmulatorProcess(ctx, emulatorConfig{Videos: n, Rate: o.listRate, Burst: 1, Latency: o.latency, PageCap: o.pageCap})
	if err != nil {
		return nil, perCall, err
	}
	defer emu.stop()
	want := make(map[string]string, n) // videoNo -> videoName
	for i, no := range videos.nos {
		want[no] = fmt.Sprintf("load-clip-%d", i)
	}
	var runs []libraryRun
	for _, first := range o.firsts {
		r, err := libraryRunOn(ctx, o, bin, emu, rate, want, first)
		if err != nil {
			return runs, perCall, fmt.Errorf("first %d: %w", first, err)
		}
		runs = append(runs, r)
	}
	return runs, perCall, nil
}

// libraryRunOn starts a server in front of emu and pages through the
// whole library, first videos a page.
func libraryRunOn(ctx context.Context, o *options, bin string, emu *emulatorProcess, rate string, want map[string]string, first int) (libraryRun, error) {
	r := libraryRun{size: len(want), first: first}
	srv, err := o.startServer(ctx, bin, map[string]string{
		"MEMORIES_BASE_URL": emu.url, "MEMORIES_API_KEY": loadKey,
		"MEMORIES_RATE_LIMIT": rate, "MEMORIES_RATE_BURST": "1",
		"MEMORIES_LIST_RATE_LIMIT": rate, "MEMORIES_LIST_RATE_BURST": "1",
		"LOG_FORMAT": "text", "LOG_LEVEL": o.logLevel,
	}, o.serverLog)
	if err != nil {
		return r, err
	}
	defer srv.stop()
	// The emulator's bucket may still be empty from the last run's final
	// call, the new server's is full: a moment for the emulator's to fill
	// too, as it would for a client that came back later.
	select {
	case <-time.After(time.Duration(float64(time.Second) / o.listRate)):
	case <-ctx.Done():
		return r, ctx.Err()
	}
	// The server has made no call yet; the counters count this run alone.
	if err := emu.reset(); err != nil {
		return r, err
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	defer client.CloseIdleConnections()
	p := newLibraryPager("http://"+srv.addr+"/query", first)
	start := time.Now()
	for p.more() {
		if err := p.next(ctx, client); err != nil {
			return r, fmt.Errorf("page %d: %w", p.pages+1, err)
		}
		if p.pages > len(want)/first+2 {
			return r, fmt.Errorf("%d pages for %d videos, %d a page: hasNextPage stays true", p.pages, len(want), first)
		}
	}
	r.wall = time.Since(start)
	r.pages = p.pages
	r.wrong = p.check(want)
	r.calls, err = emu.stats()
	return r, err
}

// libraryQuery is one page of the library, list fields only.
const libraryQuery = `query($first: Int, $after: String) {
  videoLibrary(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { videoNo videoName status } }
  }
}`

// libraryPage is videoLibrary's answer.
type libraryPage struct {
	TotalCount int `json:"totalCount"`
	PageInfo   struct {
		HasNextPage     bool    `json:"hasNextPage"`
		HasPreviousPage bool    `json:"hasPreviousPage"`
		StartCursor     *string `json:"startCursor"`
		EndCursor       *string `json:"endCursor"`
	} `json:"pageInfo"`
	Edges []libraryEdge `json:"edges"`
}

type libraryEdge struct {
	Cursor string      `json:"cursor"`
	Node   libraryNode `json:"node"`
}

type libraryNode struct {
	VideoNo   string `json:"videoNo"`
	VideoName string `json:"videoName"`
	Status    string `json:"status"`
}

// libraryPager pages through a library as a client would, noting what it
// sees for check.
type libraryPager struct {
	url   string
	first int
	after *string
	done  bool

	pages  int
	totals []int               // totalCount of each page
	seen   map[string][]string // videoNo -> the videoName of each sighting
	status map[string]int      // status -> videos
	odd    []string            // what a page got wrong about itself
}

func newLibraryPager(url string, first int) *libraryPager {
	return &libraryPager{url: url, first: first, seen: map[string][]string{}, status: map[string]int{}}
}

func (p *libraryPager) more() bool { return !p.done }

// next asks for the page after the last one and notes it.
func (p *libraryPager) next(ctx context.Context, client *http.Client) error {
	body, err := json.Marshal(map[string]any{"query": libraryQuery, "variables": map[string]any{"first": p.first, "after": p.after}})
	if err != nil {
		return err
	}
	resp, err := postJSON(ctx, p.url, body, "application/json")
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %.300s", resp.StatusCode, raw)
	}
	var out struct {
		Data struct {
			VideoLibrary *libraryPage `json:"videoLibrary"`
		} `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return fmt.Errorf("answer is not JSON: %.300s", raw)
	}
	if len(out.Errors) > 0 || out.Data.VideoLibrary == nil {
		return fmt.Errorf("no page: %.300s", raw)
	}
	p.note(out.Data.VideoLibrary)
	return nil
}

// note records one page's videos and checks the page against itself.
func (p *libraryPager) note(pg *libraryPage) {
	p.pages++
	p.totals = append(p.totals, pg.TotalCount)
	odd := func(format string, args ...any) {
		if len(p.odd) < 10 {
			p.odd = append(p.odd, fmt.Sprintf("page %d: ", p.pages)+fmt.Sprintf(format, args...))
		}
	}
	info := pg.PageInfo
	if info.HasPreviousPage != (p.pages > 1) {
		odd("hasPreviousPage %v", info.HasPreviousPage)
	}
	if len(pg.Edges) > p.first {
		odd("%d edges, more than first %d", len(pg.Edges), p.first)
	}
	if info.HasNextPage && len(pg.Edges) < p.first {
		odd("%d edges of %d, yet hasNextPage", len(pg.Edges), p.first)
	}
	for _, e := range pg.Edges {
		p.seen[e.Node.VideoNo] = append(p.seen[e.Node.VideoNo], e.Node.VideoName)
		p.status[e.Node.Status]++
	}
	if n := len(pg.Edges); n > 0 {
		if info.StartCursor == nil || *info.StartCursor != pg.Edges[0].Cursor || info.EndCursor == nil || *info.EndCursor != pg.Edges[n-1].Cursor {
			odd("startCursor and endCursor are not the first and last edges' cursors")
		}
	}
	if !info.HasNextPage || info.EndCursor == nil {
		if info.HasNextPage {
			odd("hasNextPage without an endCursor")
		}
		p.done = true
		return
	}
	p.after = info.EndCursor
}

// check says what the run got wrong against want (videoNo -> videoName,
// the whole library): "" when every video was seen exactly once, with its
// name and status PARSE, and totalCount said so on every page.
func (p *libraryPager) check(want map[string]string) string {
	var problems []string
	seen, dup, unknown, misnamed := 0, 0, 0, 0
	for no, names := range p.seen {
		seen += len(names)
		name, ok := want[no]
		switch {
		case !ok:
			unknown++
			continue
		case len(names) > 1:
			dup++
		}
		if names[0] != name {
			misnamed++
		}
	}
	missing := 0
	for no := range want {
		if _, ok := p.seen[no]; !ok {
			missing++
		}
	}
	for _, c := range []struct {
		n    int
		what string
	}{{dup, "seen more than once"}, {unknown, "not in the library"}, {missing, "never seen"}, {misnamed, "with another name"}} {
		if c.n > 0 {
			problems = append(problems, fmt.Sprintf("%d videos %s", c.n, c.what))
		}
	}
	if p.status["PARSE"] != seen {
		problems = append(problems, fmt.Sprintf("statuses %v, want all PARSE", p.status))
	}
	if slices.Min(p.totals) != slices.Max(p.totals) || p.totals[0] != seen || seen != len(want) {
		problems = append(problems, fmt.Sprintf("%d videos seen, totalCount %d to %d, library %d", seen, slices.Min(p.totals), slices.Max(p.totals), len(want)))
	}
	return strings.Join(append(problems, p.odd...), "; ")
}

// listCallCost is what one list_videos call of a library page costs an
// emulator holding videos, without latency or rate limit: the median
// handling time of seven pages, in this process (the emulator process runs
// the same code).
func listCallCost(videos videoSet, pageCap int) (time.Duration, error) {
	emu := emulator.New(emulator.Options{Keys: []string{loadKey}, Videos: videos.emulator, ListPageCap: pageCap})
	defer emu.Close()
	h := emu.Handler()
	var ds []time.Duration
	for page := 1; page <= 7; page++ {
		req := httptest.NewRequest(http.MethodPost, emulator.ListPath, strings.NewReader(fmt.Sprintf(`{"unique_id":"default","page":%d,"size":200}`, page)))
		req.Header.Set("Authorization", loadKey)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		ds = append(ds, time.Since(start))
		if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"0000"`)) {
			return 0, fmt.Errorf("timing a list call: HTTP %d: %.200s", rec.Code, rec.Body.Bytes())
		}
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}
