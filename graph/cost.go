package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/memories-facade/memories-graphql/internal/cost"
)

// Cost adds extensions.cost to every response of a query: what the
// operation cost upstream (cost.Report), from the meter the request's
// loader carries. A query answered in parts (@defer) carries the cost so
// far in each part, and the whole in its last. A subscription's events
// carry none: a watch polls once for all its subscribers, so no call is
// any one subscription's.
type Cost struct{}

var (
	_ graphql.HandlerExtension    = Cost{}
	_ graphql.ResponseInterceptor = Cost{}
)

// ExtensionName implements graphql.HandlerExtension.
func (Cost) ExtensionName() string { return "Cost" }

// Validate implements graphql.HandlerExtension.
func (Cost) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptResponse implements graphql.ResponseInterceptor.
func (Cost) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil {
		return resp
	}
	if graphql.HasOperationContext(ctx) {
		if op := graphql.GetOperationContext(ctx).Operation; op != nil && op.Operation == ast.Subscription {
			return resp
		}
	}
	m := cost.From(ctx)
	if m == nil {
		return resp
	}
	if resp.Extensions == nil {
		resp.Extensions = map[string]any{}
	}
	resp.Extensions["cost"] = m.Report()
	return resp
}
