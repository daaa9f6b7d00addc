package cost_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/cost"
)

func TestMeterCounts(t *testing.T) {
	ctx, m := cost.NewContext(context.Background())
	if got := cost.From(ctx); got != m {
		t.Fatalf("From = %p; want the Meter NewContext made, %p", got, m)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			m.Call(cost.GetMetadata)
			m.Call(cost.ListVideos)
			m.Call("other") // not an endpoint: not counted
			m.Videos("hit", 2)
			m.Videos("coalesced", 1)
			m.Videos("miss", 3)
			m.Videos("", 5)
			m.Wait(time.Millisecond)
			m.Wait(-time.Second)
		})
	}
	wg.Wait()
	want := cost.Report{Calls: cost.Calls{GetMetadata: 10, ListVideos: 10},
		Videos: cost.Videos{Cached: 20, Shared: 10, Fetched: 30}, RateLimitWaitMs: 10}
	if got := m.Report(); got != want {
		t.Errorf("Report() = %+v; want %+v", got, want)
	}
}

// Code below the loader adds to whatever Meter its context has, or none.
func TestNilMeter(t *testing.T) {
	m := cost.From(context.Background())
	if m != nil {
		t.Fatalf("From(no meter) = %p; want nil", m)
	}
	m.Call(cost.GetMetadata)
	m.Videos("hit", 1)
	m.Wait(time.Second)
	if got := m.Report(); got != (cost.Report{}) {
		t.Errorf("nil Meter's Report() = %+v; want zero", got)
	}
}

// Report's hand-written JSON is what its tags say.
func TestReportJSON(t *testing.T) {
	r := cost.Report{Calls: cost.Calls{GetMetadata: 1, ListVideos: 22},
		Videos: cost.Videos{Cached: 333, Shared: 4, Fetched: 55}, RateLimitWaitMs: 6789}
	got, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	type plain cost.Report // the same fields and tags, without MarshalJSON
	want, err := json.Marshal(plain(r))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("json.Marshal(Report) = %s; want %s", got, want)
	}
	var back cost.Report
	if err := json.Unmarshal(got, &back); err != nil || back != r {
		t.Errorf("round trip: got %+v, %v; want %+v", back, err, r)
	}
}
