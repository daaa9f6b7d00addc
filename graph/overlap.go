package graph

import (
	"encoding/binary"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator/core"
)

// overlapRuleName is the rule this file replaces in gqlparser's defaults.
const overlapRuleName = "OverlappingFieldsCanBeMerged"

// overlapRule checks that fields sharing a response name can be merged
// (GraphQL spec 5.3.2, FieldsInSetCanMerge), as gqlparser's rule of the same
// name does, in time that grows with the document rather than with its
// square. gqlparser compares every pair of fields that share a response
// name, and every pair of fragments spread into one selection set
// (docs/gqlparser-overlapping-fields.md): a few thousand repeats of one field
// cost seconds and hundreds of megabytes of errors.
//
// This rule merges instead of comparing pairs. A selection set's fields,
// collected through inline fragments and fragment spreads, are grouped by
// response name, and within a group by what makes two fields the same call
// (the type they are selected on, the field name and the arguments); the
// occurrences of one call are one class whose sub-selections are checked
// together, once. Two distinct classes conflict unless they are selected on
// different object types (mutually exclusive), so in a valid document the
// classes of a group are at most as many as the object types they are
// selected on; every other pair is a conflict, and past maxValidationErrors
// of them validation stops. The work is counted against budget (selections
// visited through fragments): a document past it would run more fields than
// the operation checks allow anyway, and is refused as too complex.
func overlapRule(v *validation) core.RuleFunc {
	return func(observers *core.Events, addError core.AddErrFunc) {
		o := &overlap{v: v, add: addError, budget: overlapBudget, reported: map[[2]*ast.Field]bool{},
			seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
		observers.OnOperation(func(w *core.Walker, op *ast.OperationDefinition) {
			o.init(w)
			o.checkSets([]ast.SelectionSet{op.SelectionSet}, false, nil)
		})
		// A fragment spread nowhere is checked on its own, and so is one
		// that spreads itself (it is never expanded); the others are
		// checked where they are spread.
		observers.OnFragment(func(w *core.Walker, f *ast.FragmentDefinition) {
			o.init(w)
			if !o.spread[f.Name] || o.cyclic[f.Name] {
				o.checkSets([]ast.SelectionSet{f.SelectionSet}, false, nil)
			}
		})
	}
}

// overlapBudget bounds the selections one document's check visits, through
// fragments, and the classes it compares: four times what the operation
// checks let one operation execute (maxWalk).
const overlapBudget = 4 * maxWalk

type overlap struct {
	v         *validation
	add       core.AddErrFunc
	schema    *ast.Schema
	fragments map[string]*ast.FragmentDefinition
	spread    map[string]bool // fragments spread somewhere in the document
	cyclic    map[string]bool // fragments that spread themselves, directly or not
	budget    int
	reported  map[[2]*ast.Field]bool
	seeds     [2]maphash.Seed // of argument keys
	checked   map[setKey]bool // selection sets checked on their own
}

// init reads the document on the first event: its fragments by name, which
// of them are spread anywhere, and which spread themselves, directly or
// not. A cycle is an error of its own (NoFragmentCycles); this rule
// checks such a fragment on its own and never expands it.
func (o *overlap) init(w *core.Walker) {
	if o.fragments != nil {
		return
	}
	o.schema = w.Schema
	o.fragments = make(map[string]*ast.FragmentDefinition, len(w.Document.Fragments))
	o.spread = map[string]bool{}
	edges := map[string][]string{}
	for _, f := range w.Document.Fragments {
		if _, ok := o.fragments[f.Name]; ok {
			continue
		}
		o.fragments[f.Name] = f
		edges[f.Name] = o.spreads(nil, f.SelectionSet)
		for _, to := range edges[f.Name] {
			o.spread[to] = true
		}
	}
	for _, op := range w.Document.Operations {
		for _, to := range o.spreads(nil, op.SelectionSet) {
			o.spread[to] = true
		}
	}
	o.cyclic = cyclic(edges)
}

// spreads appends the names of the fragments spread anywhere in set.
func (o *overlap) spreads(dst []string, set ast.SelectionSet) []string {
	for _, sel := range set {
		o.spend(1)
		switch sel := sel.(type) {
		case *ast.Field:
			dst = o.spreads(dst, sel.SelectionSet)
		case *ast.InlineFragment:
			dst = o.spreads(dst, sel.SelectionSet)
		case *ast.FragmentSpread:
			dst = append(dst, sel.Name)
		}
	}
	return dst
}

// cyclic returns the nodes of a graph that lie on a cycle (Tarjan's
// strongly connected components).
func cyclic(edges map[string][]string) map[string]bool {
	out := map[string]bool{}
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var visit func(string)
	visit = func(v string) {
		index[v], low[v] = len(index), len(index)
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range edges[v] {
			if _, known := edges[w]; !known {
				continue
			}
			if w == v {
				out[v] = true
			}
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] != index[v] {
			return
		}
		var scc []string
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			scc = append(scc, w)
			if w == v {
				break
			}
		}
		if len(scc) > 1 {
			for _, w := range scc {
				out[w] = true
			}
		}
	}
	for v := range edges {
		if _, seen := index[v]; !seen {
			visit(v)
		}
	}
	return out
}

// spend counts n units of work, and stops validation when the budget is
// gone.
func (o *overlap) spend(n int) {
	o.budget -= n
	if o.budget < 0 {
		o.v.abort(tooComplexToValidate())
	}
}

// class is the occurrences of one call under one response name: the same
// field, with the same arguments, selected on the same type.
type class struct {
	field  *ast.Field // the first occurrence
	args   argsKey
	parent *ast.Definition
	subs   []ast.SelectionSet // the selection set of every occurrence
}

// argsKey stands for a field's arguments: equal for equal arguments, and
// for different ones equal with a chance of 2^-128 (two hashes, seeded
// anew for each validation), so that no argument is copied.
type argsKey [2]uint64

// fieldSet is the fields of one or more selection sets, collected through
// fragments, by response name in the order first seen.
type fieldSet struct {
	groups []group
	index  map[string]int // of groups, by response name
}

// group is the classes of one response name. Most groups have one, kept
// in first; past a few, the others are found through byKey.
type group struct {
	name  string
	first class
	more  []*class
	byKey map[classKey]*class
}

// classKey tells the classes of one group apart.
type classKey struct {
	name, parent string
	args         argsKey
}

func (c *class) key() classKey {
	k := classKey{name: c.field.Name, args: c.args}
	if c.parent != nil {
		k.parent = c.parent.Name
	}
	return k
}

// classes returns the group's classes, the first first.
func (g *group) classes() []*class {
	return append([]*class{&g.first}, g.more...)
}

// find returns the group's class with key k.
func (g *group) find(k classKey) *class {
	if g.first.key() == k {
		return &g.first
	}
	if g.byKey != nil {
		return g.byKey[k]
	}
	for _, c := range g.more {
		if c.key() == k {
			return c
		}
	}
	return nil
}

// add adds a class that find did not find.
func (g *group) add(c *class) {
	g.more = append(g.more, c)
	switch {
	case g.byKey != nil:
		g.byKey[c.key()] = c
	case len(g.more) > 8:
		g.byKey = make(map[classKey]*class, 2*len(g.more))
		for _, c := range g.more {
			g.byKey[c.key()] = c
		}
	}
}

// collect gathers the fields of sets, through inline fragments and
// fragment spreads; a fragment spread twice adds its fields once.
func (o *overlap) collect(sets []ast.SelectionSet) *fieldSet {
	n := 0
	for _, set := range sets {
		n += len(set)
	}
	fs := &fieldSet{groups: make([]group, 0, n), index: make(map[string]int, n)}
	var seen map[string]bool
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			o.spend(1)
			switch sel := sel.(type) {
			case *ast.Field:
				o.addField(fs, sel)
			case *ast.InlineFragment:
				walk(sel.SelectionSet)
			case *ast.FragmentSpread:
				if seen[sel.Name] || o.cyclic[sel.Name] {
					continue
				}
				if seen == nil {
					seen = map[string]bool{}
				}
				seen[sel.Name] = true
				if def := o.fragments[sel.Name]; def != nil {
					walk(def.SelectionSet)
				}
			}
		}
	}
	for _, set := range sets {
		walk(set)
	}
	return fs
}

func (o *overlap) addField(fs *fieldSet, f *ast.Field) {
	response := responseName(f)
	c := class{field: f, args: o.argsKeyOf(f.Arguments), parent: f.ObjectDefinition}
	i, ok := fs.index[response]
	if !ok {
		fs.index[response] = len(fs.groups)
		if len(f.SelectionSet) > 0 {
			c.subs = []ast.SelectionSet{f.SelectionSet}
		}
		fs.groups = append(fs.groups, group{name: response, first: c})
		return
	}
	g := &fs.groups[i]
	if same := g.find(c.key()); same != nil {
		if len(f.SelectionSet) > 0 {
			same.subs = append(same.subs, f.SelectionSet)
		}
		return
	}
	if len(f.SelectionSet) > 0 {
		c.subs = []ast.SelectionSet{f.SelectionSet}
	}
	g.add(&c)
}

// checkSets reports the conflicts of the fields sets collect. A single
// set of a few fields with distinct response names and no fragments (most
// of a document's) cannot conflict: only its fields' own selections are
// checked, and nothing is collected.
//
// A set that only spreads one fragment is that fragment's selection set,
// and one selection set is checked once (per exclusive): a fragment
// spread under many fields costs one check, not one each.
func (o *overlap) checkSets(sets []ast.SelectionSet, exclusive bool, path []string) {
	if len(sets) == 1 {
		set := o.unwrap(sets[0])
		key := setKey{n: len(set), exclusive: exclusive}
		if len(set) > 0 {
			key.first = &set[0]
		}
		if o.checked[key] {
			return
		}
		if o.checked == nil {
			o.checked = map[setKey]bool{}
		}
		o.checked[key] = true
		sets = []ast.SelectionSet{set}
	}
	if len(sets) != 1 || !plain(sets[0]) {
		o.check(o.collect(sets), exclusive, path)
		return
	}
	for _, sel := range sets[0] {
		o.spend(1)
		if f := sel.(*ast.Field); len(f.SelectionSet) > 0 {
			o.checkSets([]ast.SelectionSet{f.SelectionSet}, exclusive, append(path, responseName(f)))
		}
	}
}

// setKey identifies a selection set: ast.SelectionSet is a slice, and two
// slices with the same first element and length are the same.
type setKey struct {
	first     *ast.Selection
	n         int
	exclusive bool
}

// unwrap returns the selection set of the fragment set only spreads, if
// that is all it does, through any number of such fragments.
func (o *overlap) unwrap(set ast.SelectionSet) ast.SelectionSet {
	for range len(o.fragments) {
		if len(set) != 1 {
			return set
		}
		spread, ok := set[0].(*ast.FragmentSpread)
		if !ok || o.cyclic[spread.Name] || o.fragments[spread.Name] == nil {
			return set
		}
		set = o.fragments[spread.Name].SelectionSet
	}
	return set
}

// plain reports a selection set of at most 16 fields, with distinct
// response names, and no fragments.
func plain(set ast.SelectionSet) bool {
	if len(set) > 16 {
		return false
	}
	for i, sel := range set {
		f, ok := sel.(*ast.Field)
		if !ok {
			return false
		}
		for _, prev := range set[:i] {
			if responseName(prev.(*ast.Field)) == responseName(f) {
				return false
			}
		}
	}
	return true
}

// responseName is the key of f in the response.
func responseName(f *ast.Field) string {
	if f.Alias != "" {
		return f.Alias
	}
	return f.Name
}

// check reports the conflicts of fs. Under exclusive, the fields' parents
// are known to apply to different objects, so only the shapes of their
// answers must agree. path is the response names above fs.
func (o *overlap) check(fs *fieldSet, exclusive bool, path []string) {
	for i := range fs.groups {
		g := &fs.groups[i]
		name := g.name
		o.spend(1 + len(g.more))
		if len(g.more) == 0 {
			if subs := g.first.subs; len(subs) > 0 {
				o.checkSets(subs, exclusive, append(path, name))
			}
			continue
		}
		cs := g.classes()
		if exclusive {
			o.checkShapes(cs, path)
			o.checkSubs(cs, true, path, name)
			continue
		}
		// Two classes selected on the same object type, or either on an
		// interface or union (or either an unknown field, as gqlparser and
		// graphql-js have it), apply to the same object: they must be the
		// same call. Classes are distinct calls, so every such pair
		// conflicts.
		var parents []*ast.Definition
		byParent := map[*ast.Definition]*class{}
		var abstract []*class
		for _, c := range cs {
			switch {
			case c.parent == nil:
			case c.parent.Kind == ast.Object && c.field.Definition != nil:
				if first, ok := byParent[c.parent]; ok {
					o.report(first, c, path)
					continue
				}
				byParent[c.parent] = c
				parents = append(parents, c.parent)
			default:
				abstract = append(abstract, c)
			}
		}
		for _, a := range abstract {
			o.spend(len(cs))
			for _, c := range cs {
				if c != a && c.parent != nil && (c.field.Name != a.field.Name || c.args != a.args) {
					o.report(a, c, path)
				}
			}
		}
		o.checkShapes(cs, path) // after names and arguments, as gqlparser reports them
		if len(parents) <= 1 {
			o.checkSubs(cs, false, path, name)
			continue
		}
		// Classes on different object types are exclusive: each type's
		// classes merge with the abstract ones, and all agree in shape.
		for _, p := range parents {
			members := slices.Clone(abstract)
			for _, c := range cs {
				if c.parent == p && c.field.Definition != nil {
					members = append(members, c)
				}
			}
			o.checkSubs(members, false, path, name)
		}
		o.checkSubs(cs, true, path, name)
	}
}

// checkSubs checks the sub-selections of classes merged into one set.
func (o *overlap) checkSubs(cs []*class, exclusive bool, path []string, name string) {
	var subs []ast.SelectionSet
	for _, c := range cs {
		subs = append(subs, c.subs...)
	}
	if len(subs) > 0 {
		o.checkSets(subs, exclusive, append(path, name))
	}
}

// checkShapes reports classes whose answers cannot share a response key:
// list and non-null wrappers must match, and so must leaf types.
func (o *overlap) checkShapes(cs []*class, path []string) {
	var first *class
	for _, c := range cs {
		if c.field.Definition == nil {
			continue
		}
		if first == nil {
			first = c
			continue
		}
		if typesConflict(o.schema, first.field.Definition.Type, c.field.Definition.Type) {
			o.reportf(first, c, path, `they return conflicting types "`+first.field.Definition.Type.String()+`" and "`+c.field.Definition.Type.String()+`"`)
		}
	}
}

// report reports two classes that apply to the same object but are
// different calls.
func (o *overlap) report(a, b *class, path []string) {
	if a.field.Name != b.field.Name {
		o.reportf(a, b, path, `"`+a.field.Name+`" and "`+b.field.Name+`" are different fields`)
		return
	}
	o.reportf(a, b, path, "they have differing arguments")
}

// reportf reports a conflict once, in gqlparser's words, at the second
// field, naming the response names above it.
func (o *overlap) reportf(a, b *class, path []string, reason string) {
	pair := [2]*ast.Field{a.field, b.field}
	if o.reported[pair] || o.reported[[2]*ast.Field{b.field, a.field}] {
		return
	}
	o.reported[pair] = true
	response := responseName(b.field)
	names := append(slices.Clone(path), response)
	var msg strings.Builder
	msg.WriteString(`Fields "` + names[0] + `" conflict because `)
	for _, n := range names[1:] {
		msg.WriteString(`subfields "` + n + `" conflict because `)
	}
	msg.WriteString(reason)
	msg.WriteString(". Use different aliases on the fields to fetch both if this was intentional.")
	o.add(core.Message("%s", msg.String()), core.At(b.field.Position))
}

// typesConflict reports two types whose values cannot share a response key
// (gqlparser's doTypesConflict).
func typesConflict(schema *ast.Schema, a, b *ast.Type) bool {
	if a.NonNull != b.NonNull || (a.Elem == nil) != (b.Elem == nil) {
		return true
	}
	if a.Elem != nil {
		return typesConflict(schema, a.Elem, b.Elem)
	}
	ta, tb := schema.Types[a.NamedType], schema.Types[b.NamedType]
	if ta == nil || tb == nil {
		return false
	}
	if ta.IsLeafType() || tb.IsLeafType() {
		return ta.Name != tb.Name
	}
	return false
}

// argsKeyOf returns the key of arguments: the hashes of their canonical
// form, sorted by name, input object fields too, each value with its kind.
func (o *overlap) argsKeyOf(args ast.ArgumentList) argsKey {
	if len(args) == 0 {
		return argsKey{}
	}
	if len(args) > 1 {
		args = slices.Clone(args)
		slices.SortStableFunc(args, func(a, b *ast.Argument) int { return strings.Compare(a.Name, b.Name) })
	}
	var k keyHash
	k.h[0].SetSeed(o.seeds[0])
	k.h[1].SetSeed(o.seeds[1])
	for _, a := range args {
		k.string(a.Name)
		k.value(a.Value)
	}
	return argsKey{k.h[0].Sum64(), k.h[1].Sum64()}
}

// keyHash hashes a canonical form of values without building it.
type keyHash struct{ h [2]maphash.Hash }

func (k *keyHash) byte(b byte) {
	k.h[0].WriteByte(b)
	k.h[1].WriteByte(b)
}

// string writes s with its length, so that no two sequences of strings
// hash the same bytes.
func (k *keyHash) string(s string) {
	var n [binary.MaxVarintLen64]byte
	l := binary.PutUvarint(n[:], uint64(len(s)))
	for i := range k.h {
		k.h[i].Write(n[:l])
		k.h[i].WriteString(s)
	}
}

func (k *keyHash) value(v *ast.Value) {
	if v == nil {
		k.byte('-')
		return
	}
	k.byte(byte('a' + v.Kind))
	switch v.Kind {
	case ast.ListValue:
		k.string(strconv.Itoa(len(v.Children)))
		for _, c := range v.Children {
			k.value(c.Value)
		}
	case ast.ObjectValue:
		children := v.Children
		if len(children) > 1 {
			children = slices.Clone(children)
			slices.SortStableFunc(children, func(a, b *ast.ChildValue) int { return strings.Compare(a.Name, b.Name) })
		}
		k.string(strconv.Itoa(len(children)))
		for _, c := range children {
			k.string(c.Name)
			k.value(c.Value)
		}
	default:
		k.string(v.Raw)
	}
}
