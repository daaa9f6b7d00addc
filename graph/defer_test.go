package graph

import (
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
)

// dropFields takes the named fields out of the root fields' objects, or of
// each object of their lists, and keeps every other byte in its order.
func TestDropFields(t *testing.T) {
	drop := map[string]map[string]bool{"videos": {"fps": true, "w": true}, "one": {"fps": true}}
	tests := []struct{ name, data, want string }{
		{"list", `{"videos":[{"videoNo":"a","fps":null,"w":null,"x":{"fps":1}},null,{"fps":null}]}`, `{"videos":[{"videoNo":"a","x":{"fps":1}},null,{}]}`},
		{"object", `{"one":{"fps":null,"videoName":"n \"q\" <b>"}}`, `{"one":{"videoName":"n \"q\" <b>"}}`},
		{"null root", `{"one":null,"videos":[]}`, `{"one":null,"videos":[]}`},
		{"other roots kept", `{"z":{"fps":null},"one":{"fps":null}}`, `{"z":{"fps":null},"one":{}}`},
	}
	for _, tt := range tests {
		got, err := dropFields([]byte(tt.data), drop)
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: dropFields(%s) = %s, %v; want %s", tt.name, tt.data, got, err, tt.want)
		}
	}
}

// withoutDefer copies the operation without @defer, fragments included,
// and leaves the document it was given as it was: other requests share it
// through the query cache.
func TestWithoutDefer(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: `
		directive @defer(if: Boolean = true, label: String) on FRAGMENT_SPREAD | INLINE_FRAGMENT
		type Query { video: Video }
		type Video { a: Int b: Int c: Int }`})
	const q = `{ video { a ... @defer(label: "x") @include(if: true) { b } ...F @defer } } fragment F on Video { c ... @defer { a } }`
	doc, errs := gqlparser.LoadQuery(schema, q)
	if errs != nil {
		t.Fatal(errs)
	}
	format := func(d *ast.QueryDocument) string {
		var b strings.Builder
		formatter.NewFormatter(&b, formatter.WithComments()).FormatQueryDocument(d)
		return strings.Join(strings.Fields(b.String()), " ")
	}
	before := format(doc)

	out, op := withoutDefer(doc, doc.Operations[0])
	if got := format(out); strings.Contains(got, "@defer") || !strings.Contains(got, "@include(if: true)") || !strings.Contains(got, "... F }") {
		t.Errorf("without @defer: %s; want no @defer, the rest kept", got)
	}
	if op != out.Operations[0] || op == doc.Operations[0] {
		t.Errorf("operation not the copy's own")
	}
	if got := format(doc); got != before {
		t.Errorf("the original changed:\n%s\nwas\n%s", got, before)
	}
}
