package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/memories-facade/memories-graphql/graph/model"
	"github.com/memories-facade/memories-graphql/internal/loader"
	"github.com/memories-facade/memories-graphql/internal/memories"
)

// loadEntities resolves federation representations through the request's
// loader, so they share upstream calls with each other and with any video or
// videos field of the same request. A failure nulls only its own entity, with
// the error at _entities[i]; an unknown video is null without an error.
func loadEntities(ctx context.Context, refs []memories.VideoRef) ([]*model.Video, error) {
	out := make([]*model.Video, len(refs))
	var errs graphql.BatchErrorList
	fail := func(i int, err error) {
		if errs == nil {
			errs = make(graphql.BatchErrorList, len(refs))
		}
		errs[i] = err
	}

	// Refuse empty keys here, entity by entity, rather than the whole
	// operation: a gateway batches many clients' references into one call.
	valid := make([]memories.VideoRef, 0, len(refs))
	index := make([]int, 0, len(refs))
	for i, ref := range refs {
		switch {
		case memories.EmptyID(ref.VideoNo):
			fail(i, inputError(nil, "representation %d is not a Video reference with a non-empty videoNo", i))
		case idProblem(ref.VideoNo) != "":
			fail(i, inputError(nil, "representation %d: videoNo %s", i, idProblem(ref.VideoNo)))
		case idProblem(ref.UniqueID) != "":
			fail(i, inputError(nil, "representation %d: uniqueId %s", i, idProblem(ref.UniqueID)))
		default:
			valid = append(valid, ref)
			index = append(index, i)
		}
	}

	vs, loadErrs := loader.For(ctx).LoadMany(ctx, valid, needsDetail(ctx))
	for j, v := range vs {
		i := index[j]
		if loadErrs != nil && loadErrs[j] != nil {
			fail(i, loadErrs[j])
			continue
		}
		out[i] = newVideo(refs[i].UniqueID, v)
	}
	if errs != nil {
		return out, errs
	}
	return out, nil
}

// EntityKeys completes Video representations that use the videoNo-only key
// with uniqueId "default", before _entities resolves them.
//
// gqlgen picks one entity resolver per _entities call from the first
// representation alone. Completing every representation means all of them
// take the (videoNo, uniqueId) resolver, so a call that mixes both key forms
// can neither drop a uniqueId nor fail on a missing one.
//
// It wraps the field middleware of the operations that select _entities
// only (by the checks' walk of the operation, which follows fragments and
// @skip): as a FieldInterceptor it would run, and allocate, on every field
// of every operation.
type EntityKeys struct {
	Summaries *Summaries // shared with the other checks; nil: walk every time
}

var (
	_ graphql.HandlerExtension        = EntityKeys{}
	_ graphql.OperationContextMutator = EntityKeys{}
)

// ExtensionName implements graphql.HandlerExtension.
func (EntityKeys) ExtensionName() string { return "EntityKeys" }

// Validate implements graphql.HandlerExtension.
func (EntityKeys) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (k EntityKeys) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || oc.Operation.Operation != ast.Query || !selectsEntities(summarize(oc, k.Summaries)) {
		return nil
	}
	next := oc.ResolverMiddleware
	oc.ResolverMiddleware = func(ctx context.Context, resolve graphql.Resolver) (any, error) {
		fc := graphql.GetFieldContext(ctx)
		if fc != nil && fc.Object == "Query" && fc.Field.Name == "_entities" {
			if reps, ok := fc.Args["representations"].([]map[string]any); ok {
				for _, rep := range reps {
					normalizeRepresentation(rep)
				}
			}
		}
		return next(ctx, resolve)
	}
	return nil
}

// selectsEntities reports an operation with an _entities root field.
func selectsEntities(s *summary) bool {
	for _, vf := range s.videos {
		if vf.field.Name == "_entities" {
			return true
		}
	}
	return false
}

// normalizeRepresentation makes rep a Video representation with string
// videoNo and uniqueId. One that is not a valid Video reference (another or
// no __typename, a videoNo that is not a string or an integer) becomes one
// with an empty videoNo, which loadEntities refuses with BAD_USER_INPUT at
// its own index; left alone, gqlgen would fail the whole _entities field
// with an uncoded error.
func normalizeRepresentation(rep map[string]any) {
	ref, ok := representationRef(rep)
	if !ok {
		ref = memories.VideoRef{UniqueID: memories.DefaultUniqueID}
	}
	clear(rep)
	rep["__typename"] = "Video"
	rep["videoNo"] = ref.VideoNo
	rep["uniqueId"] = ref.UniqueID
}

// representationRef reads the video a representation names: ok is false
// when it is not a Video reference with a string or integer videoNo and a
// string uniqueId, if any (none means "default").
func representationRef(rep map[string]any) (memories.VideoRef, bool) {
	videoNo, okNo := idValue(rep["videoNo"])
	uniqueID, okID := rep["uniqueId"].(string)
	if rep["uniqueId"] == nil {
		uniqueID, okID = memories.DefaultUniqueID, true
	}
	if rep["__typename"] != "Video" || !okNo || !okID {
		return memories.VideoRef{}, false
	}
	return memories.VideoRef{UniqueID: uniqueID, VideoNo: videoNo}, true
}

// idValue reads an ID from an argument or JSON: a string, or an integer
// (GraphQL's ID accepts both).
func idValue(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return v.String(), true
		}
	case int64:
		return strconv.FormatInt(v, 10), true
	case int:
		return strconv.Itoa(v), true
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return strconv.FormatInt(int64(v), 10), true
		}
	}
	return "", false
}

// maxIDBytes bounds a video number or uniqueId. The upstream's video
// numbers have 20 characters; a far longer id can only be a mistake or an
// attack, and is refused before any upstream call.
const maxIDBytes = 256

// idProblem says what is wrong with an id, or "" when nothing is: the
// upstream refuses empty ids, so they are refused here without a call.
func idProblem(id string) string {
	switch {
	case memories.EmptyID(id):
		return "must not be empty"
	case len(id) > maxIDBytes:
		return fmt.Sprintf("must not be longer than %d bytes", maxIDBytes)
	}
	return ""
}
