package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// requireTool finds a program the test needs: missing, the test skips on a
// developer's machine and fails under CI=true.
func requireTool(t *testing.T, name, hint string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found; CI must install it (%s)", name, hint)
		}
		t.Skipf("%s not found (%s)", name, hint)
	}
	return path
}

// federationHarness installs the Node harness's packages when they are
// missing, so that `go test ./...` runs the whole suite on a fresh machine.
func federationHarness(t *testing.T) (node, dir string) {
	t.Helper()
	node = requireTool(t, "node", "Node.js 20 runs the federation gateway")
	dir = filepath.Join("e2e", "federation")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@apollo", "gateway")); err != nil {
		npm := requireTool(t, "npm", "npm installs the gateway's packages")
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--prefix", dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci --prefix %s: %v\n%s", dir, err, out)
		}
	}
	return node, filepath.Join(dir, "run.mjs")
}

// gatewayResult is what e2e/federation/run.mjs prints.
type gatewayResult struct {
	CompositionErrors []struct{ Message, Code string }
	CompositionHints  []struct{ Message, Code string }
	All, WithFailures *struct {
		HTTPStatus int                        `json:"httpStatus"`
		Data       map[string]json.RawMessage `json:"data"`
		Errors     []gqlError                 `json:"errors"`
	}
}

func runGateway(t *testing.T, env ...string) gatewayResult {
	t.Helper()
	node, script := federationHarness(t)
	cmd := exec.Command(node, script)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\nstderr:\n%s", script, err, stderr.String())
	}
	var res gatewayResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("harness output is not JSON: %v\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if len(res.CompositionErrors) > 0 {
		t.Fatalf("composition errors: %+v", res.CompositionErrors)
	}
	if len(res.CompositionHints) > 0 {
		t.Errorf("composition hints: %+v; want none", res.CompositionHints)
	}
	return res
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

type collectionJSON struct {
	Collection struct {
		Name   string `json:"name"`
		Videos []*struct {
			VideoNo         string `json:"videoNo"`
			UniqueID        string `json:"uniqueId"`
			VideoName       string `json:"videoName"`
			Size            int64  `json:"size"`
			CaptureMetadata *struct {
				Location *struct{ Latitude, Longitude float64 } `json:"location"`
			} `json:"captureMetadata"`
		} `json:"videos"`
	} `json:"collection"`
}

// The real thing: this server's SDL composed with a second subgraph by
// @apollo/composition and served by @apollo/gateway. A collection of 200
// references over 50 videos costs 50 upstream calls; a broken video fails
// only its own entity.
func TestFederationGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node")
	}
	const failing = "VI999999999999999999"
	vs, nos := testVideos(50)
	// Give every video a location, so the nested selection is exercised.
	for i := range vs {
		vs[i] = rawVideo("default", fmt.Sprintf(`{"video_no":%q,"video_name":"clip-%d","size":%d,"status":"PARSE","latitude":%d.5,"longitude":-%d.25}`,
			nos[i], i, 5000000000+i, i%90, i%180))
	}
	vs = append(vs, rawVideo("default", fmt.Sprintf(`{"video_no":%q,"status":"PARSE"}`, failing)))
	h := setup(t, emulator.Options{Videos: vs, Faults: map[string]emulator.Fault{failing: {Kind: emulator.FaultHTTPError}}},
		with(fast, "CACHE_TTL_PARSE", "0")) // no cross-request cache: every call below is counted

	res := runGateway(t, "SUBGRAPH_URL="+h.url, "VIDEO_NOS="+mustJSON(nos), "REPEAT=200",
		"FAILING_VIDEO_NOS="+mustJSON([]string{failing}))

	if res.All == nil || len(res.All.Errors) > 0 {
		t.Fatalf("collection all: %+v", res.All)
	}
	var all collectionJSON
	if err := json.Unmarshal(mustRaw(t, res.All.Data), &all); err != nil {
		t.Fatal(err)
	}
	if got := len(all.Collection.Videos); got != 200 {
		t.Fatalf("collection all has %d videos; want 200", got)
	}
	for i, v := range all.Collection.Videos {
		n := i % 50
		if v == nil || v.VideoNo != nos[n] || v.UniqueID != "default" || v.VideoName != fmt.Sprintf("clip-%d", n) || v.Size != int64(5000000000+n) {
			t.Errorf("videos[%d] = %+v; want %s", i, v, nos[n])
			continue
		}
		if loc := v.CaptureMetadata; loc == nil || loc.Location == nil ||
			loc.Location.Latitude != float64(n%90)+0.5 || loc.Location.Longitude != -float64(n%180)-0.25 {
			t.Errorf("videos[%d].captureMetadata = %+v; want its location", i, v.CaptureMetadata)
		}
	}
	// The first query made one call per distinct video; the second one asks
	// for three of them again and for the failing video.
	st := h.emu.Stats()
	for i, no := range nos {
		want := int64(1)
		if i < 3 {
			want = 2
		}
		if got := st.ByVideo[no]; got != want {
			t.Errorf("upstream calls for %s = %d; want %d", no, got, want)
		}
	}

	wf := res.WithFailures
	if wf == nil || len(wf.Errors) != 1 {
		t.Fatalf("collection with-failures: %+v; want exactly one error", wf)
	}
	e := wf.Errors[0]
	if e.code() != "UPSTREAM_ERROR" || e.pathString() != "collection.videos.1" {
		t.Errorf("error = %+v; want UPSTREAM_ERROR at collection.videos.1", e)
	}
	var withFailures collectionJSON
	if err := json.Unmarshal(mustRaw(t, wf.Data), &withFailures); err != nil {
		t.Fatal(err)
	}
	got := withFailures.Collection.Videos
	if len(got) != 4 || got[0] == nil || got[1] != nil || got[2] == nil || got[3] == nil {
		t.Errorf("with-failures videos = %s; want [data, null, data, data]", wf.Data["collection"])
	}
}

// In pass-through mode the client's key reaches the upstream through the
// gateway; a client without one gets UNAUTHENTICATED per video.
func TestFederationGatewayPassThrough(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node")
	}
	const key = "sk-gateway-client-7f3a"
	vs, nos := testVideos(5)
	h := setup(t, emulator.Options{Keys: []string{key}, Videos: vs}, passThrough)

	res := runGateway(t, "SUBGRAPH_URL="+h.url, "VIDEO_NOS="+mustJSON(nos), "REPEAT=10", "CLIENT_AUTHORIZATION="+key)
	if res.All == nil || len(res.All.Errors) > 0 {
		t.Fatalf("collection all: %+v", res.All)
	}
	var all collectionJSON
	if err := json.Unmarshal(mustRaw(t, res.All.Data), &all); err != nil {
		t.Fatal(err)
	}
	for i, v := range all.Collection.Videos {
		if v == nil || v.VideoNo != nos[i%5] {
			t.Errorf("videos[%d] = %+v; want %s", i, v, nos[i%5])
		}
	}
	if got := h.emu.Stats().ByKeyHash[emulator.KeyHash(key)]; got < 5 {
		t.Errorf("upstream calls with the client's key = %d; want at least 5", got)
	}

	res = runGateway(t, "SUBGRAPH_URL="+h.url, "VIDEO_NOS="+mustJSON(nos), "REPEAT=3")
	if res.All == nil || len(res.All.Errors) != 3 {
		t.Fatalf("without a key: %+v; want 3 errors", res.All)
	}
	for _, e := range res.All.Errors {
		if e.code() != "UNAUTHENTICATED" {
			t.Errorf("error = %+v; want UNAUTHENTICATED", e)
		}
	}
}

func mustRaw(t *testing.T, data map[string]json.RawMessage) []byte {
	t.Helper()
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
