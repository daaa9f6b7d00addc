package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/memories-facade/memories-graphql/graph/model"
	"github.com/memories-facade/memories-graphql/internal/loader"
	"github.com/memories-facade/memories-graphql/internal/memories"
)

// nodeRef reads a global id, refusing one this service did not issue or
// whose video number or uniqueId could not be asked for.
func nodeRef(id string) (memories.VideoRef, string) {
	ref, err := model.ParseVideoID(id)
	if err != nil {
		return ref, "is not an id this service issued"
	}
	if p := idProblem(ref.UniqueID); p != "" {
		return ref, "names a uniqueId that " + p
	}
	if p := idProblem(ref.VideoNo); p != "" {
		return ref, "names a videoNo that " + p
	}
	return ref, ""
}

// node answers node(id:) through the request's loader, as video does. The
// plan checked the id before anything ran.
func (r *Resolver) node(ctx context.Context, id string) (model.Node, error) {
	ref, problem := nodeRef(id)
	if problem != "" {
		return nil, inputError(nil, "id %s", problem)
	}
	v, err := loader.For(ctx).Load(ctx, ref, needsDetail(ctx))
	if err != nil || v == nil {
		return nil, err // a nil model.Node, not a nil *Video in one
	}
	return newVideo(ref.UniqueID, v), nil
}

// nodes answers nodes(ids:) as videos does: in order, null where a video
// does not exist, an error at the index of one that fails.
func (r *Resolver) nodes(ctx context.Context, ids []string) ([]model.Node, error) {
	refs := make([]memories.VideoRef, len(ids))
	for i, id := range ids {
		ref, problem := nodeRef(id)
		if problem != "" {
			return nil, inputError(nil, "ids[%d] %s", i, problem)
		}
		refs[i] = ref
	}
	vs, errs := loader.For(ctx).LoadMany(ctx, refs, needsDetail(ctx))
	out := make([]model.Node, len(vs))
	for i, v := range vs {
		if errs != nil && errs[i] != nil {
			graphql.AddError(ctx, errorAtIndex(ctx, i, errs[i]))
			continue
		}
		if v != nil {
			out[i] = newVideo(refs[i].UniqueID, v)
		}
	}
	return out, nil
}
