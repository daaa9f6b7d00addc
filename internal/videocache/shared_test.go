package videocache

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/memories-facade/memories-graphql/internal/redistest/redisconntest"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

// sharedPair returns two Shared stores over one namespace of r, as two
// replicas have.
func sharedPair(t *testing.T, r redistest.Redis) (url, prefix string, one, two *Shared) {
	t.Helper()
	url = r.URL
	prefix = redistest.Prefix(t, url)
	one = NewShared(redisconntest.OpenRedis(t, r, redisconn.Options{Prefix: prefix, Timeout: 2 * time.Second}), newLocal(t))
	two = NewShared(redisconntest.OpenRedis(t, r, redisconn.Options{Prefix: prefix, Timeout: 2 * time.Second}), newLocal(t))
	return url, prefix, one, two
}

// What one replica keeps, another finds, all in one call; keys are per
// account, and a unique id or video number with ':' cannot reach another
// key.
func TestSharedStoreAcrossReplicas(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		url, prefix, one, two := sharedPair(t, r)
		ctx := context.Background()

		a, b := videotest.Account(t, "sk-secret-alpha"), videotest.Account(t, "sk-secret-bravo")
		video := fullVideo(t)
		listed := &memories.Video{VideoNo: "c", Status: memories.StatusParse}
		long := strings.Repeat("VI", 500)
		k := func(acct, uid, no string) Key { return Key{acct, memories.VideoRef{UniqueID: uid, VideoNo: no}} }
		one.Set(ctx, []Entry{
			{Key: k(a.ID(), "default", "VI1"), Video: video, TTL: time.Minute},
			{Key: k(a.ID(), "x", "VI2"), Video: nil, TTL: time.Minute},
			{Key: k(a.ID(), "a:b", "c"), Video: listed, TTL: time.Minute},
			{Key: k(a.ID(), "default", long+"1"), Video: nil, TTL: time.Minute},
			{Key: k(a.ID(), "default", "zero"), Video: video, TTL: 0}, // not kept
		})

		tests := []struct {
			name  string
			k     Key
			want  *memories.Video
			found bool
		}{
			{"kept video", k(a.ID(), "default", "VI1"), video, true},
			{"kept not found", k(a.ID(), "x", "VI2"), nil, true},
			{"other account", k(b.ID(), "default", "VI1"), nil, false},
			{"other unique id", k(a.ID(), "other", "VI1"), nil, false},
			{"colon cannot alias", k(a.ID(), "a", "b:c"), nil, false},
			{"colon key itself", k(a.ID(), "a:b", "c"), listed, true},
			{"long video no", k(a.ID(), "default", long+"1"), nil, true},
			{"other long video no", k(a.ID(), "default", long+"2"), nil, false},
			{"TTL 0", k(a.ID(), "default", "zero"), nil, false},
		}
		keys := make([]Key, len(tests))
		for i, tt := range tests {
			keys[i] = tt.k
		}
		got, found := split(two.Get(ctx, keys))
		if len(got) != len(tests) || len(found) != len(tests) {
			t.Fatalf("got %d videos, %d found; want %d", len(got), len(found), len(tests))
		}
		for i, tt := range tests {
			if found[i] != tt.found || !reflect.DeepEqual(got[i], tt.want) {
				t.Errorf("%s: got %+v, %v; want %+v, %v", tt.name, got[i], found[i], tt.want, tt.found)
			}
		}

		stored := redistest.Keys(t, url, prefix)
		if got, want := len(stored), 4; got != want {
			t.Errorf("got keys %q; want %d", stored, want)
		}
		for _, key := range stored {
			if !strings.HasPrefix(key, prefix+":v3:video:{"+a.ID()+"}:") {
				t.Errorf("got key %q; want it under the account's v3 namespace", key)
			}
			if len(key) > 300 {
				t.Errorf("got key %q of %d bytes; want long parts hashed", key, len(key))
			}
			if strings.Contains(key, "sk-secret") {
				t.Errorf("got key %q; want no API key in it", key)
			}
		}
		ttl := two.conn.Client().PTTL(ctx, one.key("video", keys[0])).Val()
		if ttl <= 0 || ttl > time.Minute {
			t.Errorf("got expiry %v; want the TTL given (1m) as the key's expiry", ttl)
		}
	})
}

// An entry under the v1 key names, which lack Detailed, is never read:
// it would pass a list answer off as complete.
func TestSharedIgnoresV1Entries(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		_, _, one, two := sharedPair(t, r)
		ctx := context.Background()
		acct := videotest.Account(t, "sk-a")
		k := Key{acct.ID(), videotest.Ref("VI1")}
		v1 := `{"no":"VI1","st":"PARSE","tags":null}`
		c := one.conn
		for _, name := range []string{
			c.Key("v1", "video", acct.ID(), redisconn.KeyPart(k.Ref.UniqueID), redisconn.KeyPart(k.Ref.VideoNo)), // as v1 named it
			c.Key("v1", "video", "{"+acct.ID()+"}", redisconn.KeyPart(k.Ref.UniqueID), redisconn.KeyPart(k.Ref.VideoNo)),
		} {
			if err := c.Client().Set(ctx, name, v1, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if vs, found := split(two.Get(ctx, []Key{k})); found[0] {
			t.Errorf("got %+v from a v1 entry; want a miss", vs[0])
		}
		// An unreadable v2 entry is a miss too.
		if err := c.Client().Set(ctx, one.key("video", k), "{garbage", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if vs, found := split(two.Get(ctx, []Key{k})); found[0] {
			t.Errorf("got %+v from garbage; want a miss", vs[0])
		}
		// Detailed crosses replicas.
		full := &memories.Video{VideoNo: "VI1", Status: memories.StatusParse, Detailed: true}
		one.Set(ctx, []Entry{{Key: k, Video: full, TTL: time.Minute}})
		if vs, found := split(two.Get(ctx, []Key{k})); !found[0] || !reflect.DeepEqual(vs[0], full) {
			t.Errorf("got %+v, %v; want %+v", vs[0], found[0], full)
		}
	})
}

// While Redis is down the local store serves, warmed by earlier writes.
func TestSharedStoreFallsBackToLocal(t *testing.T) {
	srv := redistest.StartServer(t)
	conn := redisconntest.Open(t, srv.URL(), redisconn.Options{ProbeEvery: 20 * time.Millisecond})
	s := NewShared(conn, newLocal(t))
	ctx := context.Background()
	acct := videotest.Account(t, "sk-a")
	before := Key{acct.ID(), videotest.Ref("before")}
	during := Key{acct.ID(), videotest.Ref("during")}
	v := &memories.Video{VideoNo: "before", Status: memories.StatusParse}
	s.Set(ctx, []Entry{{Key: before, Video: v, TTL: time.Minute}})

	srv.Stop()
	if got, found := split(s.Get(ctx, []Key{before})); !found[0] || got[0] != v {
		t.Errorf("Redis down: got %+v, %v; want the locally kept video", got[0], found[0])
	}
	if conn.Up() {
		t.Errorf("got conn.Up() true after a failed command; want false")
	}
	s.Set(ctx, []Entry{{Key: during, TTL: time.Minute}})
	if _, found := split(s.Get(ctx, []Key{during, before})); !found[0] || !found[1] {
		t.Errorf("Redis down: got found %v; want both locally kept answers", found)
	}

	srv.Start()
	eventually.True(t, "redis available again", conn.Up)
	// The restarted Redis is empty, and now serves again.
	if _, found := split(s.Get(ctx, []Key{before})); found[0] {
		t.Errorf("Redis back: got a hit; want Redis's miss")
	}
	s.Set(ctx, []Entry{{Key: before, Video: v, TTL: time.Minute}})
	if got, found := split(s.Get(ctx, []Key{before})); !found[0] || got[0].VideoNo != "before" {
		t.Errorf("Redis back: got %+v, %v; want the video", got[0], found[0])
	}
}

// sharedCaches returns n Caches over one upstream, each with its own
// connection to one Redis namespace, as n replicas have.
func sharedCaches(t *testing.T, r redistest.Redis, n int, up Upstream, opts Options) ([]*Cache, []*Shared) {
	t.Helper()
	prefix := redistest.Prefix(t, r.URL)
	var caches []*Cache
	var stores []*Shared
	for range n {
		// A generous command timeout: on a loaded machine a slow reply
		// would turn Redis "down", and each replica would fetch for itself.
		store := NewShared(redisconntest.OpenRedis(t, r, redisconn.Options{Prefix: prefix, Timeout: 2 * time.Second}), newLocal(t))
		stores = append(stores, store)
		o := opts
		o.Upstream, o.Store, o.TTLs = up, store, TTLs{Parse: time.Minute, NotFound: time.Minute}
		caches = append(caches, New(o))
	}
	return caches, stores
}

// holdLease sets the lease on k as a replica would, under another token.
func holdLease(t *testing.T, s *Shared, k Key, ttl time.Duration) {
	t.Helper()
	if err := s.conn.Client().Set(context.Background(), s.key("lease", k), "another", ttl).Err(); err != nil {
		t.Fatal(err)
	}
}

// Replicas missing the same videos at once fetch each once between them.
func TestSharedLeaseOneFetchAcrossReplicas(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		acct := videotest.Account(t, "sk-a")
		up := serving(acct, "a", "b", "c")
		up.Hold = make(chan struct{})
		caches, _ := sharedCaches(t, r, 3, up, Options{})

		var wg sync.WaitGroup
		got := make([][]*memories.Video, len(caches))
		errs := make([][]error, len(caches))
		for i, s := range caches {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = s.Videos(context.Background(), acct, videotest.Refs("a", "b", "c", "unknown"), false)
			}()
		}
		eventually.True(t, "one upstream call", func() bool { return up.CallCount() == 1 })
		time.Sleep(100 * time.Millisecond) // the others reach the leases meanwhile
		close(up.Hold)
		wg.Wait()
		for i := range caches {
			if errs[i] != nil || len(got[i]) != 4 || got[i][0] == nil || got[i][0].VideoNo != "a" || got[i][2] == nil || got[i][3] != nil {
				t.Errorf("replica %d: got %v, %v; want a, b, c and nil", i, got[i], errs[i])
			}
		}
		want := map[memories.VideoRef]int{videotest.Ref("a"): 1, videotest.Ref("b"): 1, videotest.Ref("c"): 1, videotest.Ref("unknown"): 1}
		if got := up.Fetched(); !reflect.DeepEqual(got, want) {
			t.Errorf("got fetches %v; want each video once %v", got, want)
		}
	})
}

// A replica that died holding a lease delays the others until the lease
// expires, then one of them fetches.
func TestSharedLeaseOfDeadReplicaExpires(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		acct := videotest.Account(t, "sk-a")
		up := serving(acct, "VI1")
		caches, stores := sharedCaches(t, r, 1, up, Options{})
		const dead = 500 * time.Millisecond
		holdLease(t, stores[0], Key{acct.ID(), videotest.Ref("VI1")}, dead)
		start := time.Now()
		v, err := one(context.Background(), caches[0], acct, "VI1", false)
		if err != nil || v == nil {
			t.Fatalf("got %+v, %v; want VI1", v, err)
		}
		if waited := time.Since(start); waited < dead/2 {
			t.Errorf("answered after %v; want a wait for the held lease (%v)", waited, dead)
		}
		if got := up.CallCount(); got != 1 {
			t.Errorf("got %d upstream calls; want 1", got)
		}
	})
}

// A holder whose call fails keeps nothing; a waiting replica then makes its
// own call rather than share the failure.
func TestSharedLeaseFailureIsNotShared(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		acct := videotest.Account(t, "sk-a")
		boom := &memories.Error{Kind: memories.KindUpstream}
		up := serving(acct)
		up.Errs = map[string]error{"VI1": boom}
		up.Hold = make(chan struct{})
		caches, _ := sharedCaches(t, r, 2, up, Options{})

		first := make(chan error, 1)
		go func() {
			_, err := one(context.Background(), caches[0], acct, "VI1", false)
			first <- err
		}()
		eventually.True(t, "the first call", func() bool { return up.CallCount() == 1 })
		second := make(chan error, 1)
		go func() {
			_, err := one(context.Background(), caches[1], acct, "VI1", false)
			second <- err
		}()
		time.Sleep(100 * time.Millisecond) // the second waits on the lease
		if got := up.CallCount(); got != 1 {
			t.Fatalf("got %d upstream calls while the lease is held; want 1", got)
		}
		close(up.Hold)
		for i, ch := range []chan error{first, second} {
			if err := <-ch; !errors.Is(err, boom) {
				t.Errorf("replica %d: got err %v; want the upstream error", i, err)
			}
		}
		if got := up.CallCount(); got != 2 {
			t.Errorf("got %d upstream calls; want 2 (the waiter tried itself)", got)
		}
	})
}

// Leases are per key, many in one call; held until their holder releases
// them, however long that takes; a stale holder cannot release its
// successor's.
func TestSharedLease(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		conn := redisconntest.OpenRedis(t, r, redisconn.Options{Prefix: redistest.Prefix(t, r.URL), Timeout: 2 * time.Second})
		one, two := NewShared(conn, newLocal(t)), NewShared(conn, newLocal(t))
		ctx := context.Background()
		acct := videotest.Account(t, "sk-a")
		k1, k2, k3 := Key{acct.ID(), videotest.Ref("VI1")}, Key{acct.ID(), videotest.Ref("VI2")}, Key{acct.ID(), videotest.Ref("VI3")}

		held, release := one.Lease(ctx, []Key{k1, k2})
		if want := []bool{true, true}; !reflect.DeepEqual(held, want) {
			t.Fatalf("first Lease: got held %v; want %v", held, want)
		}
		held2, release2 := two.Lease(ctx, []Key{k2, k3, k1})
		if want := []bool{false, true, false}; !reflect.DeepEqual(held2, want) {
			t.Errorf("second Lease: got held %v; want %v (only the free key)", held2, want)
		}
		release2()
		release()
		release() // twice is harmless
		held, release2 = two.Lease(ctx, []Key{k1, k2, k3})
		if want := []bool{true, true, true}; !reflect.DeepEqual(held, want) {
			t.Fatalf("Lease after release: got held %v; want %v", held, want)
		}
		release() // the old holder's release must not end the new leases
		if held, _ := one.Lease(ctx, []Key{k1}); held[0] {
			t.Error("Lease after a stale release: got held; want not held")
		}
		release2()

		// The holder renews its leases for as long as it fetches.
		one.leaseTTL = 600 * time.Millisecond
		held, release = one.Lease(ctx, []Key{k1, k2})
		if !held[0] || !held[1] {
			t.Fatalf("Lease: got held %v; want both", held)
		}
		time.Sleep(3 * one.leaseTTL)
		if held, _ := two.Lease(ctx, []Key{k1, k2}); held[0] || held[1] {
			t.Errorf("Lease past the TTL of renewed leases: got held %v; want neither", held)
		}
		release()
	})
}

// While Redis is down every claim is granted.
func TestSharedLeaseWhileRedisDown(t *testing.T) {
	srv := redistest.StartServer(t)
	conn := redisconntest.Open(t, srv.URL(), redisconn.Options{ProbeEvery: 20 * time.Millisecond, Timeout: 2 * time.Second})
	s := NewShared(conn, newLocal(t))
	ctx := context.Background()
	acct := videotest.Account(t, "sk-a")
	k1, k2 := Key{acct.ID(), videotest.Ref("VI1")}, Key{acct.ID(), videotest.Ref("VI2")}
	if held, release := s.Lease(ctx, []Key{k1}); !held[0] {
		t.Fatal("Lease with Redis up: got not held; want held")
	} else {
		release()
	}
	srv.Stop()
	s.Get(ctx, []Key{k1}) // notices Redis is down
	for i := range 2 {
		held, release := s.Lease(ctx, []Key{k1, k2})
		if !held[0] || !held[1] {
			t.Errorf("Redis down, Lease %d: got held %v; want all (each replica fetches)", i, held)
		}
		release()
	}
}

// Await settles many keys in one call: an answer kept, one kept while it
// waits, and "found false" for a lease ended with nothing kept and for no
// lease at all. It stops at ctx's end.
func TestSharedAwait(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		_, _, one, two := sharedPair(t, r)
		ctx := context.Background()
		acct := videotest.Account(t, "sk-a")
		kept, later, failed, free := Key{acct.ID(), videotest.Ref("kept")}, Key{acct.ID(), videotest.Ref("later")}, Key{acct.ID(), videotest.Ref("failed")}, Key{acct.ID(), videotest.Ref("free")}
		v := &memories.Video{VideoNo: "kept", Status: memories.StatusParse, Detailed: true}
		w := &memories.Video{VideoNo: "later", Status: memories.StatusUnparse}
		one.Set(ctx, []Entry{{Key: kept, Video: v, TTL: time.Minute}})
		held, release := one.Lease(ctx, []Key{later, failed})
		if !held[0] || !held[1] {
			t.Fatalf("got held %v; want both", held)
		}
		go func() {
			time.Sleep(100 * time.Millisecond)
			one.Set(ctx, []Entry{{Key: later, Video: w, TTL: time.Minute}})
			release()
		}()
		ks, err := two.Await(ctx, []Key{kept, later, failed, free})
		if err != nil {
			t.Fatal(err)
		}
		vs, found := split(ks)
		if want := []bool{true, true, false, false}; !reflect.DeepEqual(found, want) {
			t.Errorf("got found %v; want %v", found, want)
		}
		if want := []*memories.Video{v, w, nil, nil}; !reflect.DeepEqual(vs, want) {
			t.Errorf("got videos %v; want %v", vs, want)
		}

		holdLease(t, one, free, time.Minute)
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if ks, err := two.Await(short, []Key{kept, free}); !errors.Is(err, context.DeadlineExceeded) || ks[1].Found {
			t.Errorf("held past the deadline: got %+v, err %v; want free unfound and DeadlineExceeded", ks, err)
		}
	})
}

// A look-up waiting on another replica's lease stops at its own deadline,
// with a timeout, and makes no call.
func TestSharedLeaseWaiterDeadline(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		acct := videotest.Account(t, "sk-a")
		up := serving(acct, "VI1", "VI2")
		obs := &counter{}
		caches, stores := sharedCaches(t, r, 1, up, Options{Observer: obs})
		holdLease(t, stores[0], Key{acct.ID(), videotest.Ref("VI1")}, time.Minute)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		vs, errs := caches[0].Videos(ctx, acct, videotest.Refs("VI1", "VI2"), false)
		if errs == nil || !isTimeout(errs[0]) {
			t.Errorf("got %v, %v; want a timeout for VI1", vs, errs)
		}
		if errs != nil && errs[1] != nil || vs[1] == nil {
			t.Errorf("VI2: got %+v, %v; want the video", vs[1], errs)
		}
		if got, want := up.Fetched(), map[memories.VideoRef]int{videotest.Ref("VI2"): 1}; !reflect.DeepEqual(got, want) {
			t.Errorf("got fetches %v; want only VI2", got)
		}
		if got := obs.counts(); got[""] != 0 || got["miss"] != 1 {
			t.Errorf("got results %v; want 1 miss and no unnamed result", got)
		}
	})
}

// Time spent waiting on another replica's lease shows as a span of its own
// under the look-up.
func TestSharedLeaseWaitIsTraced(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		acct := videotest.Account(t, "sk-a")
		up := serving(acct, "VI1")
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		caches, stores := sharedCaches(t, r, 1, up, Options{Tracer: tp.Tracer("test")})
		holdLease(t, stores[0], Key{acct.ID(), videotest.Ref("VI1")}, 200*time.Millisecond)
		if _, err := one(context.Background(), caches[0], acct, "VI1", false); err != nil {
			t.Fatal(err)
		}
		byName := map[string]sdktrace.ReadOnlySpan{}
		for _, s := range rec.Ended() {
			byName[s.Name()] = s
		}
		lookup, wait := byName["videocache.lookup"], byName["videocache.await_replica"]
		if lookup == nil || wait == nil {
			t.Fatalf("got spans %v; want a lookup and a wait", byName)
		}
		if wait.Parent().SpanID() != lookup.SpanContext().SpanID() {
			t.Errorf("got the wait span's parent %s; want the lookup %s", wait.Parent().SpanID(), lookup.SpanContext().SpanID())
		}
		if d := wait.EndTime().Sub(wait.StartTime()); d < 100*time.Millisecond {
			t.Errorf("got a wait span of %v; want the lease's time (200ms)", d)
		}
	})
}

// A list_videos answer kept by one replica never replaces a complete one
// that another replica kept: the complete one still answers detail
// look-ups, in Redis.
func TestSharedSetKeepsComplete(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		_, _, one, two := sharedPair(t, r)
		ctx := context.Background()
		k := Key{AccountID: videotest.Account(t, "sk-a").ID(), Ref: videotest.Ref("VI1")}
		full := &memories.Video{VideoNo: "VI1", Status: memories.StatusParse, Detailed: true, FPS: new(int)}
		list := &memories.Video{VideoNo: "VI1", Status: memories.StatusParse}
		one.Set(ctx, []Entry{{Key: k, Video: full, TTL: time.Minute}})
		two.Set(ctx, []Entry{{Key: k, Video: list, TTL: time.Minute}})
		// Get reads Redis (two's local copy holds the list answer).
		vs, found := split(two.Get(ctx, []Key{k}))
		if !found[0] || vs[0] == nil || !vs[0].Detailed {
			t.Errorf("after a list answer over a complete one: got %+v, found %v; want the complete answer", vs[0], found[0])
		}
		// A complete answer replaces a list one.
		k2 := Key{AccountID: k.AccountID, Ref: videotest.Ref("VI2")}
		two.Set(ctx, []Entry{{Key: k2, Video: &memories.Video{VideoNo: "VI2"}, TTL: time.Minute}})
		one.Set(ctx, []Entry{{Key: k2, Video: &memories.Video{VideoNo: "VI2", Detailed: true}, TTL: time.Minute}})
		if vs, found := split(two.Get(ctx, []Key{k2})); !found[0] || !vs[0].Detailed {
			t.Errorf("after a complete answer over a list one: got %+v; want the complete answer", vs[0])
		}
	})
}

// Replicas that waited on a holder that kept nothing claim the fetch again
// among themselves: one fetches, the other waits for it.
func TestSharedLeaseClaimedAgainAfterHolderFails(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		acct := videotest.Account(t, "sk-a")
		up := serving(acct, "VI1")
		up.Hold = make(chan struct{})
		caches, stores := sharedCaches(t, r, 2, up, Options{})
		k := Key{AccountID: acct.ID(), Ref: videotest.Ref("VI1")}
		holdLease(t, stores[0], k, time.Minute)

		answers := make(chan error, 2)
		for _, cache := range caches {
			go func() {
				v, err := one(context.Background(), cache, acct, "VI1", false)
				if err == nil && v == nil {
					err = errors.New("no video")
				}
				answers <- err
			}()
		}
		time.Sleep(100 * time.Millisecond) // both wait on the holder
		if got := up.CallCount(); got != 0 {
			t.Fatalf("got %d upstream calls while another replica holds the lease; want 0", got)
		}
		// The holder lets go with nothing kept.
		if err := stores[0].conn.Client().Del(context.Background(), stores[0].key("lease", k)).Err(); err != nil {
			t.Fatal(err)
		}
		eventually.True(t, "one replica's call", func() bool { return up.CallCount() == 1 })
		time.Sleep(200 * time.Millisecond) // the other has claimed again and waits
		close(up.Hold)
		for range caches {
			if err := <-answers; err != nil {
				t.Errorf("got err %v; want the video", err)
			}
		}
		if got := up.CallCount(); got != 1 {
			t.Errorf("got %d upstream calls; want 1 (the second claim went to one replica)", got)
		}
	})
}

// A call may mix accounts: each account's keys go to Redis together (one
// slot on a cluster), and every answer comes back in its place.
func TestSharedMixesAccounts(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		_, _, one, two := sharedPair(t, r)
		ctx := context.Background()
		a, b := videotest.Account(t, "sk-a").ID(), videotest.Account(t, "sk-b").ID()
		keys := []Key{{a, videotest.Ref("VI1")}, {b, videotest.Ref("VI1")}, {a, videotest.Ref("VI2")}, {b, videotest.Ref("VI3")}}
		var entries []Entry
		for i, k := range keys[:3] {
			entries = append(entries, Entry{Key: k, Video: &memories.Video{VideoNo: k.Ref.VideoNo, VideoName: new(fmt.Sprint(i))}, TTL: time.Minute})
		}
		one.Set(ctx, entries)
		got, found := split(two.Get(ctx, keys))
		for i := range 3 {
			if !found[i] || got[i] == nil || *got[i].VideoName != fmt.Sprint(i) {
				t.Errorf("key %d: got %s, %v; want video %d", i, show(got[i]), found[i], i)
			}
		}
		if found[3] {
			t.Errorf("key 3: got %s; want a miss", show(got[3]))
		}
		if !one.conn.Up() || !two.conn.Up() {
			t.Fatal("Redis marked down by a call with two accounts")
		}

		held, release := one.Lease(ctx, keys)
		if want := []bool{true, true, true, true}; !reflect.DeepEqual(held, want) {
			t.Fatalf("Lease: got held %v; want %v", held, want)
		}
		if held, _ := two.Lease(ctx, []Key{keys[3], keys[0]}); held[0] || held[1] {
			t.Errorf("second Lease: got held %v; want neither", held)
		}
		release()
		held, release = two.Lease(ctx, []Key{keys[3], keys[0]})
		if !held[0] || !held[1] {
			t.Errorf("Lease after release: got held %v; want both", held)
		}
		release()
		if !one.conn.Up() || !two.conn.Up() {
			t.Fatal("Redis marked down by a lease of two accounts")
		}
	})
}

// On a Redis Cluster each command and script touches one slot: an
// account's video and lease keys share its slot (the tests above run every
// script there), and the cluster refuses a script or MGET whose keys span
// two, as it would refuse ours if a key lost its hash tag.
func TestSharedScriptsTouchOneSlot(t *testing.T) {
	cluster := redistest.SharedCluster(t)
	_, _, s, _ := sharedPair(t, cluster.Redis())
	ctx := context.Background()
	a, b := videotest.Account(t, "sk-a").ID(), videotest.Account(t, "sk-b").ID()
	ka := []Key{{a, videotest.Ref("VI1")}, {a, memories.VideoRef{UniqueID: "other:{x}", VideoNo: "VI2"}}}
	kb := Key{b, videotest.Ref("VI1")}
	slot := cluster.Slot(t, s.key("video", ka[0]))
	for _, k := range ka {
		for _, kind := range []string{"video", "lease"} {
			if got := cluster.Slot(t, s.key(kind, k)); got != slot {
				t.Errorf("slot of %s = %d; want %d, the account's", s.key(kind, k), got, slot)
			}
		}
	}
	if cluster.Slot(t, s.key("video", kb)) == slot {
		t.Fatal("two accounts in one slot: pick other keys for the control")
	}
	c := s.conn.Client()
	mixed := []string{s.key("video", ka[0]), s.key("video", kb)}
	redistest.WantCrossSlot(t, setScript.Run(ctx, c, mixed, "v", 1000, "0", "v", 1000, "0", completePrefix).Err())
	redistest.WantCrossSlot(t, leaseScript.Run(ctx, c, mixed, "token", 1000).Err())
	redistest.WantCrossSlot(t, renewScript.Run(ctx, c, mixed, "token", 1000).Err())
	redistest.WantCrossSlot(t, releaseScript.Run(ctx, c, mixed, "token").Err())
	redistest.WantCrossSlot(t, c.MGet(ctx, mixed...).Err())
}
