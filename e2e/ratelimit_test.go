package e2e

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// These tests are about the get_metadata budget: MEMORIES_BATCH=off makes
// every video one get_metadata call (TestBatch500Videos covers list_videos).

// With the same limit as the upstream, the façade queues instead of failing:
// every video arrives and the upstream never has to say 0429.
func TestRateLimitSameSettingNo0429(t *testing.T) {
	vs, nos := testVideos(60)
	h := setup(t, emulator.Options{Videos: vs, RateLimit: 20, Burst: 5},
		map[string]string{"MEMORIES_API_KEY": testKey, "MEMORIES_RATE_LIMIT": "20", "MEMORIES_RATE_BURST": "5", "MEMORIES_BATCH": "off"})
	resp := h.query(t, `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo } }`, map[string]any{"nos": nos})
	if len(resp.Errors) > 0 {
		t.Fatalf("errors: %+v", resp.Errors)
	}
	got := decodeVideos(t, resp.Data["videos"])
	for i, v := range got {
		if v == nil || v.VideoNo != nos[i] {
			t.Errorf("videos[%d] = %+v; want %s", i, v, nos[i])
		}
	}
	st := h.emu.Stats()
	if st.RateLimited != 0 {
		t.Errorf("upstream 0429 answers = %d; want 0", st.RateLimited)
	}
	if got, want := st.Served, int64(60); got != want {
		t.Errorf("upstream calls served = %d; want %d", got, want)
	}
}

// Set higher than the upstream's limit, the façade meets 0429s, backs off and
// retries, and still delivers every video within REQUEST_TIMEOUT.
func TestRateLimitAboveUpstreamRecovers(t *testing.T) {
	for _, tt := range []struct {
		name       string
		status     int
		retryAfter bool
	}{
		{"0429 in HTTP 200", 200, false},
		{"HTTP 429 with Retry-After", 429, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			vs, nos := testVideos(40)
			h := setup(t, emulator.Options{Videos: vs, RateLimit: 10, Burst: 5, RateLimitStatus: tt.status, RetryAfterHeader: tt.retryAfter},
				map[string]string{"MEMORIES_API_KEY": testKey, "MEMORIES_RATE_LIMIT": "200", "MEMORIES_RATE_BURST": "50", "REQUEST_TIMEOUT": "30s", "MEMORIES_BATCH": "off"})
			resp := h.query(t, videosQuery(nos), nil)
			if len(resp.Errors) > 0 {
				t.Fatalf("errors: %+v", resp.Errors)
			}
			for i, no := range nos {
				if v := decodeVideo(t, resp.Data[fmt.Sprintf("v%d", i)]); v == nil || v.VideoNo != no {
					t.Errorf("v%d = %+v; want %s", i, v, no)
				}
			}
			st := h.emu.Stats()
			if st.RateLimited == 0 {
				t.Errorf("upstream 0429 answers = 0; want some (the façade was set above the upstream)")
			}
			if got, want := st.Served, int64(40); got != want {
				t.Errorf("served = %d; want %d", got, want)
			}
		})
	}
}

// With too little time for the budget, the videos that could not be fetched
// carry RATE_LIMITED with retryAfterSeconds; the rest have data.
func TestRateLimitTimeoutGivesRetryAfter(t *testing.T) {
	vs, nos := testVideos(30)
	h := setup(t, emulator.Options{Videos: vs},
		map[string]string{"MEMORIES_API_KEY": testKey, "MEMORIES_RATE_LIMIT": "5", "MEMORIES_RATE_BURST": "5", "REQUEST_TIMEOUT": "2s", "MEMORIES_BATCH": "off"})
	start := time.Now()
	resp := h.query(t, videosQuery(nos), nil)
	elapsed := time.Since(start)

	errs := resp.errorsByPath()
	var fetched, limited int
	for i, no := range nos {
		path := fmt.Sprintf("v%d", i)
		v := decodeVideo(t, resp.Data[path])
		e, failed := errs[path]
		switch {
		case v != nil && !failed:
			if v.VideoNo != no {
				t.Errorf("%s = %+v; want %s", path, v, no)
			}
			fetched++
		case v == nil && failed && e.Code() == "RATE_LIMITED":
			secs, ok := e.Extensions["retryAfterSeconds"].(float64)
			if !ok || secs < 1 || secs != float64(int(secs)) {
				t.Errorf("%s: retryAfterSeconds = %v; want a whole number >= 1", path, e.Extensions["retryAfterSeconds"])
			}
			limited++
		default:
			t.Errorf("%s: data %s, error %+v; want data or RATE_LIMITED", path, resp.Data[path], e)
		}
	}
	// The burst (3 after headroom) goes at once; at most 2s·5/s more fit.
	if fetched < 3 || fetched > 3+10 {
		t.Errorf("fetched = %d; want between 3 and 13", fetched)
	}
	if limited == 0 {
		t.Errorf("RATE_LIMITED = 0; want the videos that did not fit in 2s")
	}
	if got := h.emu.Stats().Requests; got != int64(fetched) {
		t.Errorf("upstream calls = %d; want %d (refused videos make no call)", got, fetched)
	}
	t.Logf("fetched %d, rate limited %d, in %v", fetched, limited, elapsed)
}

// A mixed load at the vendor's exact limits (5 calls/s, burst 5, for each
// endpoint, on both sides): single videos, which go to get_metadata while
// its budget is there and to list_videos when it is not, next to detail
// queries and two-video batches. Neither budget runs over: no 0429 on
// either endpoint, every video answers, and single videos took both paths.
func TestRateLimitMixedLoadNo0429(t *testing.T) {
	vs, nos := testVideos(600)
	h := setup(t, emulator.Options{Videos: vs, RateLimit: 5, Burst: 5, ListRateLimit: 5, ListBurst: 5, ListPageCap: 200},
		map[string]string{"MEMORIES_API_KEY": testKey, "MEMORIES_RATE_LIMIT": "5", "MEMORIES_RATE_BURST": "5",
			"MEMORIES_LIST_RATE_LIMIT": "5", "MEMORIES_LIST_RATE_BURST": "5"})
	var (
		next   atomic.Int64
		single struct {
			sync.Mutex
			meta, list int64
		}
		wg sync.WaitGroup
	)
	take := func(n int) []string {
		i := int(next.Add(int64(n)))
		return nos[i-n : i]
	}
	ask := func(q string, batch []string) response {
		resp := h.query(t, q, map[string]any{"nos": batch})
		if len(resp.Errors) > 0 || resp.Cost == nil {
			t.Errorf("videos %v: errors %+v, cost %v; want none, and the cost", batch, resp.Errors, resp.Cost)
		}
		return resp
	}
	const list, detail = `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo } }`, `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo fps } }`
	end := time.Now().Add(3 * time.Second)
	// The other queries start once a single video has answered: started
	// together, on a loaded machine the detail queries could take the
	// whole get_metadata burst first, and single videos would then find no
	// room for the whole run (the detail queries' waits keep the budget
	// spoken for).
	first := make(chan struct{})
	var answered sync.Once
	for range 4 {
		wg.Go(func() {
			for time.Now().Before(end) {
				c := ask(list, take(1)).Cost
				answered.Do(func() { close(first) })
				if c != nil {
					single.Lock()
					single.meta += c.Calls.GetMetadata
					single.list += c.Calls.ListVideos
					single.Unlock()
				}
			}
		})
	}
	wg.Go(func() {
		<-first
		for time.Now().Before(end) {
			ask(detail, take(1))
		}
	})
	wg.Go(func() {
		<-first
		for time.Now().Before(end) {
			ask(list, take(2))
		}
	})
	wg.Wait()
	st := h.emu.Stats()
	t.Logf("%d videos: %d get_metadata and %d list_videos calls; single videos: %d through get_metadata, %d through list_videos",
		next.Load(), st.Requests, st.List.Requests, single.meta, single.list)
	if st.RateLimited != 0 || st.List.RateLimited != 0 {
		t.Errorf("0429 answers: get_metadata %d, list_videos %d; want 0 and 0", st.RateLimited, st.List.RateLimited)
	}
	if single.meta == 0 || single.list == 0 {
		t.Errorf("single videos: %d through get_metadata, %d through list_videos; want some of each", single.meta, single.list)
	}
}
