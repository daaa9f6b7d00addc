package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/memories-facade/memories-graphql/internal/app"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// harness is the real server over real HTTP, in front of an emulator over
// real HTTP.
type harness struct {
	emu *emulator.Server
	url string // the GraphQL endpoint
}

// setup starts an emulator with emuOpts and a server configured by env (the
// same variables a user sets); MEMORIES_BASE_URL points at the emulator.
func setup(t testing.TB, emuOpts emulator.Options, env map[string]string) *harness {
	t.Helper()
	emu, err := emulator.Start(emuOpts)
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() { emu.Close() })

	vars := map[string]string{"MEMORIES_BASE_URL": emu.URL()}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := app.ParseConfig(nil, func(k string) string { return vars[k] }, io.Discard)
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	a, err := app.New(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return &harness{emu: emu, url: srv.URL + "/query"}
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// gqlError is one entry of a response's errors.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) code() string {
	c, _ := e.Extensions["code"].(string)
	return c
}

// pathString renders a path as "videos.3" or "a7".
func (e gqlError) pathString() string {
	parts := make([]string, len(e.Path))
	for i, p := range e.Path {
		parts[i] = fmt.Sprint(p)
	}
	return strings.Join(parts, ".")
}

type response struct {
	Status int
	Raw    string
	Data   map[string]json.RawMessage
	Errors []gqlError
}

// errorsByPath indexes the errors by their path.
func (r response) errorsByPath() map[string]gqlError {
	m := make(map[string]gqlError, len(r.Errors))
	for _, e := range r.Errors {
		m[e.pathString()] = e
	}
	return m
}

// query posts one GraphQL operation; headers are name, value pairs.
func (h *harness) query(t testing.TB, q string, vars map[string]any, headers ...string) response {
	t.Helper()
	return postQuery(t, h.url, q, vars, headers...)
}

func postQuery(t testing.TB, url, q string, vars map[string]any, headers ...string) response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": q, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Data   map[string]json.RawMessage `json:"data"`
		Errors []gqlError                 `json:"errors"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("response is not GraphQL JSON (HTTP %d): %v\n%s", resp.StatusCode, err, raw)
	}
	return response{Status: resp.StatusCode, Raw: string(raw), Data: out.Data, Errors: out.Errors}
}

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

// sampleVideoNos returns the numbers of the first n embedded sample videos
// under unique id "default".
func sampleVideoNos(t testing.TB, n int) []string {
	t.Helper()
	var nos []string
	for _, v := range emulator.Samples() {
		if v.UniqueID != "default" && v.UniqueID != "" {
			continue
		}
		no, err := v.VideoNo()
		if err != nil {
			t.Fatal(err)
		}
		nos = append(nos, no)
	}
	if len(nos) < n {
		t.Fatalf("only %d sample videos; want %d", len(nos), n)
	}
	return nos[:n]
}
