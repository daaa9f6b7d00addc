package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// OperationRecorder records finished GraphQL operations.
type OperationRecorder interface {
	Operation(name, outcome string, d time.Duration)
}

// OperationMetrics reports every operation to Recorder with its outcome:
// "ok" (no errors), "partial" (data and errors) or "error" (no data),
// including operations refused before execution.
type OperationMetrics struct {
	Recorder OperationRecorder
}

var (
	_ graphql.HandlerExtension    = OperationMetrics{}
	_ graphql.ResponseInterceptor = OperationMetrics{}
)

// ExtensionName implements graphql.HandlerExtension.
func (OperationMetrics) ExtensionName() string { return "OperationMetrics" }

// Validate implements graphql.HandlerExtension.
func (OperationMetrics) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptResponse implements graphql.ResponseInterceptor.
func (m OperationMetrics) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	start := time.Now()
	name := ""
	if graphql.HasOperationContext(ctx) {
		oc := graphql.GetOperationContext(ctx)
		start = oc.Stats.OperationStart
		name = oc.OperationName
		if name == "" && oc.Operation != nil {
			name = oc.Operation.Name
		}
	}
	resp := next(ctx)
	if resp == nil {
		return resp
	}
	outcome := "ok"
	switch {
	case len(resp.Errors) == 0:
	case len(resp.Data) == 0 || string(resp.Data) == "null":
		outcome = "error"
	default:
		outcome = "partial"
	}
	m.Recorder.Operation(name, outcome, time.Since(start))
	return resp
}
