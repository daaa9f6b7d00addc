package graph

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"
)

// unlimited is Limits no document reaches.
var unlimited = Limits{Tokens: 1 << 30, Selections: 1 << 30, Fragments: 1 << 30, Directives: 1 << 30, Variables: 1 << 30, Operations: 1 << 30}

// measure counts, from the parser's syntax tree (and the lexer's tokens),
// what Limits bound.
func measure(t testing.TB, query string) (Limits, bool) {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		return Limits{}, false
	}
	var m Limits
	lex := lexer.New(&ast.Source{Input: query})
	for {
		tok, err := lex.ReadToken()
		if err != nil {
			t.Fatalf("lexer: %v on a document the parser took", err)
		}
		if tok.Kind == lexer.EOF {
			break
		}
		m.Tokens++
	}
	m.Operations = len(doc.Operations)
	directives := func(ds ast.DirectiveList) { m.Directives = max(m.Directives, len(ds)) }
	// The fields a selection set collects through inline fragments and
	// spreads, each spread counted, a fragment within itself not.
	fragments := map[string]*ast.FragmentDefinition{}
	for _, f := range doc.Fragments {
		if fragments[f.Name] == nil {
			fragments[f.Name] = f
		}
	}
	visiting := map[string]bool{}
	var collected func(ast.SelectionSet) int
	collected = func(s ast.SelectionSet) int {
		n := 0
		for _, sel := range s {
			switch sel := sel.(type) {
			case *ast.Field:
				n++
			case *ast.InlineFragment:
				n += collected(sel.SelectionSet)
			case *ast.FragmentSpread:
				if f := fragments[sel.Name]; f != nil && !visiting[sel.Name] {
					visiting[sel.Name] = true
					n += collected(f.SelectionSet)
					delete(visiting, sel.Name)
				}
			}
		}
		return n
	}
	var set func(ast.SelectionSet)
	set = func(s ast.SelectionSet) {
		m.Selections = max(m.Selections, len(s), collected(s))
		for _, sel := range s {
			switch sel := sel.(type) {
			case *ast.Field:
				directives(sel.Directives)
				set(sel.SelectionSet)
			case *ast.InlineFragment:
				m.Fragments++
				directives(sel.Directives)
				set(sel.SelectionSet)
			case *ast.FragmentSpread:
				m.Fragments++
				directives(sel.Directives)
			}
		}
	}
	for _, op := range doc.Operations {
		m.Variables += len(op.VariableDefinitions)
		directives(op.Directives)
		for _, v := range op.VariableDefinitions {
			directives(v.Directives)
		}
		set(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		directives(f.Directives)
		set(f.SelectionSet)
	}
	return m, true
}

// checkScanAgrees checks scanDocument against measure: a document passes
// limits equal to its own counts, and is refused, for that limit, by each
// limit one lower.
func checkScanAgrees(t *testing.T, query string) {
	m, ok := measure(t, query)
	if !ok {
		// Not a document: refused by the parser, if not first by a limit.
		_ = scanDocument(query, unlimited)
		return
	}
	if err := scanDocument(query, m); err != nil && err.Extensions["limit"] != "name" && err.Extensions["limit"] != "value nesting" {
		t.Fatalf("scanDocument(%q) at its own counts %+v: %v", query, m, err)
	}
	for _, l := range []struct {
		setting string
		field   *int
	}{
		{"MAX_QUERY_TOKENS", &m.Tokens}, {"MAX_SELECTIONS", &m.Selections}, {"MAX_FRAGMENTS", &m.Fragments},
		{"MAX_DIRECTIVES", &m.Directives}, {"MAX_VARIABLES", &m.Variables}, {"MAX_OPERATIONS", &m.Operations},
	} {
		if *l.field == 0 {
			continue
		}
		*l.field--
		err := scanDocument(query, m)
		*l.field++
		if err == nil {
			t.Errorf("scanDocument(%q) with %s one under its count %+v: nil; want refused", query, l.setting, m)
			continue
		}
		if got := err.Extensions["limit"]; got != l.setting && got != "MAX_QUERY_TOKENS" && got != "name" && got != "value nesting" {
			// A lower limit may be met first only as tokens are read.
			t.Errorf("scanDocument(%q) with %s one under: refused for %v (%v); want %s", query, l.setting, got, err, l.setting)
		}
	}
}

// scanSeeds are documents of every shape the grammar has.
var scanSeeds = []string{
	`{ a }`,
	`{ a b c }`,
	`query { a }`,
	`query Q($a: Int = 1, $b: [[In!]!] = [[{x: 1}]] @d) @d @e { a(x: $a) @include(if: $b) { b } }`,
	`mutation M { a } subscription S { b } query { c }`,
	`{ ...F ... on T { a } ... @include(if: true) { b } } fragment F on T @d { c ...G } fragment G on T { d }`,
	`{ a: b(c: "s", d: """block""", e: 1.5, f: -2, g: true, h: null, i: ENUM, j: [1, [2]], k: {l: {m: $n}}) }`,
	"# a comment\n{ a # another\n b }\n# last",
	`{ a @x @y @z(w: 1) }`,
	`query on { on(on: on) @on { on: on ... on on { on } ...on2 } } fragment on2 on on { on }`,
	`fragment query on Query { query: mutation }`,
	`{ __typename ... on Query { __typename } }`,
	`{ a(x: {}) b(y: []) }`,
	`query($v: Int!) { a(x: $v) } query B { b }`,
	// Not documents: left to the parser.
	`{ a `,
	`{ a(x: ) }`,
	`query Q($a) { a }`,
	`type T { a: Int }`,
	`{ "string" }`,
	`{ a } }`,
	`fragment F T { a }`,
	"\xff",
	`{ a(x: "unterminated) }`,
}

func TestScanDocumentAgreesWithTheParser(t *testing.T) {
	for _, q := range scanSeeds {
		t.Run(q, func(t *testing.T) { checkScanAgrees(t, q) })
	}
}

// FuzzScanDocument checks scanDocument against the parser's syntax tree on
// arbitrary text: documents pass limits at their own counts and break each
// one set lower; nothing panics.
//
// go test -run '^$' -fuzz '^FuzzScanDocument$' -fuzztime 20000x ./graph
func FuzzScanDocument(f *testing.F) {
	for _, q := range scanSeeds {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) { checkScanAgrees(t, q) })
}

func TestScanDocumentRefusals(t *testing.T) {
	rep := func(n int, s string) string { return strings.Repeat(s, n) }
	l := Limits{Tokens: 100, Selections: 5, Fragments: 3, Directives: 2, Variables: 2, Operations: 2}
	tests := []struct {
		name, query, limit string
	}{
		{"tokens", "{ a(x: [" + rep(93, " 1") + "]) }", "MAX_QUERY_TOKENS"},
		{"comments count as tokens", "{ a }" + rep(98, "\n#"), "MAX_QUERY_TOKENS"},
		{"tokens of a malformed document", "{ a } }" + rep(100, " a"), "MAX_QUERY_TOKENS"},
		{"selections", "{" + rep(6, " a") + " }", "MAX_SELECTIONS"},
		{"selections of a nested set", "{ a {" + rep(6, " b") + " } }", "MAX_SELECTIONS"},
		{"selections of a fragment", "fragment F on T {" + rep(6, " b") + " }", "MAX_SELECTIONS"},
		{"fragment spreads", "{" + rep(4, " ...F") + " }", "MAX_FRAGMENTS"},
		{"inline fragments", "{ a {" + rep(2, " ... { a }") + " } b {" + rep(2, " ... on T { a }") + " } }", "MAX_FRAGMENTS"},
		{"directives on a field", "{ a" + rep(3, " @include(if: true)") + " }", "MAX_DIRECTIVES"},
		{"directives on an operation", "query" + rep(3, " @d") + " { a }", "MAX_DIRECTIVES"},
		{"directives on a spread", "{ ...F" + rep(3, " @d") + " }", "MAX_DIRECTIVES"},
		{"directives on a variable", "query($a: Int" + rep(3, " @d") + ") { a }", "MAX_DIRECTIVES"},
		{"variables", "query($a: Int, $b: Int, $c: Int) { a }", "MAX_VARIABLES"},
		{"variables of several operations", "query A($a: Int) { a } query B($b: Int, $c: Int) { a }", "MAX_VARIABLES"},
		{"operations", "query A { a } query B { a } { a }", "MAX_OPERATIONS"},
		{"fields through inline fragments", "{ a ... { b c } ... on T { d ... { e f } } }", "MAX_SELECTIONS"},
		{"fields through fragments", "{ a x ...F ...G } fragment F on T { b c } fragment G on T { ...F }", "MAX_SELECTIONS"},
		{"fields through a fragment defined first", "fragment F on T { b c d } { x { a ...F ...F } }", "MAX_SELECTIONS"},
		{"a long name", "{ " + rep(maxNameBytes+1, "a") + " }", "name"},
		{"a long alias", "{ " + rep(maxNameBytes+1, "a") + ": b }", "name"},
		{"nested lists", "{ a(x: " + rep(maxValueNesting+1, "[") + rep(maxValueNesting+1, "]") + ") }", "value nesting"},
		{"nested objects in a default", "query($v: In = " + rep(maxValueNesting+1, "{a: ") + "1" + rep(maxValueNesting+1, "}") + ") { a }", "value nesting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := scanDocument(tt.query, l)
			if err == nil {
				t.Fatalf("scanDocument: nil; want refused for %s", tt.limit)
			}
			if got := err.Extensions["limit"]; got != tt.limit {
				t.Errorf("limit = %v (%v); want %s", got, err, tt.limit)
			}
			if got := err.Extensions["code"]; got != CodeQueryTooComplex {
				t.Errorf("code = %v; want %s", got, CodeQueryTooComplex)
			}
			if len(err.Locations) != 1 {
				t.Errorf("locations = %v; want where the limit was passed", err.Locations)
			}
		})
	}
	// At the limits, the same shapes pass.
	for _, q := range []string{"{" + rep(5, " a") + " }", "{ a ... { b c } ... on T { d e } }",
		"{ a ...F ...G } fragment F on T { b } fragment G on T { ...F c }", "{ ...F } fragment F on T { a ...F b }", "{" + rep(3, " ...F") + " }", "{ a @a @b }", "query($a: Int, $b: Int) { a }", "query A { a } query B { a }", "{ " + rep(maxNameBytes, "a") + " }",
		"{ a(x: " + rep(maxValueNesting, "[") + rep(maxValueNesting, "]") + ", y: " + rep(maxValueNesting, "[") + rep(maxValueNesting, "]") + ") }"} {
		if err := scanDocument(q, l); err != nil {
			t.Errorf("scanDocument(%.40q): %v; want nil", q, err)
		}
	}
}

// TestDefaultLimitsServeTheLargestQuery checks the defaults against the
// largest queries the service promises, at MAX_VIDEOS_PER_QUERY=2000.
func TestDefaultLimitsServeTheLargestQuery(t *testing.T) {
	const n = 2000
	l := DefaultLimits(n)
	const sel = `videoNo uniqueId videoName duration size status rawStatus cause createTime resolutionLabel fps width height captureMetadata { datetimeTaken cameraModel location { latitude longitude } tags }`
	var aliases, vars, spreads, ids strings.Builder
	vars.WriteString("query Q(")
	for i := range n {
		fmt.Fprintf(&aliases, " a%d: video(videoNo: \"VI%018d\", uniqueId: \"default\") { %s }", i, i, sel)
		fmt.Fprintf(&vars, " $v%d: ID!", i)
		fmt.Fprintf(&spreads, " a%d: video(videoNo: $v%d) @include(if: true) { ...V }", i, i)
		fmt.Fprintf(&ids, " \"VI%018d\"", i)
	}
	vars.WriteString(" $u: String! = \"default\")")
	docs := map[string]string{
		"aliases with every field":             "{" + aliases.String() + " }",
		"aliases with a variable and a spread": vars.String() + " {" + spreads.String() + " } fragment V on Video { " + sel + " }",
		"a list of ids":                        "{ videos(videoNos: [" + ids.String() + "]) { " + sel + " } }",
	}
	for name, q := range docs {
		if err := scanDocument(q, l); err != nil {
			t.Errorf("%s (%d bytes): %v", name, len(q), err)
		}
	}
}
