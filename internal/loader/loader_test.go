package loader_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/loader"
	"github.com/memories-facade/memories-graphql/internal/memories"
)

// fakeSource answers from a map and counts calls per key.
type fakeSource struct {
	mu     sync.Mutex
	calls  map[string]int
	errFor map[string]error
	accts  map[string]bool
	delay  time.Duration
}

func newFake() *fakeSource {
	return &fakeSource{calls: map[string]int{}, errFor: map[string]error{}, accts: map[string]bool{}}
}

func (f *fakeSource) Video(ctx context.Context, acct account.Account, uniqueID, videoNo string) (*memories.Video, error) {
	f.mu.Lock()
	f.calls[uniqueID+"/"+videoNo]++
	f.accts[acct.ID()] = true
	err := f.errFor[videoNo]
	f.mu.Unlock()
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	if videoNo == "missing" {
		return nil, nil
	}
	return &memories.Video{VideoNo: videoNo}, nil
}

func (f *fakeSource) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

func newLoader(src loader.Source, done <-chan struct{}) *loader.Loader {
	acct, _ := account.New("k")
	return loader.New(src, acct, true, time.Now().Add(10*time.Second), done)
}

func TestLoadManyDeduplicatesAndKeepsOrder(t *testing.T) {
	src := newFake()
	l := newLoader(src, nil)
	keys := []loader.Key{{"default", "b"}, {"default", "a"}, {"default", "b"}, {"default", "missing"}, {"other", "a"}}
	vs, errs := l.LoadMany(context.Background(), keys)
	if errs != nil {
		t.Fatalf("errs = %v; want nil", errs)
	}
	want := []string{"b", "a", "b", "", "a"}
	for i, v := range vs {
		got := ""
		if v != nil {
			got = v.VideoNo
		}
		if got != want[i] {
			t.Errorf("vs[%d] = %q; want %q", i, got, want[i])
		}
	}
	for key, want := range map[string]int{"default/a": 1, "default/b": 1, "default/missing": 1, "other/a": 1} {
		if got := src.count(key); got != want {
			t.Errorf("calls for %s = %d; want %d", key, got, want)
		}
	}
}

func TestTransientErrorsAreNotKept(t *testing.T) {
	src := newFake()
	src.errFor["flaky"] = &memories.Error{Kind: memories.KindUpstream}
	src.errFor["denied"] = &memories.Error{Kind: memories.KindForbidden}
	l := newLoader(src, nil)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := l.Load(ctx, loader.Key{UniqueID: "default", VideoNo: "flaky"}); err == nil {
			t.Fatal("Load(flaky) = nil error; want an error")
		}
		if _, err := l.Load(ctx, loader.Key{UniqueID: "default", VideoNo: "denied"}); !errors.Is(err, memories.ErrForbidden) {
			t.Fatalf("Load(denied) = %v; want ErrForbidden", err)
		}
	}
	if got, want := src.count("default/flaky"), 2; got != want {
		t.Errorf("calls for a transient failure = %d; want %d (retried on the next Load)", got, want)
	}
	if got, want := src.count("default/denied"), 1; got != want {
		t.Errorf("calls for a definite failure = %d; want %d (kept for the request)", got, want)
	}
}

func TestNoAccount(t *testing.T) {
	src := newFake()
	l := loader.New(src, account.Account{}, false, time.Now().Add(time.Second), nil)
	_, errs := l.LoadMany(context.Background(), []loader.Key{{"default", "a"}, {"default", "b"}})
	for i, err := range errs {
		if !errors.Is(err, loader.ErrNoAccount) {
			t.Errorf("errs[%d] = %v; want ErrNoAccount", i, err)
		}
	}
	if got := src.count("default/a"); got != 0 {
		t.Errorf("calls without an account = %d; want 0", got)
	}
}

// The request ending stops its fetches.
func TestRequestEndCancelsFetches(t *testing.T) {
	src := newFake()
	src.delay = time.Minute
	done := make(chan struct{})
	l := newLoader(src, done)
	go func() { time.Sleep(20 * time.Millisecond); close(done) }()
	_, err := l.Load(context.Background(), loader.Key{UniqueID: "default", VideoNo: "slow"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Load after the request ended = %v; want context.Canceled", err)
	}
}

// The middleware gives each request its own loader, bound to the request's
// account, so nothing is shared across requests or accounts.
func TestMiddlewareLoaderPerRequest(t *testing.T) {
	src := newFake()
	var n atomic.Int32
	h := loader.Middleware(src, 5*time.Second, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := loader.For(r.Context()).Load(r.Context(), loader.Key{UniqueID: "default", VideoNo: "a"}); err != nil {
			t.Error(err)
		}
		n.Add(1)
	}))
	for i := 0; i < 3; i++ {
		acct, _ := account.New(fmt.Sprintf("key-%d", i))
		req := httptest.NewRequest(http.MethodPost, "/query", nil)
		h.ServeHTTP(httptest.NewRecorder(), req.WithContext(account.NewContext(req.Context(), acct)))
	}
	if got, want := src.count("default/a"), 3; got != want {
		t.Errorf("calls over 3 requests = %d; want %d (no loader outlives its request)", got, want)
	}
	if got, want := len(src.accts), 3; got != want {
		t.Errorf("accounts seen = %d; want %d", got, want)
	}
}
