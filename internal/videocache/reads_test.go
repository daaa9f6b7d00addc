package videocache

import (
	"context"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/redistest"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

// readOnce looks up nos for acct with fresh Reads and returns them.
func readOnce(t *testing.T, c *Cache, acct account.Account, detail bool, nos ...string) *Reads {
	t.Helper()
	r := &Reads{}
	if _, errs := c.Videos(WithReads(context.Background(), r), acct, videotest.Refs(nos...), detail); errs != nil {
		t.Fatalf("look-up of %v: %v", nos, errs)
	}
	return r
}

// TestReadsHold: Reads hold while the videos they read are kept as they
// were, and not once one changed, expired or needed the upstream; on one
// process's store and on a store shared through Redis, where a change by
// another replica counts alike.
func TestReadsHold(t *testing.T) {
	acct := videotest.Account(t, "sk-a")
	t.Run("local", func(t *testing.T) {
		testReadsHold(t, acct, func(t *testing.T) (Store, Store) { l := newLocal(t); return l, l })
	})
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		testReadsHold(t, acct, func(t *testing.T) (Store, Store) {
			_, _, one, two := sharedPair(t, r)
			return one, two
		})
	})
}

// testReadsHold is TestReadsHold on the stores that stores returns: the
// store of the replica that reads, and another replica's.
func testReadsHold(t *testing.T, acct account.Account, stores func(t *testing.T) (mine, other Store)) {
	keyOf := func(no string) Key { return Key{acct.ID(), videotest.Ref(no)} }
	parsed := func(no, name string) *memories.Video {
		return &memories.Video{VideoNo: no, VideoName: &name, Status: memories.StatusParse}
	}
	tests := []struct {
		name string
		// then acts on the store of another replica (the same
		// store, without Redis) after the reads.
		then func(t *testing.T, other Store)
		want bool
	}{
		{"unchanged", func(*testing.T, Store) {}, true},
		{"kept again alike", func(t *testing.T, other Store) {
			other.Set(context.Background(), []Entry{{Key: keyOf("v1"), Video: parsed("v1", "one"), TTL: time.Hour}})
		}, true},
		{"renamed", func(t *testing.T, other Store) {
			other.Set(context.Background(), []Entry{{Key: keyOf("v1"), Video: parsed("v1", "renamed"), TTL: time.Hour}})
		}, false},
		{"gone", func(t *testing.T, other Store) {
			other.Set(context.Background(), []Entry{{Key: keyOf("v2"), Video: nil, TTL: time.Hour, Replace: true}})
		}, false},
		{"expired", func(t *testing.T, other Store) {
			other.Set(context.Background(), []Entry{{Key: keyOf("v2"), Video: parsed("v2", "two"), TTL: 50 * time.Millisecond}})
			time.Sleep(300 * time.Millisecond)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mine, other := stores(t)
			up := upstreamOf(map[Key]*memories.Video{keyOf("v1"): parsed("v1", "one"), keyOf("v2"): parsed("v2", "two")})
			c := New(Options{Upstream: up, Store: mine, TTLs: allTTLs})
			if r := readOnce(t, c, acct, false, "v1", "v2"); r.Kept() || c.Holds(context.Background(), r) {
				t.Fatal("reads of a look-up that called the upstream: got Kept or Holds; want neither")
			}
			r := readOnce(t, c, acct, false, "v1", "v2")
			if !r.Kept() || r.Len() != 2 {
				t.Fatalf("reads of kept answers: got Kept %v, Len %d; want true, 2", r.Kept(), r.Len())
			}
			tt.then(t, other)
			if got := c.Holds(context.Background(), r); got != tt.want {
				t.Errorf("Holds: got %v; want %v", got, tt.want)
			}
			if got, want := up.CallCount(), 1; got != want {
				t.Errorf("upstream calls: got %d; want %d (Holds calls none)", got, want)
			}
		})
	}
}

// TestReadsBeyondKept: a look-up that kept answers did not serve alone
// (one miss among hits, a Refresh) leaves Reads that never hold.
func TestReadsBeyondKept(t *testing.T) {
	acct := videotest.Account(t, "sk-a")
	c := New(Options{Upstream: serving(acct, "v1", "v2"), Store: newLocal(t), TTLs: allTTLs})
	readOnce(t, c, acct, false, "v1")
	tests := []struct {
		name string
		read func(ctx context.Context)
	}{
		{"a miss among hits", func(ctx context.Context) { c.Videos(ctx, acct, videotest.Refs("v1", "v2"), false) }},
		{"refresh", func(ctx context.Context) { c.Refresh(ctx, acct, videotest.Refs("v1"), false) }},
		{"a list answer asked for detail", func(ctx context.Context) { c.Videos(ctx, acct, videotest.Refs("v1"), true) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Reads{}
			ctx := WithReads(context.Background(), r)
			c.Videos(ctx, acct, videotest.Refs("v1"), false) // a hit first
			tt.read(ctx)
			if r.Kept() || c.Holds(context.Background(), r) {
				t.Errorf("got Kept %v, Holds %v; want neither", r.Kept(), c.Holds(context.Background(), r))
			}
		})
	}
	if r := (&Reads{}); r.Kept() || c.Holds(context.Background(), r) {
		t.Error("empty Reads: got Kept or Holds; want neither")
	}
}
