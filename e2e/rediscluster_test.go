package e2e

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/eventually"
	"github.com/memories-facade/memories-graphql/internal/redistest"
)

// The scenarios of replicas_test.go and live_test.go on a Redis Cluster of
// three primaries: replicas given the cluster's seeds (REDIS_URL with
// REDIS_CLUSTER=on) share the rate limit, the cache and the watch, and keep
// answering while a slot moves or a primary is down.

// withCluster points env at cluster, under a key prefix of the test's own.
func withCluster(t testing.TB, cluster *redistest.Cluster, env map[string]string) map[string]string {
	t.Helper()
	return with(env, "REDIS_URL", cluster.URL(), "REDIS_CLUSTER", "on", "REDIS_KEY_PREFIX", redistest.Prefix(t, cluster.URL()),
		// A generous Redis timeout: see TestReplicasShareRateLimit.
		"REDIS_TIMEOUT", "2s")
}

// testAccountSlot returns the cluster slot of the test key's account: the
// slot of every key and channel of that account.
func testAccountSlot(t *testing.T, cluster *redistest.Cluster) int {
	t.Helper()
	acct, _ := account.New(testKey)
	return cluster.Slot(t, "{"+acct.ID()+"}")
}

// Two replicas on a cluster spend one budget: no 0429, and the observed
// rate stays within the limit plus the burst.
func TestClusterReplicasShareRateLimit(t *testing.T) {
	const limit, burst = 20, 5
	const instances, clientsPerInstance, videosPerQuery = 2, 3, 8
	vs, nos := testVideos(instances * clientsPerInstance * videosPerQuery)
	r := setupReplicas(t, instances, emulator.Options{Videos: vs, RateLimit: limit, Burst: burst},
		withCluster(t, redistest.SharedCluster(t), map[string]string{
			"MEMORIES_API_KEY":    testKey,
			"MEMORIES_RATE_LIMIT": fmt.Sprint(limit),
			"MEMORIES_RATE_BURST": fmt.Sprint(burst),
			"MEMORIES_BATCH":      "off",
			"EXPECTED_REPLICAS":   fmt.Sprint(instances),
		}))
	hammer(t, r, nos, clientsPerInstance, videosPerQuery)
	checkWithinLimit(t, r.emu, len(nos), limit, burst)
	for i, in := range r.servers {
		if got := in.logs.Count("redis unavailable"); got != 0 {
			t.Errorf("instance %d fell back on its local limiter %d times; want 0", i, got)
		}
	}
}

// A video (or a "not found") fetched through one replica on a cluster is
// answered by the other without an upstream call; the account's keys all
// live in its slot.
func TestClusterReplicasShareCache(t *testing.T) {
	cluster := redistest.SharedCluster(t)
	vs, nos := testVideos(1)
	env := withCluster(t, cluster, fast)
	r := setupReplicas(t, 2, emulator.Options{Videos: vs}, env)
	wantSharedCache(t, r, nos[0])
	slot := testAccountSlot(t, cluster)
	keys := redistest.Keys(t, env["REDIS_URL"], env["REDIS_KEY_PREFIX"])
	var videos int
	for _, k := range keys {
		if strings.Contains(k, ":video:") {
			videos++
		}
		if !strings.HasSuffix(k, ":replicas") && cluster.Slot(t, k) != slot {
			t.Errorf("key %s in slot %d; want the account's, %d", k, cluster.Slot(t, k), slot)
		}
	}
	if videos != 2 {
		t.Errorf("got keys %q; want the two answers", keys)
	}
}

// Subscribers on two replicas on a cluster watch the same videos: the
// upstream sees the polls of one replica, and every subscriber, on either
// replica, sees the change, over sharded pub/sub.
func TestClusterWatchSharedAcrossReplicas(t *testing.T) {
	vs, nos := processingVideos(10, 5*time.Second)
	r := setupReplicas(t, 2, emulator.Options{Videos: vs}, withCluster(t, redistest.SharedCluster(t), with(fastList, "WATCH_INTERVAL", "300ms")))
	var chans []<-chan liveEvent
	for _, in := range r.servers {
		chans = append(chans, subscribeAll(t, in, 5, nos)...)
	}
	for _, ch := range chans {
		awaitStatus(t, ch, nos, "UNPARSE", 20*time.Second)
	}
	before := r.emu.Stats().List.Requests
	p0, p1 := watchPolls(t, r.servers[0]), watchPolls(t, r.servers[1])
	time.Sleep(3 * time.Second) // 10 intervals
	polls := r.emu.Stats().List.Requests - before
	if polls < 5 || polls > 14 {
		t.Errorf("%d list_videos calls in 10 intervals for 10 subscribers on 2 replicas; want about 10, one replica's", polls)
	}
	if d0, d1 := watchPolls(t, r.servers[0])-p0, watchPolls(t, r.servers[1])-p1; d0 > 0 && d1 > 0 {
		t.Errorf("both replicas polled (%d and %d polls); want one", d0, d1)
	}
	for _, ch := range chans {
		awaitStatus(t, ch, nos, "PARSE", 20*time.Second)
	}
}

// load sends each replica of r queries of two new videos and one seen
// before, over and over, until stop is called; every query must be
// answered in full. answeredBy waits for n answers in all.
func load(t *testing.T, r *harness, nos []string) (answeredBy func(n int64), answered func() int64, stop func()) {
	var next, count atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	for inst := range r.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				a := int(next.Add(2))
				asked := []string{nos[(a-1)%len(nos)], nos[a%len(nos)], nos[0]}
				resp := postQuery(t, r.servers[inst].url, videosQuery(asked), nil)
				if checkVideos(t, fmt.Sprintf("instance %d", inst), resp, asked) {
					count.Add(1)
				}
			}
		}()
	}
	answeredBy = func(n int64) {
		t.Helper()
		eventually.True(t, fmt.Sprintf("%d answers", n), func() bool { return count.Load() >= n })
	}
	stop = sync.OnceFunc(func() {
		close(done)
		wg.Wait()
	})
	t.Cleanup(stop)
	return answeredBy, count.Load, stop
}

// The account's slot moves to another primary while two replicas answer
// queries and watch videos: every query is answered, the watch's change
// still reaches the subscribers of both replicas (the sharded subscription
// follows the slot), and both end sharing through the cluster.
func TestClusterSlotMoveUnderLoad(t *testing.T) {
	cluster := redistest.SharedCluster(t)
	slot := testAccountSlot(t, cluster)
	vs, nos := testVideos(2000)
	watched, watchedNos := processingVideos(3, 6*time.Second)
	env := withCluster(t, cluster, with(fastList,
		"MEMORIES_RATE_LIMIT", "50", "MEMORIES_RATE_BURST", "10", "EXPECTED_REPLICAS", "2", "WATCH_INTERVAL", "300ms"))
	r := setupReplicas(t, 2, emulator.Options{Videos: append(vs, watched...), RateLimit: 50, Burst: 10}, env)
	a := subscribeAll(t, r.servers[0], 1, watchedNos)[0]
	b := subscribeAll(t, r.servers[1], 1, watchedNos)[0]
	awaitStatus(t, a, watchedNos, "UNPARSE", 10*time.Second)
	awaitStatus(t, b, watchedNos, "UNPARSE", 10*time.Second)

	answeredBy, answered, stop := load(t, r, nos)
	answeredBy(10)
	from := cluster.Owner(t, slot)
	to := cluster.MoveSlot(t, slot, 100*time.Millisecond)
	if to == from {
		t.Fatalf("slot %d still on %s", slot, from)
	}
	answeredBy(answered() + 20)
	// The budget's key is on the slot's new primary (keys expire a second
	// after they stop mattering: look while the load runs).
	acct, _ := account.New(testKey)
	tat := env["REDIS_KEY_PREFIX"] + ":v1:rate-list:{" + acct.ID() + "}:tat"
	if keys := redistest.Keys(t, env["REDIS_URL"], env["REDIS_KEY_PREFIX"]); !slices.Contains(keys, tat) {
		t.Errorf("keys %q lack the budget's %s", keys, tat)
	}
	awaitStatus(t, a, watchedNos, "PARSE", 20*time.Second)
	awaitStatus(t, b, watchedNos, "PARSE", 20*time.Second)
	stop()

	// The calls on the moving slot were served locally, and counted; Redis
	// stayed available for the rest.
	var refused float64
	for i, in := range r.servers {
		if got := in.logs.Count("redis unavailable"); got != 0 {
			t.Errorf("instance %d fell back on its local state %d times; want 0 (only the moving slot's calls)\n%s", i, got, grepLines(in.logs.String(), "redis"))
		}
		if !strings.Contains(in.metrics(t), "\nmemories_redis_up 1\n") {
			t.Errorf("instance %d: memories_redis_up is not 1", i)
		}
		refused += in.metric(t, "memories_redis_slot_moving_total ")
	}
	if refused == 0 {
		t.Error("memories_redis_slot_moving_total = 0 on both instances; want the calls refused during the move counted")
	}
	t.Logf("calls refused while the slot moved: %v", refused)
}

// The primary of the account's slot goes away while two replicas answer
// queries: they keep answering from their local limiters and caches, say
// so in their metrics (memories_redis_up 0) and logs, and share through the
// cluster again once it serves every slot.
func TestClusterPrimaryOutageUnderLoad(t *testing.T) {
	cluster := redistest.StartCluster(t)
	vs, nos := testVideos(2000)
	r := setupReplicas(t, 2, emulator.Options{Videos: vs, RateLimit: 50, Burst: 10}, withCluster(t, cluster, with(fast,
		"MEMORIES_RATE_LIMIT", "50", "MEMORIES_RATE_BURST", "10", "EXPECTED_REPLICAS", "2")))
	answeredBy, answered, stop := load(t, r, nos)
	answeredBy(10)

	primary := cluster.Owner(t, testAccountSlot(t, cluster))
	cluster.StopNode(t, primary)
	for i, in := range r.servers {
		eventually.True(t, fmt.Sprintf("instance %d to say Redis is down", i), func() bool {
			return strings.Contains(in.metrics(t), "\nmemories_redis_up 0\n") && in.logs.Count("redis unavailable, using local limiter and cache") > 0
		})
	}
	answeredBy(answered() + 20) // from the local limiters and caches

	cluster.StartNode(t, primary)
	for i, in := range r.servers {
		eventually.True(t, fmt.Sprintf("instance %d to share through the cluster again", i), func() bool {
			return strings.Contains(in.metrics(t), "\nmemories_redis_up 1\n") && in.logs.Count("redis available again") > 0
		})
	}
	answeredBy(answered() + 10)
	stop()
	for i, in := range r.servers {
		if got := in.logs.Count("redis unavailable, using local limiter and cache"); got != 1 {
			t.Errorf("instance %d logged the outage %d times; want 1", i, got)
		}
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
