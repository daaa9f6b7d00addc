package graph

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/memories-facade/memories-graphql/internal/hostile"
)

// overlapErrors validates doc with overlapRule alone.
func overlapErrors(t testing.TB, schema *ast.Schema, doc *ast.QueryDocument) (errs gqlerror.List) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			aborted, ok := r.(abortedValidation)
			if !ok {
				panic(r)
			}
			errs = aborted.errs
		}
	}()
	v := &validation{}
	return validator.ValidateWithRules(schema, doc, rules.NewRules(core.Rule{Name: overlapRuleName, RuleFunc: v.counted(overlapRuleName, overlapRule(v))}))
}

// TestOverlapRuleAgreesWithGraphQLJS runs graphql-js's own tests of
// OverlappingFieldsCanBeMerged (testdata/overlap, as gqlparser exports
// them): every document it refuses, overlapRule refuses, and every
// document it accepts, overlapRule accepts, and every conflict it reports
// is one graphql-js reports: the same innermost response name, for the
// same reason. The messages of nested conflicts name the response names
// from the operation down, where graphql-js starts at the nearest common
// ancestor, and their number may differ.
func TestOverlapRuleAgreesWithGraphQLJS(t *testing.T) {
	raw, err := os.ReadFile("testdata/overlap/graphql-js.json")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Schemas []string
		Cases   []struct {
			Name   string
			Schema int
			Query  string
			Errors []string
		}
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	schemas := make([]*ast.Schema, len(spec.Schemas))
	for i, s := range spec.Schemas {
		if schemas[i], err = gqlparser.LoadSchema(&ast.Source{Input: s}); err != nil {
			t.Fatalf("schema %d: %v", i, err)
		}
	}
	for _, c := range spec.Cases {
		t.Run(c.Name, func(t *testing.T) {
			doc, err := parser.ParseQuery(&ast.Source{Input: c.Query})
			if err != nil {
				t.Fatal(err)
			}
			got := overlapErrors(t, schemas[c.Schema], doc)
			if (len(got) > 0) != (len(c.Errors) > 0) {
				t.Errorf("got errors %v; want %q\nquery: %s", got, c.Errors, c.Query)
			}
			want := map[string]bool{}
			for _, m := range c.Errors {
				// graphql-js joins the conflicts under one field with "and".
				parts := strings.Split(m, ` and subfields "`)
				for i, p := range parts {
					if i > 0 {
						p = `subfields "` + p
					}
					want[innermost(p)] = true
				}
			}
			for _, e := range got {
				if !want[innermost(e.Message)] {
					t.Errorf("got error %q; want one of %q", e.Message, c.Errors)
				}
			}
		})
	}
}

// innermost returns the innermost conflict of a message: its response
// name and reason ("x: they have differing arguments"), with the fields
// of a "different fields" reason in either order.
func innermost(msg string) string {
	msg, _, _ = strings.Cut(msg, ". Use different aliases")
	i := strings.LastIndex(msg, " conflict because ")
	if i < 0 {
		return msg
	}
	head, reason := msg[:i], msg[i+len(" conflict because "):]
	name := head[strings.LastIndex(head[:len(head)-1], `"`)+1 : len(head)-1]
	if a, b, ok := strings.Cut(reason, `" and "`); ok && strings.HasSuffix(b, `" are different fields`) {
		a, b = strings.TrimPrefix(a, `"`), strings.TrimSuffix(b, `" are different fields`)
		reason = min(a, b) + "|" + max(a, b) + " are different fields"
	}
	return name + ": " + reason
}

// TestOverlapRuleArguments covers when two calls of one field have the
// same arguments: in any order, input object fields in any order, list
// elements in theirs, with the kind of each value (a string is not an
// enum, an integer not a float).
func TestOverlapRuleArguments(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: `
		enum E { A B }
		input In { a: Int, b: Int, e: E, s: String, l: [Int], in: In }
		type Query { f(x: In, y: Int, s: String, e: E, fl: Float): Int }`})
	tests := []struct {
		name     string
		a, b     string
		conflict bool
	}{
		{"no arguments", `f`, `f`, false},
		{"same", `f(y: 1)`, `f(y: 1)`, false},
		{"arguments in another order", `f(y: 1, s: "z")`, `f(s: "z", y: 1)`, false},
		{"object fields in another order", `f(x: {a: 1, b: 2})`, `f(x: {b: 2, a: 1})`, false},
		{"nested object fields in another order", `f(x: {in: {a: 1, b: 2}})`, `f(x: {in: {b: 2, a: 1}})`, false},
		{"same variable", `f(y: $v)`, `f(y: $v)`, false},
		{"another value", `f(y: 1)`, `f(y: 2)`, true},
		{"an argument less", `f(y: 1, s: "z")`, `f(y: 1)`, true},
		{"list elements in another order", `f(x: {l: [1, 2]})`, `f(x: {l: [2, 1]})`, true},
		{"a list element more", `f(x: {l: [1]})`, `f(x: {l: [1, 1]})`, true},
		{"object values differ", `f(x: {a: 1})`, `f(x: {a: 2})`, true},
		{"object fields differ", `f(x: {a: 1})`, `f(x: {b: 1})`, true},
		{"string and enum", `f(x: {s: "A"})`, `f(x: {e: A})`, true},
		{"integer and float", `f(fl: 1)`, `f(fl: 1.0)`, true},
		{"variable and literal", `f(y: $v)`, `f(y: 1)`, true},
		{"empty list and empty object", `f(x: {l: []})`, `f(x: {l: {}})`, true},
		{"lengths that could run together", `f(s: "1:a")`, `f(s: "1")`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := `query($v: Int) { r: ` + tt.a + ` r: ` + tt.b + ` }`
			doc, err := parser.ParseQuery(&ast.Source{Input: q})
			if err != nil {
				t.Fatal(err)
			}
			errs := overlapErrors(t, schema, doc)
			if got := len(errs) > 0; got != tt.conflict {
				t.Errorf("%s: got conflict %v (%v); want %v", q, got, errs, tt.conflict)
			}
		})
	}
}

// FuzzOverlapRule checks overlapRule against gqlparser's rule on arbitrary
// documents over graphql-js's test schema: both refuse the same documents.
// Documents with fragments that spread themselves (NoFragmentCycles) or
// that nothing spreads (NoUnusedFragments) are invalid whatever this rule
// says, and gqlparser checks only the top selection set of an unused
// fragment: they are left out.
//
// go test -run '^$' -fuzz '^FuzzOverlapRule$' -fuzztime 20000x ./graph
func FuzzOverlapRule(f *testing.F) {
	raw, err := os.ReadFile("testdata/overlap/graphql-js.json")
	if err != nil {
		f.Fatal(err)
	}
	var spec struct {
		Schemas []string
		Cases   []struct {
			Schema int
			Query  string
		}
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		f.Fatal(err)
	}
	for _, c := range spec.Cases {
		if c.Schema == 0 {
			f.Add(c.Query)
		}
	}
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: spec.Schemas[0]})
	f.Fuzz(func(t *testing.T, q string) {
		doc, err := parser.ParseQuery(&ast.Source{Input: q})
		if err != nil || len(q) > 2000 {
			return
		}
		if errs := validator.ValidateWithRules(schema, doc, rules.NewRules(rules.NoFragmentCyclesRule, rules.NoUnusedFragmentsRule)); len(errs) > 0 {
			return
		}
		theirs := validator.ValidateWithRules(schema, doc, rules.NewRules(rules.OverlappingFieldsCanBeMergedRule))
		doc, _ = parser.ParseQuery(&ast.Source{Input: q})
		ours := overlapErrors(t, schema, doc)
		if (len(ours) > 0) != (len(theirs) > 0) {
			t.Errorf("ours: %v\ngqlparser's: %v\nquery: %s", ours, theirs, q)
		}
	})
}

// BenchmarkValidate measures parsing and validating the largest documents
// this service promises to serve, with the rules the server uses: what a
// new such document costs before it runs.
//
//	go test -run '^$' -bench BenchmarkValidate -benchmem ./graph
func BenchmarkValidate(b *testing.B) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("VI%018d", i)
	}
	for _, p := range hostile.Largest(2000, 100, ids) {
		b.Run(strings.ReplaceAll(p.Name, " ", "_"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := scanDocument(p.Query, DefaultLimits(2000)); err != nil {
					b.Fatal(err)
				}
				doc, err := parser.ParseQuery(&ast.Source{Input: p.Query})
				if err != nil {
					b.Fatal(err)
				}
				if errs := validator.ValidateWithRules(schema, doc, validationRules()); len(errs) > 0 {
					b.Fatal(errs)
				}
			}
		})
	}
}
