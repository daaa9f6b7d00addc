package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/memories-facade/memories-graphql/graph/model"
	"github.com/memories-facade/memories-graphql/internal/loader"
)

// defaultUniqueID is what a representation without uniqueId means, as the
// upstream's unique_id default.
const defaultUniqueID = "default"

// loadEntities resolves federation representations through the request's
// loader, so they share upstream calls with each other and with any video or
// videos field of the same request. A failure nulls only its own entity, with
// the error at _entities[i]; an unknown video is null without an error.
func loadEntities(ctx context.Context, keys []loader.Key) ([]*model.Video, error) {
	out := make([]*model.Video, len(keys))
	var errs graphql.BatchErrorList
	fail := func(i int, err error) {
		if errs == nil {
			errs = make(graphql.BatchErrorList, len(keys))
		}
		errs[i] = err
	}

	// Refuse empty keys here, entity by entity, rather than the whole
	// operation: a gateway batches many clients' references into one call.
	valid := make([]loader.Key, 0, len(keys))
	index := make([]int, 0, len(keys))
	for i, k := range keys {
		switch {
		case k.VideoNo == "":
			fail(i, inputError(nil, "representation %d: videoNo must not be empty", i))
		case k.UniqueID == "":
			fail(i, inputError(nil, "representation %d: uniqueId must not be empty", i))
		default:
			valid = append(valid, k)
			index = append(index, i)
		}
	}

	vs, loadErrs := loader.For(ctx).LoadMany(ctx, valid)
	for j, v := range vs {
		i := index[j]
		if loadErrs != nil && loadErrs[j] != nil {
			fail(i, loadErrs[j])
			continue
		}
		out[i] = newVideo(keys[i].UniqueID, v)
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
type EntityKeys struct{}

var (
	_ graphql.HandlerExtension = EntityKeys{}
	_ graphql.FieldInterceptor = EntityKeys{}
)

// ExtensionName implements graphql.HandlerExtension.
func (EntityKeys) ExtensionName() string { return "EntityKeys" }

// Validate implements graphql.HandlerExtension.
func (EntityKeys) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptField implements graphql.FieldInterceptor.
func (EntityKeys) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc != nil && fc.Object == "Query" && fc.Field.Name == "_entities" {
		if reps, ok := fc.Args["representations"].([]map[string]any); ok {
			for _, rep := range reps {
				if rep["__typename"] == "Video" && rep["uniqueId"] == nil {
					rep["uniqueId"] = defaultUniqueID
				}
			}
		}
	}
	return next(ctx)
}
