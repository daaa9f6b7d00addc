package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// OperationRecorder records finished GraphQL operations, and requests
// refused before execution by reason.
type OperationRecorder interface {
	Operation(name, outcome string, d time.Duration)
	Refused(reason string)
}

// OperationName is the name oc's operation is reported by: the request's
// operationName, else the name the document gives it ("" for an anonymous
// one).
func OperationName(oc *graphql.OperationContext) string {
	if oc.OperationName == "" && oc.Operation != nil {
		return oc.Operation.Name
	}
	return oc.OperationName
}

// OperationMetrics reports every operation to Recorder once, with its
// outcome: "ok" (no errors), "partial" (data and errors) or "error" (no
// data), including operations refused before execution, which it also
// reports by reason (refusalReason). A query answered in parts (@defer) is
// reported at its last part, partial if any part had errors; a
// subscription at its first event, with the time to it (its events are not
// operations, and its end is not always seen: a client may just leave).
type OperationMetrics struct {
	Recorder OperationRecorder
}

var (
	_ graphql.HandlerExtension        = OperationMetrics{}
	_ graphql.OperationContextMutator = OperationMetrics{}
	_ graphql.ResponseInterceptor     = OperationMetrics{}
)

// operationProgress is what OperationMetrics knows of an operation between
// its responses, which come one after the other.
type operationProgress struct {
	outcome  string // so far; "" before the first response
	recorded bool
}

const progressKey = "graph.operationProgress"

// MutateOperationContext implements graphql.OperationContextMutator: an
// operation that passed every check may answer in several responses.
func (OperationMetrics) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	oc.Stats.SetExtension(progressKey, &operationProgress{})
	return nil
}

// ExtensionName implements graphql.HandlerExtension.
func (OperationMetrics) ExtensionName() string { return "OperationMetrics" }

// Validate implements graphql.HandlerExtension.
func (OperationMetrics) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptResponse implements graphql.ResponseInterceptor.
func (m OperationMetrics) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	start := time.Now()
	name := ""
	var progress *operationProgress
	subscription := false
	if graphql.HasOperationContext(ctx) {
		oc := graphql.GetOperationContext(ctx)
		start = oc.Stats.OperationStart
		name = OperationName(oc)
		progress, _ = oc.Stats.GetExtension(progressKey).(*operationProgress)
		subscription = oc.Operation != nil && oc.Operation.Operation == ast.Subscription
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
	if progress != nil {
		if progress.recorded {
			return resp
		}
		switch {
		case progress.outcome == "":
			progress.outcome = outcome
		case len(resp.Errors) > 0 && progress.outcome == "ok":
			progress.outcome = "partial" // a later part's errors; the first had data
		}
		if !subscription && resp.HasNext != nil && *resp.HasNext {
			return resp
		}
		progress.recorded = true
		outcome = progress.outcome
	}
	m.Recorder.Operation(name, outcome, time.Since(start))
	if outcome == "error" {
		if reason, ok := refusalReason(resp.Errors); ok {
			m.Recorder.Refused(reason)
		}
	}
	return resp
}

// refusalReasons name, for the metric, the codes of requests refused before
// execution; QUERY_TOO_COMPLEX is told apart by its limit.
var refusalReasons = map[string]string{
	"GRAPHQL_PARSE_FAILED":      "parse",
	"GRAPHQL_VALIDATION_FAILED": "validation",
	CodeDepthLimit:              "depth",
	CodeBadUserInput:            "input",
	CodeBadRequest:              "bad_request",
	CodeRequestTimeout:          "timeout",
	"MAX_QUERY_TOKENS":          "tokens",
	"MAX_SELECTIONS":            "selections",
	"MAX_FRAGMENTS":             "fragments",
	"MAX_DIRECTIVES":            "directives",
	"MAX_VARIABLES":             "variables",
	"MAX_OPERATIONS":            "operations",
	"name":                      "name_length",
	"value nesting":             "value_nesting",
	"fragment expansion":        "fragment_expansion",
	"executed fields":           "executed_fields",
	"introspection fields":      "introspection_fields",
}

// refusalReason returns why a request was refused before execution, from
// the last of its errors (a validation that stopped early ends with why),
// or false for errors of execution.
func refusalReason(errs gqlerror.List) (string, bool) {
	if len(errs) == 0 {
		return "", false
	}
	ext := errs[len(errs)-1].Extensions
	key, _ := ext["code"].(string)
	if key == CodeQueryTooComplex {
		key, _ = ext["limit"].(string)
	}
	reason, ok := refusalReasons[key]
	return reason, ok
}

// Tracing opens a span per GraphQL operation, so that upstream calls made
// while resolving it are its children.
type Tracing struct {
	Tracer trace.Tracer
}

var (
	_ graphql.HandlerExtension    = Tracing{}
	_ graphql.ResponseInterceptor = Tracing{}
)

// ExtensionName implements graphql.HandlerExtension.
func (Tracing) ExtensionName() string { return "Tracing" }

// Validate implements graphql.HandlerExtension.
func (Tracing) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptResponse implements graphql.ResponseInterceptor.
func (t Tracing) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	name, kind := "", "query"
	if graphql.HasOperationContext(ctx) {
		oc := graphql.GetOperationContext(ctx)
		name = OperationName(oc)
		if oc.Operation != nil {
			kind = string(oc.Operation.Operation)
		}
	}
	spanName := "graphql." + kind
	if name != "" {
		spanName += " " + name
	}
	ctx, span := t.Tracer.Start(ctx, spanName, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("graphql.operation.name", name), attribute.String("graphql.operation.type", kind)))
	defer span.End()
	resp := next(ctx)
	if resp != nil && len(resp.Errors) > 0 {
		span.SetAttributes(attribute.Int("graphql.errors", len(resp.Errors)))
		span.SetStatus(codes.Error, resp.Errors[0].Message)
	}
	return resp
}
