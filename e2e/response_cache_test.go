package e2e

// The response cache (RESPONSE_CACHE_BYTES), through the real server
// against the emulator: a query asked again gets the kept bytes,
// unexecuted, only while every video it read is kept unchanged, on one
// server and across replicas on Redis.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// replayQuery reads three videos, one twice (an alias), as a dashboard
// does.
func replayQuery(nos []string) []byte {
	q := `query Dash($nos: [ID!]!) { videos(videoNos: $nos) { videoNo videoName status } first: video(videoNo: "` + nos[0] + `") { videoName } }`
	return mustJSON(map[string]any{"query": q, "variables": map[string]any{"nos": nos}})
}

// responseCacheCounts returns in's graphql_response_cache_total by result.
func responseCacheCounts(t *testing.T, in *instance) (kept, replayed, changed float64) {
	t.Helper()
	return in.metric(t, `graphql_response_cache_total{result="kept"}`),
		in.metric(t, `graphql_response_cache_total{result="replayed"}`),
		in.metric(t, `graphql_response_cache_total{result="changed"}`)
}

// A query's third answer is its second's bytes, replayed: no upstream call,
// its operation and videos counted as when it executes, extensions.cost as
// the execution said. Once a video it read changes upstream and its entry
// is refreshed (by this replica or another), the replay is dropped and the
// query executes again, showing the change.
func TestResponseCache(t *testing.T) {
	// Long enough for the three queries before the change to come within it,
	// on a loaded machine.
	const parseTTL = 2 * time.Second
	oneAndTwoReplicas(t, func(t *testing.T, replicas bool, start func(emulator.Options, map[string]string) *harness) {
		vs, nos := testVideos(3)
		env := with(fastList, "CACHE_TTL_PARSE", parseTTL.String())
		h := start(emulator.Options{Videos: vs}, env)
		a := h.servers[0]
		body := replayQuery(nos)
		first := postBody(t, a.url, body)
		if len(first.Errors) > 0 {
			t.Fatalf("first answer: errors %v", first.Errors)
		}
		h.emu.ResetCounters()
		second := postBody(t, a.url, body) // from the video cache: kept
		third := postBody(t, a.url, body)  // replayed
		if second.Raw != third.Raw {
			t.Errorf("replayed answer:\n%s\nwant the executed one's bytes:\n%s", third.Raw, second.Raw)
		}
		if !strings.Contains(third.Raw, `"videoName":"clip-0"`) {
			t.Errorf("replayed answer %s: want clip-0", third.Raw)
		}
		h.wantCost(t, "replayed answer", third, 3, 0)
		if kept, replayed, changed := responseCacheCounts(t, a); kept != 1 || replayed != 1 || changed != 0 {
			t.Errorf("response cache: kept %v, replayed %v, changed %v; want 1, 1, 0", kept, replayed, changed)
		}
		if got := a.metric(t, `graphql_operations_total{operation="Dash",outcome="ok"}`); got != 3 {
			t.Errorf(`graphql_operations_total{operation="Dash",outcome="ok"} = %v; want 3 (the replay counts)`, got)
		}
		if got := a.metric(t, `memories_cache_requests_total{result="hit"}`); got != 6 {
			t.Errorf(`memories_cache_requests_total{result="hit"} = %v; want 6 (3 executed, 3 replayed)`, got)
		}

		// Video 0 is renamed upstream; once its entry expires, the next
		// look-up, here or on the other replica, keeps the new name.
		h.emu.SetVideo("", rawVideo("default", fmt.Sprintf(`{"video_no":%q,"video_name":"renamed","duration":10,"size":1000,"status":"PARSE"}`, nos[0])))
		time.Sleep(2 * parseTTL)
		if replicas {
			b := h.servers[1]
			if got := postBody(t, b.url, body); !strings.Contains(got.Raw, `"videoName":"renamed"`) {
				t.Fatalf("other replica after the change: %s; want renamed", got.Raw)
			}
		}
		after := postBody(t, a.url, body)
		if len(after.Errors) > 0 || !strings.Contains(after.Raw, `"videoName":"renamed"`) || strings.Contains(after.Raw, "clip-0") {
			t.Errorf("after the change: %s; want renamed, twice, and no clip-0", after.Raw)
		}
		if _, replayed, changed := responseCacheCounts(t, a); replayed != 1 || changed != 1 {
			t.Errorf("after the change: replayed %v, changed %v; want 1, 1", replayed, changed)
		}
	})
}

// What is not replayed: another account's answer to the same body, answers
// with errors, answers not built from the video cache alone (the library,
// introspection, no video at all), answers too large to keep, and nothing
// with RESPONSE_CACHE_BYTES=0. Each is asked three times; each answer is
// right, and none is kept.
func TestResponseCacheKeepsOnlyWhatHolds(t *testing.T) {
	vs, nos := testVideos(12)
	faulty := nos[11]
	tests := []struct {
		name string
		env  map[string]string
		body []byte
		// want is in every answer.
		want string
		// wantKept is how many answers are kept: the second's, if any.
		wantKept float64
		// fails: the faulty video's calls fail.
		fails bool
	}{
		{"replayable, as a control", fastList, replayQuery(nos[:3]), `"clip-0"`, 1, false},
		{"an error", fastList, mustJSON(map[string]any{"query": `{ video(videoNo: "` + faulty + `") { videoNo } other: video(videoNo: "` + nos[0] + `") { videoName } }`}), `"UPSTREAM_`, 0, true},
		{"the library", fastList, mustJSON(map[string]any{"query": `{ videoLibrary(first: 3) { nodes { videoNo } } }`}), `"nodes":[{"videoNo":"VI9`, 0, false},
		{"introspection", fastList, mustJSON(map[string]any{"query": `{ __schema { queryType { name } } }`}), `"Query"`, 0, false},
		{"no video", fastList, mustJSON(map[string]any{"query": `{ __typename }`}), `"Query"`, 0, false},
		{"a video beside the library", fastList, mustJSON(map[string]any{"query": `{ video(videoNo: "` + nos[0] + `") { videoName } videoLibrary(first: 1) { nodes { videoNo } } }`}), `"clip-0"`, 0, false},
		{"too large", with(fastList, "RESPONSE_CACHE_BYTES", "16000"), replayQuery(nos[:10]), `"clip-9"`, 0, false},
		{"off", with(fastList, "RESPONSE_CACHE_BYTES", "0"), replayQuery(nos[:3]), `"clip-0"`, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := emulator.Options{Videos: vs}
			if tt.fails {
				fault := map[string]emulator.Fault{faulty: {Kind: emulator.FaultHTTPError}}
				opts.Faults, opts.ListFaults = fault, fault
			}
			h := setup(t, opts, tt.env)
			for i := range 3 {
				if got := postBody(t, h.url, tt.body); !strings.Contains(got.Raw, tt.want) {
					t.Fatalf("answer %d: %s; want %s in it", i+1, got.Raw, tt.want)
				}
			}
			kept, replayed, _ := responseCacheCounts(t, h.instance)
			if kept != tt.wantKept || replayed != tt.wantKept {
				t.Errorf("response cache: kept %v, replayed %v; want %v, %v", kept, replayed, tt.wantKept, tt.wantKept)
			}
		})
	}

	// Two accounts, one body: each gets its own videos, and a replay only
	// of its own answers.
	t.Run("another account", func(t *testing.T) {
		const keyA, keyB = "sk-account-a", "sk-account-b"
		no := nos[0]
		named := func(name string) []emulator.Video {
			return []emulator.Video{rawVideo("default", fmt.Sprintf(`{"video_no":%q,"video_name":%q,"status":"PARSE"}`, no, name))}
		}
		h := setup(t, emulator.Options{Keys: []string{keyA, keyB}, AccountVideos: map[string][]emulator.Video{keyA: named("of-a"), keyB: named("of-b")}},
			with(passThrough, "MEMORIES_BATCH", "on"))
		body := mustJSON(map[string]any{"query": `{ video(videoNo: "` + no + `") { videoName } }`})
		for i := range 3 {
			if got := postBody(t, h.url, body, "Authorization", keyA); !strings.Contains(got.Raw, `"of-a"`) {
				t.Fatalf("account A, answer %d: %s; want of-a", i+1, got.Raw)
			}
		}
		for i := range 3 {
			if got := postBody(t, h.url, body, "Authorization", keyB); !strings.Contains(got.Raw, `"of-b"`) {
				t.Fatalf("account B, answer %d: %s; want of-b", i+1, got.Raw)
			}
		}
		if kept, replayed, _ := responseCacheCounts(t, h.instance); kept != 2 || replayed != 2 {
			t.Errorf("response cache: kept %v, replayed %v; want 2, 2 (one of each account)", kept, replayed)
		}
		for _, key := range []string{keyA, keyB} {
			if strings.Contains(h.metrics(t), key) {
				t.Errorf("/metrics holds the API key %s", key)
			}
		}
	})
}
