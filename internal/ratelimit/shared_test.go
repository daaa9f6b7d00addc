package ratelimit

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/eventually"
	"github.com/memories-facade/memories-graphql/internal/redisconn"
	"github.com/memories-facade/memories-graphql/internal/redistest"
	"github.com/memories-facade/memories-graphql/internal/redistest/redisconntest"
)

// perHour is a rate slow enough that "the next slot" is an hour away, so
// that tests read budget decisions without depending on timing.
const perHour = 1.0 / 3600

// fakeLocal records the calls that fell back to the local limiter.
type fakeLocal struct {
	mu     sync.Mutex
	waits  int
	pauses []time.Duration
}

func (f *fakeLocal) Wait(ctx context.Context, accountID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits++
	return nil
}

func (f *fakeLocal) Pause(accountID string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pauses = append(f.pauses, d)
}

func (f *fakeLocal) waitCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waits
}

// sharedReplicas returns n Shared limiters on one prefix of r, as n
// replicas of the service would have.
func sharedReplicas(t *testing.T, r redistest.Redis, n int, perSecond float64, burst int) ([]*Shared, *fakeLocal) {
	t.Helper()
	prefix := redistest.Prefix(t, r.URL)
	local := &fakeLocal{}
	out := make([]*Shared, n)
	for i := range out {
		// A generous timeout: a slow reply on a loaded machine would send a
		// replica to its local limiter, which these tests do not expect.
		s := NewShared(redisconntest.OpenRedis(t, r, redisconn.Options{Prefix: prefix, Timeout: 2 * time.Second}), SharedOptions{Budget: "rate", PerSecond: perSecond, Burst: burst, Fallback: local})
		out[i] = s
	}
	return out, local
}

func minuteCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// wantDenied checks that err is a *DeniedError whose RetryAfter is near want.
func wantDenied(t *testing.T, name string, err error, want time.Duration) {
	t.Helper()
	var denied *DeniedError
	if !errors.As(err, &denied) {
		t.Errorf("%s: err = %v; want *DeniedError", name, err)
		return
	}
	if d := denied.RetryAfter - want; d < -time.Minute || d > time.Minute {
		t.Errorf("%s: RetryAfter = %v; want about %v", name, denied.RetryAfter, want)
	}
}

// The burst goes at once; the next call is an interval away, and a caller
// whose deadline comes first is told so without waiting.
func TestSharedBurstThenDenied(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		for _, burst := range []int{1, 3} {
			lims, local := sharedReplicas(t, r, 1, perHour, burst)
			for i := range burst {
				if err := lims[0].Wait(minuteCtx(t), "acct"); err != nil {
					t.Errorf("burst=%d: call %d: %v; want nil", burst, i, err)
				}
			}
			wantDenied(t, "after the burst", lims[0].Wait(minuteCtx(t), "acct"), time.Hour)
			// A refusal takes no slot: the next refusal names the same time.
			wantDenied(t, "again", lims[0].Wait(minuteCtx(t), "acct"), time.Hour)
			if got := local.waitCount(); got != 0 {
				t.Errorf("local waits = %d; want 0 while Redis answers", got)
			}
		}
	})
}

// Three replicas spend one budget per account; other accounts are apart.
func TestSharedBudgetAcrossReplicas(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		lims, _ := sharedReplicas(t, r, 3, perHour, 3)
		for i, l := range lims {
			if err := l.Wait(minuteCtx(t), "acct"); err != nil {
				t.Errorf("replica %d: %v; want nil", i, err)
			}
		}
		for i, l := range lims {
			wantDenied(t, "replica after the shared burst", l.Wait(minuteCtx(t), "acct"), time.Hour)
			if err := l.Wait(minuteCtx(t), "other"); err != nil {
				t.Errorf("replica %d, other account: %v; want nil", i, err)
			}
		}
	})
}

// A pause on one replica holds back the others, and a shorter pause does
// not shorten it.
func TestSharedPause(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		lims, local := sharedReplicas(t, r, 2, 1000, 10)
		lims[0].Pause("acct", 2*time.Hour)
		lims[0].Pause("acct", time.Second)
		wantDenied(t, "paused", lims[1].Wait(minuteCtx(t), "acct"), 2*time.Hour)
		if err := lims[1].Wait(minuteCtx(t), "other"); err != nil {
			t.Errorf("other account: %v; want nil", err)
		}
		local.mu.Lock()
		defer local.mu.Unlock()
		if got := len(local.pauses); got != 2 {
			t.Errorf("local pauses = %d; want 2 (the fallback keeps the pause)", got)
		}
	})
}

// A caller that gives up while queued gives its slot back, so the caller
// after it does not wait for nothing.
func TestSharedCancelGivesSlotBack(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		lims, _ := sharedReplicas(t, r, 1, perHour, 1)
		l := lims[0]
		if err := l.Wait(minuteCtx(t), "acct"); err != nil {
			t.Fatal(err)
		}
		tatKey, _ := l.keys("acct")
		before, err := l.conn.Client().Get(context.Background(), tatKey).Result()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background()) // no deadline: it queues
		done := make(chan error, 1)
		go func() { done <- l.Wait(ctx, "acct") }()
		eventually.True(t, "the queued reservation", func() bool {
			got, _ := l.conn.Client().Get(context.Background(), tatKey).Result()
			return got != before
		})
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Wait = %v; want context.Canceled", err)
		}
		after, _ := l.conn.Client().Get(context.Background(), tatKey).Result()
		if after != before {
			t.Errorf("TAT after cancel = %s; want %s (the slot given back)", after, before)
		}
		wantDenied(t, "next caller", l.Wait(minuteCtx(t), "acct"), time.Hour)
	})
}

// A caller with time to wait gets its turn.
func TestSharedWaitsForItsTurn(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		lims, _ := sharedReplicas(t, r, 2, 50, 1)
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := lims[i%2].Wait(minuteCtx(t), "acct"); err != nil {
					t.Errorf("call %d: %v; want nil", i, err)
				}
			}()
		}
		wg.Wait()
	})
}

// Without Redis the local limiter serves, and does again while Redis is
// down; the shared budget is used once Redis is back.
func TestSharedFallsBackToLocal(t *testing.T) {
	srv := redistest.StartServer(t)
	local := &fakeLocal{}
	conn := redisconntest.Open(t, srv.URL(), redisconn.Options{Prefix: "t", ProbeEvery: 20 * time.Millisecond})
	l := NewShared(conn, SharedOptions{Budget: "rate", PerSecond: perHour, Burst: 1, Fallback: local})
	if err := l.Wait(minuteCtx(t), "acct"); err != nil || local.waitCount() != 0 {
		t.Fatalf("with Redis: err %v, local waits %d; want nil, 0", err, local.waitCount())
	}

	srv.Stop()
	for i := range 3 {
		if err := l.Wait(minuteCtx(t), "acct"); err != nil {
			t.Errorf("Redis down, call %d: %v; want nil from the local limiter", i, err)
		}
	}
	if got, want := local.waitCount(), 3; got != want {
		t.Errorf("local waits = %d; want %d", got, want)
	}
	l.Pause("acct", time.Hour) // must not block or panic while Redis is down

	srv.Start()
	eventually.True(t, "redis available again", conn.Up)
	// The restarted Redis is empty: one burst call, then refused.
	if err := l.Wait(minuteCtx(t), "acct"); err != nil {
		t.Errorf("Redis back: %v; want nil", err)
	}
	wantDenied(t, "Redis back, after the burst", l.Wait(minuteCtx(t), "acct"), time.Hour)
	if got, want := local.waitCount(), 3; got != want {
		t.Errorf("local waits after Redis came back = %d; want %d", got, want)
	}
}

type missingPeers int

func (m missingPeers) Missing() int { return int(m) }

// The replicas sharing the budget leave unspent the fallback share (1/n of
// the rate and of the burst) of each replica missing from Redis, and always
// keep one share.
func TestSharedLeavesShareOfMissingReplicas(t *testing.T) {
	for _, tt := range []struct {
		replicas, missing int
		perSecond         float64
		burst             int
		wantPerSecond     float64
		wantBurst         int
	}{
		{replicas: 3, missing: 0, perSecond: 30, burst: 6, wantPerSecond: 30, wantBurst: 6},
		{replicas: 3, missing: 1, perSecond: 30, burst: 6, wantPerSecond: 20, wantBurst: 4},
		{replicas: 3, missing: 2, perSecond: 30, burst: 6, wantPerSecond: 10, wantBurst: 2},
		{replicas: 3, missing: 5, perSecond: 30, burst: 6, wantPerSecond: 10, wantBurst: 2}, // one share stays
		{replicas: 1, missing: 1, perSecond: 30, burst: 6, wantPerSecond: 30, wantBurst: 6}, // a crashed predecessor
		{replicas: 4, missing: 1, perSecond: 20, burst: 3, wantPerSecond: 15, wantBurst: 2}, // fallback burst is at least 1
		{replicas: 3, missing: 2, perSecond: 20, burst: 2, wantPerSecond: 20.0 / 3, wantBurst: 1},
	} {
		s := NewShared(nil, SharedOptions{Budget: "rate", PerSecond: tt.perSecond, Burst: tt.burst,
			Peers: missingPeers(tt.missing), Replicas: tt.replicas})
		interval, burst := s.share()
		if got := 1 / interval; math.Abs(got-tt.wantPerSecond) > 1e-9 || burst != tt.wantBurst {
			t.Errorf("%d of %d replicas missing, %v/s burst %d: got %v/s burst %d; want %v/s burst %d",
				tt.missing, tt.replicas, tt.perSecond, tt.burst, got, burst, tt.wantPerSecond, tt.wantBurst)
		}
	}
}

// On a Redis Cluster each script touches one slot: an account's keys share
// its slot (the tests above run every script there), and the cluster
// refuses a script whose keys span two, as it would refuse ours if a key
// lost its hash tag.
func TestSharedScriptsTouchOneSlot(t *testing.T) {
	cluster := redistest.SharedCluster(t)
	lims, _ := sharedReplicas(t, cluster.Redis(), 1, perHour, 1)
	l := lims[0]
	tat, pause := l.keys("acct")
	otherTAT, _ := l.keys("other")
	if a, b := cluster.Slot(t, tat), cluster.Slot(t, pause); a != b {
		t.Errorf("slots of %s and %s = %d and %d; want one", tat, pause, a, b)
	}
	if cluster.Slot(t, tat) == cluster.Slot(t, otherTAT) {
		t.Fatalf("two accounts in one slot: pick other names for the control")
	}
	ctx := minuteCtx(t)
	for _, tt := range []struct {
		name string
		run  func(keys []string) error
	}{
		{"reserve", func(keys []string) error {
			return reserveScript.Run(ctx, l.conn.Client(), keys, 1, 1, "0", 0).Err()
		}},
		{"cancel", func(keys []string) error { return cancelScript.Run(ctx, l.conn.Client(), keys[:1], "1", "").Err() }},
		{"pause", func(keys []string) error { return pauseScript.Run(ctx, l.conn.Client(), keys[:1], 1).Err() }},
	} {
		if err := tt.run([]string{tat, pause}); err != nil {
			t.Errorf("%s on one account's keys: %v; want nil", tt.name, err)
		}
	}
	err := reserveScript.Run(ctx, l.conn.Client(), []string{tat, otherTAT}, 1, 1, "0", 0).Err()
	redistest.WantCrossSlot(t, err)
}
