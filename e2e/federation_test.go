package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

const entitiesQuery = `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Video { videoNo uniqueId videoName } } }`

func videoReps(nos []string, uniqueID string) []any {
	reps := make([]any, len(nos))
	for i, no := range nos {
		rep := map[string]any{"__typename": "Video", "videoNo": no}
		if uniqueID != "" {
			rep["uniqueId"] = uniqueID
		}
		reps[i] = rep
	}
	return reps
}

type entityJSON struct {
	VideoNo   string `json:"videoNo"`
	UniqueID  string `json:"uniqueId"`
	VideoName string `json:"videoName"`
}

func decodeEntities(t testing.TB, raw json.RawMessage) []*entityJSON {
	t.Helper()
	return decode[[]*entityJSON](t, raw)
}

// 200 representations over 50 videos cost 50 upstream calls, and share
// them with a video field of the same request.
func TestEntitiesDeduplicate(t *testing.T) {
	vs, nos := testVideos(50)
	h := setup(t, emulator.Options{Videos: vs}, fast)
	var asked []string
	for i := 0; i < 200; i++ {
		asked = append(asked, nos[i%50])
	}
	q := strings.Replace(entitiesQuery, "{ _entities", "{ extra: video(videoNo: \""+nos[7]+"\") { videoNo } _entities", 1)
	resp := h.query(t, q, map[string]any{"reps": videoReps(asked, "")})
	if len(resp.Errors) > 0 {
		t.Fatalf("errors: %+v", resp.Errors)
	}
	es := decodeEntities(t, resp.Data["_entities"])
	if len(es) != 200 {
		t.Fatalf("len(_entities) = %d; want 200", len(es))
	}
	for i, e := range es {
		if e == nil || e.VideoNo != asked[i] || e.UniqueID != "default" || e.VideoName != fmt.Sprintf("clip-%d", i%50) {
			t.Errorf("_entities[%d] = %+v; want %s in default", i, e, asked[i])
		}
	}
	if got, want := h.emu.Stats().Requests, int64(50); got != want {
		t.Errorf("upstream calls = %d; want %d", got, want)
	}
}

// A failure nulls only its own entity, with its error at _entities[i]; an
// unknown video is null without error; an empty videoNo is refused alone.
func TestEntitiesFailPerEntity(t *testing.T) {
	vs, nos := testVideos(3)
	h := setup(t, emulator.Options{Videos: vs, Faults: map[string]emulator.Fault{nos[1]: {Kind: emulator.FaultHTTPError}}}, fast)
	reps := videoReps([]string{nos[0], nos[1], "VI000000000000000404", nos[2], ""}, "")
	resp := h.query(t, entitiesQuery, map[string]any{"reps": reps})
	es := decodeEntities(t, resp.Data["_entities"])
	if len(es) != 5 {
		t.Fatalf("len(_entities) = %d; want 5: %s", len(es), resp.Raw)
	}
	for i, want := range []string{nos[0], "", "", nos[2], ""} {
		switch {
		case want == "" && es[i] != nil:
			t.Errorf("_entities[%d] = %+v; want null", i, es[i])
		case want != "" && (es[i] == nil || es[i].VideoNo != want):
			t.Errorf("_entities[%d] = %+v; want %s", i, es[i], want)
		}
	}
	errs := resp.errorsByPath()
	if len(resp.Errors) != 2 {
		t.Errorf("errors = %+v; want 2 (the failing video and the empty videoNo)", resp.Errors)
	}
	if e := errs["_entities.1"]; e.Code() != "UPSTREAM_ERROR" {
		t.Errorf("error at _entities.1 = %+v; want UPSTREAM_ERROR", e)
	}
	if e := errs["_entities.4"]; e.Code() != "BAD_USER_INPUT" {
		t.Errorf("error at _entities.4 = %+v; want BAD_USER_INPUT", e)
	}
}

// Both keys resolve, and a call that mixes them keeps each uniqueId: gqlgen
// would otherwise choose one resolver for all from the first representation.
func TestEntitiesMixedKeys(t *testing.T) {
	h := setup(t, emulator.Options{Videos: []emulator.Video{
		rawVideo("default", `{"video_no":"VI1","video_name":"default one","status":"PARSE"}`),
		rawVideo("team-a", `{"video_no":"VI1","video_name":"team one","status":"PARSE"}`),
	}}, fast)
	for _, order := range [][]int{{0, 1}, {1, 0}} {
		all := []any{
			map[string]any{"__typename": "Video", "videoNo": "VI1"},
			map[string]any{"__typename": "Video", "videoNo": "VI1", "uniqueId": "team-a"},
		}
		reps := []any{all[order[0]], all[order[1]]}
		resp := h.query(t, entitiesQuery, map[string]any{"reps": reps})
		if len(resp.Errors) > 0 {
			t.Fatalf("order %v: errors %+v", order, resp.Errors)
		}
		es := decodeEntities(t, resp.Data["_entities"])
		want := map[int]string{0: "default one", 1: "team one"}
		for i, idx := range order {
			if es[i] == nil || es[i].VideoName != want[idx] {
				t.Errorf("order %v: _entities[%d] = %+v; want %q", order, i, es[i], want[idx])
			}
		}
	}
}

func TestEntitiesCountTowardsTheLimit(t *testing.T) {
	_, nos := testVideos(6)
	h := setup(t, emulator.Options{}, with(fast, "MAX_VIDEOS_PER_QUERY", "5"))
	resp := h.query(t, entitiesQuery, map[string]any{"reps": videoReps(nos, "")})
	if len(resp.Errors) != 1 || resp.Errors[0].Code() != "BAD_USER_INPUT" {
		t.Errorf("errors = %+v; want one BAD_USER_INPUT", resp.Errors)
	}
	if got := h.emu.Stats().Requests; got != 0 {
		t.Errorf("upstream calls = %d; want 0", got)
	}
}

func TestServiceSDL(t *testing.T) {
	h := setup(t, emulator.Options{}, fast)
	resp := h.query(t, `{ _service { sdl } }`, nil)
	var svc struct{ SDL string }
	if err := json.Unmarshal(resp.Data["_service"], &svc); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`@link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])`,
		`@key(fields: "videoNo uniqueId")`,
		`@key(fields: "videoNo")`,
		"type Video",
	} {
		if !strings.Contains(svc.SDL, want) {
			t.Errorf("_service.sdl lacks %q", want)
		}
	}
}

// Representations that are not Video references, or carry ids that are not
// ids, are refused one by one, without an upstream call; the others answer.
func TestEntitiesBadRepresentations(t *testing.T) {
	vs, nos := testVideos(1)
	h := setup(t, emulator.Options{Videos: vs}, fast)
	reps := []any{
		map[string]any{},
		map[string]any{"__typename": "Nope", "videoNo": nos[0]},
		map[string]any{"__typename": "Video"},
		map[string]any{"__typename": "Video", "videoNo": map[string]any{"a": 1}},
		map[string]any{"__typename": "Video", "videoNo": nil},
		map[string]any{"__typename": "Video", "videoNo": true},
		map[string]any{"__typename": "Video", "videoNo": 1.5},
		map[string]any{"__typename": "Video", "videoNo": "  "},
		map[string]any{"__typename": "Video", "videoNo": nos[0], "uniqueId": " "},
		map[string]any{"__typename": "Video", "videoNo": nos[0], "uniqueId": 7},
		map[string]any{"__typename": "Video", "videoNo": nos[0]},
	}
	resp := h.query(t, entitiesQuery, map[string]any{"reps": reps})
	es := decodeEntities(t, resp.Data["_entities"])
	last := len(reps) - 1
	if len(es) != len(reps) || es[last] == nil || es[last].VideoNo != nos[0] {
		t.Fatalf("_entities = %s; want %d entries, the last one %s", resp.Data["_entities"], len(reps), nos[0])
	}
	errs := resp.errorsByPath()
	for i := 0; i < last; i++ {
		if e := errs[fmt.Sprintf("_entities.%d", i)]; e.Code() != "BAD_USER_INPUT" || es[i] != nil {
			t.Errorf("_entities[%d] = %+v, error %+v; want null with BAD_USER_INPUT", i, es[i], e)
		}
	}
	if got, want := h.emu.Stats().Requests, int64(1); got != want {
		t.Errorf("upstream calls = %d; want %d", got, want)
	}
}
