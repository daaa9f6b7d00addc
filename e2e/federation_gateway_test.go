package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

// gatewayResult is what e2e/federation/run.mjs prints.
type gatewayResult struct {
	CompositionErrors []struct{ Message, Code string }
	CompositionHints  []struct{ Message, Code string }
	All, WithFailures *struct {
		HTTPStatus int                        `json:"httpStatus"`
		Data       map[string]json.RawMessage `json:"data"`
		Errors     []videotest.GQLError       `json:"errors"`
	}
}

// runGateway runs e2e/federation/run.mjs with env added to the test's own,
// and checks that composition went cleanly.
func runGateway(t *testing.T, env ...string) gatewayResult {
	t.Helper()
	node, script := nodeHarness(t, "federation", "@apollo/gateway", "runs the federation gateway")
	var res gatewayResult
	runNode(t, node, script, nil, env, &res)
	if len(res.CompositionErrors) > 0 {
		t.Fatalf("composition errors: %+v", res.CompositionErrors)
	}
	if len(res.CompositionHints) > 0 {
		t.Errorf("composition hints: %+v; want none", res.CompositionHints)
	}
	return res
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

	res := runGateway(t, "SUBGRAPH_URL="+h.url, "VIDEO_NOS="+string(mustJSON(nos)), "REPEAT=200",
		"FAILING_VIDEO_NOS="+string(mustJSON([]string{failing})))

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
	if e.Code() != "UPSTREAM_ERROR" || e.PathString() != "collection.videos.1" {
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

	res := runGateway(t, "SUBGRAPH_URL="+h.url, "VIDEO_NOS="+string(mustJSON(nos)), "REPEAT=10", "CLIENT_AUTHORIZATION="+key)
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

	res = runGateway(t, "SUBGRAPH_URL="+h.url, "VIDEO_NOS="+string(mustJSON(nos)), "REPEAT=3")
	if res.All == nil || len(res.All.Errors) != 3 {
		t.Fatalf("without a key: %+v; want 3 errors", res.All)
	}
	for _, e := range res.All.Errors {
		if e.Code() != "UNAUTHENTICATED" {
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

// Federated subscriptions: Hive Gateway, in front of this server and a
// second subgraph that adds Video.label, forwards a watchVideos
// subscription to this server over server-sent events (its default) or a
// WebSocket, and fills in each event's label from the other subgraph.
// e2e/federation/hive.mjs composes, serves and subscribes with the
// graphql-sse client.
func TestFederationHiveGatewaySubscription(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node")
	}
	node, run := nodeHarness(t, "federation", "@graphql-hive/gateway-runtime", "runs Hive Gateway")
	for _, tt := range []struct{ kind, transport string }{{"sse", "sse"}, {"ws", "websocket"}} {
		t.Run(tt.kind, func(t *testing.T) {
			vs, nos := processingVideos(3, 400*time.Millisecond)
			h := setup(t, emulator.Options{Videos: vs}, live)
			var res struct {
				CompositionErrors []struct{ Message string }
				Events            []struct {
					Data *struct {
						WatchVideos struct{ VideoNo, Status, Label string }
					}
					Errors []videotest.GQLError
				}
				Completed   bool
				Error       *struct{ Message string }
				LabelsCalls int
			}
			runNode(t, node, filepath.Join(filepath.Dir(run), "hive.mjs"), []string{string(mustJSON(map[string]any{
				"subgraphUrl": h.url, "kind": tt.kind,
				"query":     `subscription($nos: [ID!]!) { watchVideos(videoNos: $nos) { videoNo status label } }`,
				"variables": map[string]any{"nos": nos},
			}))}, nil, &res)
			if len(res.CompositionErrors) > 0 {
				t.Fatalf("composition errors: %+v", res.CompositionErrors)
			}
			if !res.Completed || res.Error != nil {
				t.Fatalf("completed %v, error %+v; want completed", res.Completed, res.Error)
			}
			states := map[string][]string{}
			for _, ev := range res.Events {
				if ev.Data == nil || len(ev.Errors) > 0 {
					t.Errorf("event %+v; want data and no errors", ev)
					continue
				}
				v := ev.Data.WatchVideos
				if want := "label of " + v.VideoNo; v.Label != want {
					t.Errorf("%s %s: label %q; want %q, from the other subgraph", v.VideoNo, v.Status, v.Label, want)
				}
				states[v.VideoNo] = append(states[v.VideoNo], v.Status)
			}
			for _, no := range nos {
				if got := strings.Join(states[no], ","); got != "UNPARSE,PARSE" {
					t.Errorf("%s: states %s; want UNPARSE,PARSE", no, got)
				}
			}
			if res.LabelsCalls == 0 {
				t.Error("the labels subgraph was never asked")
			}
			if got := h.metric(t, `graphql_streams_opened_total{transport="`+tt.transport+`"}`); got != 1 {
				t.Errorf("the gateway opened %v %s streams to this server; want 1", got, tt.transport)
			}

		})
	}
}
