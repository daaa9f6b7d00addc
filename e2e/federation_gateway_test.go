package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

// gatewayResult is what e2e/federation/run.mjs prints.
type gatewayResult struct {
	CompositionErrors []struct{ Message, Code string }
	CompositionHints  []struct{ Message, Code string }
	All, WithFailures *gatewayAnswer
	Library           *struct {
		Pages []gatewayAnswer `json:"pages"`
		Nodes []struct {
			Cursor          string   `json:"cursor"`
			VideoNo         string   `json:"videoNo"`
			VideoName       string   `json:"videoName"`
			CollectionNames []string `json:"collectionNames"`
		} `json:"nodes"`
		TotalCount *int                 `json:"totalCount"`
		Complete   bool                 `json:"complete"`
		Stopped    *string              `json:"stopped"`
		Errors     []videotest.GQLError `json:"errors"`
	} `json:"library"`
	CollectionsCalls struct{ Entities, Representations int } `json:"collectionsCalls"`
}

// gatewayAnswer is one answer of the gateway.
type gatewayAnswer struct {
	HTTPStatus int                        `json:"httpStatus"`
	Data       map[string]json.RawMessage `json:"data"`
	Errors     []videotest.GQLError       `json:"errors"`
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

// videoLibrary is a root field of the subgraph: it composes, and a client
// pages the whole library through the gateway, following endCursor, while
// the gateway fills in each node's collectionNames from the collections
// subgraph by key. Every video of the scope comes exactly once, in the
// vendor's order, with the right totalCount and no error, for one
// list_videos call per vendor page (the emulator caps a page at 100; the
// façade asks 200 and learns the cap) and no get_metadata call.
func TestFederationGatewayLibrary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node")
	}
	const pageCap = 100
	for _, tt := range []struct{ n, first int }{{50, 20}, {150, 40}} {
		t.Run(fmt.Sprintf("%d videos, first %d", tt.n, tt.first), func(t *testing.T) {
			vs, nos := testVideos(tt.n)
			h := setup(t, emulator.Options{Videos: vs, ListPageCap: pageCap}, fastList)
			want := vendorListing(t, h.emu, testKey, memories.ListRequest{UniqueID: "default"})
			if len(want) != tt.n {
				t.Fatalf("the emulator lists %d videos; want %d", len(want), tt.n)
			}
			h.emu.ResetCounters()
			// The collections hold the first half of the videos ("all") and
			// the first 3 ("with-failures"); the rest are in none.
			inAll := nos[:tt.n/2]
			res := runGateway(t, "SUBGRAPH_URL="+h.url, "VIDEO_NOS="+string(mustJSON(inAll)),
				"QUERIES=library", fmt.Sprint("LIBRARY_FIRST=", tt.first), "LIBRARY_MAX_PAGES=50")
			lib := res.Library
			if lib == nil {
				t.Fatal("no library in the harness output")
			}
			if len(lib.Errors) > 0 || !lib.Complete {
				t.Fatalf("complete %v, stopped %v, errors %+v; want every page without errors", lib.Complete, ptrString(lib.Stopped), lib.Errors)
			}

			wantPages := (tt.n + tt.first - 1) / tt.first
			if len(lib.Pages) != wantPages {
				t.Errorf("%d pages; want %d", len(lib.Pages), wantPages)
			}
			seen := 0
			for i, p := range lib.Pages {
				var page struct {
					VideoLibrary *struct {
						TotalCount int `json:"totalCount"`
						PageInfo   struct {
							HasNextPage, HasPreviousPage bool
							StartCursor, EndCursor       *string
						} `json:"pageInfo"`
						Edges []struct{ Cursor string } `json:"edges"`
					} `json:"videoLibrary"`
				}
				if err := json.Unmarshal(mustRaw(t, p.Data), &page); err != nil || page.VideoLibrary == nil {
					t.Fatalf("page %d: %s: %v", i, mustRaw(t, p.Data), err)
				}
				c := page.VideoLibrary
				last := i == len(lib.Pages)-1
				wantEdges := tt.first
				if last {
					wantEdges = tt.n - i*tt.first
				}
				if p.HTTPStatus != 200 || c.TotalCount != tt.n || len(c.Edges) != wantEdges ||
					c.PageInfo.HasNextPage == last || c.PageInfo.HasPreviousPage != (i > 0) {
					t.Errorf("page %d: HTTP %d, totalCount %d, %d edges, hasNextPage %v, hasPreviousPage %v; want 200, %d, %d, %v, %v",
						i, p.HTTPStatus, c.TotalCount, len(c.Edges), c.PageInfo.HasNextPage, c.PageInfo.HasPreviousPage,
						tt.n, wantEdges, !last, i > 0)
				}
				if len(c.Edges) > 0 && (ptrString(c.PageInfo.StartCursor) != c.Edges[0].Cursor || ptrString(c.PageInfo.EndCursor) != c.Edges[len(c.Edges)-1].Cursor) {
					t.Errorf("page %d: startCursor %s, endCursor %s; want the first and last edges' cursors", i, ptrString(c.PageInfo.StartCursor), ptrString(c.PageInfo.EndCursor))
				}
				seen += len(c.Edges)
			}
			if lib.TotalCount == nil || *lib.TotalCount != tt.n {
				t.Errorf("totalCount %s; want %d", ptrString(lib.TotalCount), tt.n)
			}

			if len(lib.Nodes) != seen {
				t.Fatalf("%d nodes for %d edges", len(lib.Nodes), seen)
			}
			got := make([]string, len(lib.Nodes))
			cursors := map[string]bool{}
			index := make(map[string]int, tt.n)
			for i, no := range nos {
				index[no] = i
			}
			for i, v := range lib.Nodes {
				got[i] = v.VideoNo
				if cursors[v.Cursor] {
					t.Errorf("nodes[%d] %s: cursor %q repeats", i, v.VideoNo, v.Cursor)
				}
				cursors[v.Cursor] = true
				k, ok := index[v.VideoNo]
				if !ok {
					t.Errorf("nodes[%d] = %s; not a video of the scope", i, v.VideoNo)
					continue
				}
				if want := fmt.Sprintf("clip-%d", k); v.VideoName != want {
					t.Errorf("nodes[%d] %s: videoName %q; want %q", i, v.VideoNo, v.VideoName, want)
				}
				var wantNames []string
				if k < tt.n/2 {
					wantNames = append(wantNames, "all")
				}
				if k < 3 {
					wantNames = append(wantNames, "with-failures")
				}
				if v.CollectionNames == nil || !slices.Equal(v.CollectionNames, wantNames) {
					t.Errorf("nodes[%d] %s: collectionNames %q; want %q, from the collections subgraph", i, v.VideoNo, v.CollectionNames, wantNames)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("the pages list %v;\nwant every video once, in the vendor's order: %v", got, want)
			}

			// One _entities request to the collections subgraph per page,
			// with every node of the page.
			if c := res.CollectionsCalls; c.Entities != len(lib.Pages) || c.Representations != tt.n {
				t.Errorf("collections subgraph: %d _entities requests for %d representations; want %d and %d",
					c.Entities, c.Representations, len(lib.Pages), tt.n)
			}
			// The pages cost one list_videos call per vendor page (a page
			// that spans two vendor pages reuses the first, kept for
			// seconds; the façade's first ask of 200 learns the cap of 100
			// without another call) and no get_metadata call.
			st := h.emu.Stats()
			if vendorPages := int64((tt.n + pageCap - 1) / pageCap); st.List.Requests != vendorPages || st.Requests != 0 {
				t.Errorf("%d pages cost %d list_videos and %d get_metadata calls; want %d and 0",
					len(lib.Pages), st.List.Requests, st.Requests, vendorPages)
			}
			t.Logf("%d pages of %d, %d list_videos calls, %d _entities requests to the collections subgraph",
				len(lib.Pages), tt.first, st.List.Requests, res.CollectionsCalls.Entities)
		})
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
