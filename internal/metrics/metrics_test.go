package metrics_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/metrics"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

func TestRecordsEverySeries(t *testing.T) {
	m := metrics.New()
	m.UpstreamCall("get_metadata", "ok", 20*time.Millisecond)
	m.UpstreamCall("list_videos", "rate_limited", time.Millisecond)
	m.LimiterWait("list_videos", 300*time.Millisecond)
	m.ListUnavailable()
	m.CacheResult("hit", 3)
	m.CacheResult("coalesced", 1)
	m.LoaderBatch(7)
	m.Operation("Videos", "partial", 40*time.Millisecond)
	body := scrape(t, m)
	for _, want := range []string{
		`memories_upstream_calls_total{endpoint="get_metadata",outcome="ok"} 1`,
		`memories_upstream_calls_total{endpoint="list_videos",outcome="rate_limited"} 1`,
		`memories_upstream_call_duration_seconds_count{endpoint="get_metadata",outcome="ok"} 1`,
		`memories_ratelimit_wait_seconds_count{endpoint="list_videos"} 1`,
		`memories_list_unavailable_total 1`,
		`memories_cache_requests_total{result="hit"} 3`,
		`memories_cache_requests_total{result="coalesced"} 1`,
		`memories_loader_batch_size_sum 7`,
		`graphql_operations_total{operation="Videos",outcome="partial"} 1`,
		`graphql_operation_duration_seconds_count{outcome="partial"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// Operation names come from clients: the label must stay bounded.
func TestOperationLabelIsBounded(t *testing.T) {
	m := metrics.New()
	for i := 0; i < 500; i++ {
		m.Operation(fmt.Sprintf("Op%d", i), "ok", time.Millisecond)
	}
	m.Operation("", "ok", time.Millisecond)
	m.Operation("bad name; drop table", "ok", time.Millisecond)
	body := scrape(t, m)
	if got, want := strings.Count(body, "graphql_operations_total{"), 200+2; got != want {
		t.Errorf("operation series = %d; want %d (200 names, anonymous, other)", got, want)
	}
	for _, want := range []string{`operation="anonymous"`, `operation="other"`, `operation="Op0"`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// Each series is kept once made: records of one series from many
// goroutines all count, in it and in no other.
func TestRepeatedRecordsCount(t *testing.T) {
	m := metrics.New()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				m.UpstreamCall("get_metadata", "ok", time.Millisecond)
				m.CacheResult("miss", 2)
				m.Operation("", "ok", time.Millisecond)
				m.LimiterWait("get_metadata", 0)
				m.ResponseCacheResult("kept")
				if i%4 == 0 {
					m.UpstreamCall("get_metadata", "timeout", time.Millisecond)
					m.UpstreamCall("list_videos", "ok", time.Millisecond)
					m.Operation("Named", "partial", time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	body := scrape(t, m)
	for _, want := range []string{
		`memories_upstream_calls_total{endpoint="get_metadata",outcome="ok"} 400`,
		`memories_upstream_calls_total{endpoint="get_metadata",outcome="timeout"} 100`,
		`memories_upstream_calls_total{endpoint="list_videos",outcome="ok"} 100`,
		`memories_upstream_call_duration_seconds_count{endpoint="get_metadata",outcome="ok"} 400`,
		`memories_cache_requests_total{result="miss"} 800`,
		`memories_ratelimit_wait_seconds_count{endpoint="get_metadata"} 400`,
		`graphql_response_cache_total{result="kept"} 400`,
		`graphql_operations_total{operation="anonymous",outcome="ok"} 400`,
		`graphql_operations_total{operation="Named",outcome="partial"} 100`,
		`graphql_operation_duration_seconds_count{outcome="ok"} 400`,
		`graphql_operation_duration_seconds_count{outcome="partial"} 100`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// BenchmarkRequestRecords measures what a request's miss records: its
// upstream call, its cache result and its operation.
//
//	go test -run '^$' -bench BenchmarkRequestRecords -benchmem ./internal/metrics
func BenchmarkRequestRecords(b *testing.B) {
	m := metrics.New()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.UpstreamCall("get_metadata", "ok", time.Millisecond)
			m.CacheResult("miss", 1)
			m.Operation("", "ok", time.Millisecond)
		}
	})
}
