package loader_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/loader"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

// testKey is the API key of the requests' account.
const testKey = "test-key"

// sizes records the batch sizes onBatch reports.
type sizes struct {
	mu sync.Mutex
	n  []int
}

func (s *sizes) add(n int) {
	s.mu.Lock()
	s.n = append(s.n, n)
	s.mu.Unlock()
}

func (s *sizes) get() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.n)
}

func refString(r memories.VideoRef) string { return r.UniqueID + "/" + r.VideoNo }

// byKind returns the refs fetched per kind, sorted, and how many calls of
// each kind were made.
func byKind(calls []videotest.Call) (full, list []string, nFull, nList int) {
	for _, c := range calls {
		for _, r := range c.Refs {
			if c.Detail {
				full = append(full, refString(r))
			} else {
				list = append(list, refString(r))
			}
		}
		if c.Detail {
			nFull++
		} else {
			nList++
		}
	}
	slices.Sort(full)
	slices.Sort(list)
	return full, list, nFull, nList
}

func names(nos ...string) []string {
	out := make([]string, len(nos))
	for i, no := range nos {
		out[i] = "default/" + no
	}
	slices.Sort(out)
	return out
}

func TestPrefetchIsOneBatch(t *testing.T) {
	tests := []struct {
		name     string
		keys     []loader.Key
		wantFull []string // refs of the detail call, nil: no such call
		wantList []string // refs of the list call, nil: no such call
	}{
		{
			name:     "list only",
			keys:     []loader.Key{{videotest.Ref("a"), false}, {videotest.Ref("b"), false}, {videotest.Ref("c"), false}},
			wantList: names("a", "b", "c"),
		},
		{
			name:     "detail only",
			keys:     []loader.Key{{videotest.Ref("a"), true}, {videotest.Ref("b"), true}},
			wantFull: names("a", "b"),
		},
		{
			name: "mixed",
			keys: []loader.Key{
				{videotest.Ref("a"), true}, {videotest.Ref("b"), false}, {videotest.Ref("c"), false}, {videotest.Ref("d"), true},
			},
			wantFull: names("a", "d"),
			wantList: names("b", "c"),
		},
		{
			name: "repeated keys",
			keys: []loader.Key{
				{videotest.Ref("a"), false}, {videotest.Ref("b"), false}, {videotest.Ref("a"), false}, {videotest.Ref("b"), false},
			},
			wantList: names("a", "b"),
		},
		{
			name: "one ref with and without detail",
			keys: []loader.Key{
				{videotest.Ref("a"), false}, {videotest.Ref("b"), false}, {videotest.Ref("a"), true},
				{videotest.Ref("c"), true}, {videotest.Ref("c"), false},
			},
			wantFull: names("a", "c"),
			wantList: names("b"),
		},
		{
			// Past the size a plan is searched at, it is indexed.
			name: "large plan with repeats and detail",
			keys: []loader.Key{
				{videotest.Ref("a"), false}, {videotest.Ref("b"), false}, {videotest.Ref("c"), false},
				{videotest.Ref("d"), false}, {videotest.Ref("e"), false}, {videotest.Ref("f"), false},
				{videotest.Ref("g"), false}, {videotest.Ref("h"), false}, {videotest.Ref("i"), false},
				{videotest.Ref("j"), false}, {videotest.Ref("a"), true}, {videotest.Ref("j"), false},
				{videotest.Ref("k"), true}, {videotest.Ref("k"), false},
			},
			wantFull: names("a", "k"),
			wantList: names("b", "c", "d", "e", "f", "g", "h", "i", "j"),
		},
		{
			name: "other scope is another video",
			keys: []loader.Key{
				{videotest.Ref("a"), false}, {memories.VideoRef{UniqueID: "other", VideoNo: "a"}, false},
			},
			wantList: []string{"default/a", "other/a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &videotest.Fetcher{}
			var s sizes
			l := loader.New(t.Context(), f, videotest.Account(t, testKey), s.add)
			l.Prefetch(tt.keys)

			// Every key's reference, as a resolver makes it; a ref that any
			// key needs in full is answered in full to all its references.
			full := map[memories.VideoRef]bool{}
			for _, k := range tt.keys {
				full[k.Ref] = full[k.Ref] || k.Detail
			}
			for _, k := range tt.keys {
				v, err := l.Load(t.Context(), k.Ref, k.Detail)
				if err != nil || v == nil {
					t.Fatalf("Load(%v, %v) = %v, %v; want a video", k.Ref, k.Detail, v, err)
				}
				if got, want := v.VideoNo, k.Ref.VideoNo; got != want {
					t.Errorf("Load(%v).VideoNo = %q; want %q", k.Ref, got, want)
				}
				if got, want := v.Detailed, full[k.Ref]; got != want {
					t.Errorf("Load(%v, %v).Detailed = %v; want %v", k.Ref, k.Detail, got, want)
				}
			}
			// And once more as one list, per kind.
			for _, detail := range []bool{false, true} {
				var rs []memories.VideoRef
				for _, k := range tt.keys {
					if k.Detail == detail {
						rs = append(rs, k.Ref)
					}
				}
				if len(rs) == 0 {
					continue
				}
				vs, errs := l.LoadMany(t.Context(), rs, detail)
				if errs != nil {
					t.Fatalf("LoadMany(detail=%v) errs = %v; want nil", detail, errs)
				}
				for i, v := range vs {
					if v == nil || v.VideoNo != rs[i].VideoNo {
						t.Errorf("LoadMany(detail=%v)[%d] = %v; want video %q", detail, i, v, rs[i].VideoNo)
					}
				}
			}

			gotFull, gotList, nFull, nList := byKind(f.Calls())
			if want := min(len(tt.wantFull), 1); nFull != want {
				t.Errorf("detail calls = %d; want %d", nFull, want)
			}
			if want := min(len(tt.wantList), 1); nList != want {
				t.Errorf("list calls = %d; want %d", nList, want)
			}
			if !slices.Equal(gotFull, tt.wantFull) {
				t.Errorf("detail refs = %v; want %v", gotFull, tt.wantFull)
			}
			if !slices.Equal(gotList, tt.wantList) {
				t.Errorf("list refs = %v; want %v", gotList, tt.wantList)
			}
			if got, want := s.get(), []int{len(tt.wantFull) + len(tt.wantList)}; !slices.Equal(got, want) {
				t.Errorf("batch sizes = %v; want %v", got, want)
			}
		})
	}
}

// A video planned in full serves a reference that wants only the list
// fields: the very same answer, no second call.
func TestPlannedFullServesListReference(t *testing.T) {
	f := &videotest.Fetcher{}
	l := loader.New(t.Context(), f, videotest.Account(t, testKey), nil)
	l.Prefetch([]loader.Key{{videotest.Ref("a"), false}, {videotest.Ref("a"), true}})
	list, err := l.Load(t.Context(), videotest.Ref("a"), false)
	if err != nil || list == nil {
		t.Fatalf("Load(a, false) = %v, %v; want a video", list, err)
	}
	if !list.Detailed {
		t.Errorf("Load(a, false).Detailed = false; want true (the full answer)")
	}
	full, err := l.Load(t.Context(), videotest.Ref("a"), true)
	if err != nil || full != list {
		t.Errorf("Load(a, true) = %p, %v; want the same video %p", full, err, list)
	}
	calls := f.Calls()
	if got, want := len(calls), 1; got != want {
		t.Fatalf("calls = %d (%v); want %d", got, calls, want)
	}
	if c := calls[0]; !c.Detail || !slices.Equal(c.Refs, videotest.Refs("a")) {
		t.Errorf("call = %v detail=%v; want [a] detail=true", c.Refs, c.Detail)
	}
}

// Loads that no plan announced still share a batch, and repeated refs one
// fetch; the answers keep the order asked.
func TestUnplannedLoadsBatchAndDedupe(t *testing.T) {
	var nos []string
	for i := range 50 {
		nos = append(nos, fmt.Sprintf("v%02d", i))
	}
	asked := videotest.Refs(nos...)
	asked = append(asked, asked[:10]...) // 60 refs, 50 distinct
	asked = append(asked, videotest.Ref("missing"))
	tests := []struct {
		name   string
		plan   []loader.Key
		detail bool
	}{
		{name: "no plan"},
		{name: "no plan, detail", detail: true},
		{name: "plan of other videos", plan: []loader.Key{{videotest.Ref("p1"), false}, {videotest.Ref("p2"), true}}},
		// v00 is planned without detail: asking it in full goes outside the plan.
		{name: "planned without detail, asked in full", plan: []loader.Key{{videotest.Ref("v00"), false}}, detail: true},
	}
	for _, tt := range tests {
		// In a bubble the loader's wait window is fake time, which passes only
		// once every goroutine is blocked: the test sees the batching rule
		// (keys queued before the caller waits share a batch) free of the
		// scheduler's pauses, which can split a 1ms window under -race.
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &videotest.Fetcher{}
				var s sizes
				l := loader.New(t.Context(), f, videotest.Account(t, testKey), s.add)
				if tt.plan != nil {
					l.Prefetch(tt.plan)
					for _, k := range tt.plan { // let the planned batch finish
						if _, err := l.Load(t.Context(), k.Ref, k.Detail); err != nil {
							t.Fatal(err)
						}
					}
				}
				before := len(f.Calls())
				vs, errs := l.LoadMany(t.Context(), asked, tt.detail)
				if errs != nil {
					t.Fatalf("errs = %v; want nil", errs)
				}
				if got, want := len(vs), len(asked); got != want {
					t.Fatalf("len(videos) = %d; want %d", got, want)
				}
				for i, v := range vs {
					want := asked[i].VideoNo
					if want == "missing" {
						if v != nil {
							t.Errorf("videos[%d] = %v; want nil", i, v)
						}
						continue
					}
					if v == nil || v.VideoNo != want || v.Detailed != tt.detail {
						t.Errorf("videos[%d] = %+v; want %q Detailed=%v", i, v, want, tt.detail)
					}
				}
				calls := f.Calls()[before:]
				if got, want := len(calls), 1; got != want {
					t.Fatalf("calls for LoadMany = %d; want %d", got, want)
				}
				c := calls[0]
				if got, want := len(c.Refs), 51; got != want {
					t.Errorf("refs in the call = %d; want %d (distinct)", got, want)
				}
				if c.Detail != tt.detail {
					t.Errorf("call detail = %v; want %v", c.Detail, tt.detail)
				}
				if got := s.get(); got[len(got)-1] != 51 {
					t.Errorf("batch sizes = %v; want the last to be 51", got)
				}
				// Asked again: answered from the request's loader.
				if _, errs := l.LoadMany(t.Context(), asked, tt.detail); errs != nil {
					t.Fatalf("errs = %v; want nil", errs)
				}
				if got, want := len(f.Calls())-before, 1; got != want {
					t.Errorf("calls after asking again = %d; want %d", got, want)
				}
			})
		})
	}
}

// Within one request a failure is kept: every reference to the video gets
// the same error, and the Fetcher is not asked again.
func TestFailureSharedWithinRequest(t *testing.T) {
	errBad := &memories.Error{Kind: memories.KindUpstream, Err: errors.New("boom")}
	errDenied := &memories.Error{Kind: memories.KindForbidden}
	tests := []struct {
		name    string
		plan    bool
		no      string
		wantErr error
	}{
		{"planned transient", true, "bad", errBad},
		{"unplanned transient", false, "bad", errBad},
		{"planned definite", true, "denied", errDenied},
		{"unplanned definite", false, "denied", errDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &videotest.Fetcher{Errs: map[string]error{"bad": errBad, "denied": errDenied}}
			l := loader.New(t.Context(), f, videotest.Account(t, testKey), nil)
			if tt.plan {
				l.Prefetch([]loader.Key{{videotest.Ref(tt.no), false}, {videotest.Ref("ok"), false}})
			}
			var got []error
			for range 2 {
				v, err := l.Load(t.Context(), videotest.Ref(tt.no), false)
				if v != nil {
					t.Errorf("Load(%s) video = %v; want nil", tt.no, v)
				}
				got = append(got, err)
			}
			_, errs := l.LoadMany(t.Context(), videotest.Refs(tt.no, "ok", tt.no), false)
			if errs == nil {
				t.Fatal("LoadMany errs = nil; want the failure")
			}
			got = append(got, errs[0], errs[2])
			if errs[1] != nil {
				t.Errorf("LoadMany errs[1] (ok) = %v; want nil", errs[1])
			}
			for i, err := range got {
				if err != tt.wantErr {
					t.Errorf("error %d = %v; want the fetch's own %v", i, err, tt.wantErr)
				}
			}
			n := 0
			for _, c := range f.Calls() {
				for _, r := range c.Refs {
					if r.VideoNo == tt.no {
						n++
					}
				}
			}
			if n != 1 {
				t.Errorf("fetches of %s = %d; want 1 (no retry within the request)", tt.no, n)
			}
		})
	}
}

func TestNoAccount(t *testing.T) {
	for _, plan := range []bool{false, true} {
		t.Run(fmt.Sprintf("plan=%v", plan), func(t *testing.T) {
			f := &videotest.Fetcher{}
			var s sizes
			l := loader.New(t.Context(), f, account.Account{}, s.add)
			if plan {
				l.Prefetch([]loader.Key{{videotest.Ref("a"), true}, {videotest.Ref("b"), false}})
			}
			vs, errs := l.LoadMany(t.Context(), videotest.Refs("a", "b", "a"), false)
			if len(errs) != 3 {
				t.Fatalf("errs = %v; want 3 errors", errs)
			}
			for i, err := range errs {
				if !errors.Is(err, loader.ErrNoAccount) {
					t.Errorf("errs[%d] = %v; want ErrNoAccount", i, err)
				}
				if vs[i] != nil {
					t.Errorf("videos[%d] = %v; want nil", i, vs[i])
				}
			}
			if _, err := l.Load(t.Context(), videotest.Ref("c"), true); !errors.Is(err, loader.ErrNoAccount) {
				t.Errorf("Load(c) = %v; want ErrNoAccount", err)
			}
			if got := f.Calls(); len(got) != 0 {
				t.Errorf("calls without an account = %v; want none", got)
			}
			var me *memories.Error
			if !errors.As(loader.ErrNoAccount, &me) || me.Kind != memories.KindUnauthenticated {
				t.Errorf("ErrNoAccount = %v; want a KindUnauthenticated *memories.Error", loader.ErrNoAccount)
			}
			want := []int{2, 1} // a and b (planned, or one deduplicated batch); then c
			if got := s.get(); !slices.Equal(got, want) {
				t.Errorf("batch sizes = %v; want %v", got, want)
			}
		})
	}
}

// The request's context ending ends its batches.
func TestRequestEndCancelsFetches(t *testing.T) {
	for _, plan := range []bool{false, true} {
		t.Run(fmt.Sprintf("plan=%v", plan), func(t *testing.T) {
			f := &videotest.Fetcher{Hold: make(chan struct{}), Started: make(chan struct{})}
			req, cancel := context.WithCancel(t.Context())
			defer cancel()
			l := loader.New(req, f, videotest.Account(t, testKey), nil)
			go func() { <-f.Started; cancel() }()
			if plan {
				l.Prefetch([]loader.Key{{videotest.Ref("slow"), false}})
			}
			_, err := l.Load(t.Context(), videotest.Ref("slow"), false)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Load after the request ended = %v; want context.Canceled", err)
			}
		})
	}
}

// A field's own context does not reach the batch: a cancelled field still
// gets its answer, since the batch serves the whole request.
func TestCancelledFieldContextDoesNotFailBatch(t *testing.T) {
	for _, plan := range []bool{false, true} {
		t.Run(fmt.Sprintf("plan=%v", plan), func(t *testing.T) {
			f := &videotest.Fetcher{}
			l := loader.New(t.Context(), f, videotest.Account(t, testKey), nil)
			if plan {
				l.Prefetch([]loader.Key{{videotest.Ref("a"), false}, {videotest.Ref("b"), false}})
			}
			field, cancel := context.WithCancel(t.Context())
			cancel()
			vs, errs := l.LoadMany(field, videotest.Refs("a", "b"), false)
			if errs != nil {
				t.Fatalf("LoadMany on a cancelled field ctx errs = %v; want nil", errs)
			}
			for i, v := range vs {
				if v == nil {
					t.Errorf("videos[%d] = nil; want a video", i)
				}
			}
		})
	}
}

// NewContext gives each request its own loader, bound to its account,
// so nothing is shared across requests or accounts.
func TestLoaderPerRequest(t *testing.T) {
	f := &videotest.Fetcher{}
	var s sizes
	h := withLoader(f, 5*time.Second, s.add, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := loader.For(r.Context())
		if l2, ok := loader.FromContext(r.Context()); !ok || l2 != l {
			t.Errorf("FromContext = %p, %v; want %p, true", l2, ok, l)
		}
		if _, err := l.Load(r.Context(), videotest.Ref("a"), false); err != nil {
			t.Error(err)
		}
	}))
	for i := range 3 {
		req := httptest.NewRequest(http.MethodPost, "/query", nil)
		req.Header.Set("Authorization", fmt.Sprintf("key-%d", i))
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	calls := f.Calls()
	if got, want := len(calls), 3; got != want {
		t.Errorf("calls over 3 requests = %d; want %d (no loader outlives its request)", got, want)
	}
	accts := map[string]bool{}
	for _, c := range calls {
		accts[c.Account] = true
	}
	if got, want := len(accts), 3; got != want {
		t.Errorf("accounts seen = %d; want %d", got, want)
	}
	if got, want := s.get(), []int{1, 1, 1}; !slices.Equal(got, want) {
		t.Errorf("batch sizes = %v; want %v", got, want)
	}
}

// A request without an account gets ErrNoAccount, not a call.
func TestRequestWithoutAccount(t *testing.T) {
	f := &videotest.Fetcher{}
	var err error
	h := withLoader(f, 5*time.Second, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err = loader.For(r.Context()).Load(r.Context(), videotest.Ref("a"), false)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/query", nil))
	if !errors.Is(err, loader.ErrNoAccount) {
		t.Errorf("Load = %v; want ErrNoAccount", err)
	}
	if got := f.Calls(); len(got) != 0 {
		t.Errorf("calls = %v; want none", got)
	}
}

// The loader's fetches end at the request's timeout, whatever the
// field's context.
func TestRequestTimeoutEndsFetches(t *testing.T) {
	const timeout = 50 * time.Millisecond
	f := &videotest.Fetcher{Hold: make(chan struct{})}
	var err error
	var elapsed time.Duration
	h := withLoader(f, timeout, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// A field context without the request's deadline: the loader's own
		// context must still end.
		_, err = loader.For(r.Context()).Load(context.WithoutCancel(r.Context()), videotest.Ref("slow"), false)
		elapsed = time.Since(start)
	}))
	req := httptest.NewRequest(http.MethodPost, "/query", nil)
	req.Header.Set("Authorization", "k")
	start := time.Now()
	h.ServeHTTP(httptest.NewRecorder(), req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Load = %v; want context.DeadlineExceeded", err)
	}
	var ctxErr error
	var dl time.Time
	var hasDL bool
	if calls := f.Calls(); len(calls) > 0 { // the blocked call
		c := calls[len(calls)-1]
		ctxErr, dl, hasDL = c.Err, c.Deadline, c.HasDeadline
	}
	if !errors.Is(ctxErr, context.DeadlineExceeded) {
		t.Errorf("Fetcher ctx.Err() = %v; want context.DeadlineExceeded", ctxErr)
	}
	if !hasDL || dl.Before(start) || dl.After(start.Add(timeout+time.Second)) {
		t.Errorf("Fetcher ctx deadline = %v (set %v); want about %v after %v", dl, hasDL, timeout, start)
	}
	if elapsed < timeout/2 || elapsed > 10*time.Second {
		t.Errorf("Load took %v; want about %v", elapsed, timeout)
	}
}

func TestForWithoutLoaderPanics(t *testing.T) {
	if _, ok := loader.FromContext(t.Context()); ok {
		t.Error("FromContext(no loader) ok = true; want false")
	}
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.Contains(s, "NewContext") {
			t.Errorf("For(no loader) panic = %v; want a panic naming NewContext", r)
		}
	}()
	loader.For(t.Context())
}

// A panic while fetching fails the videos of its batch, planned or not,
// and not the request.
func TestPanickingFetchFailsItsVideos(t *testing.T) {
	for _, plan := range []bool{false, true} {
		t.Run(fmt.Sprintf("plan=%v", plan), func(t *testing.T) {
			panicking := &videotest.Fetcher{Before: func(context.Context) error { panic("boom") }}
			l := loader.New(t.Context(), panicking, videotest.Account(t, testKey), nil)
			if plan {
				l.Prefetch([]loader.Key{{videotest.Ref("a"), false}, {videotest.Ref("b"), false}})
			}
			vs, errs := l.LoadMany(t.Context(), videotest.Refs("a", "b"), false)
			for i := range vs {
				if vs[i] != nil || errs == nil || errs[i] == nil || !strings.Contains(errs[i].Error(), "boom") {
					t.Errorf("video %d = %v, %v; want nil and an error naming the panic", i, vs[i], errs)
				}
			}
		})
	}
}

// withLoader serves next with a loader for the account of the request's
// Authorization header, as the server does in pass-through mode.
func withLoader(f loader.Fetcher, timeout time.Duration, onBatch func(int), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acct, _ := account.New(r.Header.Get("Authorization")) // the zero Account without a key
		ctx, end := loader.NewContext(r.Context(), timeout, f, acct, onBatch)
		defer end()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// LoadAlone fetches each video in full in a call of its own, which loads
// of the same video share, and answers a video the plan fetched in full
// from the plan. Its failures are the video's own.
func TestLoadAlone(t *testing.T) {
	boom := errors.New("boom")
	f := &videotest.Fetcher{Errs: map[string]error{"bad": boom}}
	l := loader.New(t.Context(), f, videotest.Account(t, testKey), nil)
	l.Prefetch([]loader.Key{{videotest.Ref("planned"), true}, {videotest.Ref("a"), false}})
	f.Reset()

	var wg sync.WaitGroup
	got := make([]*memories.Video, 8)
	for i := range got {
		wg.Go(func() {
			v, err := l.LoadAlone(t.Context(), videotest.Ref("a"))
			if err != nil {
				t.Errorf("LoadAlone(a): %v", err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	for i, v := range got {
		if v == nil || v != got[0] || !v.Detailed {
			t.Errorf("load %d of a = %+v; want the one full video of the first", i, v)
		}
	}
	if v, err := l.LoadAlone(t.Context(), videotest.Ref("planned")); err != nil || v == nil || !v.Detailed {
		t.Errorf("LoadAlone(planned) = %+v, %v; want the plan's full video", v, err)
	}
	if _, err := l.LoadAlone(t.Context(), videotest.Ref("bad")); !errors.Is(err, boom) {
		t.Errorf("LoadAlone(bad) error = %v; want %v", err, boom)
	}
	calls := f.Calls()
	if len(calls) != 2 {
		t.Fatalf("calls = %d (%v); want 2: a, bad", len(calls), calls)
	}
	for i, want := range []string{"a", "bad"} {
		if c := calls[i]; !c.Detail || !slices.Equal(c.Refs, videotest.Refs(want)) {
			t.Errorf("call %d = %v detail=%v; want [%s] detail=true", i, c.Refs, c.Detail, want)
		}
	}
}
