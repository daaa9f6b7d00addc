package videocache

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/redisconn"
	"github.com/memories-facade/memories-graphql/internal/redistest"
	"github.com/memories-facade/memories-graphql/internal/redistest/redisconntest"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

// changing is an upstream whose one video changes between look-ups, as a
// library does: its answers follow the video set last.
type changing struct {
	mu sync.Mutex
	v  *memories.Video // nil: gone
}

func (c *changing) set(v *memories.Video) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.v = v
}

func (c *changing) fetcher() *videotest.Fetcher {
	return &videotest.Fetcher{Answer: func(_ account.Account, _ memories.VideoRef, detail bool) *memories.Video {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.v == nil {
			return nil
		}
		v := *c.v
		if v.Detailed = detail; !detail {
			v.ResolutionLabel, v.FPS, v.Width, v.Height = nil, nil, nil, nil
		}
		return &v
	}}
}

// parsedVideo is VI1, parsed, named name, at fps.
func parsedVideo(name string, fps int) *memories.Video {
	return &memories.Video{VideoNo: "VI1", VideoName: new(name), Status: memories.StatusParse,
		ResolutionLabel: new("1080P"), FPS: new(fps), Width: new(1920), Height: new(1080)}
}

// The detail fields of a parsed video outlive its list fields: once
// CACHE_TTL_PARSE is over, a detail look-up refreshes the video through
// list_videos and serves the kept detail fields with the new list fields,
// unless the refresh shows the video gone or no longer parsed. The same
// holds in one process and across replicas on Redis.
func TestCacheKeepsDetailPastTheListFields(t *testing.T) {
	// Long enough for the look-ups after the refresh to come before it
	// is over again, on a loaded machine; the subtests run in parallel.
	const parseTTL = 150 * time.Millisecond
	failed := &memories.Video{VideoNo: "VI1", VideoName: new("renamed"), Status: memories.StatusFailed, ResolutionLabel: new("")}
	for _, tt := range []struct {
		name      string
		detailTTL time.Duration
		then      *memories.Video // the video after the first look-up; nil: gone
		wantCalls []bool          // detail of each upstream call after the first
		want      *memories.Video
	}{
		{"still parsed: one list call, kept detail", time.Hour, parsedVideo("renamed", 60),
			[]bool{false}, withDetail(withoutDetail(parsedVideo("renamed", 60)), parsedVideo("first", 30))},
		{"failed since: get_metadata again", time.Hour, failed,
			[]bool{false, true}, &memories.Video{VideoNo: "VI1", VideoName: new("renamed"), Status: memories.StatusFailed, ResolutionLabel: new(""), Detailed: true}},
		{"gone since: not found", time.Hour, nil, []bool{false}, nil},
		{"no detail TTL: get_metadata again", 0, parsedVideo("renamed", 60), []bool{true}, detailed(parsedVideo("renamed", 60))},
		{"detail TTL over too: get_metadata again", 2 * parseTTL, parsedVideo("renamed", 60), []bool{true}, detailed(parsedVideo("renamed", 60))},
	} {
		for _, shared := range []bool{false, true} {
			name := tt.name + map[bool]string{false: " (local)", true: " (Redis)"}[shared]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				acct := videotest.Account(t, "sk-a")
				src := &changing{v: parsedVideo("first", 30)}
				up := src.fetcher()
				ttls := TTLs{Parse: parseTTL, Failed: time.Hour, NotFound: time.Hour, Detail: tt.detailTTL}
				first, second := twoCaches(t, shared, up, ttls)
				if v, err := one(context.Background(), first, acct, "VI1", true); err != nil || !v.Detailed {
					t.Fatalf("first look-up: got %+v, %v; want the video in full", v, err)
				}
				src.set(tt.then)
				time.Sleep(3 * parseTTL)
				up.Reset()
				got, err := one(context.Background(), second, acct, "VI1", true)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got %s; want %s", show(got), show(tt.want))
				}
				if got := callDetails(up); !reflect.DeepEqual(got, tt.wantCalls) {
					t.Errorf("got upstream calls with detail %v; want %v", got, tt.wantCalls)
				}
				// What the refresh kept serves both replicas without a call
				// until CACHE_TTL_PARSE is over again.
				up.Reset()
				for _, c := range []*Cache{first, second} {
					again, err := one(context.Background(), c, acct, "VI1", true)
					if err != nil || !reflect.DeepEqual(again, tt.want) {
						t.Errorf("look-up after the refresh: got %s, %v; want %s", show(again), err, show(tt.want))
					}
				}
				if n := up.CallCount(); n != 0 {
					t.Errorf("look-ups after the refresh made %d calls; want 0", n)
				}
			})
		}
	}
}

// A look-up without detail refreshes a video whose list fields are over
// and keeps its detail fields for the detail look-ups after it.
func TestCacheListRefreshKeepsDetail(t *testing.T) {
	const parseTTL = 50 * time.Millisecond
	acct := videotest.Account(t, "sk-a")
	src := &changing{v: parsedVideo("first", 30)}
	up := src.fetcher()
	cache := New(Options{Upstream: up, Store: newLocal(t), TTLs: TTLs{Parse: parseTTL, Detail: time.Hour}})
	if _, err := one(context.Background(), cache, acct, "VI1", true); err != nil {
		t.Fatal(err)
	}
	src.set(parsedVideo("renamed", 30))
	time.Sleep(3 * parseTTL)
	for i, detail := range []bool{false, true} {
		v, err := one(context.Background(), cache, acct, "VI1", detail)
		if err != nil || v == nil || *v.VideoName != "renamed" || !v.Detailed || *v.FPS != 30 {
			t.Errorf("look-up %d (detail %v): got %s, %v; want renamed with its kept detail", i, detail, show(v), err)
		}
	}
	if got, want := callDetails(up), []bool{true, false}; !reflect.DeepEqual(got, want) {
		t.Errorf("got upstream calls with detail %v; want %v", got, want)
	}
}

// Local keeps a parsed answer's detail fields until DetailUntil, after its
// TTL, as a stale answer; UNPARSE and FAILED answers never outlive their
// TTL.
func TestLocalKeepsDetailUntil(t *testing.T) {
	ctx := context.Background()
	k := Key{AccountID: "a", Ref: videotest.Ref("VI1")}
	l := newLocal(t)
	parsed := detailed(parsedVideo("x", 30))
	now := time.Now()
	l.Set(ctx, []Entry{{Key: k, Video: parsed, TTL: 40 * time.Millisecond, DetailUntil: now.Add(time.Hour)}})
	if got := l.Get(ctx, []Key{k})[0]; !got.Found || got.Stale || got.Video != parsed {
		t.Errorf("before the TTL: got %+v; want the fresh answer", got)
	}
	time.Sleep(120 * time.Millisecond)
	if got := l.Get(ctx, []Key{k})[0]; !got.Found || !got.Stale || got.Video != parsed || !got.DetailUntil.Equal(now.Add(time.Hour)) {
		t.Errorf("after the TTL: got %+v; want the answer, stale, with its DetailUntil", got)
	}
	// Detail that ends before the TTL: the answer serves on, as a list answer.
	l.Set(ctx, []Entry{{Key: k, Video: parsed, TTL: time.Hour, DetailUntil: time.Now().Add(40 * time.Millisecond)}})
	time.Sleep(120 * time.Millisecond)
	if got := l.Get(ctx, []Key{k})[0]; !got.Found || got.Stale || got.Video.Detailed || got.Video.FPS != nil || *got.Video.VideoName != "x" {
		t.Errorf("after DetailUntil: got %+v; want the list fields alone", got)
	}
}

// TTLs keep detail fields longer only for parsed videos read in full.
func TestTTLsEntry(t *testing.T) {
	ttl := TTLs{Parse: time.Minute, Failed: time.Minute, Unparse: time.Second, Detail: time.Hour}
	now := time.Now()
	for _, tt := range []struct {
		name string
		v    *memories.Video
		want time.Time
	}{
		{"parsed, in full", detailed(parsedVideo("x", 1)), now.Add(time.Hour)},
		{"parsed, list answer", withoutDetail(parsedVideo("x", 1)), time.Time{}},
		{"failed, in full", &memories.Video{Status: memories.StatusFailed, Detailed: true}, time.Time{}},
		{"unparsed, in full", &memories.Video{Status: memories.StatusUnparse, Detailed: true}, time.Time{}},
		{"not found", nil, time.Time{}},
	} {
		if got := ttl.entry(Key{}, tt.v, now).DetailUntil; !got.Equal(tt.want) {
			t.Errorf("%s: got DetailUntil %v; want %v", tt.name, got, tt.want)
		}
	}
	short := TTLs{Parse: time.Hour, Detail: time.Minute}
	if got := short.entry(Key{}, detailed(parsedVideo("x", 1)), now).DetailUntil; !got.IsZero() {
		t.Errorf("Detail shorter than Parse: got DetailUntil %v; want none (the detail ends with the answer)", got)
	}
}

// twoCaches returns two Caches over up: one store they share, or two
// replicas on one Redis namespace.
func twoCaches(t *testing.T, shared bool, up Upstream, ttls TTLs) (*Cache, *Cache) {
	t.Helper()
	if !shared {
		store := newLocal(t)
		return New(Options{Upstream: up, Store: store, TTLs: ttls}), New(Options{Upstream: up, Store: store, TTLs: ttls})
	}
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	replica := func() *Cache {
		conn := redisconntest.Open(t, url, redisconn.Options{Prefix: prefix, Timeout: 2 * time.Second})
		return New(Options{Upstream: up, Store: NewShared(conn, newLocal(t)), TTLs: ttls})
	}
	return replica(), replica()
}

// callDetails returns the detail of each upstream call of up so far.
func callDetails(up *videotest.Fetcher) []bool {
	var got []bool
	for _, c := range up.Calls() {
		got = append(got, c.Detail)
	}
	return got
}

// detailed returns a copy of v marked complete.
func detailed(v *memories.Video) *memories.Video {
	c := *v
	c.Detailed = true
	return &c
}

// show prints v with its pointers followed.
func show(v *memories.Video) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A look-up without detail whose refresh shows the video no longer parsed
// replaces the kept complete answer: the detail look-up after it asks
// get_metadata, and neither serves the old detail fields.
func TestCacheListRefreshDropsUntrueDetail(t *testing.T) {
	const parseTTL = 50 * time.Millisecond
	acct := videotest.Account(t, "sk-a")
	src := &changing{v: parsedVideo("first", 30)}
	up := src.fetcher()
	cache := New(Options{Upstream: up, Store: newLocal(t), TTLs: TTLs{Parse: parseTTL, Failed: time.Hour, Detail: time.Hour}})
	if _, err := one(context.Background(), cache, acct, "VI1", true); err != nil {
		t.Fatal(err)
	}
	src.set(&memories.Video{VideoNo: "VI1", Status: memories.StatusFailed})
	time.Sleep(3 * parseTTL)
	for i, detail := range []bool{false, false, true, true} {
		v, err := one(context.Background(), cache, acct, "VI1", detail)
		if err != nil || v == nil || v.Status != memories.StatusFailed || v.FPS != nil || v.Detailed != detail {
			t.Errorf("look-up %d (detail %v): got %s, %v; want FAILED without the old detail", i, detail, show(v), err)
		}
	}
	if got, want := callDetails(up), []bool{true, false, true}; !reflect.DeepEqual(got, want) {
		t.Errorf("got upstream calls with detail %v; want %v", got, want)
	}
}

// One look-up of both kinds shares its list_videos call: videos that need
// their detail fields and have them kept go with those that need none.
func TestCacheMixedLookupSharesTheListCall(t *testing.T) {
	const parseTTL = 50 * time.Millisecond
	acct := videotest.Account(t, "sk-a")
	up := &videotest.Fetcher{}
	cache := New(Options{Upstream: up, Store: newLocal(t), TTLs: TTLs{Parse: parseTTL, Detail: time.Hour}})
	ctx := context.Background()
	if _, errs := cache.Videos(ctx, acct, videotest.Refs("VI1", "VI2"), true); errs != nil {
		t.Fatal(errs)
	}
	time.Sleep(3 * parseTTL)
	up.Reset()
	refs := videotest.Refs("VI1", "VI2", "VI3", "VI4")
	vs, errs := cache.VideosMixed(ctx, acct, refs, []bool{true, true, false, false})
	if errs != nil {
		t.Fatal(errs)
	}
	for i, v := range vs {
		if v == nil || v.VideoNo != refs[i].VideoNo || v.Detailed != (i < 2) || (i < 2 && *v.FPS != 30) {
			t.Errorf("video %d = %s; want %s, in full for the first two", i, show(v), refs[i].VideoNo)
		}
	}
	calls := up.Calls()
	if len(calls) != 1 || calls[0].Detail || len(calls[0].Refs) != 4 {
		t.Errorf("got calls %+v; want one list call for the four", calls)
	}
	// With nothing kept, the kinds go to their own calls.
	up.Reset()
	if _, errs := cache.VideosMixed(ctx, acct, videotest.Refs("VI5", "VI6"), []bool{true, false}); errs != nil {
		t.Fatal(errs)
	}
	if got, want := len(up.Calls()), 2; got != want {
		t.Errorf("got %d calls; want %d, one per kind", got, want)
	}
}
