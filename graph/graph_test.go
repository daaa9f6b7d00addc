package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/graph"
	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/loader"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

// allFields selects every field of Video.
const allFields = `videoNo uniqueId videoName duration size status rawStatus cause createTime
	resolutionLabel fps width height
	captureMetadata { datetimeTaken cameraModel location { latitude longitude } tags }`

const entitiesQ = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Video { videoNo uniqueId videoName } } }`

// refusal is what an operation refused as a whole answers: no data, one
// error, and no fetch at all.
type refusal struct {
	code string
	path string // "" for none
	msg  string // a substring of the message
}

// checkRefused fails t unless a is the refusal want, made without a fetch.
func checkRefused(t *testing.T, a answer, want refusal) {
	t.Helper()
	if a.data != nil {
		t.Errorf("got data %s; want none", toJSON(a.data))
	}
	if len(a.errors) != 1 {
		t.Fatalf("got %d errors; want 1 %s\n%v", len(a.errors), want.code, a)
	}
	e := a.errors[0]
	if got := e.Code(); got != want.code {
		t.Errorf("got code %q; want %q\n%v", got, want.code, a)
	}
	if got := e.PathString(); got != want.path {
		t.Errorf("got path %q; want %q", got, want.path)
	}
	if !strings.Contains(e.Message, want.msg) {
		t.Errorf("got message %q; want it to contain %q", e.Message, want.msg)
	}
	if len(a.calls) != 0 {
		t.Errorf("got fetches %s; want none for a refused operation", describeCalls(a.calls))
	}
}

// checkAccepted fails t unless a answers with data, no error, and fetched
// wantRefs references in all.
func checkAccepted(t *testing.T, a answer, wantRefs int) {
	t.Helper()
	if len(a.errors) != 0 || a.data == nil {
		t.Fatalf("got %v; want data and no errors", a)
	}
	refs := 0
	for _, c := range a.calls {
		refs += len(c.Refs)
	}
	if refs != wantRefs {
		t.Errorf("got %d refs fetched (%s); want %d", refs, describeCalls(a.calls), wantRefs)
	}
}

// TestVideoLimits covers VideoPlan's checks with MAX_VIDEOS_PER_QUERY=5 and
// MAX_DETAIL_VIDEOS_PER_QUERY=2: every reference counts, through aliases,
// lists, fragments and variables, except those @skip and @include leave
// out; a refused operation fetches nothing.
func TestVideoLimits(t *testing.T) {
	tooMany := refusal{code: "BAD_USER_INPUT", msg: "MAX_VIDEOS_PER_QUERY"}
	tooDetailed := refusal{code: "BAD_USER_INPUT", msg: "MAX_DETAIL_VIDEOS_PER_QUERY"}
	tests := []struct {
		name     string
		query    string
		vars     map[string]any
		refused  *refusal // nil: accepted
		wantRefs int      // when accepted
	}{
		{name: "aliases at the limit", query: "{" + aliases(5, "videoNo") + " }", wantRefs: 5},
		{name: "aliases over the limit", query: "{" + aliases(6, "videoNo") + " }", refused: &tooMany},
		{name: "aliases of one video count each",
			query:   `{ a: video(videoNo: "V1") { videoNo } b: video(videoNo: "V1") { videoNo } c: video(videoNo: "V1") { videoNo } d: video(videoNo: "V1") { videoNo } e: video(videoNo: "V1") { videoNo } f: video(videoNo: "V1") { videoNo } }`,
			refused: &tooMany},
		{name: "list at the limit", query: `{ videos(videoNos: ["1", "2", "3", "4", "5"]) { videoNo } }`, wantRefs: 5},
		{name: "list over the limit", query: `{ videos(videoNos: ["1", "2", "3", "4", "5", "6"]) { videoNo } }`, refused: &tooMany},
		{name: "repeats in a list count each", query: `{ videos(videoNos: ["1", "1", "1", "1", "1", "1"]) { videoNo } }`, refused: &tooMany},
		{name: "list in a variable over the limit", query: `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo } }`,
			vars: map[string]any{"nos": ids(6, "V")}, refused: &tooMany},
		{name: "list in a variable at the limit", query: `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo } }`,
			vars: map[string]any{"nos": ids(5, "V")}, wantRefs: 5},
		{name: "videoNo in a variable", query: `query($a: ID!, $b: ID!) { x: videos(videoNos: ["1", "2", "3", "4"]) { videoNo } y: video(videoNo: $a) { videoNo } z: video(videoNo: $b) { videoNo } }`,
			vars: map[string]any{"a": "V1", "b": "V2"}, refused: &tooMany},
		{name: "fragments add up",
			query:   `{ ...F ...G } fragment F on Query { videos(videoNos: ["1", "2", "3"]) { videoNo } } fragment G on Query { a: video(videoNo: "4") { videoNo } b: video(videoNo: "5") { videoNo } c: video(videoNo: "6") { videoNo } }`,
			refused: &tooMany},
		{name: "inline fragment counts", query: `{ ... on Query { videos(videoNos: ["1", "2", "3", "4", "5", "6"]) { videoNo } } }`, refused: &tooMany},
		{name: "lists and aliases add up", query: `{ x: videos(videoNos: ["1", "2", "3"]) { videoNo } y: videos(videoNos: ["4", "5", "6"]) { videoNo } }`, refused: &tooMany},
		{name: "entities count", query: entitiesQ,
			vars: map[string]any{"r": reps(6)}, refused: &tooMany},
		{name: "entities and fields add up", query: `query($r: [_Any!]!) { video(videoNo: "X") { videoNo } _entities(representations: $r) { ... on Video { videoNo } } }`,
			vars: map[string]any{"r": reps(5)}, refused: &tooMany},
		{name: "entities at the limit", query: entitiesQ, vars: map[string]any{"r": reps(5)}, wantRefs: 5},

		// @skip and @include.
		{name: "skipped alias not counted", query: "{" + aliases(5, "videoNo") + ` s: video(videoNo: "S") @skip(if: true) { videoNo } }`, wantRefs: 5},
		{name: "excluded alias not counted", query: "{" + aliases(5, "videoNo") + ` s: video(videoNo: "S") @include(if: false) { videoNo } }`, wantRefs: 5},
		{name: "included alias counted", query: "{" + aliases(5, "videoNo") + ` s: video(videoNo: "S") @include(if: true) @skip(if: false) { videoNo } }`, refused: &tooMany},
		{name: "skip through a variable, true", query: `query($s: Boolean!) {` + aliases(5, "videoNo") + ` s: video(videoNo: "S") @skip(if: $s) { videoNo } }`,
			vars: map[string]any{"s": true}, wantRefs: 5},
		{name: "skip through a variable, false", query: `query($s: Boolean!) {` + aliases(5, "videoNo") + ` s: video(videoNo: "S") @skip(if: $s) { videoNo } }`,
			vars: map[string]any{"s": false}, refused: &tooMany},
		{name: "skipped fragment spread not counted", query: "{" + aliases(5, "videoNo") + ` ...F @skip(if: true) } fragment F on Query { videos(videoNos: ["1", "2"]) { videoNo } }`, wantRefs: 5},
		{name: "excluded inline fragment not counted", query: "{" + aliases(5, "videoNo") + ` ... @include(if: false) { videos(videoNos: ["1", "2"]) { videoNo } } }`, wantRefs: 5},

		// MAX_DETAIL_VIDEOS_PER_QUERY counts distinct videos that need a
		// detail field.
		{name: "detail at the limit", query: `{ a: video(videoNo: "1") { fps } b: video(videoNo: "2") { width } c: video(videoNo: "3") { videoName } }`, wantRefs: 3},
		{name: "detail over the limit", query: `{ a: video(videoNo: "1") { fps } b: video(videoNo: "2") { width } c: video(videoNo: "3") { height } }`, refused: &tooDetailed},
		{name: "detail of one video counts once", query: `{ a: video(videoNo: "1") { fps } b: video(videoNo: "1") { width } c: video(videoNo: "1") { resolutionLabel } }`, wantRefs: 1},
		{name: "detail in a list", query: `{ videos(videoNos: ["1", "2", "3"]) { resolutionLabel } }`, refused: &tooDetailed},
		{name: "detail through a fragment", query: `{ a: video(videoNo: "1") { ...D } b: video(videoNo: "2") { ...D } c: video(videoNo: "3") { ...D } } fragment D on Video { height }`, refused: &tooDetailed},
		{name: "detail of entities", query: `query($r: [_Any!]!) { _entities(representations: $r) { ... on Video { fps } } }`,
			vars: map[string]any{"r": reps(3)}, refused: &tooDetailed},
		{name: "skipped detail not counted", query: `{ a: video(videoNo: "1") { fps } b: video(videoNo: "2") { width } c: video(videoNo: "3") { videoNo height @skip(if: true) } }`, wantRefs: 3},
		{name: "detail skipped through a variable", query: `query($d: Boolean!) { videos(videoNos: ["1", "2", "3"]) { videoNo fps @include(if: $d) } }`,
			vars: map[string]any{"d": false}, wantRefs: 3},
		{name: "detail included through a variable", query: `query($d: Boolean!) { videos(videoNos: ["1", "2", "3"]) { videoNo fps @include(if: $d) } }`,
			vars: map[string]any{"d": true}, refused: &tooDetailed},

		// Blank ids are refused before any fetch, at the field that has them.
		{name: "empty videoNo", query: `{ video(videoNo: "") { videoNo } }`,
			refused: &refusal{code: "BAD_USER_INPUT", path: "video", msg: "videoNo must not be empty"}},
		{name: "blank videoNo under an alias", query: `{ ok: video(videoNo: "V1") { videoNo } a: video(videoNo: " \t") { videoNo } }`,
			refused: &refusal{code: "BAD_USER_INPUT", path: "a", msg: "videoNo must not be empty"}},
		{name: "empty uniqueId", query: `{ video(videoNo: "V1", uniqueId: "") { videoNo } }`,
			refused: &refusal{code: "BAD_USER_INPUT", path: "video", msg: "uniqueId must not be empty"}},
		{name: "blank videoNo in a list", query: `{ videos(videoNos: ["V1", "\n"]) { videoNo } }`,
			refused: &refusal{code: "BAD_USER_INPUT", path: "videos", msg: "videoNos[1] must not be empty"}},
		{name: "blank uniqueId of a list", query: `{ l: videos(videoNos: ["V1"], uniqueId: " ") { videoNo } }`,
			refused: &refusal{code: "BAD_USER_INPUT", path: "l", msg: "uniqueId must not be empty"}},
		{name: "blank videoNo in a variable", query: `query($no: ID!) { video(videoNo: $no) { videoNo } }`, vars: map[string]any{"no": " "},
			refused: &refusal{code: "BAD_USER_INPUT", path: "video", msg: "videoNo must not be empty"}},
		{name: "blank uniqueId in a variable", query: `query($u: String!) { video(videoNo: "V1", uniqueId: $u) { videoNo } }`, vars: map[string]any{"u": ""},
			refused: &refusal{code: "BAD_USER_INPUT", path: "video", msg: "uniqueId must not be empty"}},
		{name: "blank id in a fragment", query: `{ ...F } fragment F on Query { video(videoNo: "") { videoNo } }`,
			refused: &refusal{code: "BAD_USER_INPUT", path: "video", msg: "videoNo must not be empty"}},
		{name: "blank id in a skipped field", query: `{ a: video(videoNo: "") @skip(if: true) { videoNo } b: video(videoNo: "V1") { videoNo } }`, wantRefs: 1},
		{name: "integer videoNo", query: `{ video(videoNo: 606404158946574336) { videoNo } }`, wantRefs: 1},
		{name: "integer videoNos in a variable", query: `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo } }`,
			vars: map[string]any{"nos": []any{606404158946574336, 7}}, wantRefs: 2},
		// An ID that is a number but no integer names no video.
		{name: "fractional videoNo in a variable", query: `query($no: ID!) { video(videoNo: $no) { videoNo } }`, vars: map[string]any{"no": 1.5},
			refused: &refusal{code: "BAD_USER_INPUT", path: "video", msg: "videoNo must be a string or an integer"}},
		{name: "exponent videoNos in a variable", query: `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo } }`, vars: map[string]any{"nos": []any{"V1", json.RawMessage("1e3")}},
			refused: &refusal{code: "BAD_USER_INPUT", path: "videos", msg: "videoNos[1] must be a string or an integer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, defaults, nil)
			a := s.post(t, tt.query, tt.vars)
			if tt.refused != nil {
				checkRefused(t, a, *tt.refused)
				if got := s.ops.last(); got != "error" {
					t.Errorf("got operation outcome %q; want error", got)
				}
				return
			}
			checkAccepted(t, a, tt.wantRefs)
			if got := s.ops.last(); got != "ok" {
				t.Errorf("got operation outcome %q; want ok", got)
			}
		})
	}
}

// One server answers one document again and again: each request's
// variables decide its @skip, the document's walk kept or not.
func TestVideoLimitsOfOneDocumentAgain(t *testing.T) {
	tooMany := refusal{code: "BAD_USER_INPUT", msg: "MAX_VIDEOS_PER_QUERY"}
	skip := `query($s: Boolean!) {` + aliases(5, "videoNo") + ` s: video(videoNo: "S") @skip(if: $s) { videoNo } }`
	s := newServer(t, defaults, nil)
	for i, skipped := range []bool{true, false, true, false} {
		a := s.post(t, skip, map[string]any{"s": skipped})
		if skipped {
			checkAccepted(t, a, 5)
		} else {
			checkRefused(t, a, tooMany)
		}
		if t.Failed() {
			t.Fatalf("request %d (skip %v)", i, skipped)
		}
	}
	constant := "{" + aliases(6, "videoNo") + " }"
	for range 2 {
		checkRefused(t, s.post(t, constant, nil), tooMany)
	}
}

// reps returns n Video representations V0 … V(n-1).
func reps(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"__typename": "Video", "videoNo": fmt.Sprintf("V%d", i)}
	}
	return out
}

// TestDepthLimit covers DepthLimit: fields count through fragments,
// introspection counts except ofType, and what @skip leaves out does not.
func TestDepthLimit(t *testing.T) {
	const deep4 = `{ video(videoNo: "V1") { captureMetadata { location { latitude } } } }`
	tests := []struct {
		name     string
		maxDepth int
		query    string
		refused  bool
	}{
		{"at the limit", 4, deep4, false},
		{"over the limit", 3, deep4, true},
		{"through a fragment", 3, `{ video(videoNo: "V1") { ...C } } fragment C on Video { captureMetadata { location { latitude } } }`, true},
		{"through an inline fragment", 3, `{ ... on Query { video(videoNo: "V1") { ... on Video { captureMetadata { location { latitude } } } } } }`, true},
		{"deepest branch counts", 3, `{ video(videoNo: "V1") { videoNo captureMetadata { tags location { latitude } } } }`, true},
		{"skipped branch not counted", 3, `{ video(videoNo: "V1") { videoNo captureMetadata @skip(if: true) { location { latitude } } } }`, false},
		{"introspection counts", 4, `{ __schema { types { fields { type { name } } } } }`, true},
		{"ofType not counted", 4, `{ __type(name: "Video") { fields { type { ofType { ofType { ofType { name } } } } } } }`, false},
		{"__typename counts", 1, `{ video(videoNo: "V1") { __typename } }`, true},
		{"root __typename", 1, `{ __typename }`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := defaults
			o.maxDepth, o.introspection = tt.maxDepth, true
			s := newServer(t, o, nil)
			a := s.post(t, tt.query, nil)
			if tt.refused {
				checkRefused(t, a, refusal{code: "DEPTH_LIMIT_EXCEEDED", msg: fmt.Sprintf("at most %d", tt.maxDepth)})
				return
			}
			if len(a.errors) != 0 || a.data == nil {
				t.Fatalf("got %v; want data and no errors", a)
			}
		})
	}
}

// TestNoIntrospection covers NoIntrospection: __schema and __type are
// refused wherever they hide, before anything is fetched; __typename is
// not.
func TestNoIntrospection(t *testing.T) {
	tests := []struct {
		name     string
		query    string
		refused  bool
		wantData string // when accepted
	}{
		{name: "__schema", query: `{ __schema { queryType { name } } }`, refused: true},
		{name: "__type", query: `{ __type(name: "Video") { name } }`, refused: true},
		{name: "aliased", query: `{ s: __schema { types { name } } }`, refused: true},
		{name: "with a video", query: `{ video(videoNo: "V1") { videoNo } __schema { queryType { name } } }`, refused: true},
		{name: "in a fragment", query: `{ ...F } fragment F on Query { __type(name: "Video") { name } }`, refused: true},
		{name: "in an inline fragment", query: `{ ... on Query { __schema { queryType { name } } } }`, refused: true},
		{name: "root __typename", query: `{ __typename }`, wantData: `{"__typename": "Query"}`},
		{name: "__typename of a video", query: `{ video(videoNo: "V1") { __typename videoNo } }`, wantData: `{"video": {"__typename": "Video", "videoNo": "V1"}}`},
		{name: "__typename of entities", query: `{ _entities(representations: [{__typename: "Video", videoNo: "V1"}]) { __typename } }`,
			wantData: `{"_entities": [{"__typename": "Video"}]}`},
		{name: "skipped __schema", query: `{ __typename __schema @skip(if: true) { queryType { name } } }`, wantData: `{"__typename": "Query"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, defaults, nil)
			a := s.post(t, tt.query, nil)
			if tt.refused {
				checkRefused(t, a, refusal{code: "GRAPHQL_VALIDATION_FAILED", msg: "introspection is disabled"})
				if a.status != http.StatusUnprocessableEntity {
					t.Errorf("got HTTP %d; want 422 like other validation errors", a.status)
				}
				return
			}
			if len(a.errors) != 0 || !sameJSON(t, a.data, tt.wantData) {
				t.Errorf("got %v; want data %s and no errors", a, tt.wantData)
			}
		})
	}

	t.Run("allowed with Introspection", func(t *testing.T) {
		o := defaults
		o.introspection = true
		a := newServer(t, o, nil).post(t, `{ __type(name: "GeoPoint") { name } }`, nil)
		if len(a.errors) != 0 || !sameJSON(t, a.data, `{"__type": {"name": "GeoPoint"}}`) {
			t.Errorf("got %v; want the type", a)
		}
	})
}

// TestServiceWithoutIntrospection pins what a gateway gets for the
// subgraph's SDL when introspection is off.
func TestServiceWithoutIntrospection(t *testing.T) {
	a := newServer(t, defaults, nil).post(t, `{ _service { sdl } }`, nil)
	checkRefused(t, a, refusal{code: "GRAPHQL_VALIDATION_FAILED", msg: "introspection is disabled"})
}

// TestPlan covers how the plan turns an operation into fetches: one call
// per kind (list or detail) for the whole operation, each video once, in
// detail when any reference to it needs a detail field that executes.
func TestPlan(t *testing.T) {
	tests := []struct {
		name      string
		query     string
		vars      map[string]any
		wantCalls string // describeCalls of the fetches: list calls first, refs sorted
		wantData  string // "" to skip
	}{
		{
			name: "aliases, lists, fragments and entities share one call",
			query: `query($nos: [ID!]!, $r: [_Any!]!) {
				a: video(videoNo: "V1") { videoNo }
				b: video(videoNo: "V2") { ...F }
				l: videos(videoNos: $nos) { videoNo }
				_entities(representations: $r) { ... on Video { videoNo } }
				...Q
			}
			fragment F on Video { videoName }
			fragment Q on Query { c: video(videoNo: "V3", uniqueId: "team") { videoNo } }`,
			vars: map[string]any{"nos": []any{"L1", "L2"}, "r": []any{
				map[string]any{"__typename": "Video", "videoNo": "E1"},
				map[string]any{"__typename": "Video", "videoNo": "E2", "uniqueId": "team"},
			}},
			wantCalls: "list[default/E1 default/L1 default/L2 default/V1 default/V2 team/E2 team/V3]",
		},
		{
			name: "one call per kind",
			query: `{
				a: video(videoNo: "V1") { videoNo }
				d: video(videoNo: "D1") { fps }
				l: videos(videoNos: ["L1", "D2"]) { videoNo }
				m: videos(videoNos: ["D2"]) { ... on Video { width } }
			}`,
			wantCalls: "list[default/L1 default/V1] detail[default/D1 default/D2]",
		},
		{
			name:      "fps in one alias and name in another: once, in detail",
			query:     `{ a: video(videoNo: "V1") { fps } b: video(videoNo: "V1") { videoName } }`,
			wantCalls: "detail[default/V1]",
			wantData:  `{"a": {"fps": 30}, "b": {"videoName": "default/V1"}}`,
		},
		{
			name:      "name in a list and fps in an alias: once, in detail",
			query:     `{ l: videos(videoNos: ["V1", "V2"]) { videoName } a: video(videoNo: "V2") { resolutionLabel } }`,
			wantCalls: "list[default/V1] detail[default/V2]",
			wantData:  `{"l": [{"videoName": "default/V1"}, {"videoName": "default/V2"}], "a": {"resolutionLabel": "1080P"}}`,
		},
		{
			name:      "repeats in a list fetched once",
			query:     `{ videos(videoNos: ["V1", "V2", "V1"]) { videoNo } }`,
			wantCalls: "list[default/V1 default/V2]",
			wantData:  `{"videos": [{"videoNo": "V1"}, {"videoNo": "V2"}, {"videoNo": "V1"}]}`,
		},
		{
			name:      "same videoNo under two uniqueIds is two videos",
			query:     `{ a: video(videoNo: "V1") { uniqueId videoName } b: video(videoNo: "V1", uniqueId: "team") { uniqueId videoName } }`,
			wantCalls: "list[default/V1 team/V1]",
			wantData:  `{"a": {"uniqueId": "default", "videoName": "default/V1"}, "b": {"uniqueId": "team", "videoName": "team/V1"}}`,
		},
		{
			name:      "skipped fps: list",
			query:     `{ video(videoNo: "V1") { videoNo fps @skip(if: true) } }`,
			wantCalls: "list[default/V1]",
			wantData:  `{"video": {"videoNo": "V1"}}`,
		},
		{
			name:      "fps skipped through a variable",
			query:     `query($s: Boolean!) { video(videoNo: "V1") { videoNo fps @skip(if: $s) } }`,
			vars:      map[string]any{"s": true},
			wantCalls: "list[default/V1]",
		},
		{
			name:      "fps kept through a variable",
			query:     `query($s: Boolean!) { video(videoNo: "V1") { videoNo fps @skip(if: $s) } }`,
			vars:      map[string]any{"s": false},
			wantCalls: "detail[default/V1]",
			wantData:  `{"video": {"videoNo": "V1", "fps": 30}}`,
		},
		{
			name:      "excluded fps: list",
			query:     `{ video(videoNo: "V1") { videoNo width @include(if: false) } }`,
			wantCalls: "list[default/V1]",
		},
		{
			name:      "fps in a skipped fragment spread: list",
			query:     `{ video(videoNo: "V1") { videoNo ...D @skip(if: true) } } fragment D on Video { fps }`,
			wantCalls: "list[default/V1]",
		},
		{
			name:      "fps in a fragment: detail",
			query:     `{ video(videoNo: "V1") { videoNo ...D } } fragment D on Video { fps }`,
			wantCalls: "detail[default/V1]",
		},
		{
			name:      "fps of a skipped alias does not make the other detailed",
			query:     `{ a: video(videoNo: "V1") @skip(if: true) { fps } b: video(videoNo: "V1") { videoNo } }`,
			wantCalls: "list[default/V1]",
			wantData:  `{"b": {"videoNo": "V1"}}`,
		},
		{
			name:      "height of entities: detail",
			query:     `{ _entities(representations: [{__typename: "Video", videoNo: "E1"}]) { ... on Video { height } } }`,
			wantCalls: "detail[default/E1]",
			wantData:  `{"_entities": [{"height": 1080}]}`,
		},
		{
			name:      "fps under @defer, on a transport without increments: in the plan, answered whole",
			query:     `{ video(videoNo: "V1") { videoNo ... @defer { fps } } }`,
			wantCalls: "detail[default/V1]",
			wantData:  `{"video": {"videoNo": "V1", "fps": 30}}`,
		},
		{
			name:      "fps in a deferred spread, used twice, on a transport without increments",
			query:     `{ a: video(videoNo: "V1") { ...D @defer } b: videos(videoNos: ["V2"]) { ...D @defer(label: "b") @include(if: true) } } fragment D on Video { width }`,
			wantCalls: "detail[default/V1 default/V2]",
			wantData:  `{"a": {"width": 1920}, "b": [{"width": 1920}]}`,
		},
		{
			name:      "captureMetadata is no detail field",
			query:     `{ video(videoNo: "V1") { captureMetadata { tags } } }`,
			wantCalls: "list[default/V1]",
		},
		{
			name:      "no video, no fetch",
			query:     `{ __typename }`,
			wantCalls: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := defaults
			o.max = 20
			s := newServer(t, o, nil)
			a := s.post(t, tt.query, tt.vars)
			if len(a.errors) != 0 {
				t.Fatalf("got errors %v", a)
			}
			if got := describeCalls(a.calls); got != tt.wantCalls {
				t.Errorf("got fetches %q; want %q", got, tt.wantCalls)
			}
			acct, _ := account.New(testKey)
			for _, c := range a.calls {
				if c.Account != acct.ID() {
					t.Errorf("fetch %s for account %q; want the request's, %q", describeCalls([]videotest.Call{c}), c.Account, acct.ID())
				}
			}
			if tt.wantData != "" && !sameJSON(t, a.data, tt.wantData) {
				t.Errorf("got data %s; want %s", toJSON(a.data), tt.wantData)
			}
		})
	}
}

// TestEntities covers EntityKeys and loadEntities: both key forms in one
// call keep their uniqueId, whichever comes first, and a bad representation
// fails at its own index while the others answer.
func TestEntities(t *testing.T) {
	type rep = map[string]any
	video := func(no string) rep { return rep{"__typename": "Video", "videoNo": no} }
	scoped := func(no, u string) rep { return rep{"__typename": "Video", "videoNo": no, "uniqueId": u} }
	tests := []struct {
		name       string
		reps       []any
		wantData   string
		wantErrors []string // "path:code", sorted
		wantCalls  string
	}{
		{
			name:      "videoNo key first, then both",
			reps:      []any{video("V1"), scoped("V2", "team"), scoped("V3", "default")},
			wantData:  `[{"videoNo": "V1", "uniqueId": "default", "videoName": "default/V1"}, {"videoNo": "V2", "uniqueId": "team", "videoName": "team/V2"}, {"videoNo": "V3", "uniqueId": "default", "videoName": "default/V3"}]`,
			wantCalls: "list[default/V1 default/V3 team/V2]",
		},
		{
			name:      "both keys first, then videoNo",
			reps:      []any{scoped("V2", "team"), video("V1")},
			wantData:  `[{"videoNo": "V2", "uniqueId": "team", "videoName": "team/V2"}, {"videoNo": "V1", "uniqueId": "default", "videoName": "default/V1"}]`,
			wantCalls: "list[default/V1 team/V2]",
		},
		{
			name:      "integer videoNo as a JSON number",
			reps:      []any{rep{"__typename": "Video", "videoNo": 606404158946574336}, scoped("V1", "team")},
			wantData:  `[{"videoNo": "606404158946574336", "uniqueId": "default", "videoName": "default/606404158946574336"}, {"videoNo": "V1", "uniqueId": "team", "videoName": "team/V1"}]`,
			wantCalls: "list[default/606404158946574336 team/V1]",
		},
		{
			name: "bad representations fail at their index",
			reps: []any{
				rep{"__typename": "Nope", "videoNo": "V1"}, // 0: another type
				video("G1"), // 1
				rep{"__typename": "Video", "videoNo": 1.5},           // 2: not an integer
				rep{"__typename": "Video", "videoNo": true},          // 3: not a string
				rep{"__typename": "Video", "videoNo": rep{"a": "b"}}, // 4: an object
				video(""),         // 5: empty
				scoped("G2", " "), // 6: blank uniqueId
				rep{"__typename": "Video", "videoNo": "G3", "uniqueId": 7},  // 7: uniqueId not a string
				rep{"__typename": "Video"},                                  // 8: no videoNo
				rep{"videoNo": "G4"},                                        // 9: no __typename
				scoped("G5", "team"),                                        // 10
				rep{"__typename": "Video", "videoNo": " ", "uniqueId": "t"}, // 11: blank videoNo
			},
			wantData: `[null, {"videoNo": "G1", "uniqueId": "default", "videoName": "default/G1"}, null, null, null, null, null, null, null, null,
				{"videoNo": "G5", "uniqueId": "team", "videoName": "team/G5"}, null]`,
			wantErrors: []string{"_entities.0:BAD_USER_INPUT", "_entities.11:BAD_USER_INPUT", "_entities.2:BAD_USER_INPUT", "_entities.3:BAD_USER_INPUT",
				"_entities.4:BAD_USER_INPUT", "_entities.5:BAD_USER_INPUT", "_entities.6:BAD_USER_INPUT", "_entities.7:BAD_USER_INPUT",
				"_entities.8:BAD_USER_INPUT", "_entities.9:BAD_USER_INPUT"},
			wantCalls: "list[default/G1 team/G5]",
		},
		{
			name:       "bad first representation does not pick the resolver",
			reps:       []any{rep{"__typename": "Video", "videoNo": 2.5, "uniqueId": "team"}, video("G1")},
			wantData:   `[null, {"videoNo": "G1", "uniqueId": "default", "videoName": "default/G1"}]`,
			wantErrors: []string{"_entities.0:BAD_USER_INPUT"},
			wantCalls:  "list[default/G1]",
		},
		{
			name:       "all bad: no fetch",
			reps:       []any{video(""), rep{}},
			wantData:   `[null, null]`,
			wantErrors: []string{"_entities.0:BAD_USER_INPUT", "_entities.1:BAD_USER_INPUT"},
			wantCalls:  "",
		},
		{
			name:      "unknown video is null without an error",
			reps:      []any{video("missing1"), video("G1")},
			wantData:  `[null, {"videoNo": "G1", "uniqueId": "default", "videoName": "default/G1"}]`,
			wantCalls: "list[default/G1 default/missing1]",
		},
		{
			name:      "none",
			reps:      []any{},
			wantData:  `[]`,
			wantCalls: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := defaults
			o.max = 20
			s := newServer(t, o, nil)
			a := s.post(t, entitiesQ, map[string]any{"r": tt.reps})
			if got := a.errorSummary(); !slices.Equal(got, tt.wantErrors) && len(got)+len(tt.wantErrors) > 0 {
				t.Errorf("got errors %q; want %q\n%v", got, tt.wantErrors, a)
			}
			for _, e := range a.errors {
				if strings.Contains(e.Message, "undefined in schema") || e.Message == "internal error" {
					t.Errorf("got gqlgen's uncoded message %q", e.Message)
				}
			}
			if !sameJSON(t, a.data, `{"_entities": `+tt.wantData+`}`) {
				t.Errorf("got data %s; want %s", toJSON(a.data), tt.wantData)
			}
			if got := describeCalls(a.calls); got != tt.wantCalls {
				t.Errorf("got fetches %q; want %q", got, tt.wantCalls)
			}
		})
	}
}

// TestEntitiesThroughFragments: EntityKeys finds _entities however the
// operation selects it, so mixed key forms keep their uniqueId in each.
func TestEntitiesThroughFragments(t *testing.T) {
	const sel = `_entities(representations: $r) { ... on Video { videoNo uniqueId } }`
	tests := []struct{ name, query string }{
		{"direct", `query($r: [_Any!]!) { ` + sel + ` }`},
		{"aliased", `query($r: [_Any!]!) { e: ` + sel + ` }`},
		{"inline fragment", `query($r: [_Any!]!) { ... on Query { ` + sel + ` } }`},
		{"fragment spread", `query($r: [_Any!]!) { ...F } fragment F on Query { ` + sel + ` }`},
		{"nested spreads", `query($r: [_Any!]!) { ...F } fragment F on Query { ...G } fragment G on Query { ` + sel + ` }`},
	}
	reps := []any{
		map[string]any{"__typename": "Video", "videoNo": "V1"},
		map[string]any{"__typename": "Video", "videoNo": "V2", "uniqueId": "team"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, defaults, nil)
			a := s.post(t, tt.query, map[string]any{"r": reps})
			if len(a.errors) > 0 {
				t.Fatalf("got errors %v", a)
			}
			var got any
			if m, ok := a.data.(map[string]any); ok {
				for _, v := range m {
					got = v
				}
			}
			if want := `[{"videoNo": "V1", "uniqueId": "default"}, {"videoNo": "V2", "uniqueId": "team"}]`; !sameJSON(t, got, want) {
				t.Errorf("got %s; want %s", toJSON(got), want)
			}
		})
	}
}

// TestErrorCodes covers classify through ErrorPresenter: each failure of
// the loader's fetcher gives its extensions.code, a fixed message that leaks
// nothing of the upstream's, and the path of its own field.
func TestErrorCodes(t *testing.T) {
	const secret = "vendor detail sk-SECRET https://api.example"
	tests := []struct {
		name     string
		err      error
		wantCode string
		wantMsg  string
		wantExt  map[string]any // other extensions; nil for none
	}{
		{"rate limited", &memories.Error{Kind: memories.KindRateLimited, Code: "0429", Message: secret, RetryAfter: 1500 * time.Millisecond},
			"RATE_LIMITED", "the upstream account's rate limit left no budget for this video in time; retry later",
			map[string]any{"retryAfterSeconds": 2.0, "upstreamCode": "0429"}},
		{"rate limited without Retry-After", &memories.Error{Kind: memories.KindRateLimited},
			"RATE_LIMITED", "the upstream account's rate limit left no budget for this video in time; retry later",
			map[string]any{"retryAfterSeconds": 1.0}},
		{"rate limited, whole seconds", &memories.Error{Kind: memories.KindRateLimited, RetryAfter: 3 * time.Second},
			"RATE_LIMITED", "the upstream account's rate limit left no budget for this video in time; retry later",
			map[string]any{"retryAfterSeconds": 3.0}},
		{"unauthenticated", &memories.Error{Kind: memories.KindUnauthenticated, HTTPStatus: 401, Message: secret},
			"UNAUTHENTICATED", "the memories.ai API key was rejected", nil},
		{"forbidden", &memories.Error{Kind: memories.KindForbidden, Code: "0403", Message: secret},
			"FORBIDDEN", "the memories.ai account is disabled", map[string]any{"upstreamCode": "0403"}},
		{"quota exceeded", &memories.Error{Kind: memories.KindQuotaExceeded, Code: "0402"},
			"FORBIDDEN", "the memories.ai account has no points left", map[string]any{"upstreamCode": "0402"}},
		{"bad request", &memories.Error{Kind: memories.KindBadRequest, Code: "0003", Message: secret},
			"BAD_USER_INPUT", "the upstream rejected the request's parameters", map[string]any{"upstreamCode": "0003"}},
		{"timeout", &memories.Error{Kind: memories.KindTimeout, Err: context.DeadlineExceeded},
			"UPSTREAM_TIMEOUT", "the upstream did not answer in time", nil},
		{"upstream", &memories.Error{Kind: memories.KindUpstream, HTTPStatus: 502, Message: secret, Err: errors.New(secret)},
			"UPSTREAM_ERROR", "the upstream failed to return this video", nil},
		{"unsupported", &memories.Error{Kind: memories.KindUnsupported, HTTPStatus: 404},
			"UPSTREAM_ERROR", "the upstream failed to return this video", nil},
		{"unknown kind", &memories.Error{Kind: memories.Kind(99)},
			"UPSTREAM_ERROR", "the upstream failed to return this video", nil},
		{"wrapped", fmt.Errorf("videocache: %w", &memories.Error{Kind: memories.KindForbidden}),
			"FORBIDDEN", "the memories.ai account is disabled", nil},
		{"no account", loader.ErrNoAccount,
			"UNAUTHENTICATED", "no API key: send your memories.ai API key in the Authorization header", nil},
		{"cancelled", context.Canceled,
			"UPSTREAM_TIMEOUT", "the request was cancelled before the upstream answered", nil},
		{"unknown error", errors.New(secret),
			"INTERNAL_SERVER_ERROR", "internal error", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &videotest.Fetcher{Errs: map[string]error{"BAD": tt.err}}
			s := newServer(t, defaults, fake)
			a := s.post(t, `{ ok: video(videoNo: "OK") { videoNo } video(videoNo: "BAD") { videoNo } }`, nil)
			if !sameJSON(t, a.data, `{"ok": {"videoNo": "OK"}, "video": null}`) {
				t.Errorf("got data %s; want ok answered and video null", toJSON(a.data))
			}
			if len(a.errors) != 1 {
				t.Fatalf("got %d errors; want 1\n%v", len(a.errors), a)
			}
			e := a.errors[0]
			if got := e.Code(); got != tt.wantCode {
				t.Errorf("got code %q; want %q", got, tt.wantCode)
			}
			if e.Message != tt.wantMsg {
				t.Errorf("got message %q; want %q", e.Message, tt.wantMsg)
			}
			if got := e.PathString(); got != "video" {
				t.Errorf("got path %q; want video", got)
			}
			ext := map[string]any{}
			for k, v := range e.Extensions {
				if k != "code" {
					ext[k] = v
				}
			}
			want := tt.wantExt
			if want == nil {
				want = map[string]any{}
			}
			if !sameJSON(t, ext, toJSON(want)) {
				t.Errorf("got extensions %s; want %s besides code", toJSON(ext), toJSON(want))
			}
			if body := toJSON(a.errors); strings.Contains(body, "SECRET") || strings.Contains(body, "example") {
				t.Errorf("the answer leaks the upstream's text: %s", body)
			}
			logged := strings.Contains(s.log.String(), "unexpected resolver error")
			if want := tt.wantCode == "INTERNAL_SERVER_ERROR"; logged != want {
				t.Errorf("got logged %v; want %v (only internal errors are logged)\n%s", logged, want, s.log)
			}
			if got := s.ops.last(); got != "partial" {
				t.Errorf("got operation outcome %q; want partial", got)
			}
		})
	}
}

// TestErrorsAtIndex covers errors of a videos list and of _entities: each
// at its own index, null there, the other videos answered.
func TestErrorsAtIndex(t *testing.T) {
	fake := &videotest.Fetcher{Errs: map[string]error{
		"RL":     &memories.Error{Kind: memories.KindRateLimited, RetryAfter: 4 * time.Second},
		"UNAUTH": &memories.Error{Kind: memories.KindUnauthenticated},
		"BOOM":   errors.New("boom"),
	}}
	o := defaults
	o.max = 20
	s := newServer(t, o, fake)

	t.Run("videos", func(t *testing.T) {
		a := s.post(t, `{ videos(videoNos: ["OK1", "RL", "missing", "UNAUTH", "OK2", "BOOM", "RL"]) { videoNo } }`, nil)
		want := `{"videos": [{"videoNo": "OK1"}, null, null, null, {"videoNo": "OK2"}, null, null]}`
		if !sameJSON(t, a.data, want) {
			t.Errorf("got data %s; want %s", toJSON(a.data), want)
		}
		wantErrs := []string{"videos.1:RATE_LIMITED", "videos.3:UNAUTHENTICATED", "videos.5:INTERNAL_SERVER_ERROR", "videos.6:RATE_LIMITED"}
		if got := a.errorSummary(); !slices.Equal(got, wantErrs) {
			t.Errorf("got errors %q; want %q", got, wantErrs)
		}
		for _, e := range a.errors {
			if e.Code() == "RATE_LIMITED" && e.Extensions["retryAfterSeconds"] != 4.0 {
				t.Errorf("got retryAfterSeconds %v; want 4", e.Extensions["retryAfterSeconds"])
			}
		}
		if got, want := describeCalls(a.calls), "list[default/BOOM default/OK1 default/OK2 default/RL default/UNAUTH default/missing]"; got != want {
			t.Errorf("got fetches %q; want %q", got, want)
		}
	})

	t.Run("entities", func(t *testing.T) {
		a := s.post(t, entitiesQ, map[string]any{"r": []any{
			map[string]any{"__typename": "Video", "videoNo": "RL"},
			map[string]any{"__typename": "Video", "videoNo": "OK1", "uniqueId": "team"},
			map[string]any{"__typename": "Video", "videoNo": ""},
			map[string]any{"__typename": "Video", "videoNo": "UNAUTH"},
		}})
		want := `{"_entities": [null, {"videoNo": "OK1", "uniqueId": "team", "videoName": "team/OK1"}, null, null]}`
		if !sameJSON(t, a.data, want) {
			t.Errorf("got data %s; want %s", toJSON(a.data), want)
		}
		wantErrs := []string{"_entities.0:RATE_LIMITED", "_entities.2:BAD_USER_INPUT", "_entities.3:UNAUTHENTICATED"}
		if got := a.errorSummary(); !slices.Equal(got, wantErrs) {
			t.Errorf("got errors %q; want %q", got, wantErrs)
		}
	})
}

// TestNoAccount covers a request without an API key: every video fails
// UNAUTHENTICATED at its own place, and the fetcher is never called.
func TestNoAccount(t *testing.T) {
	o := defaults
	o.noAccount = true
	s := newServer(t, o, nil)
	a := s.post(t, `{ video(videoNo: "V1") { videoNo } videos(videoNos: ["V2", "V3"]) { videoNo } _entities(representations: [{__typename: "Video", videoNo: "V4"}]) { __typename } }`, nil)
	wantErrs := []string{"_entities.0:UNAUTHENTICATED", "video:UNAUTHENTICATED", "videos.0:UNAUTHENTICATED", "videos.1:UNAUTHENTICATED"}
	if got := a.errorSummary(); !slices.Equal(got, wantErrs) {
		t.Errorf("got errors %q; want %q", got, wantErrs)
	}
	for _, e := range a.errors {
		if !strings.HasPrefix(e.Message, "no API key") {
			t.Errorf("got message %q; want the no-API-key one", e.Message)
		}
	}
	if len(a.calls) != 0 {
		t.Errorf("got fetches %s; want none without an account", describeCalls(a.calls))
	}
	// Without an account, __typename alone still answers.
	if a := s.post(t, `{ __typename }`, nil); len(a.errors) != 0 {
		t.Errorf("got %v; want no errors", a)
	}
}

// TestVideoMapping covers newVideo: the upstream's
// answer as the GraphQL Video, captureMetadata null when the upstream sent
// none of its fields, location only with both coordinates, tags [] when
// absent.
func TestVideoMapping(t *testing.T) {
	created := time.Date(2025, 8, 1, 8, 33, 37, 992e6, time.UTC)
	taken := time.Date(2024, 12, 31, 23, 59, 59, 1e6, time.UTC)
	tests := []struct {
		name  string
		video *memories.Video
		want  string // the video's JSON, allFields
	}{
		{
			name: "every field",
			video: &memories.Video{
				VideoNo: "X", VideoName: new("clip.mp4"), Duration: new(61), Size: new(int64(5_000_000_123)),
				Status: memories.StatusParse, RawStatus: "PARSE", CreateTime: &created,
				ResolutionLabel: new("720P"), FPS: new(25), Width: new(1280), Height: new(720),
				DatetimeTaken: &taken, CameraModel: new("Pixel 9"), Latitude: new(48.8584), Longitude: new(-2.2945),
				Tags: []string{"api", "paris"}, Detailed: true,
			},
			want: `{"videoNo": "X", "uniqueId": "team", "videoName": "clip.mp4", "duration": 61, "size": 5000000123,
				"status": "PARSE", "rawStatus": "PARSE", "cause": null, "createTime": "2025-08-01T08:33:37.992Z",
				"resolutionLabel": "720P", "fps": 25, "width": 1280, "height": 720,
				"captureMetadata": {"datetimeTaken": "2024-12-31T23:59:59.001Z", "cameraModel": "Pixel 9",
					"location": {"latitude": 48.8584, "longitude": -2.2945}, "tags": ["api", "paris"]}}`,
		},
		{
			name:  "no capture field: null captureMetadata",
			video: &memories.Video{VideoNo: "X", Status: memories.StatusUnparse},
			want: `{"videoNo": "X", "uniqueId": "team", "videoName": null, "duration": null, "size": null,
				"status": "UNPARSE", "rawStatus": null, "cause": null, "createTime": null,
				"resolutionLabel": null, "fps": null, "width": null, "height": null, "captureMetadata": null}`,
		},
		{
			name:  "latitude alone: no location, tags []",
			video: &memories.Video{VideoNo: "X", Status: memories.StatusParse, Latitude: new(1.5)},
			want: `{"videoNo": "X", "uniqueId": "team", "videoName": null, "duration": null, "size": null,
				"status": "PARSE", "rawStatus": null, "cause": null, "createTime": null,
				"resolutionLabel": null, "fps": null, "width": null, "height": null,
				"captureMetadata": {"datetimeTaken": null, "cameraModel": null, "location": null, "tags": []}}`,
		},
		{
			name:  "longitude alone: no location",
			video: &memories.Video{VideoNo: "X", Status: memories.StatusParse, Longitude: new(0.0), CameraModel: new("cam")},
			want: `{"videoNo": "X", "uniqueId": "team", "videoName": null, "duration": null, "size": null,
				"status": "PARSE", "rawStatus": null, "cause": null, "createTime": null,
				"resolutionLabel": null, "fps": null, "width": null, "height": null,
				"captureMetadata": {"datetimeTaken": null, "cameraModel": "cam", "location": null, "tags": []}}`,
		},
		{
			name:  "zero coordinates are a location",
			video: &memories.Video{VideoNo: "X", Status: memories.StatusParse, Latitude: new(0.0), Longitude: new(0.0)},
			want: `{"videoNo": "X", "uniqueId": "team", "videoName": null, "duration": null, "size": null,
				"status": "PARSE", "rawStatus": null, "cause": null, "createTime": null,
				"resolutionLabel": null, "fps": null, "width": null, "height": null,
				"captureMetadata": {"datetimeTaken": null, "cameraModel": null, "location": {"latitude": 0, "longitude": 0}, "tags": []}}`,
		},
		{
			name:  "datetimeTaken alone",
			video: &memories.Video{VideoNo: "X", Status: memories.StatusParse, DatetimeTaken: &taken},
			want: `{"videoNo": "X", "uniqueId": "team", "videoName": null, "duration": null, "size": null,
				"status": "PARSE", "rawStatus": null, "cause": null, "createTime": null,
				"resolutionLabel": null, "fps": null, "width": null, "height": null,
				"captureMetadata": {"datetimeTaken": "2024-12-31T23:59:59.001Z", "cameraModel": null, "location": null, "tags": []}}`,
		},
		{
			name:  "tags sent empty",
			video: &memories.Video{VideoNo: "X", Status: memories.StatusParse, Tags: []string{}},
			want: `{"videoNo": "X", "uniqueId": "team", "videoName": null, "duration": null, "size": null,
				"status": "PARSE", "rawStatus": null, "cause": null, "createTime": null,
				"resolutionLabel": null, "fps": null, "width": null, "height": null,
				"captureMetadata": {"datetimeTaken": null, "cameraModel": null, "location": null, "tags": []}}`,
		},
		{
			name:  "failed, with a legacy status spelling",
			video: &memories.Video{VideoNo: "X", Status: memories.StatusFailed, RawStatus: "parse_error", Cause: new("codec")},
			want: `{"videoNo": "X", "uniqueId": "team", "videoName": null, "duration": null, "size": null,
				"status": "FAILED", "rawStatus": "parse_error", "cause": "codec", "createTime": null,
				"resolutionLabel": null, "fps": null, "width": null, "height": null, "captureMetadata": null}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &videotest.Fetcher{Known: map[string]*memories.Video{"X": tt.video}}
			s := newServer(t, defaults, fake)
			a := s.post(t, `{ video(videoNo: "X", uniqueId: "team") { `+allFields+` } }`, nil)
			if len(a.errors) != 0 {
				t.Fatalf("got errors %v", a)
			}
			if !sameJSON(t, a.data, `{"video": `+tt.want+`}`) {
				t.Errorf("got %s\nwant %s", toJSON(a.data), tt.want)
			}
		})
	}

	t.Run("not found", func(t *testing.T) {
		s := newServer(t, defaults, &videotest.Fetcher{Known: map[string]*memories.Video{"X": nil}})
		a := s.post(t, `{ video(videoNo: "X") { videoNo } videos(videoNos: ["X", "Y"]) { videoNo } }`, nil)
		want := `{"video": null, "videos": [null, {"videoNo": "Y"}]}`
		if len(a.errors) != 0 || !sameJSON(t, a.data, want) {
			t.Errorf("got %v; want data %s and no errors", a, want)
		}
	})
}

// TestEntitiesInline covers representations written in the query rather
// than in variables, where ids arrive as Go integers and floats.
func TestEntitiesInline(t *testing.T) {
	o := defaults
	o.max = 20
	s := newServer(t, o, nil)
	a := s.post(t, `{ _entities(representations: [
		{__typename: "Video", videoNo: 42},
		{__typename: "Video", videoNo: 43.0, uniqueId: "team"},
		{__typename: "Video", videoNo: 4.5},
		{__typename: "Video", videoNo: "V1", uniqueId: null}
	]) { ... on Video { videoNo uniqueId } } }`, nil)
	want := `{"_entities": [{"videoNo": "42", "uniqueId": "default"}, {"videoNo": "43", "uniqueId": "team"}, null, {"videoNo": "V1", "uniqueId": "default"}]}`
	if !sameJSON(t, a.data, want) {
		t.Errorf("got data %s; want %s", toJSON(a.data), want)
	}
	if got, want := a.errorSummary(), []string{"_entities.2:BAD_USER_INPUT"}; !slices.Equal(got, want) {
		t.Errorf("got errors %q; want %q", got, want)
	}
	if got, want := describeCalls(a.calls), "list[default/42 default/V1 team/43]"; got != want {
		t.Errorf("got fetches %q; want %q", got, want)
	}
}

// TestTooBigToWalk covers an operation whose fragments spread into more
// fields than the walker visits: refused before anything is fetched. (Its
// selection sets may collect any number of fields here; TestSelectionWidth
// covers that limit.)
func TestTooBigToWalk(t *testing.T) {
	wide := graph.DefaultLimits(defaults.max)
	wide.Selections = 1 << 20
	o := defaults
	o.docLimits = &wide
	var b strings.Builder
	b.WriteString(`{ video(videoNo: "V1") { ...F17 } } fragment F0 on Video { videoNo }`)
	for i := 1; i <= 17; i++ { // 2^17 fields
		fmt.Fprintf(&b, " fragment F%d on Video { ...F%d ...F%d }", i, i-1, i-1)
	}
	a := newServer(t, o, nil).post(t, b.String(), nil)
	checkRefused(t, a, refusal{code: "QUERY_TOO_COMPLEX", msg: "simplify it"})

	// Just under the bound, the same shape is served.
	b.Reset()
	b.WriteString(`{ video(videoNo: "V1") { ...F10 } } fragment F0 on Video { videoNo }`)
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&b, " fragment F%d on Video { ...F%d ...F%d }", i, i-1, i-1)
	}
	a = newServer(t, o, nil).post(t, b.String(), nil)
	checkAccepted(t, a, 1)
}

// TestResolverPanic covers Recover: a resolver that panics (here: no loader
// in the context, a wiring bug) answers INTERNAL_SERVER_ERROR with a
// generic message, and the panic is logged, not sent.
func TestResolverPanic(t *testing.T) {
	s := newServer(t, defaults, nil)
	s.noLoader = true
	a := s.post(t, `{ video(videoNo: "V1") { videoNo } }`, nil)
	if got, want := a.errorSummary(), []string{"video:INTERNAL_SERVER_ERROR"}; !slices.Equal(got, want) {
		t.Fatalf("got errors %q; want %q\n%v", got, want, a)
	}
	if got := a.errors[0].Message; got != "internal error" {
		t.Errorf("got message %q; want internal error", got)
	}
	if log := s.log.String(); !strings.Contains(log, "resolver panic") || !strings.Contains(log, "no loader in context") {
		t.Errorf("got log %q; want the panic logged", log)
	}
}
