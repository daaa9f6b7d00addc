package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// BenchmarkQuery measures a query through the real HTTP handler against the
// emulator over loopback, batching on (the default):
//   - upstream: each operation fetches one video in full (get_metadata);
//   - deduplicated: 100 aliases of one video, one list_videos call per
//     operation;
//   - not found: an unknown video (the smallest list_videos answer).
//
// go test -run '^$' -bench BenchmarkQuery -benchmem .
func BenchmarkQuery(b *testing.B) {
	h := setup(b, emulator.Options{}, map[string]string{
		"MEMORIES_API_KEY": testKey, "MEMORIES_RATE_LIMIT": "1000000", "MEMORIES_RATE_BURST": "1000000",
		"MEMORIES_LIST_RATE_LIMIT": "1000000", "MEMORIES_LIST_RATE_BURST": "1000000",
		// No cross-request cache: every operation reaches the upstream
		// (BenchmarkCacheHit measures the cache).
		"CACHE_TTL_PARSE": "0", "CACHE_TTL_NOT_FOUND": "0",
	})
	var aliases strings.Builder
	aliases.WriteString("{")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&aliases, " a%d: video(videoNo: %q) { videoNo videoName size }", i, vendorExample)
	}
	aliases.WriteString(" }")

	cases := []struct{ name, query string }{
		{"upstream", `{ video(videoNo: "` + vendorExample + `") { ` + allFields + ` } }`},
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
