package graph

import (
	"github.com/vektah/gqlparser/v2/ast"
)

// maxWalk bounds the fields one walk visits. Fragments spread inside
// fragments multiply: a few lines of query can name millions of fields,
// and an operation that big is refused, not walked.
const maxWalk = 1 << 16

// walkResult is what a walk learns besides what it tells visit.
type walkResult struct {
	ok    bool // the walk visited every field: at most maxWalk of them
	width int  // the most fields one selection set collects, through fragments
	// byVariables: a variable decided an @skip, @include or @defer, so
	// another request's variables may walk the same operation otherwise.
	byVariables bool
}

// visitFunc is told each field an operation would execute: root is the
// root field it is under (itself, at the root), depth the number of fields
// from the root down to it, introspection's ofType not counted (its
// nesting is bounded by the schema's type wrappers, and GraphiQL's docs
// query nests it eight deep), and deferred whether this occurrence is
// inside a fragment marked @defer (whose if is not false).
type visitFunc func(f, root *ast.Field, depth int, deferred bool)

// walk visits the fields of set that would execute with vars, through
// inline fragments and fragment spreads, leaving out what @skip and
// @include leave out. It is the one walker behind the depth limit, the
// introspection switch, the video limits and the plan of which videos to
// fetch and how.
func walk(set ast.SelectionSet, vars map[string]any, visit visitFunc) walkResult {
	w := walker{vars: vars, visit: visit}
	top := w.set(set, nil, 0, false)
	return walkResult{ok: w.n <= maxWalk, width: max(w.width, top), byVariables: w.byVariables}
}

type walker struct {
	vars     map[string]any
	visit    visitFunc
	visiting map[string]bool // fragments on the current path, against cycles
	n        int
	width    int
	// byVariables: see walkResult.
	byVariables bool
}

// set walks one selection set, and returns how many fields it collects
// through its fragments: the fields gqlgen merges, each against all the
// others it has collected.
func (w *walker) set(set ast.SelectionSet, root *ast.Field, depth int, deferred bool) (fields int) {
	for _, sel := range set {
		if w.n > maxWalk {
			return fields
		}
		switch sel := sel.(type) {
		case *ast.Field:
			if !w.included(sel.Directives) {
				continue
			}
			w.n++
			fields++
			r, d := root, depth
			if r == nil {
				r = sel
			}
			if sel.Name != "ofType" {
				d++
			}
			w.visit(sel, r, d, deferred)
			// @defer holds back the fields of its own selection set only, as
			// gqlgen collects them: a field's subfields are not deferred.
			w.width = max(w.width, w.set(sel.SelectionSet, r, d, false))
		case *ast.InlineFragment:
			if w.included(sel.Directives) {
				fields += w.set(sel.SelectionSet, root, depth, deferred || w.deferred(sel.Directives))
			}
		case *ast.FragmentSpread:
			if sel.Definition == nil || w.visiting[sel.Name] || !w.included(sel.Directives) {
				continue
			}
			if w.visiting == nil {
				w.visiting = map[string]bool{}
			}
			w.visiting[sel.Name] = true
			fields += w.set(sel.Definition.SelectionSet, root, depth, deferred || w.deferred(sel.Directives))
			delete(w.visiting, sel.Name)
		}
	}
	return fields
}

// included applies @skip and @include.
func (w *walker) included(ds ast.DirectiveList) bool {
	for _, d := range ds {
		if d.Name != "skip" && d.Name != "include" {
			continue
		}
		arg := d.Arguments.ForName("if")
		if arg == nil || arg.Value == nil {
			continue
		}
		w.byVariables = w.byVariables || arg.Value.Kind == ast.Variable
		v, err := arg.Value.Value(w.vars)
		if b, ok := v.(bool); err == nil && ok && b == (d.Name == "skip") {
			return false
		}
	}
	return true
}

// deferred reports a fragment marked @defer whose if is not false, as
// gqlgen reads it.
func (w *walker) deferred(ds ast.DirectiveList) bool {
	d := ds.ForName("defer")
	if d == nil {
		return false
	}
	arg := d.Arguments.ForName("if")
	if arg == nil || arg.Value == nil {
		return true
	}
	w.byVariables = w.byVariables || arg.Value.Kind == ast.Variable
	v, err := arg.Value.Value(w.vars)
	if err != nil {
		return true
	}
	b, _ := v.(bool)
	return b
}

// detailFields are the Video fields that only get_metadata returns.
var detailFields = map[string]bool{"resolutionLabel": true, "fps": true, "width": true, "height": true}

// isDetailField reports a selection of a field that list_videos lacks.
func isDetailField(f *ast.Field) bool {
	return detailFields[f.Name] && f.ObjectDefinition != nil && f.ObjectDefinition.Name == "Video"
}
