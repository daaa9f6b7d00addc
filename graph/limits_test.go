package graph

import (
	"reflect"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// A summary is kept for an operation that variables cannot change, and
// walked again for one they can or that Incremental rewrote; a kept one
// serves every request of that operation.
func TestSummariesKeep(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	tests := []struct {
		name, query string
		rewritten   bool
		wantKept    bool
		// wantOwnDetail: the two requests' variables give each its own
		// detail flag.
		wantOwnDetail bool
	}{
		{"constant", `{ video(videoNo: "V1") { videoNo fps } }`, false, true, false},
		{"videoNo in a variable", `query($no: ID!) { video(videoNo: $no) { videoNo } }`, false, true, false},
		{"literal @skip", `{ video(videoNo: "V1") { videoNo fps @skip(if: true) } }`, false, true, false},
		{"@skip through a variable", `query($s: Boolean!) { video(videoNo: "V1") { videoNo fps @skip(if: $s) } }`, false, false, true},
		{"@include through a variable", `query($s: Boolean!) { ... on Query @include(if: $s) { video(videoNo: "V1") { videoNo } } }`, false, false, false},
		{"@defer through a variable", `query($s: Boolean!) { video(videoNo: "V1") { videoNo ... @defer(if: $s) { fps } } }`, false, false, false},
		{"rewritten by Incremental", `{ video(videoNo: "V1") { videoNo } }`, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQuery(schema, tt.query)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			sums := NewSummaries(10)
			oc := func(vars map[string]any) *graphql.OperationContext {
				oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0], Variables: vars}
				if tt.rewritten {
					oc.Stats.SetExtension(rewrittenKey, true)
				}
				return oc
			}
			first := summarize(oc(map[string]any{"s": true, "no": "V1"}), sums)
			second := summarize(oc(map[string]any{"s": false, "no": "V2"}), sums)
			if got := first == second; got != tt.wantKept {
				t.Errorf("second request shares the first's summary = %v; want %v", got, tt.wantKept)
			}
			if tt.wantOwnDetail && first.videos[0].detail == second.videos[0].detail {
				t.Errorf("detail = %v for both @skip(if: true) and (if: false); want each its own", first.videos[0].detail)
			}
		})
	}
}

// argument gives each argument of a root field as ArgumentMap holds it:
// literals, variables given or not, definitions' defaults.
func TestArgumentAsArgumentMap(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	tests := []struct {
		query string
		vars  map[string]any
	}{
		{`{ video(videoNo: "V1") { videoNo } }`, nil},
		{`{ video(videoNo: 42, uniqueId: "u") { videoNo } }`, nil},
		{`query($no: ID!, $u: String) { video(videoNo: $no, uniqueId: $u) { videoNo } }`, map[string]any{"no": "V2"}},
		{`query($no: ID!, $u: String) { video(videoNo: $no, uniqueId: $u) { videoNo } }`, map[string]any{"no": "V2", "u": "scope"}},
		{`query($u: String) { videos(videoNos: ["A", 7], uniqueId: $u) { videoNo } }`, map[string]any{"u": nil}},
		{`query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo } }`, map[string]any{"nos": []any{"A", "B"}}},
		{`{ node(id: "VmlkZW86") { id } nodes(ids: ["x", "y"]) { id } }`, nil},
		{`query($f: Int) { videoLibrary(first: $f) { totalCount } a: videoLibrary { totalCount } }`, map[string]any{"f": 3}},
		{`{ _entities(representations: [{__typename: "Video", videoNo: "V1"}]) { __typename } }`, nil},
	}
	for _, tt := range tests {
		doc, errs := gqlparser.LoadQuery(schema, tt.query)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", tt.query, errs)
		}
		for _, sel := range doc.Operations[0].SelectionSet {
			f := sel.(*ast.Field)
			want := f.ArgumentMap(tt.vars)
			for _, def := range f.Definition.Arguments {
				wantV := want[def.Name]
				if got := argument(f, def.Name, tt.vars); !reflect.DeepEqual(got, wantV) {
					t.Errorf("%s: %s(%s) = %#v; want %#v", tt.query, f.Alias, def.Name, got, wantV)
				}
			}
			if got := argument(f, "noSuchArgument", tt.vars); got != nil {
				t.Errorf("%s: %s(noSuchArgument) = %#v; want nil", tt.query, f.Alias, got)
			}
		}
	}
}
