package tracing

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
)

// resourceFor names the service in every exported span. It does not merge
// resource.Default(), whose schema URL can conflict across SDK versions.
func resourceFor(serviceName string) *resource.Resource {
	return resource.NewSchemaless(attribute.String("service.name", serviceName))
}
