package main

// The tests of server.go: run's flags and environment, what it logs, and how
// it shuts down, with run itself in process. The full-stack scenarios (the
// server in front of the emulator, Redis, a browser, a gateway, the built
// binary) are in e2e/.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/app"
	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/eventually"
	"github.com/memories-facade/memories-graphql/internal/leakcheck"
)

// runningServer is run itself, in-process, until stop or the test's end.
type runningServer struct {
	base    string // http://127.0.0.1:PORT
	cancel  context.CancelFunc
	done    chan error
	drained chan struct{} // closed when everything run logged has been read
	mu      sync.Mutex
	log     strings.Builder // what run logged, guarded by mu
}

// startRun starts run with args and env, and waits for it to listen: run
// reports its address.
func startRun(t *testing.T, args []string, env map[string]string) *runningServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &runningServer{cancel: cancel, done: make(chan error, 1), drained: make(chan struct{})}
	pr, pw := io.Pipe()
	addr := make(chan net.Addr, 1)
	go func() {
		s.done <- run(ctx, args, func(k string) string { return env[k] }, io.Discard, pw, func(a net.Addr) { addr <- a })
		pw.Close()
	}()
	t.Cleanup(func() { _ = s.stop(t) })

	go func() {
		defer close(s.drained)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
	}()
	select {
	case a := <-addr:
		// Loopback, whatever interface it listens on.
		s.base = "http://127.0.0.1:" + strconv.Itoa(a.(*net.TCPAddr).Port)
	case <-s.drained:
		t.Fatalf("run ended before listening:\n%s", s.logs())
	case <-time.After(60 * time.Second):
		t.Fatal("run did not listen within 60s")
	}
	return s
}

// logs returns what the server has logged so far.
func (s *runningServer) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// stop ends run's context, as SIGINT does, and returns what run returned
// once every line it logged has been read.
func (s *runningServer) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err, ok := <-s.done:
		if ok {
			close(s.done)
		}
		<-s.drained
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("run did not return after its context ended")
		return nil
	}
}

// fast configures a server with its own key whose limits are out of the
// way, one get_metadata call per video; MEMORIES_BASE_URL is the upstream.
func fast(baseURL string) map[string]string {
	return map[string]string{"MEMORIES_BASE_URL": baseURL, "MEMORIES_API_KEY": "sk-test-server-key",
		"MEMORIES_RATE_LIMIT": "10000", "MEMORIES_RATE_BURST": "1000",
		"MEMORIES_LIST_RATE_LIMIT": "10000", "MEMORIES_LIST_RATE_BURST": "1000", "MEMORIES_BATCH": "off"}
}

// vendorExample is a sample video of the sandbox.
const vendorExample = "VI606404158946574336"

// videosListQuery asks for nos as one videos list.
const videosListQuery = `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo } }`

// answer is a GraphQL response, as these tests read it.
type answer struct {
	status int
	Data   struct {
		Videos []*struct{ VideoNo string }
	}
	Errors []struct {
		Path       []any
		Extensions struct{ Code string }
	}
}

// postQuery posts one GraphQL operation to url.
func postQuery(t *testing.T, url, q string, vars map[string]any) answer {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": q, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode}
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("response is not GraphQL JSON (HTTP %d): %v\n%s", resp.StatusCode, err, raw)
	}
	return a
}

func TestRunRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"malformed env", nil, map[string]string{"MEMORIES_RATE_LIMIT": "fast"}},
		{"zero rate", []string{"-memories-rate-limit", "0"}, nil},
		{"zero burst", nil, map[string]string{"MEMORIES_RATE_BURST": "0"}},
		{"bad timeout", nil, map[string]string{"REQUEST_TIMEOUT": "soon"}},
		{"unknown flag", []string{"-nope"}, nil},
		{"stray argument", []string{"serve"}, nil},
		{"bad log format", nil, map[string]string{"LOG_FORMAT": "xml"}},
		{"bad base URL", nil, map[string]string{"MEMORIES_BASE_URL": "ftp://x"}},
		{"bad OTLP endpoint", nil, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, io.Discard, io.Discard, nil)
			if err == nil {
				t.Errorf("run(%v, %v) = nil; want an error", tt.args, tt.env)
			}
		})
	}
}

func TestConfigFlagBeatsEnv(t *testing.T) {
	env := map[string]string{"PORT": "9000", "MEMORIES_RATE_LIMIT": "7", "REQUEST_TIMEOUT": "3s"}
	cfg, err := app.ParseConfig([]string{"-port", "9001"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 9001 || cfg.RateLimit != 7 || cfg.RequestTimeout != 3*time.Second || cfg.RateBurst != 5 || cfg.MaxVideos != 2000 || cfg.MaxDetail != 100 || !cfg.Batch || cfg.ListBatchSize != 200 {
		t.Errorf("cfg = %+v; want port 9001 (flag), rate 7 and timeout 3s (env), burst 5, max videos 2000, max detail videos 100, batching on, batch size 200 (defaults)", cfg)
	}
}

func TestCacheSettings(t *testing.T) {
	env := map[string]string{"CACHE_TTL_PARSE": "1h", "CACHE_MAX_ENTRIES": "5", "REDIS_URL": "redis://r:6379/2"}
	cfg, err := app.ParseConfig([]string{"-cache-ttl-unparse", "0", "-expected-replicas", "3"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		got, want any
	}{
		{"CACHE_TTL_PARSE (env)", cfg.CacheTTLParse, time.Hour},
		{"CACHE_TTL_FAILED (default)", cfg.CacheTTLFailed, time.Minute},
		{"CACHE_TTL_UNPARSE (flag)", cfg.CacheTTLUnparse, time.Duration(0)},
		{"CACHE_TTL_NOT_FOUND (default)", cfg.CacheTTLNotFound, 5 * time.Second},
		{"CACHE_TTL_DETAIL (default)", cfg.CacheTTLDetail, 24 * time.Hour},
		{"CACHE_MAX_ENTRIES (env)", cfg.CacheMaxEntries, 5},
		{"REDIS_URL (env)", cfg.RedisURL, "redis://r:6379/2"},
		{"REDIS_KEY_PREFIX (default)", cfg.RedisKeyPrefix, "mgql"},
		{"REDIS_TIMEOUT (default)", cfg.RedisTimeout, 500 * time.Millisecond},
		{"EXPECTED_REPLICAS (flag)", cfg.ExpectedReplicas, 3},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %v; want %v", tt.name, tt.got, tt.want)
		}
	}
	defaults, err := app.ParseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if defaults.CacheMaxEntries != 10000 || defaults.CacheTTLParse != 10*time.Minute || defaults.RedisURL != "" || defaults.ExpectedReplicas != 1 {
		t.Errorf("defaults = %+v; want 10000 entries, 10m for PARSE, no Redis, 1 replica", defaults)
	}

	for _, bad := range []map[string]string{
		{"CACHE_TTL_PARSE": "-1s"},
		{"CACHE_TTL_NOT_FOUND": "soon"},
		{"CACHE_TTL_DETAIL": "-1h"},
		{"CACHE_MAX_ENTRIES": "0"},
		{"EXPECTED_REPLICAS": "0"},
		{"REDIS_URL": "redis://r:6379/0", "REDIS_TIMEOUT": "0s"},
		{"REDIS_URL": "http://user:hunter2@host"},
	} {
		err := run(context.Background(), nil, func(k string) string { return bad[k] }, io.Discard, io.Discard, nil)
		if err == nil {
			t.Errorf("run with %v = nil; want an error", bad)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("run with %v: error %q shows the password", bad, err)
		}
	}
}

// The server warns loudly when it holds a real key, has no access tokens and
// listens beyond loopback.
func TestExposedKeyWarning(t *testing.T) {
	tests := []struct {
		name string
		host string
		env  map[string]string
		want bool
	}{
		{"key on all interfaces", "0.0.0.0", map[string]string{"MEMORIES_API_KEY": "sk-x", "MEMORIES_BASE_URL": "http://127.0.0.1:1"}, true},
		{"key on loopback", "127.0.0.1", map[string]string{"MEMORIES_API_KEY": "sk-x", "MEMORIES_BASE_URL": "http://127.0.0.1:1"}, false},
		{"key with tokens", "0.0.0.0", map[string]string{"MEMORIES_API_KEY": "sk-x", "MEMORIES_BASE_URL": "http://127.0.0.1:1", "ACCESS_TOKENS": "t"}, false},
		{"sandbox", "0.0.0.0", map[string]string{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startRun(t, []string{"-host", tt.host, "-port", "0"}, tt.env)
			_ = srv.stop(t) // the warning, if any, is logged before serving
			got := strings.Contains(srv.logs(), "SECURITY")
			if got != tt.want {
				t.Errorf("warned = %v; want %v\n%s", got, tt.want, srv.logs())
			}
			if strings.Contains(srv.logs(), "sk-x") {
				t.Error("logs contain the API key")
			}
		})
	}
}

// /readyz fails as soon as shutdown begins, while in-flight work drains.
func TestReadinessDuringShutdown(t *testing.T) {
	srv := startRun(t, []string{"-host", "127.0.0.1", "-port", "0"}, map[string]string{"SHUTDOWN_DELAY": "2s"})
	status := func() int {
		resp, err := http.Get(srv.base + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(); got != 200 {
		t.Fatalf("/readyz = %d; want 200", got)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- srv.stop(t) }()
	deadline := time.Now().Add(10 * time.Second)
	for status() != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("/readyz never answered 503 during the shutdown delay")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := <-stopped; err != nil {
		t.Errorf("run = %v; want nil", err)
	}
}

// JSON logs carry the request id on every record of a request.
func TestJSONLogsCarryRequestID(t *testing.T) {
	srv := startRun(t, []string{"-host", "127.0.0.1", "-port", "0"}, map[string]string{"LOG_FORMAT": "json"})
	postQuery(t, srv.base+"/query", `{ video(videoNo: "`+vendorExample+`") { videoNo } }`, nil)
	_ = srv.stop(t) // flushes the request's log record
	var found bool
	for _, line := range strings.Split(srv.logs(), "\n") {
		if strings.Contains(line, `"msg":"request"`) && strings.Contains(line, `"path":"/query"`) {
			found = true
			if !strings.Contains(line, `"request_id":"`) {
				t.Errorf("request record without request_id: %s", line)
			}
		}
	}
	if !found {
		t.Errorf("no JSON request record in:\n%s", srv.logs())
	}
}

// Shutdown with queries in flight on a slow upstream: run stops accepting
// connections, lets every query finish (data for the healthy videos, the
// failing one's error at its index), then returns nil.
func TestShutdownDrainsQueriesInFlight(t *testing.T) {
	leakcheck.Check(t)
	const clients = 4
	vs := make([]emulator.Video, clients)
	nos := make([]string, clients)
	for i := range vs {
		nos[i] = fmt.Sprintf("VI9%017d", i)
		vs[i] = emulator.Video{UniqueID: "default", Data: json.RawMessage(fmt.Sprintf(`{"video_no":%q,"status":"PARSE"}`, nos[i]))}
	}
	const broken = "VIbroken"
	emu, err := emulator.Start(emulator.Options{
		Videos:  vs,
		Latency: 1500 * time.Millisecond,
		Faults:  map[string]emulator.Fault{broken: {Kind: emulator.FaultHTTPError}},
	})
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() { emu.Close() })

	srv := startRun(t, []string{"-host", "127.0.0.1", "-port", "0"}, fast(emu.URL()))
	url := srv.base + "/query"

	answers := make([]answer, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = postQuery(t, url, videosListQuery, map[string]any{"nos": []string{nos[i], broken}})
		}()
	}
	// Every query is waiting on the upstream when the shutdown begins.
	eventually.True(t, "every query to reach the upstream", func() bool {
		for _, no := range nos {
			if emu.RequestsFor(no) == 0 {
				return false
			}
		}
		return true
	})
	stopped := make(chan error, 1)
	go func() { stopped <- srv.stop(t) }()
	wg.Wait()

	for i, resp := range answers {
		if resp.status != http.StatusOK {
			t.Errorf("client %d: HTTP status = %d; want 200", i, resp.status)
		}
		if got := resp.Data.Videos; len(got) != 2 || got[0] == nil || got[0].VideoNo != nos[i] || got[1] != nil {
			videos, _ := json.Marshal(got)
			t.Errorf("client %d: videos = %s; want [%s, null]", i, videos, nos[i])
		}
		if e := resp.Errors; len(e) != 1 || fmt.Sprint(e[0].Path) != "[videos 1]" || e[0].Extensions.Code != "UPSTREAM_ERROR" {
			t.Errorf("client %d: errors = %+v; want one UPSTREAM_ERROR at videos.1", i, e)
		}
	}
	if err := <-stopped; err != nil {
		t.Errorf("run = %v; want nil", err)
	}
	// Drained and closed: nothing listens there any more.
	if resp, err := http.Post(url, "application/json", strings.NewReader(`{"query":"{__typename}"}`)); err == nil {
		resp.Body.Close()
		t.Errorf("POST after shutdown: HTTP %d; want a connection error", resp.StatusCode)
	}
}
