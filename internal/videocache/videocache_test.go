package videocache

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/eventually"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/upstream"
)

// fakeUpstream serves videos by (account, unique id, video no) and counts
// calls. While gate is non-nil, calls wait for it to close.
type fakeUpstream struct {
	mu     sync.Mutex
	videos map[Key]*memories.Video
	errs   map[string]error // by video no
	calls  int
	gate   chan struct{}
	// needTime: a call with less time than this fails as rate limited.
	needTime time.Duration
}

func (f *fakeUpstream) Video(ctx context.Context, acct account.Account, uniqueID, videoNo string) (*memories.Video, error) {
	f.mu.Lock()
	f.calls++
	gate, needTime := f.gate, f.needTime
	v := f.videos[Key{acct.ID(), uniqueID, videoNo}]
	err := f.errs[videoNo]
	f.mu.Unlock()
	if d, ok := ctx.Deadline(); ok && needTime > 0 && time.Until(d) < needTime {
		return nil, &upstream.RateLimitedError{RetryAfter: time.Second}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, &memories.Error{Kind: memories.KindTimeout, Err: ctx.Err()} // as the client does
			}
			return nil, ctx.Err()
		}
	}
	return v, err
}

func (f *fakeUpstream) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func str(s string) *string { return &s }

func mustAccount(t testing.TB, key string) account.Account {
	t.Helper()
	a, ok := account.New(key)
	if !ok {
		t.Fatalf("account.New(%q) failed", key)
	}
	return a
}

func newLocal(t testing.TB) *Local {
	t.Helper()
	l, err := NewLocal(1000)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
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
			t.Errorf("%s: For = %v; want %v", tt.name, got, tt.want)
		}
	}
}

// Each kind of answer is kept when its TTL is positive and asked again
// when it is zero; errors are never kept.
func TestSourceKeepsAnswersByTTL(t *testing.T) {
	acct := mustAccount(t, "sk-a")
	videos := map[string]*memories.Video{
		"parse":   {VideoNo: "parse", Status: memories.StatusParse},
		"failed":  {VideoNo: "failed", Status: memories.StatusFailed},
		"unparse": {VideoNo: "unparse", Status: memories.StatusUnparse},
	}
	for _, tt := range []struct {
		name      string
		videoNo   string
		ttl       TTLs
		wantCalls int // after two look-ups
	}{
		{"parse kept", "parse", allTTLs, 1},
		{"failed kept", "failed", allTTLs, 1},
		{"unparse kept", "unparse", allTTLs, 1},
		{"not found kept", "missing", allTTLs, 1},
		{"parse with TTL 0", "parse", TTLs{Failed: time.Hour, Unparse: time.Hour, NotFound: time.Hour}, 2},
		{"failed with TTL 0", "failed", TTLs{Parse: time.Hour, Unparse: time.Hour, NotFound: time.Hour}, 2},
		{"unparse with TTL 0", "unparse", TTLs{Parse: time.Hour, Failed: time.Hour, NotFound: time.Hour}, 2},
		{"not found with TTL 0", "missing", TTLs{Parse: time.Hour, Failed: time.Hour, Unparse: time.Hour}, 2},
		{"error never kept", "broken", allTTLs, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := &fakeUpstream{
				videos: map[Key]*memories.Video{},
				errs:   map[string]error{"broken": &memories.Error{Kind: memories.KindUpstream}},
			}
			for no, v := range videos {
				up.videos[Key{acct.ID(), "default", no}] = v
			}
			src := New(up, newLocal(t), tt.ttl)
			for i := range 2 {
				got, err := src.Video(context.Background(), acct, "default", tt.videoNo)
				want := videos[tt.videoNo]
				if tt.videoNo == "broken" {
					if err == nil {
						t.Errorf("look-up %d: err = nil; want the upstream's error", i)
					}
					continue
				}
				if err != nil || got != want {
					t.Errorf("look-up %d = %+v, %v; want %+v, nil", i, got, err, want)
				}
			}
			if got := up.callCount(); got != tt.wantCalls {
				t.Errorf("upstream calls = %d; want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestSourceEntriesExpire(t *testing.T) {
	acct := mustAccount(t, "sk-a")
	up := &fakeUpstream{videos: map[Key]*memories.Video{}}
	src := New(up, newLocal(t), TTLs{NotFound: time.Millisecond})
	for range 2 {
		if _, err := src.Video(context.Background(), acct, "default", "VI1"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, want := up.callCount(), 2; got != want {
		t.Errorf("upstream calls = %d; want %d (the entry expired)", got, want)
	}
}

// Two accounts asking for the same video numbers each get their own answer.
func TestSourceSeparatesAccounts(t *testing.T) {
	a, b := mustAccount(t, "sk-a"), mustAccount(t, "sk-b")
	up := &fakeUpstream{videos: map[Key]*memories.Video{
		{a.ID(), "default", "VI1"}: {VideoNo: "VI1", VideoName: str("a's"), Status: memories.StatusParse},
		{b.ID(), "default", "VI1"}: {VideoNo: "VI1", VideoName: str("b's"), Status: memories.StatusParse},
	}}
	src := New(up, newLocal(t), allTTLs)
	for range 2 {
		for _, tt := range []struct {
			acct account.Account
			want string
		}{{a, "a's"}, {b, "b's"}} {
			v, err := src.Video(context.Background(), tt.acct, "default", "VI1")
			if err != nil || v == nil || *v.VideoName != tt.want {
				t.Errorf("%v: Video = %+v, %v; want %s", tt.acct, v, err, tt.want)
			}
		}
	}
	if got, want := up.callCount(), 2; got != want {
		t.Errorf("upstream calls = %d; want %d (one per account)", got, want)
	}
}

// 50 concurrent look-ups of one video make one upstream call; one of them
// giving up does not fail the others.
func TestSourceCoalescesConcurrentLookups(t *testing.T) {
	acct := mustAccount(t, "sk-a")
	want := &memories.Video{VideoNo: "VI1", Status: memories.StatusParse}
	up := &fakeUpstream{videos: map[Key]*memories.Video{{acct.ID(), "default", "VI1"}: want}, gate: make(chan struct{})}
	src := New(up, newLocal(t), allTTLs)

	const n = 50
	type result struct {
		v   *memories.Video
		err error
	}
	results := make([]chan result, n)
	ctx0, cancel0 := context.WithCancel(context.Background())
	defer cancel0()
	for i := range n {
		results[i] = make(chan result, 1)
		ctx := context.Background()
		if i == 0 {
			ctx = ctx0
		}
		go func() {
			v, err := src.Video(ctx, acct, "default", "VI1")
			results[i] <- result{v, err}
		}()
		if i == 0 {
			eventually.True(t, "the first call", func() bool { return up.callCount() == 1 })
		}
	}
	eventually.True(t, "every caller to join", func() bool {
		return src.flights.Waiters(Key{acct.ID(), "default", "VI1"}) == n
	})
	cancel0() // the caller that started the call gives up
	if r := <-results[0]; !errors.Is(r.err, context.Canceled) {
		t.Errorf("cancelled caller: err = %v; want context.Canceled", r.err)
	}
	close(up.gate)
	for i := 1; i < n; i++ {
		if r := <-results[i]; r.err != nil || r.v != want {
			t.Errorf("caller %d = %+v, %v; want the video", i, r.v, r.err)
		}
	}
	if got := up.callCount(); got != 1 {
		t.Errorf("upstream calls = %d; want 1", got)
	}
}

// A caller with a short deadline that starts the shared call does not fail
// a caller with more time: that one asks again on its own time.
func TestSourceShortDeadlineDoesNotFailOthers(t *testing.T) {
	acct := mustAccount(t, "sk-a")
	want := &memories.Video{VideoNo: "VI1", Status: memories.StatusParse}
	up := &fakeUpstream{videos: map[Key]*memories.Video{{acct.ID(), "default", "VI1"}: want}, needTime: time.Hour}
	src := New(up, newLocal(t), allTTLs)

	short, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := src.Video(short, acct, "default", "VI1"); !errors.As(err, new(*upstream.RateLimitedError)) {
		t.Fatalf("short deadline: err = %v; want *upstream.RateLimitedError", err)
	}
	long, cancel2 := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel2()
	if v, err := src.Video(long, acct, "default", "VI1"); err != nil || v != want {
		t.Errorf("long deadline = %+v, %v; want the video", v, err)
	}
}

// A caller whose deadline passes while it waits gets an upstream timeout.
func TestSourceCallerDeadlineIsTimeout(t *testing.T) {
	acct := mustAccount(t, "sk-a")
	up := &fakeUpstream{videos: map[Key]*memories.Video{}, gate: make(chan struct{})}
	defer close(up.gate)
	src := New(up, newLocal(t), allTTLs)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := src.Video(ctx, acct, "default", "VI1")
	var me *memories.Error
	if !errors.As(err, &me) || me.Kind != memories.KindTimeout {
		t.Errorf("err = %v; want a memories timeout", err)
	}
}
