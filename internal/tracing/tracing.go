// Package tracing sets up OpenTelemetry traces, exported over OTLP/HTTP when
// an endpoint is configured. Without one, internal/app hands no tracer to
// the other layers and no spans are made at all.
//
// /query continues the caller's trace through Extract (internal/app) either
// way; spans come from graph, videocache and upstream.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	neturl "net/url"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Provider hands out tracers and flushes spans on Shutdown.
type Provider struct {
	trace.TracerProvider
	shutdown func(context.Context) error
}

// New returns a provider exporting to the OTLP/HTTP endpoint: endpoint is the
// collector's base URL (OTEL_EXPORTER_OTLP_ENDPOINT, e.g.
// http://localhost:4318; "/v1/traces" is appended) and tracesEndpoint the full
// traces URL (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), which wins. With neither,
// tracing is off.
func New(ctx context.Context, endpoint, tracesEndpoint, serviceName string) (*Provider, error) {
	url := tracesEndpoint
	if url == "" && endpoint != "" {
		url = strings.TrimRight(endpoint, "/") + "/v1/traces"
	}
	if url == "" {
		return &Provider{TracerProvider: noop.NewTracerProvider(), shutdown: func(context.Context) error { return nil }}, nil
	}
	// The exporter would only log a bad URL at every export; refuse it at
	// start instead, where the operator sees it.
	if u, err := neturl.Parse(url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("OTLP traces endpoint must be an http(s) URL with a host, got %q", url)
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(url))
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resourceFor(serviceName)),
	)
	return &Provider{TracerProvider: tp, shutdown: tp.Shutdown}, nil
}

// Shutdown flushes buffered spans and stops the exporter.
func (p *Provider) Shutdown(ctx context.Context) error { return p.shutdown(ctx) }

// Tracer returns the service's tracer.
func (p *Provider) Tracer() trace.Tracer {
	return p.TracerProvider.Tracer("github.com/memories-facade/memories-graphql")
}

// propagator reads W3C trace context (traceparent, tracestate) from callers.
var propagator = propagation.TraceContext{}

// Extract returns ctx continuing the trace that the caller (a gateway, a
// browser app) started in header, so this service's spans join it; ctx
// itself when header carries none.
func Extract(ctx context.Context, header http.Header) context.Context {
	if len(header["Traceparent"]) == 0 {
		// Without it the propagator returns ctx as it is: skip its look-ups
		// on the many requests that carry no trace.
		return ctx
	}
	return propagator.Extract(ctx, propagation.HeaderCarrier(header))
}
