package library_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/library"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/ratelimit"
	"github.com/memories-facade/memories-graphql/internal/upstream"
	"github.com/memories-facade/memories-graphql/internal/videocache"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

const (
	keyA, keyB = "sk-library-a", "sk-library-b"
	libSize    = 45 // the default scope's videos
	pageCap    = 20 // the emulator's page cap
)

// env is a Lister over the real upstream Caller and client, against an
// emulator over HTTP, keeping what it lists in a cache in process.
type env struct {
	emu    *emulator.Server
	lister *library.Lister
	cache  *videocache.Cache
}

func setup(t *testing.T, opts library.Options) *env {
	t.Helper()
	var shared []emulator.Video
	for i := range libSize {
		shared = append(shared, video("default", i, "PARSE"))
	}
	for i := range 5 {
		shared = append(shared, video("other", i, "PARSE"))
	}
	emu, err := emulator.Start(emulator.Options{
		Videos:        shared,
		AccountVideos: map[string][]emulator.Video{keyB: {video("default", 900, "FAILED")}},
		ListPageCap:   pageCap,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	client := videotest.Client(t, emu.URL())
	up := upstream.New(client, ratelimit.New(1000, 100), ratelimit.New(1000, 100), upstream.Options{})
	cache := videocache.New(videocache.Options{Upstream: up, Store: videocache.NewLocal(1000),
		TTLs: videocache.TTLs{Parse: time.Hour, Failed: time.Hour, Unparse: time.Hour, NotFound: time.Hour}})
	return &env{emu: emu, lister: library.New(up, cache, opts), cache: cache}
}

func videoNo(i int) string { return fmt.Sprintf("VI%018d", 607000000000000000+i) }

func video(scope string, i int, status string) emulator.Video {
	data, err := json.Marshal(map[string]any{
		"video_no": videoNo(i), "video_name": scope + "/" + videoNo(i), "status": status, "create_time": 1700000000000,
		"resolution_label": "720P", "fps": 30, "width": 1280, "height": 720,
	})
	if err != nil {
		panic(err)
	}
	return emulator.Video{UniqueID: scope, Data: data}
}

// listing reads the scope's whole library straight from the upstream
// client, vendor page by vendor page: the order the Lister must keep.
func listing(t *testing.T, e *env, key, scope string) []string {
	t.Helper()
	client := videotest.Client(t, e.emu.URL())
	var nos []string
	for page := 1; ; page++ {
		p, err := client.ListVideos(context.Background(), key, memories.ListRequest{UniqueID: scope, Library: true, Page: page, Size: pageCap})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range p.Videos {
			nos = append(nos, v.VideoNo)
		}
		if len(p.Videos) < pageCap {
			return nos
		}
	}
}

// pageThrough pages through q's listing first videos at a time, as a
// client following endCursor does, and returns the video numbers in order
// and the windows it took.
func pageThrough(t *testing.T, e *env, key string, q library.Listing, first int) (nos []string, windows int) {
	t.Helper()
	acct := videotest.Account(t, key)
	for offset := 0; windows <= libSize+1; windows++ {
		p, err := e.lister.Page(context.Background(), acct, q, offset, first)
		if err != nil {
			t.Fatalf("window at %d: %v", offset, err)
		}
		if p.Offset != offset {
			t.Errorf("window at %d: Offset %d", offset, p.Offset)
		}
		for _, v := range p.Videos {
			nos = append(nos, v.VideoNo)
		}
		offset += len(p.Videos)
		if !p.More {
			if p.Total != int64(len(nos)) {
				t.Errorf("Total %d; want %d, the videos listed", p.Total, len(nos))
			}
			return nos, windows + 1
		}
		if len(p.Videos) != first {
			t.Errorf("window at %d: %d videos with more to come; want %d", offset, len(p.Videos), first)
		}
	}
	t.Fatalf("still More after %d windows", windows)
	return nil, 0
}

// Any window size pages through the whole library in the vendor's order,
// each video once, for about one call per vendor page: the first call
// learns the vendor's cap, and the vendor pages fetched serve the windows
// that follow.
func TestPageThroughTheLibrary(t *testing.T) {
	vendorPages := (libSize + pageCap - 1) / pageCap
	for _, tt := range []struct {
		first     int
		wantCalls int
	}{
		{first: 1, wantCalls: vendorPages},
		{first: 7, wantCalls: vendorPages},
		{first: 20, wantCalls: vendorPages},
		{first: 50, wantCalls: vendorPages},
		{first: 200, wantCalls: vendorPages},
	} {
		t.Run(fmt.Sprint("first ", tt.first), func(t *testing.T) {
			e := setup(t, library.Options{})
			want := listing(t, e, keyA, "default")
			e.emu.ResetCounters()
			got, windows := pageThrough(t, e, keyA, library.Listing{UniqueID: "default"}, tt.first)
			if !slices.Equal(got, want) {
				t.Errorf("listed %d videos %v;\nwant %d %v", len(got), got, len(want), want)
			}
			if wantWindows := max(1, (libSize+tt.first-1)/tt.first); windows != wantWindows {
				t.Errorf("windows = %d; want %d", windows, wantWindows)
			}
			if calls := e.emu.Stats().List.Requests; calls != int64(tt.wantCalls) {
				t.Errorf("list_videos calls = %d; want %d", calls, tt.wantCalls)
			}
		})
	}
}

// A Lister that has not learnt the vendor's page size yet (a fresh
// replica) answers a window past the vendor's first page all the same.
func TestPageSizeLearntAnywhere(t *testing.T) {
	e := setup(t, library.Options{})
	want := listing(t, e, keyA, "default")
	for _, offset := range []int{5, 20, 30, 44} {
		fresh := library.New(upstreamOf(t, e), e.cache, library.Options{})
		p, err := fresh.Page(context.Background(), videotest.Account(t, keyA), library.Listing{UniqueID: "default"}, offset, 5)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range p.Videos {
			got = append(got, v.VideoNo)
		}
		if w := want[offset:min(offset+5, len(want))]; !slices.Equal(got, w) || p.More != (offset+5 < libSize) {
			t.Errorf("offset %d: %v, More %v; want %v, %v", offset, got, p.More, w, offset+5 < libSize)
		}
	}
}

// Scopes, filters and accounts are listings of their own: none shares
// another's pages.
func TestListingsAreApart(t *testing.T) {
	e := setup(t, library.Options{})
	page := func(key string, q library.Listing) []string {
		t.Helper()
		p, err := e.lister.Page(context.Background(), videotest.Account(t, key), q, 0, 200)
		if err != nil {
			t.Fatal(err)
		}
		var nos []string
		for _, v := range p.Videos {
			nos = append(nos, v.VideoNo)
		}
		return nos
	}
	if got := page(keyA, library.Listing{UniqueID: "other"}); len(got) != 5 {
		t.Errorf("scope other: %d videos; want 5", len(got))
	}
	a := page(keyA, library.Listing{UniqueID: "default", Filter: memories.ListFilter{Status: memories.StatusFailed}})
	b := page(keyB, library.Listing{UniqueID: "default", Filter: memories.ListFilter{Status: memories.StatusFailed}})
	if len(a) != 0 || !slices.Equal(b, []string{videoNo(900)}) {
		t.Errorf("FAILED videos: account A %v, account B %v; want none and B's own", a, b)
	}
	if calls := e.emu.Stats().List.Requests; calls != 3 {
		t.Errorf("list_videos calls = %d; want 3, one per listing", calls)
	}
}

// first 0 answers the total alone, from the page at the offset; a window
// past the end is empty and has no more.
func TestPageEdges(t *testing.T) {
	e := setup(t, library.Options{})
	acct := videotest.Account(t, keyA)
	q := library.Listing{UniqueID: "default"}
	for _, tt := range []struct {
		offset, first int
		wantVideos    int
		wantMore      bool
	}{
		{offset: 0, first: 0, wantVideos: 0, wantMore: true},
		{offset: 44, first: 0, wantVideos: 0, wantMore: true},
		{offset: 44, first: 5, wantVideos: 1, wantMore: false},
		{offset: 45, first: 5, wantVideos: 0, wantMore: false},
		{offset: 1000, first: 5, wantVideos: 0, wantMore: false},
	} {
		p, err := e.lister.Page(context.Background(), acct, q, tt.offset, tt.first)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Videos) != tt.wantVideos || p.More != tt.wantMore || p.Total != libSize {
			t.Errorf("offset %d first %d: %d videos, More %v, Total %d; want %d, %v, %d",
				tt.offset, tt.first, len(p.Videos), p.More, p.Total, tt.wantVideos, tt.wantMore, libSize)
		}
	}
}

// Listed videos are kept as list answers: a look-up of them without detail
// costs no call, one with detail a get_metadata call each.
func TestListedVideosAreKept(t *testing.T) {
	e := setup(t, library.Options{})
	acct := videotest.Account(t, keyA)
	p, err := e.lister.Page(context.Background(), acct, library.Listing{UniqueID: "default"}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	refs := make([]memories.VideoRef, len(p.Videos))
	for i, v := range p.Videos {
		refs[i] = memories.VideoRef{UniqueID: "default", VideoNo: v.VideoNo}
	}
	e.emu.ResetCounters()
	if _, errs := e.cache.Videos(context.Background(), acct, refs, false); errs != nil {
		t.Fatal(errs)
	}
	if st := e.emu.Stats(); st.Requests+st.List.Requests != 0 {
		t.Errorf("list look-up of listed videos: %d calls; want 0", st.Requests+st.List.Requests)
	}
	vs, errs := e.cache.Videos(context.Background(), acct, refs[:3], true)
	if errs != nil {
		t.Fatal(errs)
	}
	if st := e.emu.Stats(); st.Requests != 3 || vs[0].ResolutionLabel == nil {
		t.Errorf("detail look-up: %d get_metadata calls, resolution %v; want 3 and 720P", st.Requests, vs[0].ResolutionLabel)
	}
	// Listed again, the videos read in full keep their detail fields.
	again, err := library.New(upstreamOf(t, e), e.cache, library.Options{}).Page(context.Background(), acct, library.Listing{UniqueID: "default"}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range again.Videos {
		if want := i < 3; v.Detailed != want {
			t.Errorf("listed again, video %d: Detailed %v; want %v", i, v.Detailed, want)
		}
	}
}

func upstreamOf(t *testing.T, e *env) *upstream.Caller {
	return upstream.New(videotest.Client(t, e.emu.URL()), ratelimit.New(1000, 100), ratelimit.New(1000, 100), upstream.Options{})
}

// Look-ups of one window at once share its call; a failed call is not
// kept, and the next look-up asks again.
func TestPageCallsShareAndFailuresAreNotKept(t *testing.T) {
	e := setup(t, library.Options{})
	acct := videotest.Account(t, keyA)
	q := library.Listing{UniqueID: "default"}
	first := listing(t, e, keyA, "default")[0]
	e.emu.ResetCounters()
	e.emu.SetListFault(first, emulator.Fault{Kind: emulator.FaultHTTPError, Status: 500, Times: 1})
	_, err := e.lister.Page(context.Background(), acct, q, 0, 5)
	var me *memories.Error
	if !errors.As(err, &me) || me.Kind != memories.KindUpstream {
		t.Fatalf("with a 500: %v; want KindUpstream", err)
	}
	e.emu.SetLatency(100 * time.Millisecond)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = e.lister.Page(context.Background(), acct, q, 0, 5) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if calls := e.emu.Stats().List.Requests; calls != 2 {
		t.Errorf("list_videos calls = %d; want 2: the 500 and one shared by 8 look-ups", calls)
	}
}

// A vendor page kept past PageTTL is asked again.
func TestPagesExpire(t *testing.T) {
	e := setup(t, library.Options{PageTTL: time.Second})
	acct := videotest.Account(t, keyA)
	q := library.Listing{UniqueID: "default"}
	for range 2 {
		if _, err := e.lister.Page(context.Background(), acct, q, 0, 5); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	if _, err := e.lister.Page(context.Background(), acct, q, 0, 5); err != nil {
		t.Fatal(err)
	}
	if calls := e.emu.Stats().List.Requests; calls != 2 {
		t.Errorf("list_videos calls = %d; want 2: one kept, one after PageTTL", calls)
	}
}

// Past MaxPages the oldest-kept vendor page goes first: asked again, it
// costs a call; the newer ones do not.
func TestPagesBounded(t *testing.T) {
	e := setup(t, library.Options{MaxPages: 2})
	acct := videotest.Account(t, keyA)
	page := func(scope string) {
		t.Helper()
		if _, err := e.lister.Page(context.Background(), acct, library.Listing{UniqueID: scope}, 0, 1); err != nil {
			t.Fatal(err)
		}
	}
	for _, scope := range []string{"default", "other", "third"} { // three listings, one page each
		page(scope)
	}
	e.emu.ResetCounters()
	page("third")
	page("other")
	if calls := e.emu.Stats().List.Requests; calls != 0 {
		t.Errorf("the two newest pages again: %d calls; want 0", calls)
	}
	page("default")
	if calls := e.emu.Stats().List.Requests; calls != 1 {
		t.Errorf("the oldest page again: %d calls; want 1 (it was dropped)", calls)
	}
}
