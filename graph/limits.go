package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/memories-facade/memories-graphql/internal/loader"
	"github.com/memories-facade/memories-graphql/internal/memories"
)

// summary is what the operation checks and the plan need to know of an
// operation, from one walk of it.
type summary struct {
	depth          int
	width          int  // the most fields one selection set collects
	introspections int  // root __schema, __type and _service fields
	tooBig         bool // too many fields to walk: refused
	videos         []videoField
	// beyondVideos: a root field answers from something other than the
	// video cache's look-ups (videoLibrary, introspection, any field but
	// video, videos, node, nodes, _entities and __typename).
	beyondVideos bool
}

// videoField is a root field that loads videos.
type videoField struct {
	field *ast.Field
	// detail: its selection needs a field only get_metadata returns;
	// deferredDetail: it needs one under @defer only.
	detail, deferredDetail bool
}

const summaryKey = "graph.summary"

// Summaries keeps the summaries of the operations of cached documents, so
// that a document sent again is not walked again: gqlgen keeps the parsed
// document, and its operations with it, as long as its query cache holds
// it. An operation whose walk a variable decided (@skip, @include or @defer
// with a variable), or that Incremental rewrote for this request, is walked
// every time. The zero value and nil keep nothing.
type Summaries struct {
	c *lru.Cache[*ast.OperationDefinition, *summary]
}

// NewSummaries returns Summaries that keep up to n operations' summaries:
// as many as the query cache keeps documents.
func NewSummaries(n int) *Summaries {
	c, err := lru.New[*ast.OperationDefinition, *summary](max(1, n))
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &Summaries{c: c}
}

// summarize walks oc's operation once (or not at all, when sums holds it);
// the checks that run after the first share the result.
func summarize(oc *graphql.OperationContext, sums *Summaries) *summary {
	if s, ok := oc.Stats.GetExtension(summaryKey).(*summary); ok {
		return s
	}
	keep := sums != nil && sums.c != nil && oc.Stats.GetExtension(rewrittenKey) == nil
	if keep {
		if s, ok := sums.c.Get(oc.Operation); ok {
			oc.Stats.SetExtension(summaryKey, s)
			return s
		}
	}
	s := &summary{}
	index := map[*ast.Field]int{}
	res := walk(oc.Operation.SelectionSet, oc.Variables, func(f, root *ast.Field, depth int, deferred bool) {
		s.depth = max(s.depth, depth)
		if f != root {
			if isDetailField(f) {
				if i, ok := index[root]; ok {
					if deferred {
						s.videos[i].deferredDetail = true
					} else {
						s.videos[i].detail = true
					}
				}
			}
			return
		}
		// _service is federation's introspection: gqlgen refuses it with an
		// uncoded error when introspection is off.
		if f.Name == "__schema" || f.Name == "__type" || f.Name == "_service" {
			s.introspections++
		}
		switch f.Name {
		case "video", "videos", "node", "nodes", "_entities", "__typename":
		default:
			s.beyondVideos = true
		}
		if loadsVideos(f) {
			index[f] = len(s.videos)
			s.videos = append(s.videos, videoField{field: f})
		}
	})
	s.tooBig, s.width = !res.ok, res.width
	oc.Stats.SetExtension(summaryKey, s)
	if keep && !res.byVariables {
		sums.c.Add(oc.Operation, s)
	}
	return s
}

// Replayable reports whether the answer of oc, an executed query, is built
// from the video cache's look-ups alone, as the checks' walk of it found
// (they walk every query): every root field is video, videos, node, nodes,
// _entities or __typename. Such an answer holds as long as the videos it
// read are kept unchanged (see internal/responsecache).
func Replayable(oc *graphql.OperationContext) bool {
	s, ok := oc.Stats.GetExtension(summaryKey).(*summary)
	return ok && !s.beyondVideos
}

// loadsVideos reports a root field that loads videos.
func loadsVideos(f *ast.Field) bool {
	if f.Definition == nil || f.ObjectDefinition == nil {
		return false
	}
	switch f.ObjectDefinition.Name {
	case "Query":
		switch f.Name {
		case "video", "videos", "_entities", "videoLibrary", "node", "nodes":
			return true
		}
	case "Subscription":
		return f.Name == "watchVideos"
	}
	return false
}

// tooBigError refuses an operation too big to check.
func tooBigError() *gqlerror.Error {
	e := gqlerror.Errorf("this operation spreads fragments into more than %d fields; simplify it", maxWalk)
	e.Extensions = map[string]any{"code": CodeQueryTooComplex, "limit": "executed fields", "max": maxWalk}
	return e
}

// VideoPlan checks, before anything executes, the video references of a
// query or a subscription, then starts fetching a query's all in one batch.
//
// The checks: no id may be blank; there may be at most Max references
// (each video field, each element of a videos or watchVideos list and each
// Video representation of _entities counts; aliases add up), and at most
// MaxDetail distinct videos whose selection needs resolutionLabel, fps,
// width or height, since each of those costs a get_metadata call where a
// list_videos call serves up to 200 others. Checking here rather than in
// the resolvers means a refused operation makes no upstream call at all.
//
// The plan: every video the operation names, literally or through
// variables, goes to the request's loader at once, marked for get_metadata
// when any reference to it needs a detail field outside @defer. The loader
// makes them one batch, so a query's aliases and lists share list_videos
// calls. Detail fields under @defer are fetched video by video as the
// deferred parts resolve (they count against MaxDetail all the same).
type VideoPlan struct {
	Max       int
	MaxDetail int
	Summaries *Summaries // shared with the other checks; nil: walk every time
}

var (
	_ graphql.HandlerExtension        = VideoPlan{}
	_ graphql.OperationContextMutator = VideoPlan{}
	_ graphql.OperationInterceptor    = VideoPlan{}
)

const planKey = "graph.plan"

// ExtensionName implements graphql.HandlerExtension.
func (VideoPlan) ExtensionName() string { return "VideoPlan" }

// Validate implements graphql.HandlerExtension. The limits are checked
// where the settings are read.
func (VideoPlan) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (p VideoPlan) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || oc.Operation.Operation == ast.Mutation {
		return nil
	}
	s := summarize(oc, p.Summaries)
	if s.tooBig {
		return tooBigError()
	}
	var keys []loader.Key
	var detail map[memories.VideoRef]bool // made only when some field needs detail
	listed, listedDetail := 0, 0          // library nodes, not known until listed
	for _, vf := range s.videos {
		if vf.field.Name == "videoLibrary" {
			n, err := libraryFirst(vf.field, oc.Variables)
			if err != nil {
				return err
			}
			listed += n
			if vf.detail || vf.deferredDetail {
				listedDetail += n
			}
			continue
		}
		refs, err := fieldRefs(vf.field, oc.Variables)
		if err != nil {
			return err
		}
		for _, ref := range refs {
			keys = append(keys, loader.Key{Ref: ref, Detail: vf.detail})
			if vf.detail || vf.deferredDetail {
				if detail == nil {
					detail = map[memories.VideoRef]bool{}
				}
				detail[ref] = true
			}
		}
	}
	if n := len(keys) + listed; n > p.Max {
		return inputError(nil, "this operation asks for %d videos (a library page's first counts as that many); at most %d are allowed per operation (MAX_VIDEOS_PER_QUERY)", n, p.Max)
	}
	if n := len(detail) + listedDetail; n > p.MaxDetail {
		return inputError(nil, "this operation asks for resolutionLabel, fps, width or height of %d videos (a library page's first counts as that many), one upstream call each; at most %d are allowed per operation (MAX_DETAIL_VIDEOS_PER_QUERY)", n, p.MaxDetail)
	}
	if oc.Operation.Operation == ast.Query {
		// A subscription's videos are watched, not loaded: checked, not
		// planned.
		oc.Stats.SetExtension(planKey, keys)
	}
	return nil
}

// InterceptOperation implements graphql.OperationInterceptor: it hands the
// plan to the request's loader once every check has passed.
func (VideoPlan) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if keys, ok := oc.Stats.GetExtension(planKey).([]loader.Key); ok && len(keys) > 0 {
		if l, ok := loader.FromContext(ctx); ok {
			l.Prefetch(keys)
		}
	}
	return next(ctx)
}

// libraryFirst returns the first of a videoLibrary field: the most videos
// its page lists, which the limits count before it is listed.
func libraryFirst(f *ast.Field, vars map[string]any) (int, *gqlerror.Error) {
	v := argument(f, "first", vars)
	if v == nil {
		return defaultLibraryFirst, nil
	}
	n, ok := intValue(v)
	if !ok || n < 0 || n > maxLibraryFirst {
		return 0, inputError([]any{f.Alias}, "first must be between 0 and %d; got %v", maxLibraryFirst, v)
	}
	return int(n), nil
}

// fieldRefs returns the videos a root field names, refusing blank ids.
// Representations of _entities that name no valid video are left to the
// entity resolver, which refuses them one by one.
func fieldRefs(f *ast.Field, vars map[string]any) ([]memories.VideoRef, *gqlerror.Error) {
	if f.Name == "_entities" {
		reps, _ := argument(f, "representations", vars).([]any)
		var refs []memories.VideoRef
		for _, rep := range reps {
			if m, ok := rep.(map[string]any); ok {
				if ref, ok := representationRef(m); ok && idProblem(ref.VideoNo) == "" && idProblem(ref.UniqueID) == "" {
					refs = append(refs, ref)
				}
			}
		}
		return refs, nil
	}
	switch f.Name {
	case "node":
		id, _ := argument(f, "id", vars).(string)
		ref, p := nodeRef(id)
		if p != "" {
			return nil, inputError([]any{f.Alias}, "id %s", p)
		}
		return []memories.VideoRef{ref}, nil
	case "nodes":
		ids, _ := argument(f, "ids", vars).([]any)
		refs := make([]memories.VideoRef, len(ids))
		for i, v := range ids {
			id, _ := v.(string)
			ref, p := nodeRef(id)
			if p != "" {
				return nil, inputError([]any{f.Alias}, "ids[%d] %s", i, p)
			}
			refs[i] = ref
		}
		return refs, nil
	}
	uniqueID, _ := argument(f, "uniqueId", vars).(string)
	if p := idProblem(uniqueID); p != "" {
		return nil, inputError([]any{f.Alias}, "uniqueId %s", p)
	}
	if f.Name == "video" {
		no, ok := idValue(argument(f, "videoNo", vars))
		if !ok {
			return nil, inputError([]any{f.Alias}, "videoNo must be a string or an integer")
		}
		if p := idProblem(no); p != "" {
			return nil, inputError([]any{f.Alias}, "videoNo %s", p)
		}
		return []memories.VideoRef{{UniqueID: uniqueID, VideoNo: no}}, nil
	}
	nos, _ := argument(f, "videoNos", vars).([]any)
	refs := make([]memories.VideoRef, len(nos))
	for i, no := range nos {
		s, ok := idValue(no)
		if !ok {
			return nil, inputError([]any{f.Alias}, "videoNos[%d] must be a string or an integer", i)
		}
		if p := idProblem(s); p != "" {
			return nil, inputError([]any{f.Alias}, "videoNos[%d] %s", i, p)
		}
		refs[i] = memories.VideoRef{UniqueID: uniqueID, VideoNo: s}
	}
	return refs, nil
}

// argument returns f's argument name as f.ArgumentMap(vars) holds it (its
// value, a variable's, or its definition's default), or nil, without
// building the map of every argument: the plan reads one or two per field.
func argument(f *ast.Field, name string, vars map[string]any) any {
	if f.Definition == nil {
		return nil
	}
	def := f.Definition.Arguments.ForName(name)
	if def == nil {
		return nil
	}
	if a := f.Arguments.ForName(name); a != nil {
		if a.Value.Kind == ast.Variable {
			if v, ok := vars[a.Value.Raw]; ok {
				return v
			}
		} else {
			v, err := a.Value.Value(vars)
			if err != nil {
				panic(err) // as ArgumentMap: validation has checked the value
			}
			return v
		}
	}
	if def.DefaultValue == nil {
		return nil
	}
	v, err := def.DefaultValue.Value(vars)
	if err != nil {
		panic(err)
	}
	return v
}

// OperationLimits refuse, before anything executes, operations nested
// deeper than Depth fields, operations that collect more than Selections
// fields into one selection set through their fragments (gqlgen merges
// each field it collects against all the others), and operations with
// more than maxIntrospectionFields root introspection fields. Introspection
// counts towards depth (__Type.fields → __Field.type recurses), except
// ofType (see visitFunc): GraphiQL's docs query is 6 deep by this measure.
type OperationLimits struct {
	Depth      int
	Selections int
	Summaries  *Summaries // shared with the other checks; nil: walk every time
}

var (
	_ graphql.HandlerExtension        = OperationLimits{}
	_ graphql.OperationContextMutator = OperationLimits{}
)

// CodeDepthLimit is the extensions.code of an operation refused for depth.
const CodeDepthLimit = "DEPTH_LIMIT_EXCEEDED"

// maxIntrospectionFields bounds the root __schema, __type and _service
// fields of one operation. Tools ask for one; each answers with the whole
// schema, so a few thousand aliases of one would answer with megabytes.
const maxIntrospectionFields = 10

// ExtensionName implements graphql.HandlerExtension.
func (OperationLimits) ExtensionName() string { return "OperationLimits" }

// Validate implements graphql.HandlerExtension. The limits are checked
// where the settings are read.
func (OperationLimits) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (l OperationLimits) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	s := summarize(oc, l.Summaries)
	switch {
	case s.tooBig:
		return tooBigError()
	case s.width > l.Selections:
		e := gqlerror.Errorf("this operation collects %d fields into one selection set through its fragments; at most %d are allowed (MAX_SELECTIONS)", s.width, l.Selections)
		e.Extensions = map[string]any{"code": CodeQueryTooComplex, "limit": "MAX_SELECTIONS", "max": l.Selections}
		return e
	case s.introspections > maxIntrospectionFields:
		e := gqlerror.Errorf("this operation has %d introspection fields (__schema, __type, _service); at most %d are allowed", s.introspections, maxIntrospectionFields)
		e.Extensions = map[string]any{"code": CodeQueryTooComplex, "limit": "introspection fields", "max": maxIntrospectionFields}
		return e
	case s.depth > l.Depth:
		e := gqlerror.Errorf("this operation is nested %d levels deep; at most %d are allowed (MAX_QUERY_DEPTH)", s.depth, l.Depth)
		e.Extensions = map[string]any{"code": CodeDepthLimit}
		return e
	}
	return nil
}

// NoIntrospection refuses operations that ask for __schema, __type or
// federation's _service, for
// servers with INTROSPECTION=false. (__typename stays allowed: clients and
// gateways use it to tell types apart.) gqlgen alone would answer such a
// field with an uncoded error.
type NoIntrospection struct {
	Summaries *Summaries // shared with the other checks; nil: walk every time
}

var (
	_ graphql.HandlerExtension        = NoIntrospection{}
	_ graphql.OperationContextMutator = NoIntrospection{}
)

// ExtensionName implements graphql.HandlerExtension.
func (NoIntrospection) ExtensionName() string { return "NoIntrospection" }

// Validate implements graphql.HandlerExtension.
func (NoIntrospection) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (n NoIntrospection) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || summarize(oc, n.Summaries).introspections == 0 {
		return nil
	}
	e := gqlerror.Errorf("introspection is disabled on this server (INTROSPECTION=false)")
	e.Extensions = map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}
	return e
}
