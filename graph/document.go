package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"
)

// Limits bound the size of a GraphQL document. The parser allocates per
// token and validation works per selection, directive and variable, so a
// document under the body limit could otherwise cost seconds of CPU and
// gigabytes of memory to refuse. Each limit is a setting of its own
// (docs/configuration.md); DefaultLimits sizes them from
// MAX_VIDEOS_PER_QUERY.
type Limits struct {
	Tokens     int // lexical tokens, comments included (MAX_QUERY_TOKENS)
	Selections int // selections in one selection set, as written and as collected through fragments (MAX_SELECTIONS)
	Fragments  int // fragment spreads and inline fragments in the document (MAX_FRAGMENTS)
	Directives int // directives at one location (MAX_DIRECTIVES)
	Variables  int // variable definitions in the document (MAX_VARIABLES)
	Operations int // operations in the document (MAX_OPERATIONS)
}

// DefaultLimits serve the largest query this service promises, maxVideos
// aliased video fields (or a list of as many ids, or as many entity
// representations) each with a full selection, variables or a fragment
// spread of its own, with room to spare, and nothing much larger.
func DefaultLimits(maxVideos int) Limits {
	return Limits{
		Tokens:     40*maxVideos + 10_000,
		Selections: maxVideos + 100,
		Fragments:  maxVideos + 100,
		Directives: 10,
		Variables:  maxVideos + 100,
		Operations: 50,
	}
}

// maxNameBytes bounds one name (field, alias, argument, type, fragment,
// variable, directive or enum value). No schema has longer ones, and an
// unknown name is compared with every name its schema offers to suggest
// one, at a cost that grows with its length.
const maxNameBytes = 256

// maxValueNesting bounds how deep lists and input objects nest in one
// argument or default value. This schema takes none deeper than two
// (representations of _entities); and gqlparser prints a value of the
// wrong type into its error, copying the whole value once per level.
const maxValueNesting = 3

// CodeQueryTooComplex is the extensions.code of a document refused for its
// size before validation, or of an operation refused for its shape after
// it (fields collected through fragments, introspection fields).
// extensions.limit names the setting and extensions.max its value.
const CodeQueryTooComplex = "QUERY_TOO_COMPLEX"

// tooComplex is a refusal for one limit, located at the token that broke it.
func tooComplex(pos ast.Position, setting string, max int, format string, args ...any) *gqlerror.Error {
	e := gqlerror.ErrorPosf(&pos, format, args...)
	e.Extensions = map[string]any{"code": CodeQueryTooComplex, "limit": setting, "max": max}
	return e
}

// DocumentLimits refuses, before it is parsed, a document that breaks
// Limits. A document in the query cache passed when it was put there.
type DocumentLimits struct {
	Limits Limits
	Cache  graphql.Cache[*ast.QueryDocument]
}

var (
	_ graphql.HandlerExtension          = DocumentLimits{}
	_ graphql.OperationParameterMutator = DocumentLimits{}
)

// ExtensionName implements graphql.HandlerExtension.
func (DocumentLimits) ExtensionName() string { return "DocumentLimits" }

// Validate implements graphql.HandlerExtension.
func (DocumentLimits) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters implements graphql.OperationParameterMutator.
func (d DocumentLimits) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	if _, ok := d.Cache.Get(ctx, params.Query); ok {
		return nil
	}
	return scanDocument(params.Query, d.Limits)
}

// scanDocument checks query against l in one pass over its tokens, without
// building a syntax tree, and returns the first limit it breaks, or nil.
// Text that is not a well-formed document is left to the parser, which
// refuses it as it reads it; the token limit still applies up to there.
func scanDocument(query string, l Limits) *gqlerror.Error {
	s := scanner{lex: lexer.New(&ast.Source{Input: query}), limits: l}
	s.next()
	for s.err == nil && !s.stop && s.tok.Kind != lexer.EOF {
		s.definition()
	}
	if s.ok() {
		s.checkSpreads()
	}
	for s.err == nil && s.stop && s.tok.Kind != lexer.EOF && s.tok.Kind != lexer.Invalid {
		s.next() // count the rest: a malformed document is parsed up to its fault
	}
	return s.err
}

// scanner follows the grammar of executable documents closely enough to
// count what Limits bound. It stops (stop) at anything unexpected, where
// the parser will stop too.
type scanner struct {
	lex    lexer.Lexer
	tok    lexer.Token
	limits Limits

	tokens, fragmentCount, variables, operations int
	depth                                        int // of everything, as the parser counts it
	valueDepth                                   int // of lists and objects in the current value

	err  *gqlerror.Error // the first limit broken
	stop bool            // the text is not what the grammar expects here

	fragment  string                    // the fragment whose selection set comes next
	fragments map[string]fragmentFields // by name, the first definition of each
	spreading []collected               // the selection sets that spread fragments
}

// next reads the next token that is not a comment; comments count as
// tokens, since the parser keeps them.
func (s *scanner) next() {
	for s.err == nil {
		tok, err := s.lex.ReadToken()
		if err != nil {
			s.tok, s.stop = lexer.Token{Kind: lexer.Invalid}, true
			return
		}
		s.tok = tok
		if tok.Kind == lexer.EOF {
			return
		}
		s.tokens++
		if s.tokens > s.limits.Tokens {
			s.err = tooComplex(tok.Pos, "MAX_QUERY_TOKENS", s.limits.Tokens,
				"this document has more than %d tokens; at most %d are allowed (MAX_QUERY_TOKENS)", s.limits.Tokens, s.limits.Tokens)
			return
		}
		if tok.Kind == lexer.Name && len(tok.Value) > maxNameBytes {
			s.err = tooComplex(tok.Pos, "name", maxNameBytes,
				"this document has a name of %d bytes; names may have at most %d", len(tok.Value), maxNameBytes)
			return
		}
		if tok.Kind != lexer.Comment {
			return
		}
	}
}

// ok reports whether scanning goes on.
func (s *scanner) ok() bool { return s.err == nil && !s.stop }

// expect consumes a token of kind k, or stops.
func (s *scanner) expect(k lexer.Type) {
	if !s.ok() {
		return
	}
	if s.tok.Kind != k {
		s.stop = true
		return
	}
	s.next()
}

// keyword reports whether the current token is the name kw.
func (s *scanner) keyword(kw string) bool {
	return s.tok.Kind == lexer.Name && s.tok.Value == kw
}

// nest enters one level of nesting; past the parser's own bound the
// parser refuses the document, so scanning stops.
func (s *scanner) nest() bool {
	if s.depth >= parser.MaxNestingDepth {
		s.stop = true
		return false
	}
	s.depth++
	return true
}

// nestValue enters one level of a list or input object value.
func (s *scanner) nestValue() bool {
	if s.valueDepth >= maxValueNesting {
		s.err = tooComplex(s.tok.Pos, "value nesting", maxValueNesting,
			"this document nests lists and input objects more than %d deep in one value", maxValueNesting)
		return false
	}
	if !s.nest() {
		return false
	}
	s.valueDepth++
	return true
}

func (s *scanner) definition() {
	switch {
	case s.tok.Kind == lexer.BraceL:
		s.operation()
		s.selectionSet(nil)
	case s.keyword("query") || s.keyword("mutation") || s.keyword("subscription"):
		s.operation()
		s.next()
		if s.tok.Kind == lexer.Name {
			s.next()
		}
		if s.tok.Kind == lexer.ParenL {
			s.variableDefinitions()
		}
		s.directives()
		s.selectionSet(nil)
	case s.keyword("fragment"):
		s.next()
		name := s.tok.Value
		s.expect(lexer.Name)
		if !s.keyword("on") {
			s.stop = true
			return
		}
		s.next()
		s.expect(lexer.Name) // its type
		s.directives()
		s.fragment = name
		s.selectionSet(nil)
	default:
		s.stop = true
	}
}

// operation counts an operation definition.
func (s *scanner) operation() {
	s.operations++
	if s.operations > s.limits.Operations {
		s.err = tooComplex(s.tok.Pos, "MAX_OPERATIONS", s.limits.Operations,
			"this document has more than %d operations; at most %d are allowed (MAX_OPERATIONS)", s.limits.Operations, s.limits.Operations)
	}
}

func (s *scanner) variableDefinitions() {
	s.expect(lexer.ParenL)
	for s.ok() && s.tok.Kind != lexer.ParenR {
		pos := s.tok.Pos
		s.expect(lexer.Dollar)
		s.variables++
		if s.variables > s.limits.Variables {
			s.err = tooComplex(pos, "MAX_VARIABLES", s.limits.Variables,
				"this document defines more than %d variables; at most %d are allowed (MAX_VARIABLES)", s.limits.Variables, s.limits.Variables)
			return
		}
		s.expect(lexer.Name)
		s.expect(lexer.Colon)
		s.typeRef()
		if s.ok() && s.tok.Kind == lexer.Equals {
			s.next()
			s.value()
		}
		s.directives()
	}
	s.expect(lexer.ParenR)
}

func (s *scanner) typeRef() {
	if !s.ok() {
		return
	}
	if s.tok.Kind == lexer.BracketL {
		if !s.nest() {
			return
		}
		s.next()
		s.typeRef()
		s.expect(lexer.BracketR)
		s.depth--
	} else {
		s.expect(lexer.Name)
	}
	if s.ok() && s.tok.Kind == lexer.Bang {
		s.next()
	}
}

// directives consumes the directives of one location.
func (s *scanner) directives() {
	n := 0
	for s.ok() && s.tok.Kind == lexer.At {
		n++
		if n > s.limits.Directives {
			s.err = tooComplex(s.tok.Pos, "MAX_DIRECTIVES", s.limits.Directives,
				"this document has more than %d directives in one place; at most %d are allowed (MAX_DIRECTIVES)", s.limits.Directives, s.limits.Directives)
			return
		}
		s.next()
		s.expect(lexer.Name)
		if s.ok() && s.tok.Kind == lexer.ParenL {
			s.arguments()
		}
	}
}

func (s *scanner) arguments() {
	s.expect(lexer.ParenL)
	for s.ok() && s.tok.Kind != lexer.ParenR {
		s.expect(lexer.Name)
		s.expect(lexer.Colon)
		s.value()
	}
	s.expect(lexer.ParenR)
}

func (s *scanner) value() {
	if !s.ok() {
		return
	}
	switch s.tok.Kind {
	case lexer.Dollar:
		s.next()
		s.expect(lexer.Name)
	case lexer.Int, lexer.Float, lexer.String, lexer.BlockString, lexer.Name:
		s.next()
	case lexer.BracketL:
		if !s.nestValue() {
			return
		}
		s.next()
		for s.ok() && s.tok.Kind != lexer.BracketR {
			s.value()
		}
		s.expect(lexer.BracketR)
		s.depth--
		s.valueDepth--
	case lexer.BraceL:
		if !s.nestValue() {
			return
		}
		s.next()
		for s.ok() && s.tok.Kind != lexer.BraceR {
			s.expect(lexer.Name)
			s.expect(lexer.Colon)
			s.value()
		}
		s.expect(lexer.BraceR)
		s.depth--
		s.valueDepth--
	default:
		s.stop = true
	}
}

// collected is what one selection set collects as gqlgen executes it: its
// fields, those of its inline fragments, and those of the fragments it
// spreads (each spread counts, as each is walked).
type collected struct {
	pos     ast.Position
	fields  int
	spreads []string
}

// fragmentFields is what a fragment definition's selection set collects:
// its own fields, and through spreads (collected, an index of
// scanner.spreading, or -1 without any).
type fragmentFields struct {
	fields    int
	collected int
}

// selectionSet reads a selection set whose fields count towards into: that
// of the enclosing selection set for an inline fragment's, or nil for a
// field's, an operation's or a fragment's, which collect their own.
func (s *scanner) selectionSet(into *collected) {
	if !s.ok() {
		return
	}
	if s.tok.Kind != lexer.BraceL {
		s.stop = true
		return
	}
	if !s.nest() {
		return
	}
	var own collected
	fragment := s.fragment
	s.fragment = ""
	if into == nil {
		own.pos = s.tok.Pos
		into = &own
	}
	s.next()
	n := 0
	for s.ok() && s.tok.Kind != lexer.BraceR {
		n++
		if n > s.limits.Selections {
			s.err = tooComplex(s.tok.Pos, "MAX_SELECTIONS", s.limits.Selections,
				"this document has a selection set of more than %d selections; at most %d are allowed (MAX_SELECTIONS)", s.limits.Selections, s.limits.Selections)
			return
		}
		s.selection(into)
	}
	s.expect(lexer.BraceR)
	s.depth--
	if into != &own || !s.ok() {
		return
	}
	if own.fields > s.limits.Selections {
		s.err = tooComplex(own.pos, "MAX_SELECTIONS", s.limits.Selections,
			"this document has a selection set that collects more than %d fields through its inline fragments; at most %d are allowed (MAX_SELECTIONS)", s.limits.Selections, s.limits.Selections)
		return
	}
	index := -1
	if len(own.spreads) > 0 {
		index = len(s.spreading)
		s.spreading = append(s.spreading, own)
	}
	if fragment != "" {
		if s.fragments == nil {
			s.fragments = map[string]fragmentFields{}
		}
		if _, dup := s.fragments[fragment]; !dup {
			s.fragments[fragment] = fragmentFields{fields: own.fields, collected: index}
		}
	}
}

func (s *scanner) selection(into *collected) {
	switch s.tok.Kind {
	case lexer.Spread:
		s.fragmentCount++
		if s.fragmentCount > s.limits.Fragments {
			s.err = tooComplex(s.tok.Pos, "MAX_FRAGMENTS", s.limits.Fragments,
				"this document has more than %d fragment spreads and inline fragments; at most %d are allowed (MAX_FRAGMENTS)", s.limits.Fragments, s.limits.Fragments)
			return
		}
		s.next()
		if s.ok() && s.tok.Kind == lexer.Name && !s.keyword("on") {
			into.spreads = append(into.spreads, s.tok.Value)
			s.next() // a fragment spread
			s.directives()
			return
		}
		if s.ok() && s.keyword("on") {
			s.next()
			s.expect(lexer.Name)
		}
		s.directives()
		s.selectionSet(into)
	case lexer.Name:
		into.fields++
		s.next()
		if s.ok() && s.tok.Kind == lexer.Colon {
			s.next()
			s.expect(lexer.Name)
		}
		if s.ok() && s.tok.Kind == lexer.ParenL {
			s.arguments()
		}
		s.directives()
		if s.ok() && s.tok.Kind == lexer.BraceL {
			s.selectionSet(nil)
		}
	default:
		s.stop = true
	}
}

// checkSpreads refuses, once the whole document is read, a selection set
// that collects more than Limits.Selections fields through the fragments
// it spreads. A fragment that spreads itself counts for nothing more: the
// cycle is refused in validation.
func (s *scanner) checkSpreads() {
	limit := s.limits.Selections
	memo := make(map[string]int, len(s.fragments))
	visiting := map[string]bool{}
	var width func(name string) int
	width = func(name string) int {
		f, ok := s.fragments[name]
		if !ok || visiting[name] {
			return 0
		}
		if w, ok := memo[name]; ok {
			return w
		}
		visiting[name] = true
		w := f.fields
		if f.collected >= 0 {
			w = s.collectedFields(s.spreading[f.collected], width)
		}
		delete(visiting, name)
		memo[name] = w
		return w
	}
	for _, c := range s.spreading {
		if s.collectedFields(c, width) > limit {
			s.err = tooComplex(c.pos, "MAX_SELECTIONS", limit,
				"this document has a selection set that collects more than %d fields through its fragments; at most %d are allowed (MAX_SELECTIONS)", limit, limit)
			return
		}
	}
}

// collectedFields is what c collects, up to one more than the limit.
func (s *scanner) collectedFields(c collected, width func(string) int) int {
	w := c.fields
	for _, name := range c.spreads {
		if w += width(name); w > s.limits.Selections {
			return s.limits.Selections + 1
		}
	}
	return w
}
