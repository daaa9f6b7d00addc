// Package e2e holds the full-stack scenarios: the real server (internal/app's
// handler over real HTTP, or the built binary) in front of the emulator over
// real HTTP, with a real Redis, a real Chromium or a real Apollo gateway
// where a scenario needs one. Every scenario starts what it needs through
// this file. The tests of server.go itself (run: flags, logs, signals, the
// drain) are in the repository root.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/app"
	"github.com/memories-facade/memories-graphql/internal/cost"
	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/redistest"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

// --- Configurations: the environment a server is started with.

// testKey is the server's own key in tests that are not about pass-through.
const testKey = "sk-test-server-key"

// fast is a server with its own key whose limits are out of the way, for
// tests that are not about the rate limit. It makes one get_metadata call
// per video (MEMORIES_BATCH=off), the path of every video that needs a
// detail field, which the tests written before batching exercise call by
// call; batch_test.go covers list_videos.
var fast = map[string]string{"MEMORIES_API_KEY": testKey, "MEMORIES_RATE_LIMIT": "10000", "MEMORIES_RATE_BURST": "1000",
	"MEMORIES_LIST_RATE_LIMIT": "10000", "MEMORIES_LIST_RATE_BURST": "1000", "MEMORIES_BATCH": "off"}

// passThrough is fast without a key: each request brings its own.
var passThrough = map[string]string{"MEMORIES_RATE_LIMIT": "10000", "MEMORIES_RATE_BURST": "1000",
	"MEMORIES_LIST_RATE_LIMIT": "10000", "MEMORIES_LIST_RATE_BURST": "1000", "MEMORIES_BATCH": "off"}

// fastList is fast with batching on, as it is by default.
var fastList = with(fast, "MEMORIES_BATCH", "on")

// with returns a copy of base with the name, value pairs kv set.
func with(base map[string]string, kv ...string) map[string]string {
	m := make(map[string]string, len(base)+len(kv)/2)
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// withRedis adds the machine's Redis (REDIS_URL) and a key prefix of the
// test's own to env. Without REDIS_URL the test skips, and under CI=true it
// fails.
func withRedis(t testing.TB, env map[string]string) map[string]string {
	t.Helper()
	u := redistest.URL(t)
	return with(env, "REDIS_URL", u, "REDIS_KEY_PREFIX", redistest.Prefix(t, u))
}

// --- Servers: internal/app over httptest, in front of an emulator.

// instance is one server: internal/app's handler over real HTTP.
type instance struct {
	origin  string                // http://127.0.0.1:PORT
	url     string                // the GraphQL endpoint, origin + "/query"
	handler http.Handler          // the app's handler, for in-process calls
	logs    *videotest.SyncBuffer // what it logged, when startInstance was given one
	entered atomic.Int64          // requests that reached it over HTTP
	close   func() error          // closes the HTTP server, then the app; once
	drain   func()                // what the server does on SIGTERM, before it closes
}

// startInstance starts a server configured by env, the variables a user
// sets, and closes it when the test ends, failing the test if it logged at
// ERROR. It logs to logs if not nil, and to stderr as well with TEST_LOG
// set.
func startInstance(t testing.TB, env map[string]string, logs *videotest.SyncBuffer) *instance {
	t.Helper()
	cfg, err := app.ParseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	errs := &errorRecords{}
	ws := []io.Writer{errs}
	if logs != nil {
		ws = append(ws, logs)
	}
	if os.Getenv("TEST_LOG") != "" {
		ws = append(ws, os.Stderr)
	}
	w := io.MultiWriter(ws...)
	// The service's own logger, as server.go makes it (text, info).
	logger, err := app.NewLogger(w, "text", "info")
	if err != nil {
		t.Fatalf("NewLogger: %v", err)
	}
	a, err := app.New(cfg, logger)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	in := &instance{handler: a.Handler(), logs: logs, drain: a.Drain}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in.entered.Add(1)
		in.handler.ServeHTTP(w, r)
	}))
	in.origin, in.url = srv.URL, srv.URL+"/query"
	in.close = sync.OnceValue(func() error {
		srv.Close()
		return a.Close()
	})
	t.Cleanup(func() {
		_ = in.close()
		// The server logs at ERROR only for its own bugs, which the answers
		// need not show (a client that has gone never reads its answer).
		if recs := errs.get(); len(recs) > 0 {
			t.Errorf("the server logged %d ERROR records; want none:\n%s", len(recs), strings.Join(recs, ""))
		}
	})
	return in
}

// harness is an emulator and the servers in front of it, which share its
// one upstream account: a single server (setup), or replicas (setupEach).
type harness struct {
	*instance                  // the first server
	emu       *emulator.Server // the upstream
	servers   []*instance      // every server, the first included
}

// startEmulator starts an emulator over real HTTP, closed when the test
// ends.
func startEmulator(t testing.TB, opts emulator.Options) *emulator.Server {
	t.Helper()
	emu, err := emulator.Start(opts)
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() { emu.Close() })
	return emu
}

// setup starts an emulator with emuOpts and a server configured by env;
// MEMORIES_BASE_URL points at the emulator.
func setup(t testing.TB, emuOpts emulator.Options, env map[string]string) *harness {
	t.Helper()
	emu := startEmulator(t, emuOpts)
	in := startInstance(t, with(env, "MEMORIES_BASE_URL", emu.URL()), nil)
	return &harness{instance: in, emu: emu, servers: []*instance{in}}
}

// setupReplicas starts an emulator with emuOpts and n servers configured by
// env, as behind a load balancer: one upstream account, one rate limit.
func setupReplicas(t testing.TB, n int, emuOpts emulator.Options, env map[string]string) *harness {
	t.Helper()
	envs := make([]map[string]string, n)
	for i := range envs {
		envs[i] = env
	}
	return setupEach(t, emuOpts, envs)
}

// setupEach starts an emulator with emuOpts and one server per env, all
// pointed at that emulator; each server's log is kept.
func setupEach(t testing.TB, emuOpts emulator.Options, envs []map[string]string) *harness {
	t.Helper()
	h := &harness{emu: startEmulator(t, emuOpts)}
	for _, env := range envs {
		h.servers = append(h.servers, startInstance(t, with(env, "MEMORIES_BASE_URL", h.emu.URL()), &videotest.SyncBuffer{}))
	}
	h.instance = h.servers[0]
	return h
}

// oneAndTwoReplicas runs f as two subtests, "one server" and "two replicas
// on Redis". f's start starts that deployment in front of an emulator with
// opts, its servers configured by env (with the machine's Redis, for the
// replicas).
func oneAndTwoReplicas(t *testing.T, f func(t *testing.T, replicas bool, start func(emulator.Options, map[string]string) *harness)) {
	for _, replicas := range []bool{false, true} {
		name := "one server"
		if replicas {
			name = "two replicas on Redis"
		}
		t.Run(name, func(t *testing.T) {
			f(t, replicas, func(opts emulator.Options, env map[string]string) *harness {
				if replicas {
					return setupReplicas(t, 2, opts, with(withRedis(t, env), "REDIS_TIMEOUT", "2s"))
				}
				return setup(t, opts, env)
			})
		})
	}
}

// countingUpstream is an emulator behind a handler that counts the upstream
// requests being served, so a test can see that a call it made hang has
// ended.
type countingUpstream struct {
	*emulator.Server
	inFlight atomic.Int64
}

// setupCounting is setup with an emulator whose requests in flight are
// counted, and the server's log kept.
func setupCounting(t *testing.T, emuOpts emulator.Options, env map[string]string) (*harness, *countingUpstream) {
	t.Helper()
	up := &countingUpstream{Server: emulator.New(emuOpts)}
	emuSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up.inFlight.Add(1)
		defer up.inFlight.Add(-1)
		up.Handler().ServeHTTP(w, r)
	}))
	closeUpstream := sync.OnceFunc(func() {
		up.Close()
		emuSrv.Close()
	})
	t.Cleanup(closeUpstream) // should startInstance fail
	in := startInstance(t, with(env, "MEMORIES_BASE_URL", emuSrv.URL), &videotest.SyncBuffer{})
	// Release hanging upstream requests before the server closes: a handler
	// still waiting on one (when the test failed) would otherwise keep the
	// server's Close waiting until the call's timeout.
	t.Cleanup(closeUpstream)
	return &harness{instance: in, emu: up.Server, servers: []*instance{in}}, up
}

// wantCost reports, in who's name, an extensions.cost of resp other than
// the upstream calls the emulator counted since its counters were last
// reset, and the cached and fetched videos given.
func (h *harness) wantCost(t testing.TB, who string, resp response, cached, fetched int64) {
	t.Helper()
	st := h.emu.Stats()
	want := cost.Report{Calls: cost.Calls{GetMetadata: st.Requests, ListVideos: st.List.Requests},
		Videos: cost.Videos{Cached: cached, Fetched: fetched}}
	if resp.Cost == nil {
		t.Errorf("%s: no extensions.cost; want %+v", who, want)
		return
	}
	got := *resp.Cost
	got.RateLimitWaitMs = 0 // a time: not asserted
	if got != want {
		t.Errorf("%s: extensions.cost = %+v; want %+v", who, got, want)
	}
}

// metrics returns what the server serves at /metrics.
func (in *instance) metrics(t testing.TB) string {
	t.Helper()
	res := httpGet(t, in.origin+"/metrics")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d", res.StatusCode)
	}
	return res.body
}

// metric sums the values of the /metrics lines of in that start with
// prefix (a name, or a name and labels): 0 when there are none.
func (in *instance) metric(t testing.TB, prefix string) float64 {
	t.Helper()
	var sum float64
	for line := range strings.SplitSeq(in.metrics(t), "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// --- Requests and responses.

type response struct {
	Status int
	Header http.Header
	Raw    string
	Data   map[string]json.RawMessage
	Errors []videotest.GQLError
	Cost   *cost.Report // extensions.cost; nil when absent
}

// errorsByPath indexes the errors by their path.
func (r response) errorsByPath() map[string]videotest.GQLError {
	m := make(map[string]videotest.GQLError, len(r.Errors))
	for _, e := range r.Errors {
		m[e.PathString()] = e
	}
	return m
}

// post sends body to url as JSON with ctx, and reads the answer in full;
// headers are name, value pairs.
func post(ctx context.Context, url string, body []byte, headers ...string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp, raw, err
}

// postBody posts body as it is and returns the GraphQL response, failing
// the test if the answer is not one.
func postBody(t testing.TB, url string, body []byte, headers ...string) response {
	t.Helper()
	resp, raw, err := post(context.Background(), url, body, headers...)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	return graphQLResponse(t, resp, raw)
}

// getQuery sends a GET to url (a GraphQL request in its query string) and
// returns the GraphQL response, failing the test if the answer is not one.
func getQuery(t testing.TB, url string) response {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return graphQLResponse(t, resp, raw)
}

// graphQLResponse decodes an answer, failing the test if it is not a
// GraphQL response.
func graphQLResponse(t testing.TB, resp *http.Response, raw []byte) response {
	t.Helper()
	var out struct {
		Data       map[string]json.RawMessage `json:"data"`
		Errors     []videotest.GQLError       `json:"errors"`
		Extensions struct {
			Cost *cost.Report `json:"cost"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("response is not GraphQL JSON (HTTP %d): %v\n%s", resp.StatusCode, err, raw)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw), Data: out.Data, Errors: out.Errors, Cost: out.Extensions.Cost}
}

// postQuery posts one GraphQL operation; headers are name, value pairs.
func postQuery(t testing.TB, url, q string, vars map[string]any, headers ...string) response {
	t.Helper()
	return postBody(t, url, mustJSON(map[string]any{"query": q, "variables": vars}), headers...)
}

// postWithContext posts one GraphQL operation with ctx, for a client that
// gives up: it returns the client's error only.
func postWithContext(ctx context.Context, url, q string, vars map[string]any) error {
	_, _, err := post(ctx, url, mustJSON(map[string]any{"query": q, "variables": vars}))
	return err
}

// query posts one GraphQL operation to the server; headers are name, value
// pairs.
func (in *instance) query(t testing.TB, q string, vars map[string]any, headers ...string) response {
	t.Helper()
	return postQuery(t, in.url, q, vars, headers...)
}

// videosListQuery asks for nos as one videos list, so that each failure
// lands at path videos.i.
const videosListQuery = `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo } }`

// videosList asks for nos in one videos list; it returns the list, which
// must have an element per number, and the response.
func (in *instance) videosList(t *testing.T, nos []string) ([]*videoJSON, response) {
	t.Helper()
	resp := in.query(t, videosListQuery, map[string]any{"nos": nos})
	if resp.Status != http.StatusOK {
		t.Errorf("HTTP status = %d; want 200", resp.Status)
	}
	got := decodeVideos(t, resp.Data["videos"])
	if len(got) != len(nos) {
		t.Fatalf("len(videos) = %d; want %d", len(got), len(nos))
	}
	return got, resp
}

// requireVideos asks for nos in one videos list and requires every one of
// them, in order, without errors.
func (in *instance) requireVideos(t *testing.T, nos []string) {
	t.Helper()
	got, resp := in.videosList(t, nos)
	if len(resp.Errors) > 0 {
		t.Fatalf("errors %+v; want none", resp.Errors)
	}
	for i, v := range got {
		if v == nil || v.VideoNo != nos[i] {
			t.Errorf("videos[%d] = %+v; want %s", i, v, nos[i])
		}
	}
}

// videosQuery asks for nos as separate aliases, so each one answers or fails
// on its own path.
func videosQuery(nos []string) string {
	q := "{"
	for i, no := range nos {
		q += fmt.Sprintf(" v%d: video(videoNo: %q) { videoNo }", i, no)
	}
	return q + " }"
}

// checkVideos reports, in who's name, the errors of an answer to
// videosQuery(nos) and every alias that is not its video; it returns whether
// the answer was right.
func checkVideos(t testing.TB, who string, resp response, nos []string) bool {
	t.Helper()
	if len(resp.Errors) > 0 {
		t.Errorf("%s: errors %+v", who, resp.Errors)
		return false
	}
	ok := true
	for i, no := range nos {
		if v := decodeVideo(t, resp.Data[fmt.Sprintf("v%d", i)]); v == nil || v.VideoNo != no {
			t.Errorf("%s: v%d = %+v; want %s", who, i, v, no)
			ok = false
		}
	}
	return ok
}

type httpResult struct {
	*http.Response
	body string
}

// httpGet fetches u and reads the body in full.
func httpGet(t testing.TB, u string) httpResult {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return httpResult{resp, string(b)}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// --- Videos: what the emulator serves and what the server answers.

// testVideos makes n distinct PARSE videos under unique id "default".
func testVideos(n int) ([]emulator.Video, []string) {
	vs := make([]emulator.Video, n)
	nos := make([]string, n)
	for i := range vs {
		nos[i] = fmt.Sprintf("VI9%017d", i)
		vs[i] = rawVideo("default", fmt.Sprintf(`{"video_no":%q,"video_name":"clip-%d","duration":%d,"size":%d,"status":"PARSE"}`,
			nos[i], i, 10+i, 1000+i))
	}
	return vs, nos
}

func rawVideo(uniqueID, data string) emulator.Video {
	return emulator.Video{UniqueID: uniqueID, Data: json.RawMessage(data)}
}

// The vendor page's example, one of the emulator's samples.
const vendorExample = "VI606404158946574336"

// allFields selects every field of a Video.
const allFields = `videoNo uniqueId videoName duration size status rawStatus cause createTime
	resolutionLabel fps width height
	captureMetadata { datetimeTaken cameraModel location { latitude longitude } tags }`

// vendorExampleJSON is the vendor example with allFields.
const vendorExampleJSON = `{
	"videoNo": "VI606404158946574336", "uniqueId": "default", "videoName": "182082-867762198_tiny",
	"duration": 12, "size": 3284512, "status": "PARSE", "rawStatus": "PARSE", "cause": null,
	"createTime": "2025-08-01T08:33:37.992Z", "resolutionLabel": "720P", "fps": 30, "width": 1280, "height": 720,
	"captureMetadata": {"datetimeTaken": "2024-10-20T01:40:00.000Z", "cameraModel": "Canon EOS 5D",
		"location": {"latitude": 39.9042, "longitude": 116.4074}, "tags": ["holiday", "beijing", "api"]}}`

// videoJSON is the subset of Video fields most tests read.
type videoJSON struct {
	VideoNo   string `json:"videoNo"`
	VideoName string `json:"videoName"`
	Size      int64  `json:"size"`
}

// decode unmarshals one value of a response, failing the test if it cannot.
func decode[T any](t testing.TB, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, raw, err)
	}
	return v
}

func decodeVideos(t testing.TB, raw json.RawMessage) []*videoJSON {
	t.Helper()
	return decode[[]*videoJSON](t, raw)
}

func decodeVideo(t testing.TB, raw json.RawMessage) *videoJSON {
	t.Helper()
	return decode[*videoJSON](t, raw)
}

func assertJSONEqual(t testing.TB, name string, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad want: %v", name, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("%s:\n got %s\nwant %s", name, gb, wb)
	}
}

// --- Goroutines.

// --- What the machine provides: programs, the module's source.

// unavailable stops a test that lacks something on this machine: it skips
// on a developer's machine and fails under CI=true, where .ci/run installs
// everything and nothing may pass as skipped.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; CI must provide it")
	}
	t.Skip(msg)
}

// requireTool finds a program the test needs (see unavailable).
func requireTool(t testing.TB, name, hint string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		unavailable(t, "%s not found (%s)", name, hint)
	}
	return path
}

// chromiumPath finds the browser: $CHROMIUM, or Chromium or Chrome in PATH
// (see unavailable).
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	unavailable(t, "no Chromium found (looked for chromium, chromium-browser and google-chrome in PATH, and $CHROMIUM): "+
		"install Debian's chromium package (apt-get install chromium) or set CHROMIUM to a Chrome binary")
	return ""
}

// moduleRoot returns the directory of the module's go.mod: the source of
// the binary, and the root that docs/ and the README are relative to.
func moduleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("go env GOMOD: not in a module")
	}
	return filepath.Dir(gomod)
}

// --- The real binary.

// buildBinary builds the module's command, the server as users run it.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "memories-graphql")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = moduleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is the binary running, until SIGINT at the test's end.
type process struct {
	origin string // http://127.0.0.1:PORT
	logs   videotest.SyncBuffer
}

// startBinary runs bin with args in env, and waits until it logs the
// address it listens on.
func startBinary(t *testing.T, bin string, args, env []string) *process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	p := &process{}
	p.origin = "http://127.0.0.1:" + waitForPort(t, io.TeeReader(stderr, &p.logs))
	return p
}

// addrLine finds the port in the "listening" log line of the server binary,
// text or JSON: a separate process can report it no other way.
var addrLine = regexp.MustCompile(`(?:msg=listening addr=|"msg":"listening","addr":")[^\s"]*:(\d+)`)

// waitForPort reads log lines from r until the listening line, then keeps
// draining r so the server never blocks on its log.
func waitForPort(t *testing.T, r io.Reader) string {
	t.Helper()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		sent := false
		for sc.Scan() {
			if m := addrLine.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case port, ok := <-found:
		if !ok {
			t.Fatal("server exited before listening")
		}
		return port
	case <-time.After(60 * time.Second):
		t.Fatal("server did not log its listen address within 60s")
	}
	return ""
}

// --- The Node harnesses: e2e/federation and e2e/graphql-http.

// nodeHarness returns node and the harness script dir/run.mjs, after
// installing the harness's packages with npm ci if pkg is missing from its
// node_modules, so that `go test ./...` runs the whole suite on a fresh
// machine. why says what the harness needs Node for.
func nodeHarness(t *testing.T, dir, pkg, why string) (node, script string) {
	t.Helper()
	node = requireTool(t, "node", "Node.js 20 "+why)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg)); err != nil {
		npm := requireTool(t, "npm", "npm installs "+pkg)
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--prefix", dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci --prefix %s: %v\n%s", dir, err, out)
		}
	}
	return node, filepath.Join(dir, "run.mjs")
}

// runNode runs node script args, with env added to the test's environment,
// and decodes the JSON it prints into out.
func runNode(t *testing.T, node, script string, args, env []string, out any) {
	t.Helper()
	cmd := exec.Command(node, append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s %s: %v\nstderr:\n%s", script, strings.Join(args, " "), err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("%s output is not JSON: %v\n%s\nstderr:\n%s", script, err, stdout.String(), stderr.String())
	}
}

// errorRecords keeps a log's ERROR records and nothing else, so that a
// benchmark's server logs as in production without its log growing in
// memory. slog writes each record in one Write.
type errorRecords struct {
	mu   sync.Mutex
	recs []string
}

func (e *errorRecords) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("level=ERROR")) {
		e.mu.Lock()
		e.recs = append(e.recs, string(p))
		e.mu.Unlock()
	}
	return len(p), nil
}

func (e *errorRecords) get() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.recs)
}
