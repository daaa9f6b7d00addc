package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/redistest"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

const libraryQuery = `query($uid: String! = "default", $filter: VideoFilter, $first: Int, $after: String) {
  videoLibrary(uniqueId: $uid, filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { videoNo uniqueId videoName status } }
    nodes { videoNo }
  }
}`

// libraryPage is a videoLibrary answer.
type libraryPage struct {
	TotalCount int `json:"totalCount"`
	PageInfo   struct {
		HasNextPage     bool    `json:"hasNextPage"`
		HasPreviousPage bool    `json:"hasPreviousPage"`
		StartCursor     *string `json:"startCursor"`
		EndCursor       *string `json:"endCursor"`
	} `json:"pageInfo"`
	Edges []struct {
		Cursor string `json:"cursor"`
		Node   struct {
			videoJSON
			UniqueID string `json:"uniqueId"`
		} `json:"node"`
	} `json:"edges"`
	Nodes []struct {
		VideoNo string `json:"videoNo"`
	} `json:"nodes"`
}

// libraryOf decodes resp's videoLibrary, failing t on errors.
func libraryOf(t testing.TB, resp response) libraryPage {
	t.Helper()
	if len(resp.Errors) > 0 {
		t.Fatalf("errors %+v", resp.Errors)
	}
	var p *libraryPage
	if err := json.Unmarshal(resp.Data["videoLibrary"], &p); err != nil || p == nil {
		t.Fatalf("videoLibrary %s: %v", resp.Data["videoLibrary"], err)
	}
	return *p
}

// pageThroughLibrary pages through a listing first videos at a time,
// following endCursor as a client does, checking each page's pageInfo
// against its edges, and returns the video numbers in order, the pages
// asked and the last totalCount. vars are the query's other variables;
// headers go with every request.
func pageThroughLibrary(t testing.TB, in *instance, vars map[string]any, first int, headers ...string) (nos []string, pages, total int) {
	t.Helper()
	var after any
	for pages < 10_000 {
		v := map[string]any{"first": first, "after": after}
		for k, x := range vars {
			v[k] = x
		}
		p := libraryOf(t, in.query(t, libraryQuery, v, headers...))
		pages++
		if len(p.Nodes) != len(p.Edges) {
			t.Fatalf("page %d: %d nodes, %d edges", pages, len(p.Nodes), len(p.Edges))
		}
		for i, e := range p.Edges {
			if p.Nodes[i].VideoNo != e.Node.VideoNo {
				t.Fatalf("page %d: nodes[%d] %s, edges[%d] %s", pages, i, p.Nodes[i].VideoNo, i, e.Node.VideoNo)
			}
			nos = append(nos, e.Node.VideoNo)
		}
		if got, want := p.PageInfo.HasPreviousPage, pages > 1; got != want {
			t.Errorf("page %d: hasPreviousPage %v; want %v", pages, got, want)
		}
		if len(p.Edges) > 0 && (p.PageInfo.StartCursor == nil || *p.PageInfo.StartCursor != p.Edges[0].Cursor ||
			p.PageInfo.EndCursor == nil || *p.PageInfo.EndCursor != p.Edges[len(p.Edges)-1].Cursor) {
			t.Errorf("page %d: start and end cursors are not those of the first and last edges", pages)
		}
		total = p.TotalCount
		if !p.PageInfo.HasNextPage {
			return nos, pages, total
		}
		if len(p.Edges) != first {
			t.Errorf("page %d: %d edges with a next page; want %d", pages, len(p.Edges), first)
		}
		after = *p.PageInfo.EndCursor
	}
	t.Fatalf("still hasNextPage after %d pages", pages)
	return nil, 0, 0
}

// vendorListing reads a listing straight from the emulator through the
// memories client, vendor page by vendor page: the videos and the order
// the library must answer.
func vendorListing(t testing.TB, emu *emulator.Server, key string, q memories.ListRequest) []string {
	t.Helper()
	client := videotest.Client(t, emu.URL())
	var nos []string
	q.Library, q.Size = true, 100
	for q.Page = 1; ; q.Page++ {
		p, err := client.ListVideos(context.Background(), key, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range p.Videos {
			nos = append(nos, v.VideoNo)
		}
		if len(p.Videos) == 0 || int64(len(nos)) >= p.TotalCount {
			return nos
		}
	}
}

// The sample library, whole and through each filter alone and combined,
// pages out exactly the vendor's matches, each once, in its order, with
// its totalCount, whatever the page size: first of 1, 7, 50 and 200
// against vendor pages capped at 100 (the emulator's cap) and then at 7.
func TestLibraryPagesEveryFilter(t *testing.T) {
	beijing := map[string]any{"latitude": 39.95, "longitude": 116.45}
	taken := time.UnixMilli(1754800000000).UTC()
	filters := []struct {
		name   string
		filter map[string]any
		vendor memories.ListFilter
		scope  string
	}{
		{name: "whole library"},
		{name: "other scope", scope: "team-a"},
		{name: "status", filter: map[string]any{"status": "UNPARSE"}, vendor: memories.ListFilter{Status: memories.StatusUnparse}},
		{name: "name", filter: map[string]any{"videoName": "dog-park-afternoon"}, vendor: memories.ListFilter{VideoName: "dog-park-afternoon"}},
		{name: "number", filter: map[string]any{"videoNo": vendorExample}, vendor: memories.ListFilter{VideoNo: vendorExample}},
		{name: "camera", filter: map[string]any{"cameraModel": "iPhone 15 Pro"}, vendor: memories.ListFilter{CameraModel: "iPhone 15 Pro"}},
		{name: "tag", filter: map[string]any{"tag": "api"}, vendor: memories.ListFilter{Tag: "api"}},
		{name: "taken after", filter: map[string]any{"takenAfter": taken.Format(time.RFC3339Nano)}, vendor: memories.ListFilter{TakenAfter: &taken}},
		{name: "near", filter: map[string]any{"near": beijing}, vendor: memories.ListFilter{Near: &memories.GeoPoint{Latitude: 39.95, Longitude: 116.45}}},
		{name: "combined", filter: map[string]any{"status": "PARSE", "tag": "api", "takenAfter": taken.Format(time.RFC3339Nano)},
			vendor: memories.ListFilter{Status: memories.StatusParse, Tag: "api", TakenAfter: &taken}},
		{name: "nothing matches", filter: map[string]any{"tag": "api", "cameraModel": "no such camera"},
			vendor: memories.ListFilter{Tag: "api", CameraModel: "no such camera"}},
	}
	for _, pageCap := range []int{100, 7} {
		h := setup(t, emulator.Options{ListPageCap: pageCap}, fastList)
		for _, f := range filters {
			scope := cmp(f.scope, "default")
			want := vendorListing(t, h.emu, testKey, memories.ListRequest{UniqueID: scope, Filter: f.vendor})
			if f.name == "whole library" && len(want) != 24 || f.name == "tag" && len(want) < 10 || f.name == "near" && len(want) != 1 {
				t.Fatalf("%s: the samples list %d videos; the test expects otherwise", f.name, len(want))
			}
			for _, first := range []int{1, 7, 50, 200} {
				t.Run(fmt.Sprintf("cap %d/%s/first %d", pageCap, f.name, first), func(t *testing.T) {
					vars := map[string]any{"uid": scope}
					if f.filter != nil {
						vars["filter"] = f.filter
					}
					got, pages, total := pageThroughLibrary(t, h.instance, vars, first)
					if !slices.Equal(got, want) {
						t.Errorf("listed %v;\nwant %v", got, want)
					}
					if total != len(want) {
						t.Errorf("totalCount %d; want %d", total, len(want))
					}
					if wantPages := max(1, (len(want)+first-1)/first); pages != wantPages && !(len(want)%first == 0 && pages == wantPages+1) {
						t.Errorf("%d pages; want %d", pages, wantPages)
					}
				})
			}
		}
	}
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Paging through a library costs one list_videos call per vendor page,
// whatever first is, and the listed videos are kept: a videos query for
// all of them afterwards costs no call, and says so in extensions.cost.
func TestLibraryCallsPerVendorPage(t *testing.T) {
	const n, pageCap = 250, 100
	vs, _ := testVideos(n)
	for _, first := range []int{50, 100, 200} {
		t.Run(fmt.Sprint("first ", first), func(t *testing.T) {
			h := setup(t, emulator.Options{Videos: vs, ListPageCap: pageCap}, fastList)
			got, pages, total := pageThroughLibrary(t, h.instance, nil, first)
			if len(got) != n || total != n {
				t.Fatalf("listed %d videos, totalCount %d; want %d", len(got), total, n)
			}
			st := h.emu.Stats()
			if want := int64(math.Ceil(float64(n) / pageCap)); st.List.Requests != want || st.Requests != 0 {
				t.Errorf("%d pages cost %d list_videos and %d get_metadata calls; want %d and 0", pages, st.List.Requests, st.Requests, want)
			}
			h.emu.ResetCounters()
			videos, resp := h.videosList(t, got)
			for i, v := range videos {
				if v == nil || v.VideoNo != got[i] {
					t.Fatalf("videos[%d] = %+v; want %s", i, v, got[i])
				}
			}
			h.wantCost(t, "videos of the listed", resp, n, 0)
		})
	}
}

// A page's cost: the first page of a library costs its call, the next
// page, from the same vendor page, none; detail fields cost a get_metadata
// call per node, counted before the page is listed.
func TestLibraryCost(t *testing.T) {
	vs, _ := testVideos(30)
	h := setup(t, emulator.Options{Videos: vs}, with(fastList, "MAX_DETAIL_VIDEOS_PER_QUERY", "10"))
	first := h.query(t, libraryQuery, map[string]any{"first": 10})
	p := libraryOf(t, first)
	h.wantCost(t, "first page", first, 0, 10)
	h.emu.ResetCounters()
	second := h.query(t, libraryQuery, map[string]any{"first": 10, "after": *p.PageInfo.EndCursor})
	libraryOf(t, second)
	h.wantCost(t, "second page", second, 10, 0)

	const detailQuery = `query($first: Int, $after: String) { videoLibrary(first: $first, after: $after) { nodes { videoNo fps } } }`
	h.emu.ResetCounters()
	resp := h.query(t, detailQuery, map[string]any{"first": 5, "after": *p.PageInfo.EndCursor})
	var lib struct {
		Nodes []struct {
			VideoNo string `json:"videoNo"`
			FPS     *int   `json:"fps"`
		} `json:"nodes"`
	}
	if len(resp.Errors) > 0 || json.Unmarshal(resp.Data["videoLibrary"], &lib) != nil || len(lib.Nodes) != 5 {
		t.Fatalf("detail page: %s %+v", resp.Raw, resp.Errors)
	}
	if st := h.emu.Stats(); st.Requests != 5 || st.List.Requests != 0 {
		t.Errorf("detail page: %d get_metadata and %d list_videos calls; want 5 and 0 (the vendor page is kept)", st.Requests, st.List.Requests)
	}
	h.emu.ResetCounters()
	refused := h.query(t, detailQuery, map[string]any{"first": 11})
	if len(refused.Errors) != 1 || refused.Errors[0].Code() != "BAD_USER_INPUT" || !strings.Contains(refused.Errors[0].Message, "MAX_DETAIL_VIDEOS_PER_QUERY") {
		t.Errorf("first 11 with detail over a limit of 10: %+v; want BAD_USER_INPUT naming MAX_DETAIL_VIDEOS_PER_QUERY", refused.Errors)
	}
	if st := h.emu.Stats(); st.Requests+st.List.Requests != 0 {
		t.Errorf("refused: %d upstream calls; want 0", st.Requests+st.List.Requests)
	}
}

// Every bad argument is BAD_USER_INPUT, answered before any upstream call.
func TestLibraryBadInput(t *testing.T) {
	h := setup(t, emulator.Options{}, with(fastList, "MAX_VIDEOS_PER_QUERY", "300"))
	p := libraryOf(t, h.query(t, libraryQuery, map[string]any{"first": 3, "filter": map[string]any{"tag": "api"}}))
	cursor := *p.PageInfo.EndCursor
	h.emu.ResetCounters()
	for _, tt := range []struct {
		name string
		vars map[string]any
		want string // in the message
	}{
		{"first -1", map[string]any{"first": -1}, "first"},
		{"first 201", map[string]any{"first": 201}, "first"},
		{"cursor of another filter", map[string]any{"after": cursor, "filter": map[string]any{"tag": "holiday"}}, "cursor"},
		{"cursor without its filter", map[string]any{"after": cursor}, "cursor"},
		{"cursor of another scope", map[string]any{"after": cursor, "uid": "team-a", "filter": map[string]any{"tag": "api"}}, "cursor"},
		{"truncated cursor", map[string]any{"after": cursor[:len(cursor)-2], "filter": map[string]any{"tag": "api"}}, "cursor"},
		{"forged cursor", map[string]any{"after": "AQUAAAAAAAAAAAAA", "filter": map[string]any{"tag": "api"}}, "cursor"},
		{"empty tag", map[string]any{"filter": map[string]any{"tag": ""}}, "filter.tag"},
		{"blank camera", map[string]any{"filter": map[string]any{"cameraModel": "  "}}, "filter.cameraModel"},
		{"empty name", map[string]any{"filter": map[string]any{"videoName": ""}}, "filter.videoName"},
		{"empty number", map[string]any{"filter": map[string]any{"videoNo": ""}}, "filter.videoNo"},
		{"latitude 91", map[string]any{"filter": map[string]any{"near": map[string]any{"latitude": 91, "longitude": 0}}}, "latitude"},
		{"longitude -180.5", map[string]any{"filter": map[string]any{"near": map[string]any{"latitude": 0, "longitude": -180.5}}}, "longitude"},
		{"blank scope", map[string]any{"uid": " "}, "uniqueId"},
		{"unknown status", map[string]any{"filter": map[string]any{"status": "DONE"}}, "VideoStatus"},
		{"not a time", map[string]any{"filter": map[string]any{"takenAfter": "yesterday"}}, "DateTime"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.query(t, libraryQuery, tt.vars)
			if len(resp.Errors) != 1 {
				t.Fatalf("errors %+v; want one", resp.Errors)
			}
			e := resp.Errors[0]
			if e.Code() != "BAD_USER_INPUT" && e.Code() != "GRAPHQL_VALIDATION_FAILED" || !strings.Contains(e.Message, tt.want) {
				t.Errorf("error %q (%s); want BAD_USER_INPUT naming %s", e.Message, e.Code(), tt.want)
			}
			if lib, ok := resp.Data["videoLibrary"]; ok && string(lib) != "null" {
				t.Errorf("videoLibrary %s; want null", lib)
			}
		})
	}
	if st := h.emu.Stats(); st.Requests+st.List.Requests != 0 {
		t.Errorf("bad input made %d upstream calls; want 0", st.Requests+st.List.Requests)
	}
}

// Two accounts and two scopes never see each other's library, through one
// server or two replicas on Redis; a cursor serves only the account that
// got it, on any replica.
func TestLibraryAccountsAndScopes(t *testing.T) {
	const keyA, keyB = "sk-alpha-lib-4f1c", "sk-bravo-lib-93de"
	v := func(scope, no, name string) emulator.Video {
		return rawVideo(scope, fmt.Sprintf(`{"video_no":%q,"video_name":%q,"status":"PARSE"}`, no, name))
	}
	for _, mode := range []string{"local", "redis"} {
		t.Run(mode, func(t *testing.T) {
			env, n := with(passThrough, "MEMORIES_BATCH", "on"), 1
			if mode == "redis" {
				env, n = withRedis(t, env), 2
			}
			r := setupReplicas(t, n, emulator.Options{
				Keys:   []string{keyA, keyB},
				Videos: []emulator.Video{},
				AccountVideos: map[string][]emulator.Video{
					keyA: {v("default", "VI1", "alpha 1"), v("default", "VI2", "alpha 2"), v("default", "VI3", "alpha 3"), v("team", "VI1", "alpha team")},
					keyB: {v("default", "VI1", "bravo 1")},
				},
			}, env)
			want := map[string]map[string][]string{
				keyA: {"default": {"alpha 1", "alpha 2", "alpha 3"}, "team": {"alpha team"}},
				keyB: {"default": {"bravo 1"}, "team": nil},
			}
			for round := range 2 { // the second from what the first kept
				for i, in := range r.servers {
					for key, scopes := range want {
						for scope, names := range scopes {
							p := libraryOf(t, postQuery(t, in.url, libraryQuery, map[string]any{"uid": scope, "first": 200}, "Authorization", key))
							var got []string
							for _, e := range p.Edges {
								got = append(got, e.Node.VideoName)
								if e.Node.UniqueID != scope {
									t.Errorf("node %s of scope %s has uniqueId %s", e.Node.VideoNo, scope, e.Node.UniqueID)
								}
							}
							slices.Sort(got)
							if !slices.Equal(got, names) || p.TotalCount != len(names) {
								t.Errorf("round %d, server %d, key %s, scope %s: %v (totalCount %d); want %v", round, i, key[:8], scope, got, p.TotalCount, names)
							}
						}
					}
				}
			}
			// A's cursor, on the last replica (which learnt nothing from A's
			// first page there), and in B's hands.
			first := libraryOf(t, postQuery(t, r.servers[0].url, libraryQuery, map[string]any{"first": 1}, "Authorization", keyA))
			after := *first.PageInfo.EndCursor
			next := libraryOf(t, postQuery(t, r.servers[n-1].url, libraryQuery, map[string]any{"first": 5, "after": after}, "Authorization", keyA))
			if len(next.Edges) != 2 || next.PageInfo.HasNextPage || next.Edges[0].Node.VideoNo == first.Edges[0].Node.VideoNo {
				t.Errorf("A's next page on another server: %+v; want the 2 other videos", next.Edges)
			}
			resp := postQuery(t, r.servers[n-1].url, libraryQuery, map[string]any{"first": 5, "after": after}, "Authorization", keyB)
			if len(resp.Errors) != 1 || resp.Errors[0].Code() != "BAD_USER_INPUT" || string(resp.Data["videoLibrary"]) != "null" {
				t.Errorf("A's cursor used by B: %s; want BAD_USER_INPUT and videoLibrary null", resp.Raw)
			}
			noKey := postQuery(t, r.servers[0].url, libraryQuery, nil)
			if len(noKey.Errors) != 1 || noKey.Errors[0].Code() != "UNAUTHENTICATED" || string(noKey.Data["videoLibrary"]) != "null" {
				t.Errorf("without a key: %s; want UNAUTHENTICATED and videoLibrary null", noKey.Raw)
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

// Upstream faults of a page are an error on videoLibrary, null, with the
// usual code; the rest of the operation still answers, and the page
// answers once the fault is over. 0429s are retried inside the list
// budget.
func TestLibraryFaults(t *testing.T) {
	const pageCap = 10
	vs, nos := testVideos(25)
	other := nos[0]
	for _, tt := range []struct {
		name      string
		fault     emulator.Fault
		env       []string
		code      string
		retryable bool // retryAfterSeconds
	}{
		{"500", emulator.Fault{Kind: emulator.FaultHTTPError, Times: 1}, nil, "UPSTREAM_ERROR", false},
		{"malformed", emulator.Fault{Kind: emulator.FaultMalformed, Times: 1}, nil, "UPSTREAM_ERROR", false},
		{"hang", emulator.Fault{Kind: emulator.FaultHang, Times: 1}, []string{"MEMORIES_CALL_TIMEOUT", "500ms"}, "UPSTREAM_TIMEOUT", false},
		{"0429 until the request's time is out", emulator.Fault{Kind: emulator.FaultCode, Code: "0429", Msg: "too many requests"},
			[]string{"REQUEST_TIMEOUT", "2s"}, "RATE_LIMITED", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := setup(t, emulator.Options{Videos: vs, ListPageCap: pageCap}, with(fastList, tt.env...))
			listed := vendorListing(t, h.emu, testKey, memories.ListRequest{UniqueID: "default"})
			p1 := libraryOf(t, h.query(t, libraryQuery, map[string]any{"first": pageCap}))
			h.emu.SetListFault(listed[pageCap], tt.fault) // on the second vendor page
			const q = `query($after: String, $no: ID!) {
  videoLibrary(first: 5, after: $after) { nodes { videoNo } }
  video(videoNo: $no) { videoNo }
}`
			vars := map[string]any{"after": *p1.PageInfo.EndCursor, "no": other}
			resp := h.query(t, q, vars)
			if len(resp.Errors) != 1 {
				t.Fatalf("errors %+v; want one", resp.Errors)
			}
			e := resp.Errors[0]
			if e.Code() != tt.code || e.PathString() != "videoLibrary" || !strings.Contains(e.Message, "library") {
				t.Errorf("error %q (%s) at %s; want %s at videoLibrary, naming the library", e.Message, e.Code(), e.PathString(), tt.code)
			}
			if _, ok := e.RetryAfterSeconds(); ok != tt.retryable {
				t.Errorf("retryAfterSeconds present: %v; want %v", ok, tt.retryable)
			}
			if string(resp.Data["videoLibrary"]) != "null" || decodeVideo(t, resp.Data["video"]).VideoNo != other {
				t.Errorf("data %s; want videoLibrary null and the video", resp.Raw)
			}
			h.emu.SetListFault(listed[pageCap], emulator.Fault{})
			again := libraryOf(t, h.query(t, libraryQuery, map[string]any{"first": 5, "after": *p1.PageInfo.EndCursor}))
			if len(again.Edges) != 5 || again.Edges[0].Node.VideoNo != listed[pageCap] {
				t.Errorf("after the fault: %+v; want 5 videos from %s", again.Edges, listed[pageCap])
			}
		})
	}

	t.Run("0429 storm", func(t *testing.T) {
		h := setup(t, emulator.Options{Videos: vs, ListPageCap: pageCap}, fastList)
		listed := vendorListing(t, h.emu, testKey, memories.ListRequest{UniqueID: "default"})
		h.emu.SetListFault(listed[0], emulator.Fault{Kind: emulator.FaultCode, Code: "0429", Msg: "too many requests", Times: 3})
		h.emu.ResetCounters()
		got, _, total := pageThroughLibrary(t, h.instance, nil, 7)
		if !slices.Equal(got, listed) || total != len(listed) {
			t.Errorf("listed %v (total %d); want %v", got, total, listed)
		}
		if calls := h.emu.Stats().List.Requests; calls != 3+3 {
			t.Errorf("list_videos calls = %d; want 6: 3 refused and one per vendor page", calls)
		}
	})

	t.Run("no list_videos", func(t *testing.T) {
		h := setup(t, emulator.Options{Videos: vs, ListDisabled: true}, fastList)
		resp := h.query(t, `query($no: ID!) { videoLibrary { totalCount } video(videoNo: $no) { videoNo } }`, map[string]any{"no": other})
		if len(resp.Errors) != 1 || resp.Errors[0].Code() != "UPSTREAM_UNSUPPORTED" || string(resp.Data["videoLibrary"]) != "null" {
			t.Fatalf("%s; want UPSTREAM_UNSUPPORTED on videoLibrary", resp.Raw)
		}
		if decodeVideo(t, resp.Data["video"]).VideoNo != other {
			t.Errorf("video %s; want it answered through get_metadata", resp.Data["video"])
		}
	})
}

// A node whose detail fields cannot be fetched gets its own error, at its
// first detail field; the page and the other nodes still answer.
func TestLibraryDetailNodeFails(t *testing.T) {
	vs, nos := testVideos(6)
	h := setup(t, emulator.Options{Videos: vs}, fastList)
	listed := vendorListing(t, h.emu, testKey, memories.ListRequest{UniqueID: "default"})
	if len(listed) != len(nos) {
		t.Fatalf("listed %d videos; want %d", len(listed), len(nos))
	}
	h.emu.SetFault(listed[2], emulator.Fault{Kind: emulator.FaultHTTPError})
	resp := h.query(t, `{ videoLibrary(first: 6) { nodes { videoNo fps width } } }`, nil)
	if len(resp.Errors) != 1 || resp.Errors[0].PathString() != "videoLibrary.nodes.2.fps" || resp.Errors[0].Code() != "UPSTREAM_ERROR" {
		t.Fatalf("errors %+v; want one UPSTREAM_ERROR at videoLibrary.nodes.2.fps", resp.Errors)
	}
	var lib struct {
		Nodes []struct {
			VideoNo string `json:"videoNo"`
			FPS     *int   `json:"fps"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(resp.Data["videoLibrary"], &lib); err != nil || len(lib.Nodes) != 6 {
		t.Fatalf("videoLibrary %s: %v", resp.Data["videoLibrary"], err)
	}
	for i, n := range lib.Nodes {
		if n.VideoNo != listed[i] {
			t.Errorf("nodes[%d] = %s; want %s", i, n.VideoNo, listed[i])
		}
	}
}

// first counts against MAX_VIDEOS_PER_QUERY before any call, aliases
// adding up with the other video fields.
func TestLibraryFirstCountsAsVideos(t *testing.T) {
	h := setup(t, emulator.Options{}, with(fastList, "MAX_VIDEOS_PER_QUERY", "300"))
	resp := h.query(t, `{ a: videoLibrary(first: 200) { totalCount } b: videoLibrary(first: 100) { totalCount } v: video(videoNo: "VI1") { videoNo } }`, nil)
	if len(resp.Errors) != 1 || resp.Errors[0].Code() != "BAD_USER_INPUT" || !strings.Contains(resp.Errors[0].Message, "MAX_VIDEOS_PER_QUERY") {
		t.Errorf("301 videos over a limit of 300: %+v; want BAD_USER_INPUT naming MAX_VIDEOS_PER_QUERY", resp.Errors)
	}
	if st := h.emu.Stats(); st.Requests+st.List.Requests != 0 {
		t.Errorf("refused: %d upstream calls; want 0", st.Requests+st.List.Requests)
	}
	if resp := h.query(t, `{ a: videoLibrary(first: 200) { totalCount } b: videoLibrary(first: 100) { totalCount } }`, nil); len(resp.Errors) > 0 {
		t.Errorf("300 videos: %+v; want no error", resp.Errors)
	}
}
