package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
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

// A caller's traceparent is continued.
func TestMiddlewareContinuesTheCallersTrace(t *testing.T) {
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	var got trace.SpanContext
	h := tracing.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = trace.SpanContextFromContext(r.Context())
	}))
	req := httptest.NewRequest("POST", "/query", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got.TraceID().String() != traceID || !got.IsRemote() {
		t.Errorf("span context = %v; want the caller's trace %s, remote", got, traceID)
	}
}
