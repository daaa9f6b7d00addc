package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/cost"
	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

// acceptMultipart is the Accept header Apollo Client sends with a query
// that has @defer.
const acceptMultipart = "multipart/mixed;deferSpec=20220824,application/json"

// deferPart is one part of a multipart/mixed answer: the initial payload
// (Data) or a set of deferred ones (Incremental).
type deferPart struct {
	Data       json.RawMessage      `json:"data"`
	Errors     []videotest.GQLError `json:"errors"`
	HasNext    *bool                `json:"hasNext"`
	Extensions struct {
		Cost *cost.Report `json:"cost"`
	} `json:"extensions"`
	Incremental []struct {
		Data       json.RawMessage      `json:"data"`
		Path       []any                `json:"path"`
		Label      string               `json:"label"`
		Errors     []videotest.GQLError `json:"errors"`
		Extensions struct {
			Cost *cost.Report `json:"cost"`
		} `json:"extensions"`
	} `json:"incremental"`
}

// postMultipart posts q accepting multipart/mixed and reads the parts of
// the answer, in order.
func postMultipart(t testing.TB, url, q string, vars map[string]any) (*http.Response, []deferPart) {
	t.Helper()
	body := mustJSON(map[string]any{"query": q, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", acceptMultipart)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	media, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || media != "multipart/mixed" {
		raw, _ := io.ReadAll(resp.Body)
		t.Fatalf("HTTP %d, Content-Type %q; want multipart/mixed:\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	var parts []deferPart
	r := multipart.NewReader(resp.Body, params["boundary"])
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("part %d: %v", len(parts), err)
		}
		raw, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("part %d: %v", len(parts), err)
		}
		var part deferPart
		if err := json.Unmarshal(raw, &part); err != nil {
			t.Fatalf("part %d is not JSON: %v\n%s", len(parts), err, raw)
		}
		parts = append(parts, part)
	}
	return resp, parts
}

const deferredDetailQuery = `query($nos: [ID!]!, $d: Boolean! = true) {
  videos(videoNos: $nos) {
    videoNo videoName
    ... @defer(if: $d, label: "detail") { resolutionLabel fps width height }
  }
}`

type detailJSON struct {
	ResolutionLabel *string `json:"resolutionLabel"`
	Fps             *int    `json:"fps"`
	Width           *int    `json:"width"`
	Height          *int    `json:"height"`
}

// wantDetail is the detail of detailVideos' video i.
func wantDetail(i int) detailJSON {
	label, fps, w, h := "1080P", 24+i%7, 1920, 1080
	return detailJSON{&label, &fps, &w, &h}
}

func (d detailJSON) String() string {
	s := func(p *int) string {
		if p == nil {
			return "nil"
		}
		return fmt.Sprint(*p)
	}
	l := "nil"
	if d.ResolutionLabel != nil {
		l = *d.ResolutionLabel
	}
	return fmt.Sprintf("{%s %s %s %s}", l, s(d.Fps), s(d.Width), s(d.Height))
}

// At 5 get_metadata calls a second, 20 videos' deferred detail arrives in
// parts as the calls return, after an initial part with every video's list
// fields from one list_videos call. Each video is fetched once.
func TestDeferDetailArrivesVideoByVideo(t *testing.T) {
	const n = 20
	vs, nos := detailVideos("4", n)
	h := setup(t, emulator.Options{Videos: vs}, with(fastList, "MEMORIES_RATE_LIMIT", "5", "MEMORIES_RATE_BURST", "1"))

	_, parts := postMultipart(t, h.origin+"/query", deferredDetailQuery, map[string]any{"nos": nos})
	if len(parts) < 3 {
		t.Fatalf("got %d parts; want the initial one and at least 2 increments", len(parts))
	}
	first := parts[0]
	if first.HasNext == nil || !*first.HasNext || len(first.Errors) > 0 {
		t.Fatalf("initial part: hasNext %v, errors %+v; want hasNext true and no errors", first.HasNext, first.Errors)
	}
	initial := decode[struct {
		Videos []struct {
			VideoNo   string  `json:"videoNo"`
			VideoName *string `json:"videoName"`
			detailJSON
		} `json:"videos"`
	}](t, first.Data).Videos
	if len(initial) != n {
		t.Fatalf("initial part has %d videos; want %d", len(initial), n)
	}
	for i, v := range initial {
		if v.VideoNo != nos[i] || v.VideoName == nil || *v.VideoName != fmt.Sprintf("clip-%d", i) {
			t.Errorf("initial videos[%d] = %s %v; want %s clip-%d", i, v.VideoNo, v.VideoName, nos[i], i)
		}
	}
	// Held back, not null: a client must not read them as values.
	for _, f := range []string{"resolutionLabel", "fps", "width", "height"} {
		if strings.Contains(string(first.Data), f) {
			t.Errorf("initial part has %s; want it held back:\n%s", f, first.Data)
		}
	}

	got := map[int]detailJSON{}
	increments := 0
	for k, p := range parts[1:] {
		if len(p.Incremental) == 0 {
			t.Errorf("part %d has no incremental payloads", k+1)
		}
		increments += len(p.Incremental)
		for _, inc := range p.Incremental {
			if len(inc.Errors) > 0 || inc.Label != "detail" || len(inc.Path) != 2 || inc.Path[0] != "videos" {
				t.Errorf("increment at %v label %q errors %+v; want videos.i, detail, no errors", inc.Path, inc.Label, inc.Errors)
				continue
			}
			i := int(inc.Path[1].(float64))
			if _, dup := got[i]; dup {
				t.Errorf("videos[%d] delivered twice", i)
			}
			got[i] = decode[detailJSON](t, inc.Data)
		}
		last := k+1 == len(parts)-1
		if p.HasNext == nil || *p.HasNext == last {
			t.Errorf("part %d of %d: hasNext %v; want %v", k+1, len(parts)-1, p.HasNext, !last)
		}
	}
	for i := range n {
		if g, w := got[i], wantDetail(i); g.String() != w.String() {
			t.Errorf("videos[%d] detail = %v; want %v", i, g, w)
		}
	}
	t.Logf("%d videos' detail in %d parts after the initial one", increments, len(parts)-1)

	st := h.emu.Stats()
	if st.List.Requests != 1 || st.Requests != n {
		t.Errorf("upstream calls: list_videos %d, get_metadata %d; want 1 and %d", st.List.Requests, st.Requests, n)
	}
	for _, no := range nos {
		if c := st.ByVideo[no]; c != 1 {
			t.Errorf("get_metadata of %s: %d calls; want 1", no, c)
		}
	}
}

// Without multipart/mixed in Accept, or with @defer(if: false), the answer
// is whole: one JSON document with every field, from the same calls a
// query without @defer makes.
func TestDeferWholeWhereNotStreamed(t *testing.T) {
	vs, nos := detailVideos("4", 3)
	h := setup(t, emulator.Options{Videos: vs}, fastList)
	check := func(who string, videos json.RawMessage) {
		t.Helper()
		got := decode[[]detailJSON](t, videos)
		if len(got) != len(nos) {
			t.Fatalf("%s: %d videos; want %d", who, len(got), len(nos))
		}
		for i, g := range got {
			if g.String() != wantDetail(i).String() {
				t.Errorf("%s: videos[%d] = %v; want %v", who, i, g, wantDetail(i))
			}
		}
	}

	resp := h.query(t, deferredDetailQuery, map[string]any{"nos": nos})
	if resp.Status != http.StatusOK || len(resp.Errors) > 0 {
		t.Fatalf("POST: HTTP %d, errors %+v", resp.Status, resp.Errors)
	}
	if strings.Contains(resp.Raw, "hasNext") {
		t.Errorf("POST answer has incremental fields:\n%s", resp.Raw)
	}
	check("POST", resp.Data["videos"])
	// The same plan as without @defer: detail for all, so no list call.
	if st := h.emu.Stats(); st.List.Requests != 0 || st.Requests != int64(len(nos)) {
		t.Errorf("POST: list_videos %d, get_metadata %d calls; want 0 and %d", st.List.Requests, st.Requests, len(nos))
	}

	_, parts := postMultipart(t, h.origin+"/query", deferredDetailQuery, map[string]any{"nos": nos, "d": false})
	if len(parts) != 1 || parts[0].HasNext != nil {
		t.Fatalf("@defer(if: false) over multipart: %d parts, hasNext %v; want one part without hasNext", len(parts), parts[0].HasNext)
	}
	check("@defer(if: false)", decode[map[string]json.RawMessage](t, parts[0].Data)["videos"])

	// The POST took @defer out of its own copy: the cached document still
	// defers over multipart.
	_, parts = postMultipart(t, h.origin+"/query", deferredDetailQuery, map[string]any{"nos": nos})
	if len(parts) < 2 || len(parts[1].Incremental) == 0 {
		t.Errorf("the same query over multipart after the POST: %d parts; want increments", len(parts))
	}
}

// A video whose get_metadata call fails has one error in its deferred
// part, at its first detail field, with the upstream's code; the other
// videos' parts are whole.
func TestDeferFailureIsPerVideo(t *testing.T) {
	vs, nos := detailVideos("4", 4)
	bad := 2
	h := setup(t, emulator.Options{Videos: vs, Faults: map[string]emulator.Fault{nos[bad]: {Kind: emulator.FaultHTTPError}}}, fastList)

	_, parts := postMultipart(t, h.origin+"/query", deferredDetailQuery, map[string]any{"nos": nos})
	seen := map[int]bool{}
	for _, p := range parts[1:] {
		for _, inc := range p.Incremental {
			i := int(inc.Path[1].(float64))
			seen[i] = true
			if i != bad {
				if g := decode[detailJSON](t, inc.Data); len(inc.Errors) > 0 || g.String() != wantDetail(i).String() {
					t.Errorf("videos[%d]: %v, errors %+v; want %v", i, g, inc.Errors, wantDetail(i))
				}
				continue
			}
			if len(inc.Errors) != 1 {
				t.Fatalf("videos[%d]: %d errors %+v; want 1", i, len(inc.Errors), inc.Errors)
			}
			e := inc.Errors[0]
			if got, want := fmt.Sprint(e.Path), fmt.Sprintf("[videos %d resolutionLabel]", bad); got != want || e.Extensions["code"] != "UPSTREAM_ERROR" {
				t.Errorf("videos[%d] error at %s code %v; want at %s, UPSTREAM_ERROR", i, got, e.Extensions["code"], want)
			}
		}
	}
	if len(seen) != len(nos) {
		t.Errorf("increments for %v; want one per video", seen)
	}
}

// multipart/mixed carries queries; a subscription sent that way is refused
// with a pointer to the transports that carry it.
func TestDeferTransportRefusesSubscription(t *testing.T) {
	h := setup(t, emulator.Options{}, fast)
	body := mustJSON(map[string]any{"query": `subscription { watchVideos(videoNos: ["VI606404158946574336"]) { status } }`})
	resp := postBody(t, h.origin+"/query", body, "Accept", acceptMultipart)
	if len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, "text/event-stream") || resp.Errors[0].Extensions["code"] != "BAD_USER_INPUT" {
		t.Errorf("HTTP %d, errors %+v; want one BAD_USER_INPUT error naming text/event-stream", resp.Status, resp.Errors)
	}
	if got := h.emu.Stats().Requests; got != 0 {
		t.Errorf("upstream calls = %d; want 0", got)
	}
}

// Deferred detail fields cost get_metadata calls all the same: they count
// against MAX_DETAIL_VIDEOS_PER_QUERY, and an operation over it makes no
// call.
func TestDeferCountsAgainstDetailLimit(t *testing.T) {
	vs, nos := detailVideos("4", 3)
	h := setup(t, emulator.Options{Videos: vs}, with(fastList, "MAX_DETAIL_VIDEOS_PER_QUERY", "2"))
	body := mustJSON(map[string]any{"query": deferredDetailQuery, "variables": map[string]any{"nos": nos}})
	resp := postBody(t, h.origin+"/query", body, "Accept", acceptMultipart)
	if len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, "MAX_DETAIL_VIDEOS_PER_QUERY") {
		t.Errorf("HTTP %d, errors %+v; want one error naming MAX_DETAIL_VIDEOS_PER_QUERY", resp.Status, resp.Errors)
	}
	if st := h.emu.Stats(); st.Requests+st.List.Requests != 0 {
		t.Errorf("upstream calls = %d; want 0", st.Requests+st.List.Requests)
	}
}

// Apollo Client 4 reads the parts as they come: its HttpLink asks for
// multipart/mixed, its Defer20220824Handler merges each video's part, and
// the query's results stream (dataState "streaming") from the list fields
// alone to every video's detail, then complete.
func TestDeferWithApolloClient(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node")
	}
	node, run := nodeHarness(t, "live", "@apollo/client", "runs Apollo Client")
	const n = 20
	vs, nos := detailVideos("4", n)
	h := setup(t, emulator.Options{Videos: vs}, with(fastList, "MEMORIES_RATE_LIMIT", "5", "MEMORIES_RATE_BURST", "1"))

	type video struct {
		VideoNo   string `json:"videoNo"`
		VideoName string `json:"videoName"`
		detailJSON
	}
	var out struct {
		Results []struct {
			DataState string                    `json:"dataState"`
			Data      struct{ Videos []*video } `json:"data"`
			Error     *string                   `json:"error"`
		} `json:"results"`
	}
	runNode(t, node, filepath.Join(filepath.Dir(run), "defer.mjs"), []string{string(mustJSON(map[string]any{
		"url": h.url, "query": deferredDetailQuery, "variables": map[string]any{"nos": nos},
	}))}, nil, &out)

	rs := out.Results
	if len(rs) < 3 {
		t.Fatalf("Apollo Client emitted %d results; want a first, at least one more while streaming, and the complete one: %+v", len(rs), rs)
	}
	for i, r := range rs {
		if r.Error != nil {
			t.Fatalf("result %d: error %s", i, *r.Error)
		}
		if want := map[bool]string{true: "complete", false: "streaming"}[i == len(rs)-1]; r.DataState != want {
			t.Errorf("result %d of %d: dataState %q; want %q", i, len(rs), r.DataState, want)
		}
		if len(r.Data.Videos) != n {
			t.Fatalf("result %d: %d videos; want %d", i, len(r.Data.Videos), n)
		}
	}
	withDetail := func(i int) (k int) {
		for _, v := range rs[i].Data.Videos {
			if v.ResolutionLabel != nil {
				k++
			}
		}
		return k
	}
	if k := withDetail(0); k == n {
		t.Errorf("first result has every video's detail; want it streamed")
	}
	for i := 1; i < len(rs); i++ {
		if withDetail(i) < withDetail(i-1) {
			t.Errorf("result %d has detail for %d videos, fewer than the %d before", i, withDetail(i), withDetail(i-1))
		}
	}
	for i, v := range rs[len(rs)-1].Data.Videos {
		if v.VideoNo != nos[i] || v.VideoName != fmt.Sprintf("clip-%d", i) || v.detailJSON.String() != wantDetail(i).String() {
			t.Errorf("complete videos[%d] = %s %s %v; want %s clip-%d %v", i, v.VideoNo, v.VideoName, v.detailJSON, nos[i], i, wantDetail(i))
		}
	}
	t.Logf("%d results, videos with detail: first %d, then up to %d", len(rs), withDetail(0), n)
}

// An operation counts once in graphql_operations_total however many
// responses it takes: a deferred query at its last part, a watch at its
// first event.
func TestOperationsCountedOnce(t *testing.T) {
	vs, nos := processingVideos(2, 300*time.Millisecond)
	dv, dnos := detailVideos("4", 3)
	h := setup(t, emulator.Options{Videos: append(vs, dv...)}, live)
	operations := func() int { return int(h.metric(t, "graphql_operations_total{")) }

	if _, parts := postMultipart(t, h.origin+"/query", deferredDetailQuery, map[string]any{"nos": dnos}); len(parts) < 2 {
		t.Fatalf("%d parts; want increments", len(parts))
	}
	if got := operations(); got != 1 {
		t.Errorf("after a query in parts: operations = %d; want 1", got)
	}
	untilComplete(t, sseSubscribe(t, h.url, watchQuery, map[string]any{"nos": nos}), 30*time.Second)
	if got := operations(); got != 2 {
		t.Errorf("after a watch of 2 videos: operations = %d; want 2", got)
	}
}
