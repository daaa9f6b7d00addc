package videocache

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/eventually"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

// shortOfTime refuses a call with less than need left before its
// deadline, as the upstream calls do when the budget would come too late.
func shortOfTime(need time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		if d, ok := ctx.Deadline(); ok && need > 0 && time.Until(d) < need {
			return &memories.Error{Kind: memories.KindRateLimited, RetryAfter: time.Second, Unsent: true}
		}
		return nil
	}
}

// counter is an Observer.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) CacheResult(result string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[result] += n
}

func (c *counter) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

// spyStore counts Get calls of the Store it wraps.
type spyStore struct {
	Store
	gets atomic.Int32
}

func (s *spyStore) Get(ctx context.Context, keys []Key) []Kept {
	defer s.gets.Add(1)
	return s.Store.Get(ctx, keys)
}

// split returns what a Store's Get found as videos and whether each was
// found.
func split(kept []Kept) ([]*memories.Video, []bool) {
	videos, found := make([]*memories.Video, len(kept)), make([]bool, len(kept))
	for i, k := range kept {
		videos[i], found[i] = k.Video, k.Found
	}
	return videos, found
}

func newLocal(t testing.TB) *Local {
	t.Helper()
	l := NewLocal(1000)
	t.Cleanup(func() { l.Close() })
	return l
}

// serving returns an upstream that knows the videos nos of acct, parsed.
func serving(acct account.Account, nos ...string) *videotest.Fetcher {
	videos := map[Key]*memories.Video{}
	for _, no := range nos {
		videos[Key{acct.ID(), videotest.Ref(no)}] = &memories.Video{VideoNo: no, Status: memories.StatusParse}
	}
	return upstreamOf(videos)
}

// upstreamOf returns an upstream that keeps videos per account, as
// get_metadata (Detailed true) or list_videos would return them; any other
// video is not found. It answers a call on an ended context too: a look-up
// that waited on another replica until its deadline still fetches the rest
// (TestSharedLeaseWaiterDeadline), and what the upstream does then is not
// the cache's to test.
func upstreamOf(videos map[Key]*memories.Video) *videotest.Fetcher {
	return &videotest.Fetcher{
		Answer: func(acct account.Account, ref memories.VideoRef, detail bool) *memories.Video {
			v := videos[Key{acct.ID(), ref}]
			if v == nil {
				return nil
			}
			c := *v
			c.Detailed = detail
			return &c
		},
		IgnoreEnded: true,
	}
}

// one looks up a single video.
func one(ctx context.Context, s *Cache, acct account.Account, no string, detail bool) (*memories.Video, error) {
	vs, errs := s.Videos(ctx, acct, videotest.Refs(no), detail)
	if errs != nil {
		return vs[0], errs[0]
	}
	return vs[0], nil
}

var allTTLs = TTLs{Parse: time.Hour, Failed: time.Hour, Unparse: time.Hour, NotFound: time.Hour}

func TestTTLsFor(t *testing.T) {
	ttl := TTLs{Parse: 10 * time.Minute, Failed: time.Minute, Unparse: 5 * time.Second, NotFound: 3 * time.Second}
	for _, tt := range []struct {
		name string
		v    *memories.Video
		want time.Duration
	}{
		{"parse", &memories.Video{Status: memories.StatusParse}, 10 * time.Minute},
		{"failed", &memories.Video{Status: memories.StatusFailed}, time.Minute},
		{"unparse", &memories.Video{Status: memories.StatusUnparse}, 5 * time.Second},
		{"unknown status reads as unparse", &memories.Video{Status: "WEIRD"}, 5 * time.Second},
		{"not found", nil, 3 * time.Second},
	} {
		if got := ttl.For(tt.v); got != tt.want {
			t.Errorf("%s: got For = %v; want %v", tt.name, got, tt.want)
		}
	}
}

// Each kind of answer is kept when its TTL is positive and asked again
// when it is zero; errors are never kept.
func TestCacheKeepsAnswersByTTL(t *testing.T) {
	acct := videotest.Account(t, "sk-a")
	videos := map[string]*memories.Video{
		"parse":   {VideoNo: "parse", Status: memories.StatusParse},
		"failed":  {VideoNo: "failed", Status: memories.StatusFailed},
		"unparse": {VideoNo: "unparse", Status: memories.StatusUnparse},
	}
	for _, tt := range []struct {
		name      string
		videoNo   string
		ttl       TTLs
		wantCalls int // after three look-ups: detail, detail, list
	}{
		{"parse kept", "parse", allTTLs, 1},
		{"failed kept", "failed", allTTLs, 1},
		{"unparse kept", "unparse", allTTLs, 1},
		{"not found kept", "missing", allTTLs, 1},
		{"parse with TTL 0", "parse", TTLs{Failed: time.Hour, Unparse: time.Hour, NotFound: time.Hour}, 3},
		{"failed with TTL 0", "failed", TTLs{Parse: time.Hour, Unparse: time.Hour, NotFound: time.Hour}, 3},
		{"unparse with TTL 0", "unparse", TTLs{Parse: time.Hour, Failed: time.Hour, NotFound: time.Hour}, 3},
		{"not found with TTL 0", "missing", TTLs{Parse: time.Hour, Failed: time.Hour, Unparse: time.Hour}, 3},
		{"error never kept", "broken", allTTLs, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			kept := map[Key]*memories.Video{}
			for no, v := range videos {
				kept[Key{acct.ID(), videotest.Ref(no)}] = v
			}
			up := upstreamOf(kept)
			up.Errs = map[string]error{"broken": &memories.Error{Kind: memories.KindUpstream}}
			cache := New(Options{Upstream: up, Store: newLocal(t), TTLs: tt.ttl})
			for i := range 2 {
				for _, detail := range []bool{true, false} {
					if i == 0 && !detail {
						continue // the first look-up fetches in full; the rest may hit
					}
					got, err := one(context.Background(), cache, acct, tt.videoNo, detail)
					want := videos[tt.videoNo]
					if tt.videoNo == "broken" {
						if err == nil {
							t.Errorf("look-up %d: got err nil; want the upstream's error", i)
						}
						continue
					}
					if err != nil || (got == nil) != (want == nil) || (got != nil && (got.VideoNo != want.VideoNo || got.Status != want.Status)) {
						t.Errorf("look-up %d (detail %v): got %+v, %v; want %+v, nil", i, detail, got, err, want)
					}
				}
			}
			if got := up.CallCount(); got != tt.wantCalls {
				t.Errorf("got %d upstream calls; want %d", got, tt.wantCalls)
			}
		})
	}
}

// Refresh asks the upstream whatever is kept, and keeps its answer for the
// look-ups after it.
func TestCacheRefresh(t *testing.T) {
	acct := videotest.Account(t, "sk-a")
	key := Key{acct.ID(), videotest.Ref("v")}
	videos := map[Key]*memories.Video{key: {VideoNo: "v", Status: memories.StatusUnparse}}
	up := upstreamOf(videos)
	cache := New(Options{Upstream: up, Store: newLocal(t), TTLs: allTTLs})
	if v, err := one(context.Background(), cache, acct, "v", false); err != nil || v.Status != memories.StatusUnparse {
		t.Fatalf("first look-up: %+v, %v", v, err)
	}
	videos[key] = &memories.Video{VideoNo: "v", Status: memories.StatusParse} // processing ended
	if v, _ := one(context.Background(), cache, acct, "v", false); v.Status != memories.StatusUnparse || up.CallCount() != 1 {
		t.Fatalf("second look-up: %+v after %d calls; want the kept UNPARSE, no call", v, up.CallCount())
	}
	vs, errs := cache.Refresh(context.Background(), acct, videotest.Refs("v"), false)
	if errs != nil || vs[0].Status != memories.StatusParse || up.CallCount() != 2 {
		t.Fatalf("Refresh: %+v, %v after %d calls; want PARSE from a call", vs[0], errs, up.CallCount())
	}
	if v, _ := one(context.Background(), cache, acct, "v", false); v.Status != memories.StatusParse || up.CallCount() != 2 {
		t.Errorf("look-up after Refresh: %+v after %d calls; want the refreshed PARSE, kept", v, up.CallCount())
	}
}

func TestCacheEntriesExpire(t *testing.T) {
	acct := videotest.Account(t, "sk-a")
	up := serving(acct)
	cache := New(Options{Upstream: up, Store: newLocal(t), TTLs: TTLs{NotFound: time.Millisecond}})
	for range 2 {
		if _, err := one(context.Background(), cache, acct, "VI1", false); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, want := up.CallCount(), 2; got != want {
		t.Errorf("got %d upstream calls; want %d (the entry expired)", got, want)
	}
}

// Two accounts asking for the same videos each get their own answer.
func TestCacheSeparatesAccounts(t *testing.T) {
	a, b := videotest.Account(t, "sk-a"), videotest.Account(t, "sk-b")
	up := upstreamOf(map[Key]*memories.Video{
		{a.ID(), videotest.Ref("VI1")}: {VideoNo: "VI1", VideoName: new("a's"), Status: memories.StatusParse},
		{b.ID(), videotest.Ref("VI1")}: {VideoNo: "VI1", VideoName: new("b's"), Status: memories.StatusParse},
	})
	cache := New(Options{Upstream: up, Store: newLocal(t), TTLs: allTTLs})
	for range 2 {
		for _, tt := range []struct {
			acct account.Account
			want string
		}{{a, "a's"}, {b, "b's"}} {
			v, err := one(context.Background(), cache, tt.acct, "VI1", false)
			if err != nil || v == nil || *v.VideoName != tt.want {
				t.Errorf("%v: got %+v, %v; want %s", tt.acct, v, err, tt.want)
			}
		}
	}
	if got, want := up.CallCount(), 2; got != want {
		t.Errorf("got %d upstream calls; want %d (one per account)", got, want)
	}
}

// A batch costs one upstream call, with only the videos not kept, and its
// answers come back in the order asked; errors are per video.
func TestCacheBatchFetchesOnlyMisses(t *testing.T) {
	acct := videotest.Account(t, "sk-a")
	up := serving(acct, "a", "b", "c", "d", "e")
	boom := &memories.Error{Kind: memories.KindUpstream}
	up.Errs = map[string]error{"bad": boom}
	obs := &counter{}
	cache := New(Options{Upstream: up, Store: newLocal(t), TTLs: allTTLs, Observer: obs})
	ctx := context.Background()

	if _, errs := cache.Videos(ctx, acct, videotest.Refs("b", "d"), false); errs != nil {
		t.Fatalf("got errs %v; want nil", errs)
	}
	asked := videotest.Refs("e", "d", "c", "b", "a", "unknown")
	vs, errs := cache.Videos(ctx, acct, asked, false)
	if errs != nil {
		t.Errorf("got errs %v; want nil", errs)
	}
	for i, r := range asked {
		switch {
		case r.VideoNo == "unknown":
			if vs[i] != nil {
				t.Errorf("video %d: got %+v; want nil (not found)", i, vs[i])
			}
		case vs[i] == nil || vs[i].VideoNo != r.VideoNo:
			t.Errorf("video %d: got %+v; want %s", i, vs[i], r.VideoNo)
		}
	}
	calls := up.Calls()
	if len(calls) != 2 {
		t.Fatalf("got %d upstream calls; want 2", len(calls))
	}
	if got, want := calls[1].Refs, videotest.Refs("e", "c", "a", "unknown"); !reflect.DeepEqual(got, want) {
		t.Errorf("second call asked %v; want only the misses %v", got, want)
	}
	if got, want := obs.counts(), map[string]int{"miss": 6, "hit": 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("got results %v; want %v", got, want)
	}

	// One failure fails its own video only, and is not kept.
	vs, errs = cache.Videos(ctx, acct, videotest.Refs("a", "bad"), false)
	if errs == nil || errs[0] != nil || !errors.Is(errs[1], boom) || vs[0] == nil {
		t.Errorf("got %v, %v; want a and the upstream's error for bad", vs, errs)
	}
	if _, errs := cache.Videos(ctx, acct, videotest.Refs("bad"), false); errs == nil || !errors.Is(errs[0], boom) {
		t.Errorf("again: got errs %v; want the upstream's error again", errs)
	}
	if got := up.Fetched()[videotest.Ref("bad")]; got != 2 {
		t.Errorf("bad fetched %d times; want 2 (errors are not kept)", got)
	}
}

// A list_videos answer serves look-ups without detail only; a look-up with
// detail fetches the video in full, which replaces the entry. "Not found"
// serves both.
func TestCacheDetailNeedsCompleteEntry(t *testing.T) {
	acct := videotest.Account(t, "sk-a")
	for _, tt := range []struct {
		name      string
		no        string
		steps     []bool // detail of each look-up in turn
		wantCalls []bool // detail of each upstream call
	}{
		{"list then list", "VI1", []bool{false, false}, []bool{false}},
		{"list then detail fetches in full", "VI1", []bool{false, true, true, false}, []bool{false, true}},
		{"detail serves list", "VI1", []bool{true, false, true}, []bool{true}},
		{"not found from a list serves detail", "unknown", []bool{false, true, false}, []bool{false}},
		{"not found from detail serves list", "unknown", []bool{true, false}, []bool{true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := serving(acct, "VI1")
			cache := New(Options{Upstream: up, Store: newLocal(t), TTLs: allTTLs})
			for i, detail := range tt.steps {
				v, err := one(context.Background(), cache, acct, tt.no, detail)
				if err != nil {
					t.Fatalf("look-up %d: %v", i, err)
				}
				if tt.no == "unknown" {
					if v != nil {
						t.Errorf("look-up %d: got %+v; want nil", i, v)
					}
					continue
				}
				if v == nil || (detail && !v.Detailed) {
					t.Errorf("look-up %d (detail %v): got %+v; want a video, detailed if asked", i, detail, v)
				}
			}
			var got []bool
			for _, c := range up.Calls() {
				got = append(got, c.Detail)
			}
			if !reflect.DeepEqual(got, tt.wantCalls) {
				t.Errorf("got upstream calls with detail %v; want %v", got, tt.wantCalls)
			}
		})
	}
}

// Local keeps the latest answer, except that a list answer never replaces
// a complete one.
func TestLocalSetKeepsDetailed(t *testing.T) {
	acct := videotest.Account(t, "sk-a")
	k := Key{acct.ID(), videotest.Ref("VI1")}
	list := &memories.Video{VideoNo: "VI1", Status: memories.StatusParse}
	full := &memories.Video{VideoNo: "VI1", Status: memories.StatusParse, Detailed: true}
	full2 := &memories.Video{VideoNo: "VI1", Status: memories.StatusFailed, Detailed: true}
	for _, tt := range []struct {
		name  string
		sets  []*memories.Video
		want  *memories.Video
		found bool
	}{
		{"list", []*memories.Video{list}, list, true},
		{"list then detailed", []*memories.Video{list, full}, full, true},
		{"detailed then list", []*memories.Video{full, list}, full, true},
		{"detailed then detailed", []*memories.Video{full, full2}, full2, true},
		{"detailed then not found", []*memories.Video{full, nil}, nil, true},
		{"not found then list", []*memories.Video{nil, list}, list, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newLocal(t)
			for _, v := range tt.sets {
				l.Set(context.Background(), []Entry{{Key: k, Video: v, TTL: time.Hour}})
			}
			vs, found := split(l.Get(context.Background(), []Key{k}))
			if vs[0] != tt.want || found[0] != tt.found {
				t.Errorf("got %+v, %v; want %+v, %v", vs[0], found[0], tt.want, tt.found)
			}
		})
	}
	l := newLocal(t)
	l.Set(context.Background(), []Entry{{Key: k, Video: full, TTL: 0}})
	if _, found := split(l.Get(context.Background(), []Key{k})); found[0] {
		t.Errorf("TTL 0: got found; want nothing kept")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("NewLocal(0) did not panic; want a panic")
			}
		}()
		NewLocal(0)
	}()
}

// 50 concurrent look-ups of one video make one upstream call. A waiter
// whose ctx ends returns at once; the owner's leaving does not cancel the
// call, and the others get the answer.
func TestCacheCoalescesConcurrentLookups(t *testing.T) {
	acct := videotest.Account(t, "sk-a")
	up := serving(acct, "VI1")
	up.Hold = make(chan struct{})
	obs := &counter{}
	cache := New(Options{Upstream: up, Store: newLocal(t), TTLs: allTTLs, Observer: obs})

	const n = 50
	type result struct {
		v   *memories.Video
		err error
	}
	results := make([]chan result, n)
	ctxOwner, cancelOwner := context.WithCancel(context.Background())
	defer cancelOwner()
	ctxWaiter, cancelWaiter := context.WithCancel(context.Background())
	defer cancelWaiter()
	for i := range n {
		results[i] = make(chan result, 1)
		ctx := context.Background()
		switch i {
		case 0:
			ctx = ctxOwner
		case 1:
			ctx = ctxWaiter
		}
		go func() {
			v, err := one(ctx, cache, acct, "VI1", false)
			results[i] <- result{v, err}
		}()
		if i == 0 {
			eventually.True(t, "the first call", func() bool { return up.CallCount() == 1 })
		}
	}
	cancelWaiter()
	select {
	case r := <-results[1]:
		if !errors.Is(r.err, context.Canceled) {
			t.Errorf("cancelled waiter: got err %v; want context.Canceled", r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelled waiter still waits for the call")
	}
	// Every other caller waits before the owner goes: a fetch nobody waits
	// for is cancelled, and one that arrives after that calls again.
	eventually.True(t, "the other callers waiting", func() bool {
		g, ok := groupOf(cache, acct, "VI1")
		return ok && g.waiters == n-2
	})
	cancelOwner() // the owner's client goes away: the call goes on
	time.Sleep(20 * time.Millisecond)
	close(up.Hold)
	for i := range n {
		if i == 1 {
			continue
		}
		if r := <-results[i]; r.err != nil || r.v == nil || r.v.VideoNo != "VI1" {
			t.Errorf("caller %d: got %+v, %v; want the video", i, r.v, r.err)
		}
	}
	if got := up.CallCount(); got != 1 {
		t.Errorf("got %d upstream calls; want 1", got)
	}
	got := obs.counts()
	if got["miss"] != 1 || got["miss"]+got["hit"]+got["coalesced"] != n-1 {
		t.Errorf("got results %v; want 1 miss and %d answered in all", got, n-1)
	}
	if _, ok := got[""]; ok {
		t.Errorf("got results %v; want no unnamed result", got)
	}
	if got := cache.flights.inFlight(); got != 0 {
		t.Errorf("got %d flights left; want 0", got)
	}
}

// groupOf returns a copy of the fetch group of the flight of acct's video
// no (without detail), false when there is none.
func groupOf(c *Cache, acct account.Account, no string) (fetchGroup, bool) {
	c.flights.mu.Lock()
	defer c.flights.mu.Unlock()
	f, ok := c.flights.m[flightKey{Key: Key{acct.ID(), videotest.Ref(no)}}]
	if !ok {
		return fetchGroup{}, false
	}
	return *f.group, true
}

// A look-up that arrives once the fetch it would share was cancelled (its
// owner left and nobody waited) but before that fetch has ended makes a
// call of its own: the cancelled fetch's error is its owner's, no answer
// for it.
func TestCacheLookupAfterCancelledFetch(t *testing.T) {
	acct := videotest.Account(t, "sk-a")
	up := serving(acct, "VI1")
	started, gate := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	up.Before = func(ctx context.Context) error {
		if calls.Add(1) == 1 {
			close(started)
			<-gate // an upstream slow to notice its caller has gone
			return ctx.Err()
		}
		return nil
	}
	release := sync.OnceFunc(func() { close(gate) })
	defer release()
	cache := New(Options{Upstream: up, Store: newLocal(t), TTLs: allTTLs})

	ctxOwner, cancelOwner := context.WithCancel(context.Background())
	owner := make(chan error, 1)
	go func() {
		_, err := one(ctxOwner, cache, acct, "VI1", false)
		owner <- err
	}()
	<-started
	cancelOwner()
	eventually.True(t, "the owner's fetch cancelled", func() bool {
		g, ok := groupOf(cache, acct, "VI1")
		return ok && g.cancelled
	})

	later := make(chan error, 1)
	go func() {
		v, err := one(context.Background(), cache, acct, "VI1", false)
		if err == nil && (v == nil || v.VideoNo != "VI1") {
			err = fmt.Errorf("got %+v; want the video", v)
		}
		later <- err
	}()
	eventually.True(t, "a call of its own", func() bool { return up.CallCount() == 2 })
	if err := <-later; err != nil {
		t.Errorf("later look-up: got %v; want the video", err)
	}
	release()
	if err := <-owner; !errors.Is(err, context.Canceled) {
		t.Errorf("owner: got %v; want context.Canceled", err)
	}
	if got := cache.flights.inFlight(); got != 0 {
		t.Errorf("got %d flights left; want 0", got)
	}
}

// A look-up that shares a call which ran out of its owner's time (deadline
// or rate budget) fetches again if it has more time, and shares the
// failure otherwise.
func TestCacheOwnerOutOfTime(t *testing.T) {
	acct := videotest.Account(t, "sk-a")
	for _, tt := range []struct {
		name       string
		needTime   time.Duration // the rate budget comes after this
		owner      time.Duration // the owner's deadline
		waiter     time.Duration // the waiter's; 0: none
		openGate   bool          // the owner's call proceeds once the waiter joined; else its deadline passes
		wantCalls  int
		wantWaiter bool // the waiter gets the video; else the owner's error
	}{
		{"budget: waiter with more time fetches", time.Hour, time.Minute, 2 * time.Hour, true, 2, true},
		{"budget: waiter without deadline fetches", time.Hour, time.Minute, 0, true, 2, true},
		{"budget: waiter with less time shares the failure", time.Hour, time.Minute, 30 * time.Second, true, 1, false},
		{"deadline: waiter with more time fetches", 0, 50 * time.Millisecond, time.Minute, false, 2, true},
		{"deadline: waiter without deadline fetches", 0, 50 * time.Millisecond, 0, false, 2, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := serving(acct, "VI1")
			up.Before = shortOfTime(tt.needTime)
			up.Hold, up.HoldFirst = make(chan struct{}), 1 // only the owner's call waits
			cache := New(Options{Upstream: up, Store: newLocal(t), TTLs: allTTLs})
			ownerCtx, cancel := context.WithTimeout(context.Background(), tt.owner)
			defer cancel()
			ownerErr := make(chan error, 1)
			go func() {
				_, err := one(ownerCtx, cache, acct, "VI1", false)
				ownerErr <- err
			}()
			eventually.True(t, "the owner's call", func() bool { return up.CallCount() == 1 })
			waiterCtx, cancel2 := context.Background(), context.CancelFunc(func() {})
			if tt.waiter > 0 {
				waiterCtx, cancel2 = context.WithTimeout(context.Background(), tt.waiter)
			}
			defer cancel2()
			type result struct {
				v   *memories.Video
				err error
			}
			waiter := make(chan result, 1)
			go func() {
				v, err := one(waiterCtx, cache, acct, "VI1", false)
				waiter <- result{v, err}
			}()
			time.Sleep(20 * time.Millisecond) // the waiter joins
			if tt.openGate {
				close(up.Hold)
			} else {
				defer close(up.Hold)
			}
			if err := <-ownerErr; err == nil {
				t.Errorf("owner: got err nil; want it out of time")
			}
			r := <-waiter
			if tt.wantWaiter && (r.err != nil || r.v == nil) {
				t.Errorf("waiter: got %+v, %v; want the video", r.v, r.err)
			}
			var unsent *memories.Error
			if !tt.wantWaiter && (!errors.As(r.err, &unsent) || !unsent.Unsent) {
				t.Errorf("waiter: got %+v, %v; want the owner's unsent call", r.v, r.err)
			}
			if got := up.CallCount(); got != tt.wantCalls {
				t.Errorf("got %d upstream calls; want %d", got, tt.wantCalls)
			}
		})
	}
}

// A look-up whose deadline passes while it fetches or waits gets an
// upstream timeout.
func TestCacheCallerDeadlineIsTimeout(t *testing.T) {
	acct := videotest.Account(t, "sk-a")
	up := serving(acct)
	up.Hold = make(chan struct{})
	defer close(up.Hold)
	cache := New(Options{Upstream: up, Store: newLocal(t), TTLs: allTTLs})
	go one(context.Background(), cache, acct, "VI2", false) // owns VI2 until the gate opens
	eventually.True(t, "the first call", func() bool { return up.CallCount() == 1 })
	for _, tt := range []struct{ name, no string }{{"owner", "VI1"}, {"waiter", "VI2"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, err := one(ctx, cache, acct, tt.no, false)
		cancel()
		if !isTimeout(err) {
			t.Errorf("%s: got err %v; want a memories timeout", tt.name, err)
		}
	}
}

// Two concurrent batches that overlap fetch each video once in all: the
// second asks the upstream only for what the first is not fetching.
func TestCacheOverlappingBatches(t *testing.T) {
	acct := videotest.Account(t, "sk-a")
	up := serving(acct, "a", "b", "c", "d")
	up.Hold = make(chan struct{})
	obs := &counter{}
	cache := New(Options{Upstream: up, Store: newLocal(t), TTLs: allTTLs, Observer: obs})

	batches := [][]memories.VideoRef{videotest.Refs("a", "b", "c"), videotest.Refs("d", "c", "b")}
	var wg sync.WaitGroup
	got := make([][]*memories.Video, len(batches))
	errs := make([][]error, len(batches))
	for i, b := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = cache.Videos(context.Background(), acct, b, false)
		}()
		eventually.True(t, fmt.Sprintf("call %d", i+1), func() bool { return up.CallCount() == i+1 })
	}
	close(up.Hold)
	wg.Wait()
	for i, b := range batches {
		if errs[i] != nil {
			t.Errorf("batch %d: got errs %v; want nil", i, errs[i])
		}
		for j, r := range b {
			if got[i][j] == nil || got[i][j].VideoNo != r.VideoNo {
				t.Errorf("batch %d video %d: got %+v; want %s", i, j, got[i][j], r.VideoNo)
			}
		}
	}
	want := map[memories.VideoRef]int{videotest.Ref("a"): 1, videotest.Ref("b"): 1, videotest.Ref("c"): 1, videotest.Ref("d"): 1}
	if got := up.Fetched(); !reflect.DeepEqual(got, want) {
		t.Errorf("got fetches %v; want each video once %v", got, want)
	}
	if got, want := obs.counts(), map[string]int{"miss": 4, "coalesced": 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("got results %v; want %v", got, want)
	}
}

// A look-up with detail does not share a list_videos call in flight, which
// would not answer it; one without detail shares a get_metadata call.
func TestCacheDetailAndListFlights(t *testing.T) {
	acct := videotest.Account(t, "sk-a")
	for _, tt := range []struct {
		name          string
		first, second bool // detail
		wantCalls     []bool
		wantResults   map[string]int
	}{
		{"detail does not join list", false, true, []bool{false, true}, map[string]int{"miss": 2}},
		{"list joins detail", true, false, []bool{true}, map[string]int{"miss": 1, "coalesced": 1}},
		{"list joins list", false, false, []bool{false}, map[string]int{"miss": 1, "coalesced": 1}},
		{"detail joins detail", true, true, []bool{true}, map[string]int{"miss": 1, "coalesced": 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := serving(acct, "VI1")
			up.Hold = make(chan struct{})
			obs := &counter{}
			store := &spyStore{Store: newLocal(t)}
			cache := New(Options{Upstream: up, Store: store, TTLs: allTTLs, Observer: obs})
			var wg sync.WaitGroup
			got := make([]*memories.Video, 2)
			for i, detail := range []bool{tt.first, tt.second} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					v, err := one(context.Background(), cache, acct, "VI1", detail)
					if err != nil {
						t.Errorf("look-up %d: %v", i, err)
					}
					got[i] = v
				}()
				if i == 0 {
					eventually.True(t, "the first call", func() bool { return up.CallCount() == 1 })
				}
			}
			// The second look-up's Get (the owner made one: nothing was
			// kept between its miss and its claim), then its claim.
			eventually.True(t, "the second look-up", func() bool { return store.gets.Load() >= 2 })
			time.Sleep(50 * time.Millisecond)
			close(up.Hold)
			wg.Wait()
			if got[1] == nil || (tt.second && !got[1].Detailed) {
				t.Errorf("second look-up: got %+v; want the video, detailed if asked", got[1])
			}
			var calls []bool
			for _, c := range up.Calls() {
				calls = append(calls, c.Detail)
			}
			if !reflect.DeepEqual(calls, tt.wantCalls) {
				t.Errorf("got upstream calls with detail %v; want %v", calls, tt.wantCalls)
			}
			if got := obs.counts(); !reflect.DeepEqual(got, tt.wantResults) {
				t.Errorf("got results %v; want %v", got, tt.wantResults)
			}
		})
	}
}

// A look-up's span counts its results; one that shares another's call
// links to that look-up's span.
func TestCacheTracesLookups(t *testing.T) {
	acct := videotest.Account(t, "sk-a")
	up := serving(acct, "a", "b")
	up.Hold = make(chan struct{})
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	cache := New(Options{Upstream: up, Store: newLocal(t), TTLs: allTTLs, Tracer: tp.Tracer("test")})

	done := make(chan struct{})
	go func() {
		defer close(done)
		cache.Videos(context.Background(), acct, videotest.Refs("a"), false)
	}()
	eventually.True(t, "the first call", func() bool { return up.CallCount() == 1 })
	go func() {
		time.Sleep(50 * time.Millisecond)
		close(up.Hold)
	}()
	if _, errs := cache.Videos(context.Background(), acct, videotest.Refs("a", "b"), false); errs != nil {
		t.Fatal(errs)
	}
	<-done

	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("got %d spans; want 2", len(spans))
	}
	var owner, joiner sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() != "videocache.lookup" {
			t.Errorf("got span %q; want videocache.lookup", s.Name())
		}
		attrs := map[string]int64{}
		for _, a := range s.Attributes() {
			attrs[string(a.Key)] = a.Value.AsInt64()
		}
		if attrs["memories.videos"] == 1 {
			owner = s
		} else {
			joiner = s
			if attrs["cache.coalesced"] != 1 || attrs["cache.misses"] != 1 {
				t.Errorf("joiner attributes = %v; want 1 coalesced and 1 miss", attrs)
			}
		}
	}
	if owner == nil || joiner == nil {
		t.Fatalf("got spans %v; want the owner's and the joiner's", spans)
	}
	links := joiner.Links()
	if len(links) != 1 || links[0].SpanContext.SpanID() != owner.SpanContext().SpanID() {
		t.Errorf("joiner links = %v; want one to the owner's span %s", links, owner.SpanContext().SpanID())
	}
	if len(owner.Links()) != 0 {
		t.Errorf("owner links = %v; want none", owner.Links())
	}
}

// isTimeout reports whether err is a memories timeout.
func isTimeout(err error) bool {
	var me *memories.Error
	return errors.As(err, &me) && me.Kind == memories.KindTimeout
}

// hookStore runs after, once, when its first Get has read the store: what
// another caller does between a look-up's miss and its claim.
type hookStore struct {
	Store
	gets  atomic.Int32
	after func()
}

func (s *hookStore) Get(ctx context.Context, keys []Key) []Kept {
	kept := s.Store.Get(ctx, keys)
	if s.gets.Add(1) == 1 && s.after != nil {
		s.after()
	}
	return kept
}

// leasingStore is a Store shared by replicas that always grants the fetch.
type leasingStore struct{ *hookStore }

func (leasingStore) Lease(_ context.Context, keys []Key) ([]bool, func()) {
	held := make([]bool, len(keys))
	for i := range held {
		held[i] = true
	}
	return held, func() {}
}

func (s leasingStore) Await(ctx context.Context, keys []Key) ([]Kept, error) {
	return s.Store.Get(ctx, keys), nil
}

// A look-up that missed reads the store again once it has claimed its
// flights only if an answer may have been kept in between: a call of
// another look-up ended, or a listing was kept, in this process, or the
// store is shared with other replicas, whose calls this one cannot see.
func TestCacheLooksAgainOnlyAfterAnAnswerWasKept(t *testing.T) {
	acct := videotest.Account(t, "sk-a")
	for _, tt := range []struct {
		name      string
		between   func(t *testing.T, c *Cache)
		shared    bool
		wantGets  int32 // of the look-up, after the one of between
		wantCalls int   // upstream calls, between's included
		wantHit   bool  // the look-up was served what between kept
	}{
		{"nothing kept since the miss", nil, false, 1, 1, false},
		{"a call ended since", func(t *testing.T, c *Cache) {
			if _, err := one(context.Background(), c, acct, "VI1", false); err != nil {
				t.Errorf("the other look-up: %v", err)
			}
		}, false, 2, 1, true},
		{"a listing was kept since", func(t *testing.T, c *Cache) {
			c.Listed(context.Background(), acct, memories.DefaultUniqueID, []*memories.Video{{VideoNo: "VI1", Status: memories.StatusParse}})
		}, false, 2, 0, true},
		{"a shared store", nil, true, 2, 1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := serving(acct, "VI1")
			hs := &hookStore{Store: newLocal(t)}
			var store Store = hs
			if tt.shared {
				store = leasingStore{hs}
			}
			obs := &counter{}
			cache := New(Options{Upstream: up, Store: store, TTLs: allTTLs, Observer: obs})
			if tt.between != nil {
				// The other caller's look-up reads the store too.
				hs.after = func() { tt.between(t, cache); hs.gets.Add(-1) }
			}
			v, err := one(context.Background(), cache, acct, "VI1", false)
			if err != nil || v == nil || v.VideoNo != "VI1" {
				t.Fatalf("look-up: got %+v, %v; want VI1", v, err)
			}
			if got := hs.gets.Load(); got != tt.wantGets {
				t.Errorf("store reads = %d; want %d", got, tt.wantGets)
			}
			if got := up.CallCount(); got != tt.wantCalls {
				t.Errorf("upstream calls = %d; want %d", got, tt.wantCalls)
			}
			if got := obs.counts()["hit"] > 0; got != tt.wantHit {
				t.Errorf("served a kept answer: %v; want %v (results %v)", got, tt.wantHit, obs.counts())
			}
		})
	}
}
