package e2e

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// nodeIDs reads the ids of a videos answer, in order.
func nodeIDs(t *testing.T, resp response) []string {
	t.Helper()
	if len(resp.Errors) > 0 {
		t.Fatalf("errors %+v", resp.Errors)
	}
	var vs []*struct {
		ID      string `json:"id"`
		VideoNo string `json:"videoNo"`
	}
	if err := json.Unmarshal(resp.Data["videos"], &vs); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = v.ID
	}
	return ids
}

// nodes fetches 2,000 videos by their global ids in ⌈2000/200⌉ list_videos
// calls, like videos; the ids are the same on every replica.
func TestNodesBatchLikeVideos(t *testing.T) {
	vs, nos := testVideos(2000)
	h := setupReplicas(t, 2, emulator.Options{Videos: vs, ListPageCap: 200}, fastList)
	const q = `query($nos: [ID!]!) { videos(videoNos: $nos) { id videoNo } }`
	ids := nodeIDs(t, h.servers[0].query(t, q, map[string]any{"nos": nos}))
	again := nodeIDs(t, h.servers[1].query(t, q, map[string]any{"nos": nos[:5]}))
	for i := range again {
		if again[i] != ids[i] {
			t.Errorf("video %s: id %q on one replica, %q on the other", nos[i], ids[i], again[i])
		}
	}
	fresh := setup(t, emulator.Options{Videos: vs, ListPageCap: 200}, fastList)
	resp := fresh.query(t, `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Video { videoNo videoName } } }`, map[string]any{"ids": ids})
	if len(resp.Errors) > 0 {
		t.Fatalf("errors %+v", resp.Errors)
	}
	var got []*struct{ ID, VideoNo, VideoName string }
	if err := json.Unmarshal(resp.Data["nodes"], &got); err != nil || len(got) != len(ids) {
		t.Fatalf("nodes: %v, %d of %d", err, len(got), len(ids))
	}
	for i, n := range got {
		if n == nil || n.ID != ids[i] || n.VideoNo != nos[i] || n.VideoName != fmt.Sprintf("clip-%d", i) {
			t.Fatalf("nodes[%d] = %+v; want %s", i, n, nos[i])
		}
	}
	if st := fresh.emu.Stats(); st.List.Requests != 10 || st.Requests != 0 {
		t.Errorf("nodes of 2000 ids: %d list_videos and %d get_metadata calls; want 10 and 0", st.List.Requests, st.Requests)
	}
}

// A malformed id is BAD_USER_INPUT with no upstream call; an id of a
// video this account cannot see (unknown, or another account's) is null;
// ids are the same for every key, and node(id:) refetches what videos read.
func TestNodeIDs(t *testing.T) {
	const keyA, keyB = "sk-alpha-node-11", "sk-bravo-node-22"
	h := setup(t, emulator.Options{
		Keys:   []string{keyA, keyB},
		Videos: []emulator.Video{rawVideo("default", `{"video_no":"VI1","video_name":"shared","status":"PARSE"}`)},
		AccountVideos: map[string][]emulator.Video{
			keyA: {rawVideo("team", `{"video_no":"VI2","video_name":"alpha team","status":"PARSE","fps":30}`)},
		},
	}, passThrough)
	const q = `{ videos(videoNos: ["VI1"]) { id videoNo } a2: video(videoNo: "VI2", uniqueId: "team") { id } }`
	ra := postQuery(t, h.url, q, nil, "Authorization", keyA)
	rb := postQuery(t, h.url, q, nil, "Authorization", keyB)
	idA, idB := nodeIDs(t, ra)[0], nodeIDs(t, rb)[0]
	if idA != idB {
		t.Errorf("the shared video's id: %q with one key, %q with the other; want one id", idA, idB)
	}
	var a2 struct{ ID string }
	if err := json.Unmarshal(ra.Data["a2"], &a2); err != nil || a2.ID == "" {
		t.Fatalf("a2 %s: %v", ra.Data["a2"], err)
	}
	const nodeQ = `query($id: ID!) { node(id: $id) { __typename id ... on Video { videoNo uniqueId videoName fps } } }`
	resp := postQuery(t, h.url, nodeQ, map[string]any{"id": a2.ID}, "Authorization", keyA)
	assertJSONEqual(t, "A's own video", resp.Data["node"], fmt.Sprintf(`{"__typename":"Video","id":%q,"videoNo":"VI2","uniqueId":"team","videoName":"alpha team","fps":30}`, a2.ID))
	resp = postQuery(t, h.url, nodeQ, map[string]any{"id": a2.ID}, "Authorization", keyB)
	if len(resp.Errors) > 0 || string(resp.Data["node"]) != "null" {
		t.Errorf("A's video through B's key: %s; want null without an error", resp.Raw)
	}
	h.emu.ResetCounters()
	for _, id := range []string{"", "not-an-id", "VXNlcjox", idA + "="} {
		resp := postQuery(t, h.url, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{idA, id}}, "Authorization", keyA)
		if len(resp.Errors) != 1 || resp.Errors[0].Code() != "BAD_USER_INPUT" {
			t.Errorf("nodes with %q: %+v; want BAD_USER_INPUT", id, resp.Errors)
		}
	}
	if st := h.emu.Stats(); st.Requests+st.List.Requests != 0 {
		t.Errorf("malformed ids: %d upstream calls; want 0", st.Requests+st.List.Requests)
	}
}
