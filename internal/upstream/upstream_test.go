package upstream_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/ratelimit"
	"github.com/memories-facade/memories-graphql/internal/upstream"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

const testKey = "sk-upstream-test"

var acct, _ = account.New(testKey)

// recordingLimiter is the real registry, with its pauses recorded.
type recordingLimiter struct {
	*ratelimit.Registry
	mu     sync.Mutex
	pauses []time.Duration
}

func (r *recordingLimiter) Pause(id string, d time.Duration) {
	r.mu.Lock()
	r.pauses = append(r.pauses, d)
	r.mu.Unlock()
	r.Registry.Pause(id, d)
}

func (r *recordingLimiter) Pauses() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.pauses)
}

// recorder is an Observer that counts what it is told.
type recorder struct {
	mu          sync.Mutex
	calls       map[string]map[string]int // endpoint -> outcome -> calls
	waits       map[string]int            // endpoint -> waits
	unavailable int
}

func newRecorder() *recorder {
	return &recorder{calls: map[string]map[string]int{}, waits: map[string]int{}}
}

func (r *recorder) UpstreamCall(endpoint, outcome string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls[endpoint] == nil {
		r.calls[endpoint] = map[string]int{}
	}
	r.calls[endpoint][outcome]++
}

func (r *recorder) LimiterWait(endpoint string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits[endpoint]++
}

func (r *recorder) ListUnavailable() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unavailable++
}

func (r *recorder) outcomes(endpoint string) map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.calls[endpoint] {
		out[k] = v
	}
	return out
}

func (r *recorder) waitsFor(endpoint string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.waits[endpoint]
}

func (r *recorder) unavailableCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unavailable
}

// countingClient is the real memories client, with the calls in flight
// counted.
type countingClient struct {
	upstream.Client
	mu       sync.Mutex
	inFlight int
	max      int
}

func (c *countingClient) enter() {
	c.mu.Lock()
	c.inFlight++
	c.max = max(c.max, c.inFlight)
	c.mu.Unlock()
}

func (c *countingClient) leave() {
	c.mu.Lock()
	c.inFlight--
	c.mu.Unlock()
}

func (c *countingClient) maxInFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.max
}

func (c *countingClient) GetMetadata(ctx context.Context, key string, ref memories.VideoRef) (*memories.Video, error) {
	c.enter()
	defer c.leave()
	return c.Client.GetMetadata(ctx, key, ref)
}

func (c *countingClient) ListVideos(ctx context.Context, key string, req memories.ListRequest) (*memories.ListPage, error) {
	c.enter()
	defer c.leave()
	return c.Client.ListVideos(ctx, key, req)
}

// config describes a test's emulator and Caller. Zero rates mean a budget
// that never holds a call back.
type config struct {
	emu                emulator.Options
	opts               upstream.Options
	metaRate, listRate float64
}

// env is a Caller over the real client and real limiters, against an
// emulator over HTTP.
type env struct {
	caller     *upstream.Caller
	emu        *emulator.Server
	meta, list *recordingLimiter
	obs        *recorder
	client     *countingClient
}

func setup(t *testing.T, cfg config) *env {
	t.Helper()
	if cfg.emu.Videos == nil {
		cfg.emu.Videos = catalogue()
	}
	emu, err := emulator.Start(cfg.emu)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	client := videotest.Client(t, emu.URL())
	limiter := func(perSecond float64, burst int) *recordingLimiter {
		t.Helper()
		if perSecond == 0 {
			perSecond, burst = 1000, 100
		}
		return &recordingLimiter{Registry: ratelimit.New(perSecond, burst)}
	}
	e := &env{
		emu:    emu,
		meta:   limiter(cfg.metaRate, 1),
		list:   limiter(cfg.listRate, 1),
		obs:    newRecorder(),
		client: &countingClient{Client: client},
	}
	o := cfg.opts.WithBackoffBase(10 * time.Millisecond)
	if o.Observer == nil {
		o.Observer = e.obs
	}
	e.caller = upstream.New(e.client, e.meta, e.list, o)
	return e
}

// The test catalogue: videoCount videos in each of two scopes, with the same
// video numbers in both, so that a mix-up of scopes shows in the names.
const (
	scopeA     = "default"
	scopeB     = "team-b"
	videoCount = 30
)

func videoNo(i int) string { return fmt.Sprintf("VI%018d", 606400000000000000+i) }

// name is the video_name the catalogue gives a video.
func name(scope, no string) string { return scope + "/" + no }

func catalogue() []emulator.Video {
	var vs []emulator.Video
	for _, scope := range []string{scopeA, scopeB} {
		for i := range videoCount {
			no := videoNo(i)
			data, err := json.Marshal(map[string]any{
				"video_no": no, "video_name": name(scope, no), "duration": 10 + i, "size": 1000 + i,
				"status": "PARSE", "create_time": 1700000000000, "resolution_label": "720P",
				"fps": 30, "width": 1280, "height": 720,
			})
			if err != nil {
				panic(err)
			}
			vs = append(vs, emulator.Video{UniqueID: scope, Data: data})
		}
	}
	return vs
}

// refs returns n refs of scope to the catalogue's videos, from video from
// on.
func refs(scope string, from, n int) []memories.VideoRef {
	rs := make([]memories.VideoRef, n)
	for i := range rs {
		rs[i] = memories.VideoRef{UniqueID: scope, VideoNo: videoNo(from + i)}
	}
	return rs
}

// interleave mixes the refs of several lists, one of each in turn, so
// that request order differs from the order of the scopes.
func interleave(lists ...[]memories.VideoRef) []memories.VideoRef {
	var out []memories.VideoRef
	for i := 0; ; i++ {
		added := false
		for _, l := range lists {
			if i < len(l) {
				out = append(out, l[i])
				added = true
			}
		}
		if !added {
			return out
		}
	}
}

// checkVideo reports whether v is the catalogue's video for ref.
func checkVideo(t *testing.T, i int, ref memories.VideoRef, v *memories.Video, detailed bool) {
	t.Helper()
	if v == nil {
		t.Errorf("video %d (%s/%s) = nil; want the video", i, ref.UniqueID, ref.VideoNo)
		return
	}
	if v.VideoNo != ref.VideoNo {
		t.Errorf("video %d: got video_no %s; want %s", i, v.VideoNo, ref.VideoNo)
	}
	scope := ref.UniqueID
	if scope == "" {
		scope = scopeA
	}
	if v.VideoName == nil || *v.VideoName != name(scope, ref.VideoNo) {
		t.Errorf("video %d: got video_name %v; want %s", i, v.VideoName, name(scope, ref.VideoNo))
	}
	if v.Detailed != detailed {
		t.Errorf("video %d: got Detailed %v; want %v", i, v.Detailed, detailed)
	}
}

// checkAll fails unless every ref got its video and errs is nil.
func checkAll(t *testing.T, rs []memories.VideoRef, got []*memories.Video, errs []error, detailed bool) {
	t.Helper()
	if errs != nil {
		t.Errorf("errs = %v; want nil", errs)
	}
	if len(got) != len(rs) {
		t.Fatalf("got %d videos; want %d", len(got), len(rs))
	}
	for i, ref := range rs {
		checkVideo(t, i, ref, got[i], detailed)
	}
}

// memoriesError returns err as a *memories.Error, failing the test if it is
// not one.
func memoriesError(t *testing.T, err error) *memories.Error {
	t.Helper()
	var me *memories.Error
	if !errors.As(err, &me) {
		t.Fatalf("err = %v (%T); want a *memories.Error", err, err)
	}
	return me
}

func TestEndpointAndBatching(t *testing.T) {
	mixed := interleave(refs(scopeA, 0, 15), refs(scopeB, 0, 10))
	tests := []struct {
		name      string
		opts      upstream.Options
		refs      []memories.VideoRef
		detail    bool
		wantList  int64 // list_videos calls
		wantAsked int64 // video numbers named over all list_videos calls
		wantMeta  int64 // get_metadata calls
	}{
		{"detail: one get_metadata per ref", upstream.Options{BatchSize: 10}, mixed, true, 0, 0, 25},
		{"no batch: one get_metadata per ref", upstream.Options{BatchSize: 10, NoBatch: true}, mixed, false, 0, 0, 25},
		{"two scopes cut in chunks of 10", upstream.Options{BatchSize: 10}, mixed, false, 3, 25, 0},
		{"default batch size: one call per scope", upstream.Options{}, mixed, false, 2, 25, 0},
		{"exact multiple of the batch size", upstream.Options{BatchSize: 10}, refs(scopeA, 0, 20), false, 2, 20, 0},
		{"batch of one", upstream.Options{BatchSize: 1}, refs(scopeB, 3, 3), false, 3, 3, 0},
		{"empty scope is the default one", upstream.Options{}, append(refs("", 0, 2), refs(scopeB, 0, 2)...), false, 2, 4, 0},
		{"no refs", upstream.Options{}, nil, false, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, config{opts: tt.opts})
			got, errs := e.caller.Videos(context.Background(), acct, tt.refs, tt.detail)
			checkAll(t, tt.refs, got, errs, tt.wantMeta > 0)
			st := e.emu.Stats()
			if st.List.Requests != tt.wantList {
				t.Errorf("list_videos calls: got %d; want %d", st.List.Requests, tt.wantList)
			}
			if st.List.VideosAsked != tt.wantAsked {
				t.Errorf("videos asked through list_videos: got %d; want %d", st.List.VideosAsked, tt.wantAsked)
			}
			if st.Requests != tt.wantMeta {
				t.Errorf("get_metadata calls: got %d; want %d", st.Requests, tt.wantMeta)
			}
		})
	}
}

func TestUnknownVideosAreNilWithoutError(t *testing.T) {
	rs := []memories.VideoRef{
		{UniqueID: scopeA, VideoNo: videoNo(1)},
		{UniqueID: scopeA, VideoNo: "VI000000000000000404"}, // unknown number
		{UniqueID: scopeB, VideoNo: videoNo(2)},
		{UniqueID: "team-z", VideoNo: videoNo(1)}, // unknown scope
		{UniqueID: scopeA, VideoNo: videoNo(3)},
	}
	unknown := map[int]bool{1: true, 3: true}
	for _, detail := range []bool{false, true} {
		t.Run(fmt.Sprintf("detail=%v", detail), func(t *testing.T) {
			e := setup(t, config{})
			got, errs := e.caller.Videos(context.Background(), acct, rs, detail)
			if errs != nil {
				t.Errorf("errs = %v; want nil", errs)
			}
			if len(got) != len(rs) {
				t.Fatalf("got %d videos; want %d", len(got), len(rs))
			}
			for i, ref := range rs {
				if unknown[i] {
					if got[i] != nil {
						t.Errorf("video %d: got %+v; want nil", i, got[i])
					}
					continue
				}
				checkVideo(t, i, ref, got[i], detail)
			}
			if st := e.emu.Stats(); detail && st.List.Requests != 0 || !detail && st.Requests != 0 {
				t.Errorf("got %d list_videos and %d get_metadata calls; want only %s", st.List.Requests, st.Requests,
					map[bool]string{true: "get_metadata", false: "list_videos"}[detail])
			}
		})
	}
}

func TestListPaging(t *testing.T) {
	tests := []struct {
		name     string
		pageCap  int
		asked    int // refs asked, all in one chunk
		known    int // of which the catalogue has the first known
		wantList int64
	}{
		{"page holds the chunk", 10, 10, 10, 1},
		{"four pages of 3", 3, 10, 10, 4},
		{"unknown videos need no page", 3, 10, 7, 3},
		{"pages of one", 1, 5, 5, 5},
		{"nothing known", 3, 6, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, config{emu: emulator.Options{ListPageCap: tt.pageCap}, opts: upstream.Options{BatchSize: tt.asked}})
			rs := refs(scopeA, videoCount-tt.known, tt.asked) // the last asked-known are unknown
			got, errs := e.caller.Videos(context.Background(), acct, rs, false)
			if errs != nil {
				t.Errorf("errs = %v; want nil", errs)
			}
			for i, ref := range rs {
				if i < tt.known {
					checkVideo(t, i, ref, got[i], false)
				} else if got[i] != nil {
					t.Errorf("video %d: got %+v; want nil", i, got[i])
				}
			}
			st := e.emu.Stats()
			if st.List.Requests != tt.wantList {
				t.Errorf("list_videos calls: got %d; want %d", st.List.Requests, tt.wantList)
			}
			if st.Requests != 0 {
				t.Errorf("get_metadata calls: got %d; want 0", st.Requests)
			}
		})
	}
}

// A list_videos fault caused by one video of a chunk costs only that video
// (and at most one neighbour) a get_metadata call; the rest of the chunk is
// still answered by list_videos.
func TestListFaultIsolatesTheVideo(t *testing.T) {
	kinds := []emulator.FaultKind{emulator.FaultHTTPError, emulator.FaultMalformed, emulator.FaultTruncated}
	for _, kind := range kinds {
		for _, metaFault := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/get_metadata_fault=%v", kind, metaFault), func(t *testing.T) {
				rs := refs(scopeA, 0, 20)
				const bad = 13
				opts := emulator.Options{ListFaults: map[string]emulator.Fault{rs[bad].VideoNo: {Kind: kind}}}
				if metaFault {
					opts.Faults = map[string]emulator.Fault{rs[bad].VideoNo: {Kind: kind}}
				}
				e := setup(t, config{emu: opts})
				got, errs := e.caller.Videos(context.Background(), acct, rs, false)
				if len(got) != len(rs) {
					t.Fatalf("got %d videos; want %d", len(got), len(rs))
				}
				if metaFault {
					if len(errs) != len(rs) {
						t.Fatalf("got %d errors; want one per ref (%d)", len(errs), len(rs))
					}
					me := memoriesError(t, errs[bad])
					if me.Kind != memories.KindUpstream {
						t.Errorf("error of the faulty video: got kind %v; want %v", me.Kind, memories.KindUpstream)
					}
					if got[bad] != nil {
						t.Errorf("faulty video: got %+v; want nil", got[bad])
					}
				} else {
					if errs != nil {
						t.Errorf("errs = %v; want nil", errs)
					}
					checkVideo(t, bad, rs[bad], got[bad], true)
				}
				for i, ref := range rs {
					if i == bad {
						continue
					}
					if errs != nil && errs[i] != nil {
						t.Errorf("video %d: got error %v; want none", i, errs[i])
					}
					if v := got[i]; v == nil || v.VideoNo != ref.VideoNo {
						t.Errorf("video %d: got %+v; want %s", i, v, ref.VideoNo)
					}
				}
				st := e.emu.Stats()
				if n := e.emu.RequestsFor(rs[bad].VideoNo); n != 1 {
					t.Errorf("get_metadata calls for the faulty video: got %d; want 1", n)
				}
				if st.Requests > 2 {
					t.Errorf("get_metadata calls: got %d; want at most 2 (the faulty video and a neighbour)", st.Requests)
				}
				if n := e.emu.ListRequestsFor(rs[bad].VideoNo); n < 2 {
					t.Errorf("list_videos calls naming the faulty video: got %d; want the chunk split (>= 2)", n)
				}
				if n := e.emu.ListRequestsFor(rs[0].VideoNo); n != 2 {
					t.Errorf("list_videos calls naming video 0 (other half): got %d; want 2 (whole chunk, then its half)", n)
				}
			})
		}
	}
}

func TestListRateLimitRetriesTheWholeChunk(t *testing.T) {
	rs := refs(scopeA, 0, 20)
	e := setup(t, config{emu: emulator.Options{ListFaults: map[string]emulator.Fault{
		rs[5].VideoNo: {Kind: emulator.FaultCode, Code: "0429", Msg: "Request has exceeded the limit.", Times: 2},
	}}})
	got, errs := e.caller.Videos(context.Background(), acct, rs, false)
	checkAll(t, rs, got, errs, false)
	st := e.emu.Stats()
	if st.List.Requests != 3 {
		t.Errorf("list_videos calls: got %d; want 3 (two 0429, then success)", st.List.Requests)
	}
	if st.List.VideosAsked != 60 {
		t.Errorf("videos asked: got %d; want 60 (the whole chunk each time, no split)", st.List.VideosAsked)
	}
	if st.Requests != 0 {
		t.Errorf("get_metadata calls: got %d; want 0", st.Requests)
	}
	if p := e.list.Pauses(); len(p) != 0 {
		t.Errorf("pauses = %v; want none without Retry-After", p)
	}
	if got, want := e.obs.outcomes("list_videos"), map[string]int{"rate_limited": 2, "ok": 1}; !mapsEqual(got, want) {
		t.Errorf("list_videos outcomes: got %v; want %v", got, want)
	}
	if got := e.obs.waitsFor("list_videos"); got != 3 {
		t.Errorf("list_videos limiter waits: got %d; want 3", got)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// limitedEndpoint is an emulator that limits the endpoint detail calls
// (get_metadata when true, list_videos otherwise) to perSecond, with
// Retry-After on its 0429s.
func limitedEndpoint(detail bool, perSecond float64) emulator.Options {
	if detail {
		return emulator.Options{RetryAfterHeader: true, RateLimit: perSecond}
	}
	return emulator.Options{RetryAfterHeader: true, ListRateLimit: perSecond}
}

// The emulator's 0429 with Retry-After pauses the account on the endpoint's
// own limiter; the call then succeeds after the pause.
func TestRetryAfterPausesTheAccount(t *testing.T) {
	for _, detail := range []bool{true, false} {
		t.Run(fmt.Sprintf("detail=%v", detail), func(t *testing.T) {
			e := setup(t, config{emu: limitedEndpoint(detail, 1)})
			ctx := context.Background()
			rs := refs(scopeA, 0, 1)
			if _, errs := e.caller.Videos(ctx, acct, rs, detail); errs != nil {
				t.Fatalf("first call: %v", errs)
			}
			// The emulator's bucket is empty now: the next call gets 0429
			// with Retry-After: 1, pauses the account, and succeeds after
			// the pause.
			got, errs := e.caller.Videos(ctx, acct, rs, detail)
			checkAll(t, rs, got, errs, detail)
			paused, other := e.list, e.meta
			if detail {
				paused, other = e.meta, e.list
			}
			if p := paused.Pauses(); len(p) == 0 || p[0] != time.Second {
				t.Errorf("pauses = %v; want [1s] from Retry-After", p)
			}
			if p := other.Pauses(); len(p) != 0 {
				t.Errorf("pauses of the other endpoint = %v; want none", p)
			}
			st := e.emu.Stats()
			if limited := st.RateLimited + st.List.RateLimited; limited < 1 {
				t.Errorf("0429 answers: got %d; want at least 1", limited)
			}
		})
	}
}

func TestRateLimitedWhenRetryAfterPassesDeadline(t *testing.T) {
	for _, detail := range []bool{true, false} {
		t.Run(fmt.Sprintf("detail=%v", detail), func(t *testing.T) {
			e := setup(t, config{emu: limitedEndpoint(detail, 0.1)})
			rs := refs(scopeA, 0, 3)
			if _, errs := e.caller.Videos(context.Background(), acct, rs[:1], detail); errs != nil {
				t.Fatalf("first call: %v", errs)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			got, errs := e.caller.Videos(ctx, acct, rs, detail)
			if ctx.Err() != nil {
				t.Error("Videos waited out the deadline; want an early answer")
			}
			if len(errs) != len(rs) {
				t.Fatalf("got %d errors; want %d", len(errs), len(rs))
			}
			for i := range rs {
				if got[i] != nil {
					t.Errorf("video %d: got %+v; want nil", i, got[i])
				}
				if errs[i] == nil {
					// With detail, calls of other videos may be refused by
					// the account's pause instead; each still has an error.
					t.Errorf("video %d: got no error; want rate limited", i)
					continue
				}
				me := memoriesError(t, errs[i])
				if me.Kind != memories.KindRateLimited || me.RetryAfter < time.Second {
					t.Errorf("video %d: got %v (retry after %v); want rate limited with a RetryAfter of seconds", i, me, me.RetryAfter)
				}
			}
			if !detail {
				if st := e.emu.Stats(); st.Requests != 0 {
					t.Errorf("get_metadata calls: got %d; want 0 (a rate-limited chunk is not split)", st.Requests)
				}
			}
		})
	}
}

func TestTransientCodeRetriedAFewTimes(t *testing.T) {
	tests := []struct {
		name      string
		retries   int  // Options.WithTransientRetries
		detail    bool // fault on get_metadata, else on list_videos
		times     int  // Fault.Times; 0 = always
		wantMeta  int64
		wantList  int64
		wantError bool
	}{
		{"get_metadata once", 0, true, 1, 2, 0, false},
		{"get_metadata twice", 0, true, 2, 3, 0, false},
		{"get_metadata always", 0, true, 0, 3, 0, true}, // the first call and two retries
		{"get_metadata always, one retry", 1, true, 0, 2, 0, true},
		{"get_metadata four times, four retries", 4, true, 4, 5, 0, false},
		{"list_videos twice", 0, false, 2, 0, 3, false},
		// Still failing after the retries: the chunk of one falls back on
		// get_metadata, which has no fault.
		{"list_videos always", 0, false, 0, 1, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := refs(scopeA, 0, 1)
			faults := map[string]emulator.Fault{rs[0].VideoNo: {Kind: emulator.FaultCode, Code: "0001", Msg: "network abnormal", Times: tt.times}}
			opts := emulator.Options{ListFaults: faults}
			if tt.detail {
				opts = emulator.Options{Faults: faults}
			}
			e := setup(t, config{emu: opts, opts: upstream.Options{}.WithTransientRetries(tt.retries)})
			got, errs := e.caller.Videos(context.Background(), acct, rs, tt.detail)
			if tt.wantError {
				if len(errs) != 1 {
					t.Fatalf("errs = %v; want one error", errs)
				}
				if me := memoriesError(t, errs[0]); me.Code != "0001" {
					t.Errorf("error code: got %q; want 0001", me.Code)
				}
			} else {
				checkAll(t, rs, got, errs, tt.wantMeta > 0)
			}
			st := e.emu.Stats()
			if st.Requests != tt.wantMeta {
				t.Errorf("get_metadata calls: got %d; want %d", st.Requests, tt.wantMeta)
			}
			if st.List.Requests != tt.wantList {
				t.Errorf("list_videos calls: got %d; want %d", st.List.Requests, tt.wantList)
			}
		})
	}
}

func TestDefiniteFailuresAreNotRetried(t *testing.T) {
	tests := []struct {
		fault emulator.Fault
		kind  memories.Kind
	}{
		{emulator.Fault{Kind: emulator.FaultHTTPError}, memories.KindUpstream},
		{emulator.Fault{Kind: emulator.FaultMalformed}, memories.KindUpstream},
		{emulator.Fault{Kind: emulator.FaultCode, Code: "0403", Msg: "disabled"}, memories.KindForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.fault.Kind.String()+tt.fault.Code, func(t *testing.T) {
			rs := refs(scopeA, 0, 1)
			e := setup(t, config{emu: emulator.Options{Faults: map[string]emulator.Fault{rs[0].VideoNo: tt.fault}}})
			_, errs := e.caller.Videos(context.Background(), acct, rs, true)
			if len(errs) != 1 {
				t.Fatalf("errs = %v; want one error", errs)
			}
			if me := memoriesError(t, errs[0]); me.Kind != tt.kind {
				t.Errorf("kind: got %v; want %v", me.Kind, tt.kind)
			}
			if n := e.emu.Stats().Requests; n != 1 {
				t.Errorf("get_metadata calls: got %d; want 1", n)
			}
		})
	}
}

// Budget that would only come inside the call reserve before the deadline is
// refused at once rather than spent on a call that would time out.
func TestBudgetInsideCallReserveIsRefused(t *testing.T) {
	for _, detail := range []bool{true, false} {
		t.Run(fmt.Sprintf("detail=%v", detail), func(t *testing.T) {
			cfg := config{opts: upstream.Options{}.WithCallReserve(5 * time.Second)}
			if detail {
				cfg.metaRate = 0.5
			} else {
				cfg.listRate = 0.5
			}
			e := setup(t, cfg)
			rs := refs(scopeB, 0, 1)
			if _, errs := e.caller.Videos(context.Background(), acct, rs, detail); errs != nil {
				t.Fatalf("first call: %v", errs)
			}
			// The next token is ~2s away: inside the deadline (6s) but not
			// before the deadline less the 5s reserve.
			ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
			defer cancel()
			got, errs := e.caller.Videos(ctx, acct, rs, detail)
			if ctx.Err() != nil {
				t.Error("Videos waited out the deadline; want an immediate refusal")
			}
			if len(errs) != 1 || got[0] != nil {
				t.Fatalf("Videos = %v, %v; want no video and one error", got, errs)
			}
			me := memoriesError(t, errs[0])
			if me.Kind != memories.KindRateLimited || me.RetryAfter <= 0 || !me.Unsent {
				t.Errorf("got %v (retry after %v, unsent %v); want rate limited with a RetryAfter, unsent", me, me.RetryAfter, me.Unsent)
			}
			var denied *ratelimit.DeniedError
			if !errors.As(errs[0], &denied) {
				t.Errorf("got %v; want the limiter's *ratelimit.DeniedError as its cause", errs[0])
			}
			st := e.emu.Stats()
			if calls := st.Requests + st.List.Requests; calls != 1 {
				t.Errorf("upstream calls: got %d; want 1", calls)
			}
		})
	}
}

func TestConcurrencyIsBounded(t *testing.T) {
	const limit = 3
	many := refs(scopeA, 0, 20)
	tests := []struct {
		name      string
		opts      upstream.Options
		emu       emulator.Options
		detail    bool
		wantAtMax bool // enough independent calls that the bound is reached
	}{
		{"get_metadata", upstream.Options{}, emulator.Options{}, true, true},
		{"list_videos chunks", upstream.Options{BatchSize: 2}, emulator.Options{}, false, true},
		// Splitting runs the halves side by side, beyond the workers.
		{"list_videos split", upstream.Options{BatchSize: 20}, emulator.Options{ListFaults: map[string]emulator.Fault{
			many[3].VideoNo: {Kind: emulator.FaultHTTPError}, many[8].VideoNo: {Kind: emulator.FaultHTTPError},
			many[13].VideoNo: {Kind: emulator.FaultHTTPError}, many[18].VideoNo: {Kind: emulator.FaultHTTPError},
		}}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.MaxConcurrency = limit
			tt.emu.Latency = 20 * time.Millisecond
			e := setup(t, config{emu: tt.emu, opts: tt.opts})
			got, errs := e.caller.Videos(context.Background(), acct, many, tt.detail)
			if errs != nil {
				t.Errorf("errs = %v; want nil", errs)
			}
			for i, v := range got {
				if v == nil {
					t.Errorf("video %d: got nil; want the video", i)
				}
			}
			m := e.client.maxInFlight()
			if m > limit {
				t.Errorf("calls in flight: got up to %d; want at most %d", m, limit)
			}
			if tt.wantAtMax && m < 2 {
				t.Errorf("calls in flight: got at most %d; want calls side by side", m)
			}
		})
	}
}

func TestObserverOutcomes(t *testing.T) {
	rs := []memories.VideoRef{
		{UniqueID: scopeA, VideoNo: videoNo(0)},
		{UniqueID: scopeA, VideoNo: "VI000000000000000404"},
		{UniqueID: scopeA, VideoNo: videoNo(2)},
	}
	e := setup(t, config{emu: emulator.Options{Faults: map[string]emulator.Fault{
		videoNo(2): {Kind: emulator.FaultCode, Code: "0403", Msg: "disabled"},
	}}})
	ctx := context.Background()
	e.caller.Videos(ctx, acct, rs, true)
	if got, want := e.obs.outcomes("get_metadata"), map[string]int{"ok": 1, "not_found": 1, "forbidden": 1}; !mapsEqual(got, want) {
		t.Errorf("get_metadata outcomes: got %v; want %v", got, want)
	}
	if got := e.obs.waitsFor("get_metadata"); got != 3 {
		t.Errorf("get_metadata limiter waits: got %d; want 3", got)
	}
	e.caller.Videos(ctx, acct, rs[:2], false)
	if got, want := e.obs.outcomes("list_videos"), map[string]int{"ok": 1}; !mapsEqual(got, want) {
		t.Errorf("list_videos outcomes: got %v; want %v", got, want)
	}
	if got := e.obs.waitsFor("list_videos"); got != 1 {
		t.Errorf("list_videos limiter waits: got %d; want 1", got)
	}
	if got := e.obs.unavailableCount(); got != 0 {
		t.Errorf("ListUnavailable calls: got %d; want 0", got)
	}
}

func TestListUnavailableFallsBackOnGetMetadata(t *testing.T) {
	rs := interleave(refs(scopeA, 0, 15), refs(scopeB, 0, 10)) // 3 chunks of at most 10
	const chunks = 3

	// first makes the call that finds list_videos unavailable.
	first := func(t *testing.T, probeAfter time.Duration) *env {
		t.Helper()
		e := setup(t, config{emu: emulator.Options{ListDisabled: true}, opts: upstream.Options{BatchSize: 10, ProbeAfter: probeAfter}})
		got, errs := e.caller.Videos(context.Background(), acct, rs, false)
		checkAll(t, rs, got, errs, true)
		st := e.emu.Stats()
		if st.List.Disabled != chunks {
			t.Errorf("list_videos calls answered 404: got %d; want %d (one per chunk)", st.List.Disabled, chunks)
		}
		if st.Requests != int64(len(rs)) {
			t.Errorf("get_metadata calls: got %d; want %d", st.Requests, len(rs))
		}
		if got := e.obs.unavailableCount(); got != 1 {
			t.Errorf("ListUnavailable calls: got %d; want 1", got)
		}
		return e
	}

	t.Run("before ProbeAfter", func(t *testing.T) {
		e := first(t, time.Hour)
		e.emu.SetListDisabled(false)
		e.emu.ResetCounters()
		got, errs := e.caller.Videos(context.Background(), acct, rs, false)
		checkAll(t, rs, got, errs, true)
		st := e.emu.Stats()
		if st.List.Requests != 0 {
			t.Errorf("list_videos calls: got %d; want 0 before ProbeAfter", st.List.Requests)
		}
		if st.Requests != int64(len(rs)) {
			t.Errorf("get_metadata calls: got %d; want %d", st.Requests, len(rs))
		}
	})

	t.Run("after ProbeAfter", func(t *testing.T) {
		const probeAfter = 100 * time.Millisecond
		e := first(t, probeAfter)
		e.emu.SetListDisabled(false)
		e.emu.ResetCounters()
		time.Sleep(probeAfter + 100*time.Millisecond)
		got, errs := e.caller.Videos(context.Background(), acct, rs, false)
		checkAll(t, rs, got, errs, false)
		st := e.emu.Stats()
		if st.List.Served != chunks {
			t.Errorf("list_videos calls served: got %d; want %d", st.List.Served, chunks)
		}
		if st.Requests != 0 {
			t.Errorf("get_metadata calls: got %d; want 0", st.Requests)
		}
		if got := e.obs.unavailableCount(); got != 1 {
			t.Errorf("ListUnavailable calls: got %d; want still 1", got)
		}
	})

	t.Run("detail never probes", func(t *testing.T) {
		e := setup(t, config{emu: emulator.Options{ListDisabled: true}})
		if _, errs := e.caller.Videos(context.Background(), acct, rs, true); errs != nil {
			t.Errorf("errs = %v; want nil", errs)
		}
		if st := e.emu.Stats(); st.List.Requests != 0 {
			t.Errorf("list_videos calls: got %d; want 0", st.List.Requests)
		}
		if got := e.obs.unavailableCount(); got != 0 {
			t.Errorf("ListUnavailable calls: got %d; want 0", got)
		}
	})
}

// An answer about the account fails every video of the chunk at once: no
// smaller call could fare better.
func TestAccountErrorIsNotSplit(t *testing.T) {
	rs := refs(scopeA, 0, 12)
	accountFault := func(code string) map[string]emulator.Fault {
		return map[string]emulator.Fault{rs[7].VideoNo: {Kind: emulator.FaultCode, Code: code, Msg: "account problem"}}
	}
	tests := []struct {
		name string
		emu  emulator.Options
		kind memories.Kind
	}{
		{"key refused with 9009", emulator.Options{Keys: []string{"sk-someone-else"}}, memories.KindUnauthenticated},
		{"account disabled", emulator.Options{ListFaults: accountFault("0403")}, memories.KindForbidden},
		{"out of points", emulator.Options{ListFaults: accountFault("0402")}, memories.KindQuotaExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, config{emu: tt.emu})
			got, errs := e.caller.Videos(context.Background(), acct, rs, false)
			if len(errs) != len(rs) {
				t.Fatalf("got %d errors; want %d", len(errs), len(rs))
			}
			for i := range rs {
				if got[i] != nil {
					t.Errorf("video %d: got %+v; want nil", i, got[i])
				}
				if errs[i] == nil {
					t.Errorf("video %d: got no error; want %v", i, tt.kind)
					continue
				}
				if me := memoriesError(t, errs[i]); me.Kind != tt.kind {
					t.Errorf("video %d: got kind %v; want %v", i, me.Kind, tt.kind)
				}
			}
			st := e.emu.Stats()
			if st.List.Requests != 1 {
				t.Errorf("list_videos calls: got %d; want 1", st.List.Requests)
			}
			if st.Requests != 0 {
				t.Errorf("get_metadata calls: got %d; want 0", st.Requests)
			}
		})
	}
}

// With SingleViaMetadata, a batch of one video costs a get_metadata call
// while that budget is there now, and a list_videos call when it is spent
// or queued for; a batch of two stays one list_videos call.
func TestSingleVideoViaMetadata(t *testing.T) {
	ctx := context.Background()
	// get_metadata: one call, then one a second.
	e := setup(t, config{opts: upstream.Options{SingleViaMetadata: true}, metaRate: 1})
	for i, tt := range []struct {
		name       string
		refs       []memories.VideoRef
		wantDetail bool // the answer came from get_metadata
	}{
		{"one video, budget there", refs(scopeA, 0, 1), true},
		{"one video, budget spent", refs(scopeA, 1, 1), false},
		{"two videos", refs(scopeA, 2, 2), false},
	} {
		vs, errs := e.caller.Videos(ctx, acct, tt.refs, false)
		if errs != nil {
			t.Fatalf("%s: errors %v", tt.name, errs)
		}
		for j, v := range vs {
			if v == nil || v.Detailed != tt.wantDetail || *v.VideoName != name(scopeA, tt.refs[j].VideoNo) {
				t.Errorf("step %d, %s: video %d = %+v; want it, Detailed %v", i, tt.name, j, v, tt.wantDetail)
			}
		}
	}
	st := e.emu.Stats()
	if st.Requests != 1 || st.List.Requests != 2 {
		t.Errorf("get_metadata calls %d, list_videos calls %d; want 1 and 2", st.Requests, st.List.Requests)
	}

	// While a detail look-up spends and queues for get_metadata's budget,
	// one video asked meanwhile goes to list_videos: the look-up keeps its
	// turn.
	time.Sleep(1500 * time.Millisecond) // the budget back
	e.emu.ResetCounters()
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, errs := e.caller.Videos(ctx, acct, refs(scopeB, 0, 3), true); errs != nil {
			t.Errorf("detail look-up: %v", errs)
		}
	})
	for e.emu.Stats().Requests == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	vs, errs := e.caller.Videos(ctx, acct, refs(scopeA, 5, 1), false)
	wg.Wait()
	if errs != nil || vs[0] == nil || vs[0].Detailed {
		t.Errorf("one video while detail calls queue: got %+v, %v; want its list answer", vs[0], errs)
	}
	if st := e.emu.Stats(); st.Requests != 3 || st.List.Requests != 1 {
		t.Errorf("get_metadata calls %d, list_videos calls %d; want 3 (the detail look-up's) and 1", st.Requests, st.List.Requests)
	}
}
