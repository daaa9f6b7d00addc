package e2e

// extensions.cost through the real server against the emulator: the calls
// an operation made match the emulator's counts, by endpoint; cached,
// shared and fetched videos; time waiting for the rate budget; parts of a
// deferred answer; none on a subscription's events; the switch.

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/cost"
	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/eventually"
)

// A query's cost is what the emulator counted for it: get_metadata calls
// that queue for a 5/s budget, with their wait; then the same videos from
// the cache, for free.
func TestCostOfQueries(t *testing.T) {
	vs, nos := detailVideos("4", 4)
	// One get_metadata call at a time (burst 1): three of the four wait.
	h := setup(t, emulator.Options{Videos: vs}, with(fastList, "MEMORIES_RATE_LIMIT", "5", "MEMORIES_RATE_BURST", "1"))
	q := `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo fps } }`

	resp := h.query(t, q, map[string]any{"nos": nos})
	h.wantCost(t, "four videos in full", resp, 0, 4)
	if resp.Cost != nil && resp.Cost.RateLimitWaitMs <= 0 {
		t.Errorf("rateLimitWaitMs = %d; want more than 0: at 5 calls/s with a burst of 1, three calls wait", resp.Cost.RateLimitWaitMs)
	}

	h.emu.ResetCounters()
	resp = h.query(t, q, map[string]any{"nos": append(nos, "VI4000000000000000099")})
	h.wantCost(t, "again, and one unknown video", resp, 4, 1)
}

// Two queries for the same videos at once share one call: one fetches,
// the other shares, and the call is in one cost only.
func TestCostOfSharedCalls(t *testing.T) {
	vs, nos := detailVideos("3", 10)
	h := setup(t, emulator.Options{Videos: vs, ListPageCap: 200, Latency: time.Second}, fastList)
	var wg sync.WaitGroup
	resps := make([]response, 2)
	wg.Go(func() { resps[0] = h.query(t, videosListQuery, map[string]any{"nos": nos}) })
	eventually.True(t, "the first query's call to reach the upstream", func() bool { return h.emu.Stats().List.Requests == 1 })
	wg.Go(func() { resps[1] = h.query(t, videosListQuery, map[string]any{"nos": nos}) })
	wg.Wait()
	if st := h.emu.Stats(); st.List.Requests != 1 {
		t.Fatalf("list_videos calls = %d; want 1 for both queries", st.List.Requests)
	}
	for i, resp := range resps {
		if resp.Cost == nil {
			t.Fatalf("query %d: no extensions.cost", i)
		}
	}
	a, b := resps[0].Cost, resps[1].Cost
	if a.Calls.ListVideos != 1 || a.Videos.Fetched != 10 || b.Calls.ListVideos != 0 || b.Videos.Shared != 10 {
		t.Errorf("costs %+v and %+v; want the first to make the call for 10 videos, the second to share them", *a, *b)
	}
}

// Each part of a deferred answer carries the cost so far; the last, the
// whole, which is what the emulator counted.
func TestCostOfDeferredParts(t *testing.T) {
	vs, nos := detailVideos("2", 3)
	h := setup(t, emulator.Options{Videos: vs, ListPageCap: 200}, fastList)
	_, parts := postMultipart(t, h.url, deferredDetailQuery, map[string]any{"nos": nos})
	if len(parts) < 2 {
		t.Fatalf("got %d parts; want an initial part and deferred ones", len(parts))
	}
	// The initial payload carries its cost; each deferred payload, its own
	// (incremental[i].extensions), the cost at the time it was answered.
	var costs []*cost.Report
	for _, p := range parts {
		if p.Incremental == nil {
			costs = append(costs, p.Extensions.Cost)
		}
		for _, inc := range p.Incremental {
			costs = append(costs, inc.Extensions.Cost)
		}
	}
	var calls int64
	for i, c := range costs {
		if c == nil {
			t.Fatalf("payload %d: no extensions.cost", i)
		}
		n := c.Calls.GetMetadata + c.Calls.ListVideos
		if n < calls {
			t.Errorf("payload %d: %d calls after %d in an earlier one; want the cost so far", i, n, calls)
		}
		calls = n
	}
	if len(costs) != 1+len(nos) {
		t.Errorf("got %d payloads; want the initial one and one per video", len(costs))
	}
	last := response{Cost: costs[len(costs)-1]}
	h.wantCost(t, "last part", last, 0, 6) // each video fetched twice: by list_videos, then in full
}

// A subscription's events carry no cost: the shared poll is nobody's.
func TestCostNotOnSubscriptions(t *testing.T) {
	h := setup(t, emulator.Options{}, fastList)
	evs := untilComplete(t, sseSubscribe(t, h.url, `subscription($nos: [ID!]!) { watchVideos(videoNos: $nos) { videoNo status } }`,
		map[string]any{"nos": []string{vendorExample}}), 10*time.Second)
	if len(evs) != 1 {
		t.Fatalf("got %d events; want the video's", len(evs))
	}
	for i, ev := range evs {
		if _, ok := ev.Extensions["cost"]; ok {
			t.Errorf("event %d has extensions.cost; want none on a subscription", i)
		}
	}
}

// COST_EXTENSION=off leaves it out.
func TestCostSwitchedOff(t *testing.T) {
	for _, tt := range []struct {
		setting string
		want    bool
	}{{"", true}, {"on", true}, {"off", false}} {
		t.Run(fmt.Sprintf("COST_EXTENSION=%q", tt.setting), func(t *testing.T) {
			h := setup(t, emulator.Options{}, with(fastList, "COST_EXTENSION", tt.setting))
			resp := h.query(t, `{ video(videoNo: "`+vendorExample+`") { videoNo } }`, nil)
			if got := resp.Cost != nil; got != tt.want {
				t.Errorf("extensions.cost present = %v; want %v (%s)", got, tt.want, resp.Raw)
			}
		})
	}
}
