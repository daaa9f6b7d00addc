package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// Three instances sharing REDIS_URL, each hammered with its own videos and
// set to the emulator's limit, spend one budget: no 0429, and the observed
// rate stays within the limit plus the burst.
func TestReplicasShareRateLimit(t *testing.T) {
	const limit, burst = 20, 5
	const instances, clientsPerInstance, videosPerQuery = 3, 3, 8
	vs, nos := testVideos(instances * clientsPerInstance * videosPerQuery)
	r := setupReplicas(t, instances, emulator.Options{Videos: vs, RateLimit: limit, Burst: burst},
		withRedis(t, map[string]string{
			"MEMORIES_API_KEY":    testKey,
			"MEMORIES_RATE_LIMIT": fmt.Sprint(limit),
			"MEMORIES_RATE_BURST": fmt.Sprint(burst),
			"MEMORIES_BATCH":      "off", // the get_metadata budget, call by call
			// As the README says for three replicas: should a replica fall
			// back on its local limiter, it takes a third of the budget.
			"EXPECTED_REPLICAS": fmt.Sprint(instances),
			// A generous Redis timeout: on a loaded machine a slow reply
			// would send one replica onto its local limiter while the
			// others still share the budget, and together they overshoot
			// (TestRedisOutageFallsBackAndRecovers covers the fallback).
			"REDIS_TIMEOUT": "2s",
		}))

	hammer(t, r, nos, clientsPerInstance, videosPerQuery)
	checkWithinLimit(t, r.emu, len(nos), limit, burst)
}

// hammer sends each instance clientsPerInstance concurrent queries, each for
// videosPerQuery videos of its own taken from nos in order, and checks that
// every video arrives.
func hammer(t *testing.T, r *harness, nos []string, clientsPerInstance, videosPerQuery int) {
	t.Helper()
	var wg sync.WaitGroup
	for inst := range r.servers {
		for c := range clientsPerInstance {
			first := (inst*clientsPerInstance + c) * videosPerQuery
			mine := nos[first : first+videosPerQuery]
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp := postQuery(t, r.servers[inst].url, videosQuery(mine), nil)
				checkVideos(t, fmt.Sprintf("instance %d", inst), resp, mine)
			}()
		}
	}
	wg.Wait()
}

// checkWithinLimit checks that the emulator served n calls, never said
// 0429, and never served more than limit + burst in one second.
func checkWithinLimit(t *testing.T, emu *emulator.Server, n, limit, burst int) {
	t.Helper()
	st := emu.Stats()
	if st.RateLimited != 0 {
		t.Errorf("upstream 0429 answers = %d; want 0", st.RateLimited)
	}
	if got, want := st.Served, int64(n); got != want {
		t.Errorf("served = %d; want %d", got, want)
	}
	if got, most := emu.MaxServedInWindow(time.Second), limit+burst; got > most {
		t.Errorf("most calls served in one second = %d; want at most %d (limit + burst)", got, most)
	}
}

// One instance cut off from Redis limits itself to its share of the budget
// (1/EXPECTED_REPLICAS); the instances still sharing the budget see it
// missing and leave that share unspent, so that together they stay within
// the account's limit.
func TestReplicaCutOffFromRedisKeepsAccountWithinLimit(t *testing.T) {
	const limit, burst = 20, 5
	const instances, clientsPerInstance, videosPerQuery = 3, 3, 8
	vs, nos := testVideos(instances * clientsPerInstance * videosPerQuery)
	env := withRedis(t, map[string]string{
		"MEMORIES_API_KEY":    testKey,
		"MEMORIES_RATE_LIMIT": fmt.Sprint(limit),
		"MEMORIES_RATE_BURST": fmt.Sprint(burst),
		"MEMORIES_BATCH":      "off", // the get_metadata budget, call by call
		"EXPECTED_REPLICAS":   fmt.Sprint(instances),
		"REDIS_TIMEOUT":       "2s", // see TestReplicasShareRateLimit
	})
	proxied, cut := redistest.Proxy(t, env["REDIS_URL"])
	r := setupEach(t, emulator.Options{Videos: vs, RateLimit: limit, Burst: burst},
		[]map[string]string{with(env, "REDIS_URL", proxied), env, env})

	cut()
	eventually.True(t, "instance 0 to fall back", func() bool { return r.servers[0].logs.Count("redis unavailable") > 0 })
	for i := 1; i < instances; i++ {
		eventually.True(t, fmt.Sprintf("instance %d to miss instance 0", i), func() bool { return r.servers[i].logs.Count("missing=1") > 0 })
	}
	for i, want := range []string{"memories_redis_up 0", "memories_replicas_missing 1", "memories_replicas_missing 1"} {
		if got := r.servers[i].metrics(t); !strings.Contains(got, "\n"+want+"\n") {
			t.Errorf("instance %d /metrics lacks %q", i, want)
		}
	}
	hammer(t, r, nos, clientsPerInstance, videosPerQuery)
	checkWithinLimit(t, r.emu, len(nos), limit, burst)
}

// A video (or a "not found") fetched through one instance is answered by
// another without an upstream call.
func TestReplicasShareCache(t *testing.T) {
	vs, nos := testVideos(1)
	r := setupReplicas(t, 2, emulator.Options{Videos: vs}, withRedis(t, fast))
	wantSharedCache(t, r, nos[0])
}

// wantSharedCache asks every replica of r for video no (testVideos' first,
// clip-0) and for an unknown video, and wants one upstream call for each:
// the replicas after the first answer from the shared cache.
func wantSharedCache(t *testing.T, r *harness, known string) {
	t.Helper()
	const q = `query($no: ID!) { video(videoNo: $no) { videoNo videoName } }`
	for _, no := range []string{known, "VI000000000000000404"} {
		for i, in := range r.servers {
			resp := postQuery(t, in.url, q, map[string]any{"no": no})
			if len(resp.Errors) > 0 {
				t.Fatalf("instance %d: errors %+v", i, resp.Errors)
			}
			v := decodeVideo(t, resp.Data["video"])
			if found := no == known; (v != nil) != found || (found && v.VideoName != "clip-0") {
				t.Errorf("instance %d, %s: video = %+v; want found=%v", i, no, v, found)
			}
		}
		if got := r.emu.RequestsFor(no); got != 1 {
			t.Errorf("upstream calls for %s = %d; want 1 (the second instance used the shared cache)", no, got)
		}
	}
}

// 50 concurrent identical requests on one instance make one upstream call;
// the request that started it cancelling does not fail the rest.
func TestConcurrentIdenticalRequestsShareOneCall(t *testing.T) {
	for _, mode := range []string{"local", "redis"} {
		t.Run(mode, func(t *testing.T) {
			env := fast
			if mode == "redis" {
				env = withRedis(t, fast)
			}
			vs, nos := testVideos(1)
			// The upstream answers slowly, so that every request joins the
			// call in flight.
			r := setupReplicas(t, 1, emulator.Options{Videos: vs, Latency: 3 * time.Second}, env)
			query := videosQuery(nos)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			firstErr := make(chan error, 1)
			go func() { firstErr <- postWithContext(ctx, r.url, query, nil) }()
			eventually.True(t, "the first request's upstream call", func() bool { return r.emu.Stats().Requests == 1 })

			const n = 50
			var wg sync.WaitGroup
			for i := 1; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp := postQuery(t, r.url, query, nil)
					checkVideos(t, fmt.Sprintf("request %d", i), resp, nos)
				}()
			}
			// Every request has reached the handler; give them a moment to
			// reach the shared call (2ms of batching and a cache miss),
			// well inside the upstream's 3s.
			eventually.True(t, "every request to arrive", func() bool { return r.servers[0].entered.Load() == n })
			time.Sleep(300 * time.Millisecond)
			cancel()
			if err := <-firstErr; !errors.Is(err, context.Canceled) {
				t.Errorf("first request: err = %v; want context.Canceled", err)
			}
			wg.Wait()

			if got := r.emu.Stats().Requests; got != 1 {
				t.Errorf("upstream calls = %d; want 1", got)
			}
			// And the answer stays for the next request.
			if resp := postQuery(t, r.url, query, nil); len(resp.Errors) > 0 || r.emu.Stats().Requests != 1 {
				t.Errorf("later request: errors %+v, upstream calls %d; want none, 1", resp.Errors, r.emu.Stats().Requests)
			}
		})
	}
}

// Concurrent requests for one video spread over three instances make one
// upstream call: the instance that claims the fetch in Redis makes it, the
// others wait for its answer.
func TestReplicasShareOneCallInFlight(t *testing.T) {
	vs, nos := testVideos(1)
	// The upstream answers slowly, so that every request misses the cache
	// while the first call is in flight.
	// A generous Redis timeout: on a loaded machine a slow reply would turn
	// Redis "down" for an instance, which then fetches for itself.
	env := withRedis(t, with(fast, "REDIS_TIMEOUT", "2s"))
	r := setupReplicas(t, 3, emulator.Options{Videos: vs, Latency: 2 * time.Second}, env)
	query := videosQuery(nos)
	const perInstance = 10
	var wg sync.WaitGroup
	for i, in := range r.servers {
		for range perInstance {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp := postQuery(t, in.url, query, nil)
				checkVideos(t, fmt.Sprintf("instance %d", i), resp, nos)
			}()
		}
	}
	wg.Wait()
	for i := range r.servers {
		if got := r.servers[i].entered.Load(); got != perInstance {
			t.Fatalf("instance %d served %d requests; want %d", i, got, perInstance)
		}
	}
	if got := r.emu.RequestsFor(nos[0]); got != 1 {
		t.Errorf("upstream calls = %d; want 1 across all instances", got)
	}
}

// In pass-through mode two accounts asking for the same video numbers never
// see each other's entries, through one instance or two.
func TestAccountsNeverShareCache(t *testing.T) {
	const keyA, keyB = "sk-alpha-4f1c", "sk-bravo-93de"
	for _, mode := range []string{"local", "redis"} {
		t.Run(mode, func(t *testing.T) {
			env, n := passThrough, 1
			if mode == "redis" {
				env, n = withRedis(t, passThrough), 2
			}
			r := setupReplicas(t, n, emulator.Options{
				Keys:   []string{keyA, keyB},
				Videos: []emulator.Video{},
				AccountVideos: map[string][]emulator.Video{
					keyA: {rawVideo("default", `{"video_no":"VI1","video_name":"alpha","status":"PARSE"}`),
						rawVideo("default", `{"video_no":"VI2","video_name":"alpha only","status":"PARSE"}`)},
					keyB: {rawVideo("default", `{"video_no":"VI1","video_name":"bravo","status":"PARSE"}`)},
				},
			}, env)
			want := map[string]string{
				keyA: `{"one":{"videoName":"alpha"},"two":{"videoName":"alpha only"}}`,
				keyB: `{"one":{"videoName":"bravo"},"two":null}`,
			}
			const q = `{ one: video(videoNo: "VI1") { videoName } two: video(videoNo: "VI2") { videoName } }`
			// Each account through each instance, twice: the second round
			// is answered from the cache.
			for round := range 2 {
				for i, in := range r.servers {
					for _, key := range []string{keyA, keyB} {
						resp := postQuery(t, in.url, q, nil, "Authorization", key)
						if len(resp.Errors) > 0 {
							t.Fatalf("errors: %+v", resp.Errors)
						}
						got, _ := json.Marshal(resp.Data)
						if string(got) != want[key] {
							t.Errorf("round %d, instance %d, key %s: data %s; want %s", round, i, key[:8], got, want[key])
						}
					}
				}
			}
			st := r.emu.Stats()
			for _, key := range []string{keyA, keyB} {
				if got := st.ByKeyHash[emulator.KeyHash(key)]; got != 2 {
					t.Errorf("upstream calls with key %s = %d; want 2 (one per video)", key[:8], got)
				}
			}
			if mode == "redis" {
				for _, k := range redistest.Keys(t, env["REDIS_URL"], env["REDIS_KEY_PREFIX"]) {
					if strings.Contains(k, keyA) || strings.Contains(k, keyB) {
						t.Errorf("Redis key %q contains an API key", k)
					}
				}
			}
		})
	}
}

// Redis stopped in the middle of a run: the instances keep answering from
// their local limiter and cache, say so once, and go back to the shared
// ones when Redis returns.
func TestRedisOutageFallsBackAndRecovers(t *testing.T) {
	redistest.URL(t) // the Redis tests run together, or not at all
	srv := redistest.StartServer(t)
	const instances = 2
	vs, nos := testVideos(2000)
	r := setupReplicas(t, instances, emulator.Options{Videos: vs, RateLimit: 50, Burst: 10}, map[string]string{
		"MEMORIES_API_KEY":    testKey,
		"MEMORIES_RATE_LIMIT": "50",
		"MEMORIES_RATE_BURST": "10",
		"MEMORIES_BATCH":      "off", // one call per video keeps the budget busy
		"EXPECTED_REPLICAS":   fmt.Sprint(instances),
		"REDIS_URL":           srv.URL(),
		"REDIS_KEY_PREFIX":    "outage",
	})

	// Each instance's client asks for two new videos and one it asked for
	// before, over and over, until stopped.
	var next atomic.Int64
	var answered atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for inst := range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				a := int(next.Add(2))
				asked := []string{nos[(a-1)%len(nos)], nos[a%len(nos)], nos[0]}
				resp := postQuery(t, r.servers[inst].url, videosQuery(asked), nil)
				if checkVideos(t, fmt.Sprintf("instance %d", inst), resp, asked) {
					answered.Add(1)
				}
			}
		}()
	}
	answeredBy := func(n int64) {
		eventually.True(t, fmt.Sprintf("%d answers", n), func() bool { return answered.Load() >= n })
	}

	answeredBy(10)
	srv.Stop()
	for i, in := range r.servers {
		eventually.True(t, fmt.Sprintf("instance %d to notice", i), func() bool {
			return in.logs.Count("redis unavailable, using local limiter and cache") > 0
		})
	}
	answeredBy(answered.Load() + 20) // served from the local limiter and cache

	srv.Start()
	for i, in := range r.servers {
		eventually.True(t, fmt.Sprintf("instance %d to use Redis again", i), func() bool {
			return in.logs.Count("redis available again") > 0
		})
	}
	answeredBy(answered.Load() + 10)
	close(stop)
	wg.Wait()

	for i, in := range r.servers {
		if got := in.logs.Count("redis unavailable, using local limiter and cache"); got != 1 {
			t.Errorf("instance %d logged the outage %d times; want 1", i, got)
		}
		if got := in.logs.Count("redis available again"); got != 1 {
			t.Errorf("instance %d logged the recovery %d times; want 1", i, got)
		}
	}
	// The restarted Redis started empty: the limiter's and the cache's
	// keys in it show that the shared ones are used again.
	acct, _ := account.New(testKey)
	keys := redistest.Keys(t, srv.URL(), "outage")
	var tat, videos int
	for _, k := range keys {
		switch {
		case k == "outage:v1:rate:{"+acct.ID()+"}:tat":
			tat++
		case strings.HasPrefix(k, "outage:v3:video:{"+acct.ID()+"}:"):
			videos++
		}
	}
	if tat != 1 || videos == 0 {
		t.Errorf("after Redis returned: rate keys %d, video keys %d; want 1 and some (keys %q)", tat, videos, keys)
	}
}

// A Redis missing when the service starts does not stop it.
func TestRedisDownAtStart(t *testing.T) {
	redistest.URL(t)
	srv := redistest.StartServer(t)
	srv.Stop()
	vs, nos := testVideos(1)
	r := setupReplicas(t, 1, emulator.Options{Videos: vs}, with(fast, "REDIS_URL", srv.URL()))
	for range 3 {
		resp := postQuery(t, r.url, videosQuery(nos), nil)
		if len(resp.Errors) > 0 {
			t.Fatalf("errors: %+v", resp.Errors)
		}
	}
	if got := r.emu.RequestsFor(nos[0]); got != 1 {
		t.Errorf("upstream calls = %d; want 1 (the local cache serves)", got)
	}
	if got := r.servers[0].logs.Count("level=WARN msg=\"redis unavailable, using local limiter and cache\""); got != 1 {
		t.Errorf("WARN logged %d times; want 1\n%s", got, r.servers[0].logs)
	}
}
