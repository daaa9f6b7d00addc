// Package hostile builds the requests that cost a GraphQL server more to
// check than to answer, each under a 1 MB body, and the largest requests
// this service promises to serve, for the tests, benchmarks and load test
// that hold the server to its bounds. It is test support: the server does
// not import it.
package hostile

import (
	_ "embed"
	"fmt"
	"strings"
)

// Payload is one request and what the server must answer it.
type Payload struct {
	Name          string
	Query         string
	OperationName string
	Variables     map[string]any

	// Code is the extensions.code of the answer's last error (a refusal
	// that stopped validation early ends with why), and Limit, for
	// QUERY_TOO_COMPLEX, its extensions.limit. Empty for a request the
	// server must answer with data.
	Code, Limit string
}

// Body returns p as a GraphQL-over-HTTP POST body's fields.
func (p Payload) Body() map[string]any {
	b := map[string]any{"query": p.Query}
	if p.OperationName != "" {
		b["operationName"] = p.OperationName
	}
	if p.Variables != nil {
		b["variables"] = p.Variables
	}
	return b
}

// repeat returns f(0) … f(n-1), joined.
func repeat(n int, f func(i int) string) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(f(i))
	}
	return b.String()
}

// Refused returns requests a server must refuse before any upstream call,
// within bounds of CPU, memory and answer size: first the shapes found to
// take servers down (issue: "No request costs more to check than to
// answer"), then variants of them. They use only video(videoNo:) and
// __typename, so that any server with a video field can be sent them.
func Refused() []Payload {
	return []Payload{
		{Name: "same response name, different arguments",
			Query: "{" + repeat(1300, func(i int) string { return fmt.Sprintf(` v: video(videoNo: "VI%d") { videoNo }`, i) }) + " }",
			Code:  "GRAPHQL_VALIDATION_FAILED"},
		{Name: "inline fragments",
			Query: "{" + repeat(15000, func(int) string { return ` ... on Query { __typename }` }) + " }",
			Code:  "QUERY_TOO_COMPLEX", Limit: "MAX_SELECTIONS"},
		{Name: "aliases of __typename",
			Query: "{" + repeat(30000, func(i int) string { return fmt.Sprintf(` a%d: __typename`, i) }) + " }",
			Code:  "QUERY_TOO_COMPLEX", Limit: "MAX_SELECTIONS"},
		{Name: "repeated directives",
			Query: "{ __typename" + repeat(12000, func(int) string { return ` @include(if: true)` }) + " }",
			Code:  "QUERY_TOO_COMPLEX", Limit: "MAX_DIRECTIVES"},
		{Name: "unused variables",
			Query: "query Q(" + repeat(20000, func(i int) string { return fmt.Sprintf(` $v%d: Int`, i) }) + ") { __typename }",
			Code:  "QUERY_TOO_COMPLEX", Limit: "MAX_VARIABLES"},

		{Name: "operations with one operationName",
			Query:         repeat(20000, func(i int) string { return fmt.Sprintf(` query q%d { __typename }`, i) }),
			OperationName: "q7",
			Code:          "QUERY_TOO_COMPLEX", Limit: "MAX_OPERATIONS"},
		{Name: "tokens",
			Query: "{ video(videoNo: \"VI1\") { videoNo } __typename(a: [" + repeat(150000, func(int) string { return " 1" }) + "]) }",
			Code:  "QUERY_TOO_COMPLEX", Limit: "MAX_QUERY_TOKENS"},
		{Name: "comments",
			Query: "{ __typename }" + repeat(200000, func(int) string { return "\n#" }),
			Code:  "QUERY_TOO_COMPLEX", Limit: "MAX_QUERY_TOKENS"},
		{Name: "nested fragments",
			Query: `{ video(videoNo: "VI1") { ...F17 } } fragment F0 on Video { videoNo }` +
				repeat(17, func(i int) string { return fmt.Sprintf(" fragment F%d on Video { ...F%d ...F%d }", i+1, i, i) }),
			Code: "QUERY_TOO_COMPLEX", Limit: "MAX_SELECTIONS"},
		{Name: "a fragment under many aliases",
			Query: "{" + repeat(2000, func(i int) string { return fmt.Sprintf(` a%d: video(videoNo: "VI%d") { ...V }`, i, i%100) }) + " }" +
				" fragment V on Video {" + repeat(40, func(i int) string { return fmt.Sprintf(" f%d: videoNo", i) }) + " }",
			Code: "QUERY_TOO_COMPLEX", Limit: "executed fields"},
		{Name: "aliases inside fragments",
			Query: "{" + repeat(13, func(i int) string { return fmt.Sprintf(" ...F%d", i) }) + " }" +
				repeat(13, func(f int) string {
					return fmt.Sprintf(" fragment F%d on Query {", f) +
						repeat(2000, func(i int) string { return fmt.Sprintf(" a%d_%d: __typename", f, i) }) + " }"
				}),
			Code: "QUERY_TOO_COMPLEX", Limit: "MAX_SELECTIONS"},
		{Name: "long argument list",
			Query: `{ video(videoNo: "VI1"` + repeat(20000, func(i int) string { return fmt.Sprintf(", a%d: %d", i, i) }) + `) { videoNo } }`,
			Code:  "GRAPHQL_VALIDATION_FAILED"},
		{Name: "unknown fields",
			Query: `{ video(videoNo: "VI1") {` + repeat(2000, func(i int) string { return fmt.Sprintf(" videoNamf%d", i) }) + ` } }`,
			Code:  "GRAPHQL_VALIDATION_FAILED"},
		{Name: "a long name",
			Query: "{ " + strings.Repeat("n", 900_000) + " }",
			Code:  "QUERY_TOO_COMPLEX", Limit: "name"},
		{Name: "a huge string argument",
			Query: `{ video(videoNo: "` + strings.Repeat("9", 900_000) + `") { videoNo } }`,
			Code:  "BAD_USER_INPUT"},
		{Name: "a huge string of the wrong type",
			Query: `{ video(videoNo: "VI1") { videoNo } __type(name: ` + strings.Repeat("[", 3) + `"` + strings.Repeat("x", 900_000) + `"` + strings.Repeat("]", 3) + `) { name } }`,
			Code:  "GRAPHQL_VALIDATION_FAILED"},
		{Name: "nested lists",
			Query: `{ video(videoNo: "VI1") { videoNo } __type(name: ` + strings.Repeat("[", 900) + `"` + strings.Repeat("x", 500_000) + `"` + strings.Repeat("]", 900) + `) { name } }`,
			Code:  "QUERY_TOO_COMPLEX", Limit: "value nesting"},
		{Name: "nesting",
			Query: "{" + strings.Repeat(" video(videoNo: \"VI1\") {", 900) + " videoNo" + strings.Repeat(" }", 900) + " }",
			Code:  "GRAPHQL_VALIDATION_FAILED"},
		{Name: "the largest accepted document, and an unknown field",
			Query: "{" + repeat(2000, func(i int) string { return fmt.Sprintf(" a%d: video(videoNo: \"VI%d\") { %s }", i, i%100, allFields) }) + " unknownField }",
			Code:  "GRAPHQL_VALIDATION_FAILED"},
		{Name: "aliases of __schema",
			Query: "{" + repeat(2000, func(i int) string { return fmt.Sprintf(" s%d: __schema { types { name fields { name } } }", i) }) + " }",
			Code:  "QUERY_TOO_COMPLEX", Limit: "introspection fields"},
	}
}

// allFields selects every field of a Video.
const allFields = `videoNo uniqueId videoName duration size status rawStatus cause createTime resolutionLabel fps width height captureMetadata { datetimeTaken cameraModel location { latitude longitude } tags }`

//go:embed introspection.graphql
var introspection string

// Introspection is GraphiQL's introspection query.
var Introspection = introspection

// Largest returns the largest requests this service promises to serve:
// maxVideos aliased video fields with every field, detail fields included
// (over the first maxDetail of ids, repeated), a list of maxVideos ids, as
// many federation representations, GraphiQL's introspection query, and one
// selection set spreading 2,000 fragments. ids are real video numbers, at
// least maxDetail of them.
func Largest(maxVideos, maxDetail int, ids []string) []Payload {
	const all = allFields
	const list = `videoNo uniqueId videoName duration size status rawStatus cause createTime captureMetadata { datetimeTaken cameraModel location { latitude longitude } tags }`
	id := func(i int) string { return ids[i%len(ids)] }
	nos := make([]any, maxVideos)
	reps := make([]any, maxVideos)
	for i := range nos {
		nos[i] = id(i)
		reps[i] = map[string]any{"__typename": "Video", "videoNo": id(i)}
	}
	return []Payload{
		{Name: "aliases with every field",
			Query: "{" + repeat(maxVideos, func(i int) string {
				return fmt.Sprintf(" a%d: video(videoNo: %q) { %s }", i, ids[i%min(maxDetail, len(ids))], all)
			}) + " }"},
		{Name: "aliases with a variable and a fragment each",
			Query: "query Q(" + repeat(maxVideos, func(i int) string { return fmt.Sprintf(" $v%d: ID!", i) }) + ") {" +
				repeat(maxVideos, func(i int) string { return fmt.Sprintf(" a%d: video(videoNo: $v%d) @include(if: true) { ...V }", i, i) }) +
				" } fragment V on Video { " + list + " }",
			Variables: func() map[string]any {
				v := make(map[string]any, maxVideos)
				for i := range maxVideos {
					v[fmt.Sprintf("v%d", i)] = id(i)
				}
				return v
			}()},
		{Name: "a list of ids",
			Query:     "query($nos: [ID!]!) { videos(videoNos: $nos) { " + list + " } }",
			Variables: map[string]any{"nos": nos}},
		{Name: "a list of ids in the document",
			Query: "{ videos(videoNos: [" + repeat(maxVideos, func(i int) string { return fmt.Sprintf(" %q", id(i)) }) + "]) { " + list + " } }"},
		{Name: "federation representations",
			Query:     "query($r: [_Any!]!) { _entities(representations: $r) { ... on Video { " + list + " } } }",
			Variables: map[string]any{"r": reps}},
		{Name: "GraphiQL's introspection", Query: Introspection},
		{Name: "fragments spread together",
			Query: "{" + repeat(2000, func(i int) string { return fmt.Sprintf(" ...F%d", i) }) + " }" +
				repeat(2000, func(i int) string { return fmt.Sprintf(" fragment F%d on Query { __typename }", i) })},
	}
}
