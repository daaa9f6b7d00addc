package e2e

// The detail fields of parsed videos kept past their list fields
// (CACHE_TTL_DETAIL), through the real server against the emulator, on one
// server and over two replicas on Redis.

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// detailQuery asks for nos with list and detail fields, as a dashboard
// that shows resolutions does.
const detailQuery = `query($nos: [ID!]!) { videos(videoNos: $nos) {
	videoNo videoName status duration size resolutionLabel fps width height } }`

// After CACHE_TTL_PARSE, a query for 100 detail videos seen before costs
// one list_videos call, not 100 get_metadata calls, and answers every field
// as the upstream says now: list fields new, detail fields kept. A video
// deleted since is null; one FAILED since drops its kept detail fields and
// is asked through get_metadata again.
func TestDetailFieldsOutliveListFields(t *testing.T) {
	// Long enough for the queries after the refresh to come before it is
	// over again, on a loaded machine.
	const parseTTL = time.Second
	oneAndTwoReplicas(t, func(t *testing.T, replicas bool, start func(emulator.Options, map[string]string) *harness) {
		vs, nos := detailVideos("5", 100)
		env := with(fastList, "CACHE_TTL_PARSE", parseTTL.String(), "CACHE_TTL_DETAIL", "1h")
		h := start(emulator.Options{Videos: vs, ListPageCap: 200}, env)
		first, resp := detailAnswer(t, h.servers[0], nos)
		if st := h.emu.Stats(); st.Requests != 100 || st.List.Requests != 0 {
			t.Fatalf("first query: %d get_metadata and %d list_videos calls; want 100 and 0", st.Requests, st.List.Requests)
		}
		h.wantCost(t, "first query", resp, 0, 100)
		// Since: video 0 failed, video 1 was deleted, video 2 renamed.
		// Video 2's fps "changes" too, which a parsed file's cannot: the
		// answer shows the kept value, so it was not asked again.
		h.emu.SetVideo("", rawVideo("default", fmt.Sprintf(`{"video_no":%q,"video_name":"clip-0","duration":0,"size":0,"status":"FAILED",`+
			`"create_time":1754037217992,"resolution_label":"","fps":0,"width":0,"height":0}`, nos[0])))
		h.emu.DeleteVideo("", "default", nos[1])
		h.emu.SetVideo("", rawVideo("default", fmt.Sprintf(`{"video_no":%q,"video_name":"renamed","duration":12,"size":1002,"status":"PARSE",`+
			`"create_time":1754037217992,"resolution_label":"1080P","fps":99,"width":1920,"height":1080}`, nos[2])))
		time.Sleep(2 * parseTTL)
		h.emu.ResetCounters()

		last := h.servers[len(h.servers)-1]
		second, resp := detailAnswer(t, last, nos)
		want := append([]map[string]any{}, first...)
		// The vendor's empty values of a failed video are not known: null.
		want[0] = map[string]any{"videoNo": nos[0], "videoName": "clip-0", "status": "FAILED", "duration": nil, "size": nil,
			"resolutionLabel": nil, "fps": nil, "width": nil, "height": nil}
		want[1] = nil
		want[2] = copyWith(first[2], "videoName", "renamed")
		for i := range nos {
			if !reflect.DeepEqual(second[i], want[i]) {
				t.Errorf("after CACHE_TTL_PARSE, videos[%d] = %v; want %v", i, second[i], want[i])
			}
		}
		// One list call for the 100; get_metadata only for the one that
		// is no longer parsed.
		if st := h.emu.Stats(); st.List.Requests != 1 || st.Requests != 1 || st.ByVideo[nos[0]] != 1 {
			t.Errorf("second query: %d list_videos and %d get_metadata calls (%d for %s); want 1 and 1, for the FAILED video",
				st.List.Requests, st.Requests, st.ByVideo[nos[0]], nos[0])
		}
		h.wantCost(t, "second query", resp, 0, 100)
		// What the refresh kept answers every replica with no call.
		h.emu.ResetCounters()
		for i, in := range h.servers {
			got, resp := detailAnswer(t, in, nos)
			if !reflect.DeepEqual(got, second) {
				t.Errorf("server %d after the refresh: answers differ from the refresh's", i)
			}
			h.wantCost(t, fmt.Sprintf("server %d after the refresh", i), resp, 100, 0)
		}
		if st := h.emu.Stats(); st.List.Requests+st.Requests != 0 {
			t.Errorf("queries after the refresh: %d list_videos and %d get_metadata calls; want none", st.List.Requests, st.Requests)
		}
	})
}

// detailAnswer asks in for nos with detailQuery and returns the videos and
// the response, requiring no errors.
func detailAnswer(t *testing.T, in *instance, nos []string) ([]map[string]any, response) {
	t.Helper()
	resp := in.query(t, detailQuery, map[string]any{"nos": nos})
	if len(resp.Errors) > 0 {
		t.Fatalf("errors %+v; want none", resp.Errors[:min(3, len(resp.Errors))])
	}
	var got []map[string]any
	if err := json.Unmarshal(resp.Data["videos"], &got); err != nil || len(got) != len(nos) {
		t.Fatalf("videos: %d decoded (%v); want %d", len(got), err, len(nos))
	}
	return got, resp
}

// copyWith returns a copy of m with k set to v.
func copyWith(m map[string]any, k string, v any) map[string]any {
	c := maps.Clone(m)
	c[k] = v
	return c
}

// A query whose videos need detail fields for some and not for others
// refreshes them all in one list_videos call once CACHE_TTL_PARSE is over.
func TestDetailAndListVideosShareTheRefresh(t *testing.T) {
	const parseTTL = time.Second
	vs, nos := detailVideos("6", 6)
	h := setup(t, emulator.Options{Videos: vs, ListPageCap: 200}, with(fastList, "CACHE_TTL_PARSE", parseTTL.String(), "CACHE_TTL_DETAIL", "1h"))
	q := fmt.Sprintf(`query($list: [ID!]!) { full: videos(videoNos: [%q, %q, %q]) { videoNo fps } list: videos(videoNos: $list) { videoNo videoName } }`,
		nos[0], nos[1], nos[2])
	vars := map[string]any{"list": nos[3:]}
	first := h.query(t, q, vars)
	if len(first.Errors) > 0 {
		t.Fatalf("errors %+v", first.Errors)
	}
	time.Sleep(2 * parseTTL)
	h.emu.ResetCounters()
	second := h.query(t, q, vars)
	if len(second.Errors) > 0 || string(second.Data["full"]) != string(first.Data["full"]) || string(second.Data["list"]) != string(first.Data["list"]) {
		t.Errorf("after CACHE_TTL_PARSE: %s; want the first answer again, %s", second.Raw, first.Raw)
	}
	if st := h.emu.Stats(); st.List.Requests != 1 || st.Requests != 0 {
		t.Errorf("after CACHE_TTL_PARSE: %d list_videos and %d get_metadata calls; want 1 and 0", st.List.Requests, st.Requests)
	}
	h.wantCost(t, "the refresh", second, 0, 6)
}
