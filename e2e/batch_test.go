package e2e

// Batching through list_videos, through the real server over HTTP against
// the emulator over HTTP: the call counts, the planning of which call a
// video needs, equivalence with get_metadata, faults next to healthy
// videos, replicas and scopes.

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/eventually"
	"github.com/memories-facade/memories-graphql/internal/leakcheck"
	"github.com/memories-facade/memories-graphql/internal/redistest"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

// detailVideos makes n distinct PARSE videos with every field get_metadata
// returns, detail fields included.
func detailVideos(prefix string, n int) ([]emulator.Video, []string) {
	vs := make([]emulator.Video, n)
	nos := make([]string, n)
	for i := range vs {
		nos[i] = fmt.Sprintf("VI%s%015d", prefix, i)
		vs[i] = rawVideo("default", fmt.Sprintf(`{"video_no":%q,"video_name":"clip-%d","duration":%d,"size":%d,"status":"PARSE",`+
			`"create_time":1754037217992,"resolution_label":"1080P","fps":%d,"width":1920,"height":1080,"camera_model":"cam-%d","tags":["t%d"]}`,
			nos[i], i, 10+i, 1000+i, 24+i%7, i, i))
	}
	return vs, nos
}

// The promise: 500 distinct videos at the vendor's 5 calls/s, on both
// sides, in at most 3 list_videos calls, no get_metadata call and no 0429.
func TestBatch500Videos(t *testing.T) {
	vs, nos := testVideos(490)
	unknown := make([]string, 10)
	for i := range unknown {
		unknown[i] = fmt.Sprintf("VI8%017d", i)
	}
	asked := append(append([]string{}, nos...), unknown...)
	h := setup(t, emulator.Options{
		Videos: vs, RateLimit: 5, Burst: 5, ListRateLimit: 5, ListBurst: 5, ListPageCap: 200, Latency: 20 * time.Millisecond,
	}, map[string]string{"MEMORIES_API_KEY": testKey})

	start := time.Now()
	resp := h.query(t, `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo videoName size } }`, map[string]any{"nos": asked})
	t.Logf("500 videos in %v", time.Since(start))
	if len(resp.Errors) > 0 {
		t.Fatalf("errors %+v; want none", resp.Errors[:min(3, len(resp.Errors))])
	}
	got := decodeVideos(t, resp.Data["videos"])
	if len(got) != len(asked) {
		t.Fatalf("len(videos) = %d; want %d", len(got), len(asked))
	}
	for i, v := range got {
		switch {
		case i >= len(nos):
			if v != nil {
				t.Errorf("videos[%d] = %+v; want null (unknown video)", i, v)
			}
		case v == nil || v.VideoNo != nos[i] || v.VideoName != fmt.Sprintf("clip-%d", i) || v.Size != int64(1000+i):
			t.Errorf("videos[%d] = %+v; want %s clip-%d", i, v, nos[i], i)
		}
	}
	st := h.emu.Stats()
	if st.List.Requests > 3 || st.Requests != 0 || st.List.RateLimited != 0 || st.RateLimited != 0 {
		t.Errorf("list_videos calls %d, get_metadata calls %d, 0429s %d+%d; want at most 3, 0, 0",
			st.List.Requests, st.Requests, st.List.RateLimited, st.RateLimited)
	}
}

// Every sample and generated video answers through list_videos exactly as
// through get_metadata, for every field list_videos carries.
func TestBatchAnswersAsGetMetadata(t *testing.T) {
	gen, _ := detailVideos("7", 30)
	all := append(emulator.Samples(), gen...)
	scopes := map[string][]string{}
	for _, v := range all {
		no, err := v.VideoNo()
		if err != nil {
			t.Fatal(err)
		}
		u := v.UniqueID
		if u == "" {
			u = "default"
		}
		scopes[u] = append(scopes[u], no)
	}
	r := setupEach(t, emulator.Options{Videos: all, ListPageCap: 7}, []map[string]string{fastList, with(fastList, "MEMORIES_BATCH", "off")})
	const fields = `videoNo uniqueId videoName duration size status rawStatus cause createTime
		captureMetadata { datetimeTaken cameraModel location { latitude longitude } tags }`
	q := `query($nos: [ID!]!, $u: String!) { videos(videoNos: $nos, uniqueId: $u) { ` + fields + ` } }`
	for u, nos := range scopes {
		batched := postQuery(t, r.servers[0].url, q, map[string]any{"nos": nos, "u": u})
		single := postQuery(t, r.servers[1].url, q, map[string]any{"nos": nos, "u": u})
		if len(batched.Errors)+len(single.Errors) > 0 {
			t.Fatalf("scope %s: errors %+v / %+v; want none", u, batched.Errors, single.Errors)
		}
		var b, s []map[string]any
		json.Unmarshal(batched.Data["videos"], &b)
		json.Unmarshal(single.Data["videos"], &s)
		if len(b) != len(nos) {
			t.Fatalf("scope %s: %d videos; want %d", u, len(b), len(nos))
		}
		for i := range b {
			if !reflect.DeepEqual(b[i], s[i]) {
				t.Errorf("scope %s, %s:\n batched %v\n single  %v", u, nos[i], b[i], s[i])
			}
		}
	}
	st := r.emu.Stats()
	if st.List.Served == 0 || int(st.Requests) != len(all) {
		t.Errorf("list_videos answers %d, get_metadata calls %d; want some, %d (the batch-off server's)", st.List.Served, st.Requests, len(all))
	}
}

// Planning: aliases that need a detail field cost get_metadata calls for
// those videos only; the others share one list_videos call, and a video
// that one reference needs in full is fetched once, in full, for all.
func TestBatchPlansCallsByField(t *testing.T) {
	vs, nos := detailVideos("6", 6)
	h := setup(t, emulator.Options{Videos: vs}, fastList)
	q := fmt.Sprintf(`{
		a: video(videoNo: %q) { fps width }
		b: video(videoNo: %q) { videoName }
		c: videos(videoNos: [%q, %q]) { videoName }
		d: videos(videoNos: [%q]) { ...Res }
	}
	fragment Res on Video { resolutionLabel }`, nos[0], nos[1], nos[0], nos[2], nos[3])
	resp := h.query(t, q, nil)
	if len(resp.Errors) > 0 {
		t.Fatalf("errors %+v", resp.Errors)
	}
	a := decode[map[string]any](t, resp.Data["a"])
	if a["fps"] != float64(24) || a["width"] != float64(1920) {
		t.Errorf("a = %v; want fps 24, width 1920", a)
	}
	c := decode[[]map[string]any](t, resp.Data["c"])
	if c[0]["videoName"] != "clip-0" || c[1]["videoName"] != "clip-2" {
		t.Errorf("c = %v; want clip-0, clip-2", c)
	}
	st := h.emu.Stats()
	for i, want := range []struct{ meta, list int64 }{{1, 0}, {0, 1}, {0, 1}, {1, 0}} {
		if got := st.ByVideo[nos[i]]; got != want.meta {
			t.Errorf("get_metadata calls for video %d = %d; want %d", i, got, want.meta)
		}
		if got := st.List.ByVideo[nos[i]]; got != want.list {
			t.Errorf("list_videos calls naming video %d = %d; want %d", i, got, want.list)
		}
	}
	if st.List.Requests != 1 {
		t.Errorf("list_videos calls = %d; want 1", st.List.Requests)
	}

	// A list answer in the cache never serves a detail field: fps comes
	// from a get_metadata call, and that complete answer then serves both.
	resp = h.query(t, fmt.Sprintf(`{ video(videoNo: %q) { fps } }`, nos[1]), nil)
	if v := decode[map[string]any](t, resp.Data["video"]); v["fps"] != float64(25) {
		t.Errorf("fps after a cached list answer = %v; want 25", v["fps"])
	}
	resp = h.query(t, fmt.Sprintf(`{ video(videoNo: %q) { videoName height } }`, nos[1]), nil)
	if v := decode[map[string]any](t, resp.Data["video"]); v["height"] != float64(1080) || v["videoName"] != "clip-1" {
		t.Errorf("video = %v; want clip-1 height 1080", v)
	}
	st = h.emu.Stats()
	if got := st.ByVideo[nos[1]]; got != 1 {
		t.Errorf("get_metadata calls for video 1 = %d; want 1 (the upgrade, then cached)", got)
	}
}

// Planning holds for _entities too: a gateway's representations whose
// selection needs a detail field cost get_metadata calls, the others share
// a list_videos call with the rest of the operation.
func TestBatchPlansEntities(t *testing.T) {
	vs, nos := detailVideos("5", 4)
	h := setup(t, emulator.Options{Videos: vs}, fastList)
	resp := h.query(t, `query($full: [_Any!]!, $list: [_Any!]!) {
		full: _entities(representations: $full) { ... on Video { videoNo fps } }
		list: _entities(representations: $list) { ... on Video { videoNo videoName } }
		v: video(videoNo: "`+nos[3]+`") { videoName }
	}`, map[string]any{
		"full": []any{map[string]any{"__typename": "Video", "videoNo": nos[0]}},
		"list": []any{
			map[string]any{"__typename": "Video", "videoNo": nos[1]},
			map[string]any{"__typename": "Video", "videoNo": nos[2], "uniqueId": "default"},
		},
	})
	if len(resp.Errors) > 0 {
		t.Fatalf("errors %+v", resp.Errors)
	}
	full := decode[[]map[string]any](t, resp.Data["full"])
	list := decode[[]map[string]any](t, resp.Data["list"])
	if full[0]["fps"] != float64(24) || list[0]["videoName"] != "clip-1" || list[1]["videoName"] != "clip-2" {
		t.Errorf("full %v, list %v; want fps 24, clip-1, clip-2", full, list)
	}
	st := h.emu.Stats()
	if st.Requests != 1 || st.ByVideo[nos[0]] != 1 || st.List.Requests != 1 || st.List.VideosAsked != 3 {
		t.Errorf("get_metadata calls %d (video 0: %d), list_videos calls %d naming %d videos; want 1 (1), 1 naming 3",
			st.Requests, st.ByVideo[nos[0]], st.List.Requests, st.List.VideosAsked)
	}
}

// A batch in another scope never answers with the default scope's data.
func TestBatchKeepsScopesApart(t *testing.T) {
	no := "VI500000000000000001"
	only := "VI500000000000000002"
	h := setup(t, emulator.Options{Videos: []emulator.Video{
		rawVideo("default", `{"video_no":"`+no+`","video_name":"in-default","status":"PARSE"}`),
		rawVideo("other", `{"video_no":"`+no+`","video_name":"in-other","status":"PARSE"}`),
		rawVideo("default", `{"video_no":"`+only+`","video_name":"only-default","status":"PARSE"}`),
	}}, fastList)
	for round := range 2 { // the second round is answered from the cache
		resp := h.query(t, fmt.Sprintf(`{
			d: videos(videoNos: [%q, %q]) { videoName uniqueId }
			o: videos(videoNos: [%q, %q], uniqueId: "other") { videoName uniqueId }
		}`, no, only, no, only), nil)
		if len(resp.Errors) > 0 {
			t.Fatalf("errors %+v", resp.Errors)
		}
		d := decode[[]map[string]any](t, resp.Data["d"])
		o := decode[[]map[string]any](t, resp.Data["o"])
		if d[0]["videoName"] != "in-default" || d[1]["videoName"] != "only-default" || o[0]["videoName"] != "in-other" || o[1] != nil {
			t.Errorf("round %d: default %v, other %v; want in-default, only-default / in-other, null", round, d, o)
		}
	}
	if got := h.emu.Stats().List.Requests; got != 2 {
		t.Errorf("list_videos calls = %d; want 2 (one per scope, then the cache)", got)
	}
}

// Faults, each next to healthy videos that still answer, and no goroutine
// left behind.
func TestBatchFaults(t *testing.T) {
	vs, nos := testVideos(40)
	bad := nos[17]
	healthyBut := func(t *testing.T, h *harness, check func(t *testing.T, e *videotest.GQLError, v *videoJSON)) {
		t.Helper()
		got, resp := h.videosList(t, nos)
		errs := resp.errorsByPath()
		for i, v := range got {
			e, failed := errs[fmt.Sprintf("videos.%d", i)]
			if nos[i] == bad {
				var ep *videotest.GQLError
				if failed {
					ep = &e
				}
				check(t, ep, v)
				continue
			}
			if failed || v == nil || v.VideoNo != nos[i] {
				t.Errorf("healthy videos[%d] = %+v, error %+v; want %s", i, v, e, nos[i])
			}
		}
	}
	wantError := func(code string) func(t *testing.T, e *videotest.GQLError, v *videoJSON) {
		return func(t *testing.T, e *videotest.GQLError, v *videoJSON) {
			if e == nil || e.Code() != code || v != nil {
				t.Errorf("faulty video = %+v, error %+v; want null and %s", v, e, code)
			}
		}
	}
	wantData := func(t *testing.T, e *videotest.GQLError, v *videoJSON) {
		if e != nil || v == nil || v.VideoNo != bad {
			t.Errorf("faulty video = %+v, error %+v; want its data (through get_metadata)", v, e)
		}
	}

	t.Run("500 every time", func(t *testing.T) {
		leakcheck.Check(t)
		h := setup(t, emulator.Options{Videos: vs,
			ListFaults: map[string]emulator.Fault{bad: {Kind: emulator.FaultHTTPError}},
			Faults:     map[string]emulator.Fault{bad: {Kind: emulator.FaultHTTPError}},
		}, fastList)
		healthyBut(t, h, wantError("UPSTREAM_ERROR"))
		if st := h.emu.Stats(); st.Requests > 2 {
			t.Errorf("get_metadata calls = %d; want at most 2 (the last split)", st.Requests)
		}
	})
	t.Run("hang", func(t *testing.T) {
		leakcheck.Check(t)
		h := setup(t, emulator.Options{Videos: vs,
			ListFaults: map[string]emulator.Fault{bad: {Kind: emulator.FaultHang}},
			Faults:     map[string]emulator.Fault{bad: {Kind: emulator.FaultHang}},
		}, with(fastList, "MEMORIES_CALL_TIMEOUT", "300ms"))
		healthyBut(t, h, wantError("UPSTREAM_TIMEOUT"))
	})
	t.Run("0429 storm on the list endpoint", func(t *testing.T) {
		leakcheck.Check(t)
		h := setup(t, emulator.Options{Videos: vs,
			ListFaults: map[string]emulator.Fault{bad: {Kind: emulator.FaultCode, Code: "0429", Msg: "request is too busy", Times: 3}},
		}, fastList)
		healthyBut(t, h, wantData)
		if st := h.emu.Stats(); st.Requests != 0 || st.List.Faulted != 3 {
			t.Errorf("get_metadata calls %d, list faults served %d; want 0 and 3 (retried as a whole)", st.Requests, st.List.Faulted)
		}
	})
	t.Run("malformed page", func(t *testing.T) {
		leakcheck.Check(t)
		h := setup(t, emulator.Options{Videos: vs,
			ListFaults: map[string]emulator.Fault{bad: {Kind: emulator.FaultMalformed}},
		}, fastList)
		healthyBut(t, h, wantData)
	})
	t.Run("page cap below the batch size", func(t *testing.T) {
		leakcheck.Check(t)
		h := setup(t, emulator.Options{Videos: vs, ListPageCap: 7}, fastList)
		healthyBut(t, h, wantData)
		if st := h.emu.Stats(); st.List.Requests != 6 || st.Requests != 0 {
			t.Errorf("list_videos calls %d, get_metadata calls %d; want 6 pages of 7, 0", st.List.Requests, st.Requests)
		}
	})
	t.Run("404: fallback, then recovery", func(t *testing.T) {
		leakcheck.Check(t)
		h := setup(t, emulator.Options{Videos: vs, ListDisabled: true, ListPageCap: 200},
			with(fastList, "MEMORIES_LIST_PROBE_INTERVAL", "300ms"))
		healthyBut(t, h, wantData)
		st := h.emu.Stats()
		if st.Requests != int64(len(nos)) || st.List.Disabled != 1 {
			t.Errorf("get_metadata calls %d, list 404s %d; want %d, 1", st.Requests, st.List.Disabled, len(nos))
		}
		if m := h.metrics(t); !strings.Contains(m, "memories_list_unavailable_total 1") {
			t.Errorf("metrics lack memories_list_unavailable_total 1")
		}
		h.emu.SetListDisabled(false)
		more, fresh := testVideos(200)
		for _, v := range more[40:] {
			h.emu.SetVideo("", v)
		}
		// New videos each time, a fetched one answers from the cache; two,
		// as one alone goes to get_metadata while its budget is there.
		next := 40
		eventually.True(t, "list_videos in use again after the probe interval", func() bool {
			h.requireVideos(t, fresh[next:next+2])
			next += 2
			return h.emu.Stats().List.Served > 0
		})
		h.emu.ResetCounters()
		h.requireVideos(t, fresh[next:])
		if st := h.emu.Stats(); st.List.Requests != 1 || st.Requests != 0 {
			t.Errorf("after recovery: list_videos calls %d, get_metadata calls %d; want 1, 0", st.List.Requests, st.Requests)
		}
	})
}

// Two replicas on one Redis, asked overlapping lists at the same time,
// fetch each video once between them.
func TestBatchReplicasFetchEachVideoOnce(t *testing.T) {
	url := redistest.URL(t)
	vs, nos := testVideos(400)
	env := with(fastList, "REDIS_URL", url, "REDIS_KEY_PREFIX", redistest.Prefix(t, url), "EXPECTED_REPLICAS", "2", "REDIS_TIMEOUT", "2s")
	r := setupReplicas(t, 2, emulator.Options{Videos: vs, ListPageCap: 200, Latency: 200 * time.Millisecond}, env)
	var wg sync.WaitGroup
	for i, part := range [][]string{nos[:300], nos[100:]} {
		wg.Go(func() {
			resp := postQuery(t, r.servers[i].url, videosListQuery, map[string]any{"nos": part})
			if len(resp.Errors) > 0 {
				t.Errorf("replica %d: errors %+v", i, resp.Errors[0])
			}
			got := decodeVideos(t, resp.Data["videos"])
			for j, v := range got {
				if v == nil || v.VideoNo != part[j] {
					t.Errorf("replica %d: videos[%d] = %+v; want %s", i, j, v, part[j])
					break
				}
			}
		})
	}
	wg.Wait()
	st := r.emu.Stats()
	for _, no := range nos {
		if n := st.List.ByVideo[no]; n != 1 {
			t.Errorf("list_videos calls naming %s = %d; want 1", no, n)
		}
	}
	if st.Requests != 0 {
		t.Errorf("get_metadata calls = %d; want 0", st.Requests)
	}
}
