package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/hostile"
)

// BenchmarkQuery measures a query through the real HTTP handler against the
// emulator over loopback, batching on (the default):
//   - upstream: each operation fetches one video in full (get_metadata);
//   - deduplicated: 100 aliases of one video, one list_videos call per
//     operation;
//   - not found: an unknown video (the smallest list_videos answer).
//
// go test -run '^$' -bench BenchmarkQuery -benchmem ./e2e
func BenchmarkQuery(b *testing.B) {
	h := setup(b, emulator.Options{}, map[string]string{
		"MEMORIES_API_KEY": testKey, "MEMORIES_RATE_LIMIT": "1000000", "MEMORIES_RATE_BURST": "1000000",
		"MEMORIES_LIST_RATE_LIMIT": "1000000", "MEMORIES_LIST_RATE_BURST": "1000000",
		// No cross-request cache: every operation reaches the upstream
		// (BenchmarkCacheHit measures the cache).
		"CACHE_TTL_PARSE": "0", "CACHE_TTL_DETAIL": "0", "CACHE_TTL_NOT_FOUND": "0",
	})
	var aliases strings.Builder
	aliases.WriteString("{")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&aliases, " a%d: video(videoNo: %q) { videoNo videoName size }", i, vendorExample)
	}
	aliases.WriteString(" }")

	// One video, fetched once, answered 100 times with every field: the
	// cost of resolving the detail fields (which have resolvers, for
	// @defer) per answered video.
	detailList := `{ videos(videoNos: [` + strings.Repeat(`"`+vendorExample+`" `, 100) + `]) { ` + allFields + ` } }`

	cases := []struct{ name, query string }{
		{"upstream", `{ video(videoNo: "` + vendorExample + `") { ` + allFields + ` } }`},
		{"detail x100", detailList},
		{"deduplicated", aliases.String()},
		{"not found", `{ video(videoNo: "VI000") { videoNo } }`},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if resp := h.query(b, c.query, nil); len(resp.Errors) > 0 {
					b.Fatalf("errors: %+v", resp.Errors)
				}
			}
		})
	}
}

// BenchmarkCacheHit measures a query answered from the cache through the
// HTTP handler (in process, no network), with the local cache and with
// Redis: as configured by default, the kept answer replayed (the response
// cache); "executed", with RESPONSE_CACHE_BYTES=0, executed from the video
// cache. "upstream" is the same query with caching off, for comparison,
// and "upstream with redis" adds what a miss costs in Redis (a lookup, and
// a lease taken and released around the call).
//
//	REDIS_URL=redis://127.0.0.1:6379/0 go test -run '^$' -bench BenchmarkCacheHit -benchmem ./e2e
func BenchmarkCacheHit(b *testing.B) {
	const q = `{"query":"{ video(videoNo: \"` + vendorExample + `\") { ` + "videoNo videoName size status" + ` } }"}`
	for _, mode := range []string{"local", "local executed", "redis", "redis executed", "upstream", "upstream with redis"} {
		b.Run(mode, func(b *testing.B) {
			// Batching on, as by default: the query's fields come from
			// list_videos.
			env := fastList
			switch mode {
			case "local executed":
				env = with(fastList, "RESPONSE_CACHE_BYTES", "0")
			case "redis":
				env = withRedis(b, fastList)
			case "redis executed":
				env = withRedis(b, with(fastList, "RESPONSE_CACHE_BYTES", "0"))
			case "upstream":
				env = with(fastList, "CACHE_TTL_PARSE", "0")
			case "upstream with redis":
				env = withRedis(b, with(fastList, "CACHE_TTL_PARSE", "0"))
			}
			r := setupReplicas(b, 1, emulator.Options{}, env)
			serve := func() {
				req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(q))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				r.handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"errors"`) {
					b.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
				}
			}
			serve() // warm the cache
			b.ReportAllocs()
			for b.Loop() {
				serve()
			}
			st := r.emu.Stats()
			calls := st.Requests + st.List.Requests
			if !strings.HasPrefix(mode, "upstream") && calls != 1 {
				b.Errorf("upstream calls = %d; want 1 (every operation a cache hit)", calls)
			}
		})
	}
}

// BenchmarkAbuse measures each of hostile's refused requests through the
// HTTP handler, in process: time and allocations per refusal, and the
// answer's size (B/answer). Each request's text is new (a comment numbers
// it), as an attacker's would be: a document refused after validation
// would otherwise be answered from the query cache.
//
//	go test -run '^$' -bench BenchmarkAbuse -benchmem ./e2e
func BenchmarkAbuse(b *testing.B) {
	h := setup(b, emulator.Options{}, fast)
	for _, p := range hostile.Refused() {
		b.Run(strings.ReplaceAll(p.Name, " ", "_"), func(b *testing.B) {
			bodies := make([]string, 0, 64)
			for i := range cap(bodies) {
				q := p
				q.Query = fmt.Sprintf("# %d\n%s", i, p.Query)
				bodies = append(bodies, string(mustJSON(q.Body())))
			}
			b.ReportAllocs()
			var answer, i int
			for b.Loop() {
				if i == len(bodies) {
					b.StopTimer()
					h = setup(b, emulator.Options{}, fast) // an empty query cache
					i = 0
					b.StartTimer()
				}
				req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(bodies[i]))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.handler.ServeHTTP(rec, req)
				answer = rec.Body.Len()
				i++
			}
			b.ReportMetric(float64(answer), "B/answer")
		})
	}
}
