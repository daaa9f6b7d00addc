package responsecache

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/videocache"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

type results struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *results) ResponseCacheResult(result string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]int{}
	}
	r.n[result]++
}

func (r *results) get(result string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[result]
}

// TestCache: an answer is kept only when its reads came from kept videos
// and it is small enough; it serves its own account and body only, and is
// dropped once a video it read changes.
func TestCache(t *testing.T) {
	acct := videotest.Account(t, "sk-a")
	name := "one"
	up := &videotest.Fetcher{Answer: func(_ account.Account, ref memories.VideoRef, _ bool) *memories.Video {
		n := name // each answer its own: the kept one must not change with name
		return &memories.Video{VideoNo: ref.VideoNo, VideoName: &n, Status: memories.StatusParse}
	}}
	store := videocache.NewLocal(100)
	t.Cleanup(func() { store.Close() })
	videos := videocache.New(videocache.Options{Upstream: up, Store: store, TTLs: videocache.TTLs{Parse: time.Hour}})
	read := func() *videocache.Reads {
		r := &videocache.Reads{}
		if _, errs := videos.Videos(videocache.WithReads(context.Background(), r), acct, videotest.Refs("v1", "v2"), false); errs != nil {
			t.Fatal(errs)
		}
		return r
	}
	obs := &results{}
	c := New(16<<10, videos, obs)
	ctx := context.Background()
	body, answer := []byte(`{"query":"{ videos }"}`), []byte(`{"data":{}}`)

	c.Set(acct.ID(), body, Answer{Body: answer}, read()) // read from the upstream
	if _, ok := c.Get(ctx, acct.ID(), body); ok || obs.get("kept") != 0 {
		t.Fatal("an answer that called the upstream: got kept; want not")
	}
	c.Set(acct.ID(), body, Answer{Body: answer, Operation: "Dash"}, read())
	got, ok := c.Get(ctx, acct.ID(), body)
	if !ok || string(got.Body) != string(answer) || got.Operation != "Dash" || got.Videos != 2 {
		t.Fatalf("Get: got %+v, %v; want the kept answer of Dash, 2 videos", got, ok)
	}
	for _, miss := range []struct{ account, body string }{{"other", string(body)}, {acct.ID(), `{"query":"{ other }"}`}} {
		if _, ok := c.Get(ctx, miss.account, []byte(miss.body)); ok {
			t.Errorf("Get(%q, %q): got an answer; want none", miss.account, miss.body)
		}
	}
	c.Set(acct.ID(), []byte("large"), Answer{Body: make([]byte, 1<<10+1)}, read())
	if _, ok := c.Get(ctx, acct.ID(), []byte("large")); ok {
		t.Error("an answer over a sixteenth of the size: got kept; want not")
	}

	name = "renamed"
	videos.Refresh(ctx, acct, videotest.Refs("v1"), false)
	if _, ok := c.Get(ctx, acct.ID(), body); ok {
		t.Fatal("after a video it read changed: got the answer; want none")
	}
	if got, want := obs.get("changed"), 1; got != want {
		t.Errorf("changed: got %d; want %d", got, want)
	}
	if got, want := c.Len(), 0; got != want {
		t.Errorf("answers kept after the change: got %d; want %d (dropped)", got, want)
	}
	if got, want := obs.get("replayed"), 1; got != want {
		t.Errorf("replayed: got %d; want %d", got, want)
	}
}
