package watch

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/eventually"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/redisconn"
	"github.com/memories-facade/memories-graphql/internal/redistest"
	"github.com/memories-facade/memories-graphql/internal/redistest/redisconntest"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

// sharedPair returns the sharing of two replicas on one namespace of r.
func sharedPair(t *testing.T, r redistest.Redis) (one, two *Shared) {
	t.Helper()
	prefix := redistest.Prefix(t, r.URL)
	open := func() *Shared {
		s := NewShared(redisconntest.OpenRedis(t, r, redisconn.Options{Prefix: prefix, Timeout: 2 * time.Second}))
		t.Cleanup(func() { s.Close() })
		return s
	}
	return open(), open()
}

// inbox collects what a listener is handed.
type inbox chan []Event

func (in inbox) deliver(evs []Event) { in <- evs }

// next returns the next delivery, failing t after a while.
func (in inbox) next(t *testing.T) []Event {
	t.Helper()
	select {
	case evs := <-in:
		return evs
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery within 10s")
		return nil
	}
}

// A replica's lease on a video's poll keeps the others off it until it
// lapses; the holder renews it.
func TestSharedClaim(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		one, two := sharedPair(t, r)
		acct := videotest.Account(t, "sk-a").ID()
		refs := videotest.Refs("VI1", "VI2")
		const ttl = 300 * time.Millisecond
		if got := one.claim(acct, refs, false, ttl); !reflect.DeepEqual(got, []bool{true, true}) {
			t.Fatalf("first claim: got %v; want both", got)
		}
		if got := two.claim(acct, videotest.Refs("VI2", "VI3"), false, ttl); !reflect.DeepEqual(got, []bool{false, true}) {
			t.Errorf("second claim: got %v; want only the free video", got)
		}
		if got := two.claim(acct, refs, true, ttl); !reflect.DeepEqual(got, []bool{true, true}) {
			t.Errorf("detail claim: got %v; want both (a lease of its own)", got)
		}
		if got := one.claim(acct, refs, false, ttl); !reflect.DeepEqual(got, []bool{true, true}) {
			t.Errorf("holder's claim again: got %v; want both renewed", got)
		}
		eventually.True(t, "the leases to lapse", func() bool {
			return reflect.DeepEqual(two.claim(acct, refs, false, ttl), []bool{true, true})
		})
		if !one.conn.Up() || !two.conn.Up() {
			t.Error("Redis marked down")
		}
	})
}

// What one replica publishes reaches the listener of the account on the
// other, and only there: not its own, nor another account's.
func TestSharedPublishReachesOtherReplicas(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		one, two := sharedPair(t, r)
		a, b := videotest.Account(t, "sk-a").ID(), videotest.Account(t, "sk-b").ID()
		mine, theirs, other := make(inbox, 10), make(inbox, 10), make(inbox, 10)
		defer one.listen(a, mine.deliver)()
		defer two.listen(a, theirs.deliver)()
		defer two.listen(b, other.deliver)()
		v := &memories.Video{VideoNo: "VI1", Status: memories.StatusParse}
		evs := []Event{{Ref: videotest.Ref("VI1"), Video: v, Settled: true}, {Ref: videotest.Ref("VI2"), Err: &memories.Error{Kind: memories.KindUpstream}}}
		// A subscription takes a moment: publish until it is heard.
		got := publishUntilHeard(t, one, a, evs, theirs)
		if len(got) != 2 || !reflect.DeepEqual(got[0], evs[0]) || got[1].Err == nil {
			t.Errorf("got %+v; want %+v", got, evs)
		}
		select {
		case evs := <-mine:
			t.Errorf("the publisher's own listener got %+v; want nothing", evs)
		case evs := <-other:
			t.Errorf("another account's listener got %+v; want nothing", evs)
		case <-time.After(100 * time.Millisecond):
		}
	})
}

// publishUntilHeard publishes evs for account from s until in hears them,
// and returns what it heard.
func publishUntilHeard(t *testing.T, s *Shared, account string, evs []Event, in inbox) []Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.publish(account, evs)
		select {
		case got := <-in:
			for len(in) > 0 {
				<-in // the same, published again
			}
			return got
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing heard within 10s")
		}
	}
}

// A listener that a later one replaced cannot end the later one when it
// stops.
func TestSharedListenReplaced(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		one, two := sharedPair(t, r)
		acct := videotest.Account(t, "sk-a").ID()
		old, current := make(inbox, 10), make(inbox, 10)
		stopOld := two.listen(acct, old.deliver)
		defer two.listen(acct, current.deliver)()
		stopOld()
		evs := []Event{{Ref: videotest.Ref("VI1"), Settled: true}}
		publishUntilHeard(t, one, acct, evs, current)
	})
}

// On a cluster, the account's channel lives in its keys' slot, and a
// sharded subscription follows the slot when it moves to another primary:
// Redis ends it (SUNSUBSCRIBE) and the listener subscribes where the slot
// is now.
func TestSharedSubscriptionFollowsMovedSlot(t *testing.T) {
	cluster := redistest.StartCluster(t)
	one, two := sharedPair(t, cluster.Redis())
	acct := videotest.Account(t, "sk-a").ID()
	ch := two.channel(acct)
	slot := cluster.Slot(t, ch)
	if got := cluster.Slot(t, two.leaseKey(acct, false, videotest.Ref("VI1"))); got != slot {
		t.Errorf("slot of the leases = %d; want the channel's, %d", got, slot)
	}
	in := make(inbox, 10)
	defer two.listen(acct, in.deliver)()
	evs := []Event{{Ref: videotest.Ref("VI1"), Settled: true}}
	publishUntilHeard(t, one, acct, evs, in)

	owner := cluster.MoveSlot(t, slot, 0)
	if got := cluster.Owner(t, slot); got != owner {
		t.Fatalf("slot %d on %s after the move; want %s", slot, got, owner)
	}
	eventually.True(t, "the subscription on the slot's new primary", func() bool {
		return cluster.ShardSubscribers(t, owner, ch) == 1
	})
	publishUntilHeard(t, one, acct, evs, in)
	if !one.conn.Up() || !two.conn.Up() {
		t.Error("Redis marked down by a slot move")
	}
}

// On a cluster the claim script touches one slot: the cluster refuses it
// with keys of two accounts, as it would if a lease key lost its hash tag.
func TestSharedScriptTouchesOneSlot(t *testing.T) {
	cluster := redistest.SharedCluster(t)
	one, _ := sharedPair(t, cluster.Redis())
	a, b := videotest.Account(t, "sk-a").ID(), videotest.Account(t, "sk-b").ID()
	ka, kb := one.leaseKey(a, false, videotest.Ref("VI1")), one.leaseKey(b, true, videotest.Ref("VI1"))
	if cluster.Slot(t, ka) != cluster.Slot(t, one.leaseKey(a, true, videotest.Ref("other:{x}"))) {
		t.Error("an account's lease keys in two slots")
	}
	if cluster.Slot(t, ka) == cluster.Slot(t, kb) {
		t.Fatal("two accounts in one slot: pick other keys for the control")
	}
	err := claimScript.Run(context.Background(), one.conn.Client(), []string{ka, kb}, "me", 1000).Err()
	redistest.WantCrossSlot(t, err)
}
