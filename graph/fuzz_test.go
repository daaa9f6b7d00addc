package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

// fuzzLimit is MAX_VIDEOS_PER_QUERY in FuzzQueryValidation: small, so that
// the fuzzer reaches the limit easily.
const fuzzLimit = 20

// FuzzQueryValidation sends arbitrary operations, variables and operation
// names through the GraphQL handler, in process, over the fake fetcher,
// and checks what every client may rely on:
//
//   - nothing panics, and the answer is never a 5xx;
//   - it is a JSON object with data and/or errors, nothing else;
//   - every error has an extensions.code, and none is INTERNAL_SERVER_ERROR;
//   - an operation refused as a whole (no data: GRAPHQL_PARSE_FAILED,
//     GRAPHQL_VALIDATION_FAILED, BAD_USER_INPUT, BAD_REQUEST) fetched
//     nothing, and parse or validation errors never come with data;
//   - an operation fetches at most MAX_VIDEOS_PER_QUERY references, each
//     video at most once, and never a blank id.
//
// go test -run '^$' -fuzz '^FuzzQueryValidation$' -fuzztime 20000x ./graph
//
// Each fuzzing worker runs its inputs one at a time, so the fake's calls
// before and after an input are that input's fetches.
func FuzzQueryValidation(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s.query, s.variables, s.operationName)
	}
	s := newServer(f, options{max: fuzzLimit, maxDetail: 100, maxDepth: 10, introspection: true}, nil)

	f.Fuzz(func(t *testing.T, query, variables, operationName string) {
		body := fuzzBody(t, query, variables, operationName)
		before := s.fake.CallCount()
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, req)
		s.mu.Lock()
		status := s.status
		s.mu.Unlock()
		calls := s.fake.Calls()[before:]
		raw := rec.Body.Bytes()

		if status >= 500 {
			t.Fatalf("HTTP %d; want < 500\nrequest %s\nanswer %s", status, body, raw)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/graphql-response+json") {
			t.Errorf("Content-Type = %q; want JSON", ct)
		}
		var out map[string]json.RawMessage
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("answer is not a JSON object: %v\nrequest %s\nanswer %s", err, body, raw)
		}
		for k := range out {
			if k != "data" && k != "errors" && k != "extensions" {
				t.Errorf("answer has key %q; want only data, errors and extensions", k)
			}
		}
		rawData, hasData := out["data"]
		hasData = hasData && string(rawData) != "null"
		var errs []videotest.GQLError
		if e, ok := out["errors"]; ok {
			if err := json.Unmarshal(e, &errs); err != nil {
				t.Fatalf("errors is not a list of errors: %v\nanswer %s", err, raw)
			}
		}
		if !hasData && len(errs) == 0 {
			t.Fatalf("answer has neither data nor errors\nrequest %s\nanswer %s", body, raw)
		}

		requestError := false
		for _, e := range errs {
			switch e.Code() {
			case "":
				t.Errorf("error %q has no extensions.code\nrequest %s\nanswer %s", e.Message, body, raw)
			case "INTERNAL_SERVER_ERROR":
				t.Errorf("internal error %q\nrequest %s\nanswer %s", e.Message, body, raw)
			case "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED":
				requestError = true
			}
		}
		if requestError && hasData {
			t.Errorf("parse or validation error with data\nrequest %s\nanswer %s", body, raw)
		}
		if !hasData && len(calls) != 0 {
			t.Errorf("refused operation fetched %s; want nothing\nrequest %s\nanswer %s", describeCalls(calls), body, raw)
		}
		// An operation's references are counted before it runs, and each
		// video is fetched once however often it is named.
		refs := 0
		seen := map[memories.VideoRef]bool{}
		for _, c := range calls {
			refs += len(c.Refs)
			for _, r := range c.Refs {
				if memories.EmptyID(r.VideoNo) || memories.EmptyID(r.UniqueID) {
					t.Errorf("fetched a blank id %q/%q\nrequest %s", r.UniqueID, r.VideoNo, body)
				}
				if seen[r] {
					t.Errorf("fetched %s/%s twice (%s)\nrequest %s", r.UniqueID, r.VideoNo, describeCalls(calls), body)
				}
				seen[r] = true
			}
		}
		if refs > fuzzLimit {
			t.Errorf("operation fetched %d references; want at most MAX_VIDEOS_PER_QUERY=%d\nrequest %s", refs, fuzzLimit, body)
		}
	})
}

// fuzzBody builds a GraphQL-over-HTTP body. Variables that are valid JSON are
// sent as they are (any JSON value, so wrong shapes reach the server);
// anything else is sent as a JSON string, which the server must refuse.
func fuzzBody(t *testing.T, query, variables, operationName string) []byte {
	t.Helper()
	req := map[string]any{"query": query}
	switch {
	case variables == "":
	case json.Valid([]byte(variables)):
		req["variables"] = json.RawMessage(variables)
	default:
		req["variables"] = variables
	}
	if operationName != "" {
		req["operationName"] = operationName
	}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatalf("marshal request: %v", err)
	}
	return body
}

// fuzzSeed is one starting input of FuzzQueryValidation.
type fuzzSeed struct{ query, variables, operationName string }

// fuzzSeeds are the inputs the fuzzer starts from: valid operations to
// mutate, and the edges of validation (empty ids, lists at and over the
// limit, deep nesting, fragment cycles, variables of the wrong type, odd
// text).
func fuzzSeeds() []fuzzSeed {
	const listQ = `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo } }`
	const oneQ = `query($no: ID!, $u: String! = "default") { video(videoNo: $no, uniqueId: $u) { videoNo videoName status } }`
	idList := func(n int, prefix string) string {
		q := make([]string, n)
		for i := range q {
			q[i] = fmt.Sprintf("%q", fmt.Sprintf("%s%d", prefix, i))
		}
		return "[" + strings.Join(q, ",") + "]"
	}
	var aliases strings.Builder
	aliases.WriteString("{")
	for i := range fuzzLimit + 1 {
		fmt.Fprintf(&aliases, " a%d: video(videoNo: \"VI%d\") { videoNo }", i, i%3)
	}
	aliases.WriteString(" }")

	return []fuzzSeed{
		// Valid operations.
		{`{ video(videoNo: "VI606404158946574336") { ` + allFields + ` } }`, "", ""},
		{listQ, `{"nos":["VI606404158946574336","VI000000000000000000","VI606404158946574336"]}`, ""},
		{oneQ, `{"no":"VI606404158946574336"}`, ""},
		{`query A { __typename } query B { video(videoNo: "VI1") { videoNo } }`, "", "B"},
		{`{ _service { sdl } }`, "", ""},
		{`{ __schema { queryType { name } types { name kind fields { name type { name kind ofType { name kind ofType { name } } } } } } }`, "", ""},
		{entitiesQ, `{"r":[{"__typename":"Video","videoNo":"VI606404158946574336"},{"__typename":"Video","videoNo":"VI1","uniqueId":"team"}]}`, ""},
		{`{ video(videoNo: 606404158946574336) { videoNo } }`, "", ""},
		{`{ v: video(videoNo: "VI1") @skip(if: true) { videoNo } w: video(videoNo: "VI2") @include(if: false) { videoNo } }`, "", ""},

		// Empty and blank ids.
		{`{ video(videoNo: "") { videoNo } }`, "", ""},
		{`{ video(videoNo: "VI1", uniqueId: "") { videoNo } }`, "", ""},
		{`{ video(videoNo: " ", uniqueId: " ") { videoNo } }`, "", ""},
		{listQ, `{"nos":["VI1",""]}`, ""},
		{listQ, `{"nos":[]}`, ""},
		{entitiesQ, `{"r":[{"__typename":"Video","videoNo":""},{"__typename":"Video"},{"__typename":"Nope","videoNo":"VI1"},{}]}`, ""},

		// At and over MAX_VIDEOS_PER_QUERY, and far over it.
		{listQ, fmt.Sprintf(`{"nos":%s}`, idList(fuzzLimit, "VI")), ""},
		{listQ, fmt.Sprintf(`{"nos":%s}`, idList(fuzzLimit+1, "VI")), ""},
		{listQ, fmt.Sprintf(`{"nos":%s}`, idList(2000, "")), ""},
		{aliases.String(), "", ""},
		{`{ ...F a: video(videoNo: "9") { videoNo } } fragment F on Query { videos(videoNos: ` + idList(fuzzLimit, "") + `) { videoNo } }`, "", ""},

		// Deep nesting and fragment cycles.
		{strings.Repeat("{", 500) + strings.Repeat("}", 500), "", ""},
		{`{ __schema { types { fields { type { fields { type { fields { type { fields { type { name } } } } } } } } } } }`, "", ""},
		{`{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }`, "", ""},
		{`{ ...A } fragment A on Query { video(videoNo: "VI1") { ...V } } fragment V on Video { videoNo ...V }`, "", ""},

		// Variables of the wrong type or shape.
		{oneQ, `{"no":{"a":1}}`, ""},
		{oneQ, `{"no":[1,2]}`, ""},
		{oneQ, `{"no":null}`, ""},
		{oneQ, `{"no":1.5}`, ""},
		{oneQ, `{"no":1e400}`, ""},
		{oneQ, `{"no":"VI1","u":null}`, ""},
		{oneQ, `{}`, ""},
		{oneQ, `[1,2]`, ""},
		{oneQ, `"no"`, ""},
		{oneQ, `{not json`, ""},
		{listQ, `{"nos":"VI1"}`, ""},
		{listQ, `{"nos":[[["VI1"]]]}`, ""},
		{entitiesQ, `{"r":[1,"x",null,true]}`, ""},
		{entitiesQ, `{"r":{"__typename":"Video","videoNo":"VI1"}}`, ""},

		// Operations that are not queries, or not there.
		{`mutation { video(videoNo: "VI1") { videoNo } }`, "", ""},
		{`subscription { video(videoNo: "VI1") { videoNo } }`, "", ""},
		{`query A { __typename } query B { __typename }`, "", ""},
		{`query A { __typename }`, "", "C"},
		{"", "", ""},
		{"# only a comment", "", ""},
		{`{ nope }`, "", ""},
		{`{ video { videoNo } }`, "", ""},
		{`{ video(videoNo: "VI1", extra: 1) { videoNo } }`, "", ""},

		// Documents that cost more to check than to answer (internal/hostile
		// has them at full size), here just over the fuzz server's limits.
		{"{" + strings.Repeat(` v: video(videoNo: "VI1") { videoNo } v: video(videoNo: "VI2") { videoNo }`, 60) + " }", "", ""},
		{"{" + strings.Repeat(` ... on Query { __typename }`, 130) + " }", "", ""},
		{"{" + repeatf(130, ` a%d: __typename`) + " }", "", ""},
		{"{ __typename" + strings.Repeat(` @include(if: true)`, 11) + " }", "", ""},
		{"query Q(" + repeatf(130, ` $v%d: Int`) + ") { __typename }", "", ""},
		{repeatf(51, ` query q%d { __typename }`), "", "q7"},
		{"{ __typename }" + strings.Repeat("\n#", 11000), "", ""},
		{`{ ...F1 ...F2 } fragment F1 on Query {` + repeatf(70, ` a%d: __typename`) + ` } fragment F2 on Query {` + repeatf(70, ` b%d: __typename`) + ` }`, "", ""},
		{`{ video(videoNo: "VI1"` + repeatf(300, `, a%d: 1`) + `) { videoNo } }`, "", ""},
		{`{ video(videoNo: "VI1") {` + repeatf(150, ` videoNamf%d`) + ` } }`, "", ""},
		{"{ " + strings.Repeat("n", 300) + " }", "", ""},
		{`{ video(videoNo: "` + strings.Repeat("9", 300) + `") { videoNo } }`, "", ""},
		{`{ __type(name: [[["x"]]]) { name } __typename(a: [[[[1]]]]) }`, "", ""},
		{"{" + repeatf(11, ` s%d: __schema { queryType { name } }`) + " }", "", ""},
		{"{" + repeatf(120, ` ...F%d`) + " }" + repeatf(120, ` fragment F%d on Query { __typename }`), "", ""},

		// Odd text.
		{`{ video(videoNo: "東京の夜 🌃 café") { videoName } }`, "", ""},
		{"{ video(videoNo: \"VI1\x00\") { videoNo } }", "", ""},
		{oneQ, `{"no":"VI1\u0000\u202e"}`, "\x00"},
		{"\xef\xbb\xbf{ __typename }", "", ""},
		{"{ video(videoNo: \"\xff\xfe\") { videoNo } }", "", ""},
		{`{ video(videoNo: "VI1\"} }`, "", ""},
	}
}

// repeatf returns format formatted with 0 … n-1, joined.
func repeatf(n int, format string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, format, i)
	}
	return b.String()
}
