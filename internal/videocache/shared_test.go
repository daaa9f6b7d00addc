package videocache

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/memories-facade/memories-graphql/internal/eventually"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/redisconn"
	"github.com/memories-facade/memories-graphql/internal/redistest"
)

func openConn(t *testing.T, rawURL string, opts redisconn.Options) *redisconn.Conn {
	t.Helper()
	conn, err := redisconn.Open(rawURL, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// What one replica keeps, another finds; keys are per account, and a
// unique id or video number with ':' cannot reach another key.
func TestSharedStoreAcrossReplicas(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	one := NewShared(openConn(t, url, redisconn.Options{Prefix: prefix}), newLocal(t))
	two := NewShared(openConn(t, url, redisconn.Options{Prefix: prefix}), newLocal(t))
	ctx := context.Background()

	a, b := mustAccount(t, "sk-secret-alpha"), mustAccount(t, "sk-secret-bravo")
	video := fullVideo(t)
	one.Set(ctx, Key{a.ID(), "default", "VI1"}, video, time.Minute)
	one.Set(ctx, Key{a.ID(), "x", "VI2"}, nil, time.Minute)
	one.Set(ctx, Key{a.ID(), "a:b", "c"}, &memories.Video{VideoNo: "c", Status: memories.StatusParse}, time.Minute)
	long := strings.Repeat("VI", 500)
	one.Set(ctx, Key{a.ID(), "default", long + "1"}, nil, time.Minute)

	for _, tt := range []struct {
		name   string
		k      Key
		want   *memories.Video
		wantOK bool
	}{
		{"kept video", Key{a.ID(), "default", "VI1"}, video, true},
		{"kept not found", Key{a.ID(), "x", "VI2"}, nil, true},
		{"other account", Key{b.ID(), "default", "VI1"}, nil, false},
		{"other unique id", Key{a.ID(), "other", "VI1"}, nil, false},
		{"colon cannot alias", Key{a.ID(), "a", "b:c"}, nil, false},
		{"colon key itself", Key{a.ID(), "a:b", "c"}, &memories.Video{VideoNo: "c", Status: memories.StatusParse}, true},
		{"long video no", Key{a.ID(), "default", long + "1"}, nil, true},
		{"other long video no", Key{a.ID(), "default", long + "2"}, nil, false},
	} {
		got, ok := two.Get(ctx, tt.k)
		if ok != tt.wantOK || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Get = %+v, %v; want %+v, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}

	keys := redistest.Keys(t, url, prefix)
	if got, want := len(keys), 4; got != want {
		t.Errorf("keys = %q; want %d", keys, want)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix+":v1:video:"+a.ID()+":") {
			t.Errorf("key %q; want it under the account's namespace", k)
		}
		if len(k) > 300 {
			t.Errorf("key %q is %d bytes; want long parts hashed", k, len(k))
		}
		if strings.Contains(k, "sk-secret") {
			t.Errorf("key %q contains the API key", k)
		}
	}
	ttl := two.conn.Client().PTTL(ctx, one.key(Key{a.ID(), "default", "VI1"})).Val()
	if ttl <= 0 || ttl > time.Minute {
		t.Errorf("expiry = %v; want the TTL given (1m) as the key's expiry", ttl)
	}
}

// While Redis is down the local store serves, warmed by earlier writes.
func TestSharedStoreFallsBackToLocal(t *testing.T) {
	srv := redistest.StartServer(t)
	conn := openConn(t, srv.URL(), redisconn.Options{ProbeEvery: 20 * time.Millisecond})
	s := NewShared(conn, newLocal(t))
	ctx := context.Background()
	acct := mustAccount(t, "sk-a")
	before := Key{acct.ID(), "default", "before"}
	during := Key{acct.ID(), "default", "during"}
	v := &memories.Video{VideoNo: "before", Status: memories.StatusParse}
	s.Set(ctx, before, v, time.Minute)

	srv.Stop()
	if got, ok := s.Get(ctx, before); !ok || got != v {
		t.Errorf("Redis down: Get(before) = %+v, %v; want the locally kept video", got, ok)
	}
	if conn.Up() {
		t.Errorf("conn.Up() = true after a failed command; want false")
	}
	s.Set(ctx, during, nil, time.Minute)
	if _, ok := s.Get(ctx, during); !ok {
		t.Errorf("Redis down: Get(during) missed; want the locally kept answer")
	}

	srv.Start()
	eventually.True(t, "redis available again", conn.Up)
	// The restarted Redis is empty, and now serves again.
	if _, ok := s.Get(ctx, before); ok {
		t.Errorf("Redis back: Get(before) hit; want Redis's miss")
	}
	s.Set(ctx, before, v, time.Minute)
	if got, ok := s.Get(ctx, before); !ok || got.VideoNo != "before" {
		t.Errorf("Redis back: Get(before) = %+v, %v; want the video", got, ok)
	}
}

// sharedSources returns n Sources over one upstream, each with its own
// connection to one Redis namespace, as n replicas have.
func sharedSources(t *testing.T, n int, up Upstream) ([]*Source, []*Shared) {
	t.Helper()
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	var sources []*Source
	var stores []*Shared
	for range n {
		// A generous command timeout: on a loaded machine a slow reply
		// would turn Redis "down", and each replica would fetch for itself.
		store := NewShared(openConn(t, url, redisconn.Options{Prefix: prefix, Timeout: 2 * time.Second}), newLocal(t))
		stores = append(stores, store)
		sources = append(sources, New(up, store, TTLs{Parse: time.Minute, NotFound: time.Minute}))
	}
	return sources, stores
}

// Replicas missing one video at once make one upstream call between them.
func TestSharedLeaseOneCallAcrossReplicas(t *testing.T) {
	acct := mustAccount(t, "sk-a")
	k := Key{acct.ID(), "default", "VI1"}
	want := &memories.Video{VideoNo: "VI1", Status: memories.StatusParse}
	up := &fakeUpstream{videos: map[Key]*memories.Video{k: want}, gate: make(chan struct{})}
	sources, _ := sharedSources(t, 3, up)

	var wg sync.WaitGroup
	got := make([]*memories.Video, len(sources))
	errs := make([]error, len(sources))
	for i, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = s.Video(context.Background(), acct, "default", "VI1")
		}()
	}
	eventually.True(t, "one upstream call", func() bool { return up.callCount() == 1 })
	time.Sleep(100 * time.Millisecond) // the others reach the lease meanwhile
	close(up.gate)
	wg.Wait()
	for i := range sources {
		if errs[i] != nil || got[i] == nil || got[i].VideoNo != "VI1" {
			t.Errorf("replica %d: Video = %+v, %v; want VI1", i, got[i], errs[i])
		}
	}
	if got, want := up.callCount(), 1; got != want {
		t.Errorf("upstream calls = %d; want %d", got, want)
	}
}

// A replica that died holding a lease delays the others until the lease
// expires, then one of them fetches.
func TestSharedLeaseOfDeadReplicaExpires(t *testing.T) {
	acct := mustAccount(t, "sk-a")
	k := Key{acct.ID(), "default", "VI1"}
	up := &fakeUpstream{videos: map[Key]*memories.Video{k: {VideoNo: "VI1", Status: memories.StatusParse}}}
	sources, stores := sharedSources(t, 1, up)
	const dead = 500 * time.Millisecond
	if err := stores[0].conn.Client().Set(context.Background(), stores[0].leaseKey(k), "gone", dead).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	v, err := sources[0].Video(context.Background(), acct, "default", "VI1")
	if err != nil || v == nil {
		t.Fatalf("Video = %+v, %v; want VI1", v, err)
	}
	if waited := time.Since(start); waited < dead/2 {
		t.Errorf("answered after %v; want a wait for the held lease (%v)", waited, dead)
	}
	if got := up.callCount(); got != 1 {
		t.Errorf("upstream calls = %d; want 1", got)
	}
}

// A holder whose call fails keeps nothing; a waiting replica then makes its
// own call rather than share the failure.
func TestSharedLeaseFailureIsNotShared(t *testing.T) {
	acct := mustAccount(t, "sk-a")
	boom := &memories.Error{Kind: memories.KindUpstream}
	up := &fakeUpstream{errs: map[string]error{"VI1": boom}, gate: make(chan struct{})}
	sources, _ := sharedSources(t, 2, up)

	first := make(chan error, 1)
	go func() {
		_, err := sources[0].Video(context.Background(), acct, "default", "VI1")
		first <- err
	}()
	eventually.True(t, "the first call", func() bool { return up.callCount() == 1 })
	second := make(chan error, 1)
	go func() {
		_, err := sources[1].Video(context.Background(), acct, "default", "VI1")
		second <- err
	}()
	time.Sleep(100 * time.Millisecond) // the second waits on the lease
	if got := up.callCount(); got != 1 {
		t.Fatalf("upstream calls while the lease is held = %d; want 1", got)
	}
	close(up.gate)
	for i, ch := range []chan error{first, second} {
		if err := <-ch; !errors.Is(err, boom) {
			t.Errorf("replica %d: err = %v; want the upstream error", i, err)
		}
	}
	if got := up.callCount(); got != 2 {
		t.Errorf("upstream calls = %d; want 2 (the waiter tried itself)", got)
	}
}

// A lease is held until its holder releases it, however long that takes;
// a stale holder cannot release its successor's; while Redis is down every
// claim is granted.
func TestSharedLease(t *testing.T) {
	srv := redistest.StartServer(t)
	conn := openConn(t, srv.URL(), redisconn.Options{ProbeEvery: 20 * time.Millisecond, Timeout: 2 * time.Second})
	one, two := NewShared(conn, newLocal(t)), NewShared(conn, newLocal(t))
	ctx := context.Background()
	k := Key{mustAccount(t, "sk-a").ID(), "default", "VI1"}

	release, held := one.Lease(ctx, k)
	if !held {
		t.Fatal("first Lease: held = false; want true")
	}
	if _, held := two.Lease(ctx, k); held {
		t.Error("second Lease while held: held = true; want false")
	}
	release()
	release() // twice is harmless
	release2, held := two.Lease(ctx, k)
	if !held {
		t.Fatal("Lease after release: held = false; want true")
	}
	release() // the old holder's release must not end the new lease
	if _, held := one.Lease(ctx, k); held {
		t.Error("Lease after a stale release: held = true; want false")
	}
	release2()

	// The holder renews its lease for as long as it fetches.
	one.leaseTTL = 1500 * time.Millisecond
	release, held = one.Lease(ctx, k)
	if !held {
		t.Fatal("Lease: held = false; want true")
	}
	time.Sleep(3 * one.leaseTTL)
	if _, held := two.Lease(ctx, k); held {
		t.Error("Lease past the TTL of a renewed lease: held = true; want false")
	}
	release()

	srv.Stop()
	one.Get(ctx, k) // notices Redis is down
	for i := range 2 {
		if release, held := one.Lease(ctx, k); !held {
			t.Errorf("Redis down, Lease %d: held = false; want true (each replica fetches)", i)
		} else {
			release()
		}
	}
}

// A caller waiting on another replica's lease stops at its own deadline,
// with a timeout, and makes no call.
func TestSharedLeaseWaiterDeadline(t *testing.T) {
	acct := mustAccount(t, "sk-a")
	k := Key{acct.ID(), "default", "VI1"}
	up := &fakeUpstream{videos: map[Key]*memories.Video{k: {VideoNo: "VI1", Status: memories.StatusParse}}}
	sources, stores := sharedSources(t, 1, up)
	if err := stores[0].conn.Client().Set(context.Background(), stores[0].leaseKey(k), "busy", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	v, err := sources[0].Video(ctx, acct, "default", "VI1")
	if !errors.Is(err, memories.ErrTimeout) {
		t.Errorf("Video = %+v, %v; want a timeout", v, err)
	}
	if got := up.callCount(); got != 0 {
		t.Errorf("upstream calls = %d; want 0", got)
	}
}

// Time spent waiting on another replica's lease shows as a span of its own
// under the lookup.
func TestSharedLeaseWaitIsTraced(t *testing.T) {
	acct := mustAccount(t, "sk-a")
	k := Key{acct.ID(), "default", "VI1"}
	up := &fakeUpstream{videos: map[Key]*memories.Video{k: {VideoNo: "VI1", Status: memories.StatusParse}}}
	sources, stores := sharedSources(t, 1, up)
	rec := tracetest.NewSpanRecorder()
	sources[0].Trace(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("test"))
	if err := stores[0].conn.Client().Set(context.Background(), stores[0].leaseKey(k), "gone", 200*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := sources[0].Video(context.Background(), acct, "default", "VI1"); err != nil {
		t.Fatal(err)
	}
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		byName[s.Name()] = s
	}
	lookup, wait := byName["videocache.lookup"], byName["videocache.await_replica"]
	if lookup == nil || wait == nil {
		t.Fatalf("spans = %v; want a lookup and a wait", byName)
	}
	if wait.Parent().SpanID() != lookup.SpanContext().SpanID() {
		t.Errorf("wait span's parent = %s; want the lookup %s", wait.Parent().SpanID(), lookup.SpanContext().SpanID())
	}
	if d := wait.EndTime().Sub(wait.StartTime()); d < 100*time.Millisecond {
		t.Errorf("wait span lasted %v; want the lease's time (200ms)", d)
	}
}
