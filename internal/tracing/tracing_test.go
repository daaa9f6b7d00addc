package tracing_test

import (
	"context"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/memories-facade/memories-graphql/internal/tracing"
)

func TestNoEndpointMeansNoTracing(t *testing.T) {
	p, err := tracing.New(context.Background(), "", "", "svc")
	if err != nil {
		t.Fatal(err)
	}
	_, span := p.Tracer().Start(context.Background(), "x")
	if span.SpanContext().IsValid() {
		t.Error("span without an endpoint is recorded; want a no-op")
	}
	span.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown = %v; want nil", err)
	}
}

func TestEndpointMustBeAURL(t *testing.T) {
	if _, err := tracing.New(context.Background(), "", "::not a url", "svc"); err == nil {
		t.Error("New with a malformed traces URL = nil error; want one")
	}
}

// A caller's traceparent is continued; without one the context stays.
func TestExtractContinuesTheCallersTrace(t *testing.T) {
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	h := http.Header{}
	h.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	got := trace.SpanContextFromContext(tracing.Extract(t.Context(), h))
	if got.TraceID().String() != traceID || !got.IsRemote() {
		t.Errorf("span context = %v; want the caller's trace %s, remote", got, traceID)
	}
	if ctx := t.Context(); tracing.Extract(ctx, http.Header{}) != ctx {
		t.Error("Extract without a traceparent returned another context; want ctx itself")
	}
}
