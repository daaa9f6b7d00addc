// Package graph is the GraphQL layer: resolvers, the generated executor, the
// error presenter and the operation checks. Resolvers stay thin; every video
// goes through the per-request loader.
//
// It sits between the HTTP transports (internal/gqlhttp, wired in
// internal/app) and the per-request loader (internal/loader).
package graph

//go:generate go run github.com/99designs/gqlgen generate

// Resolver is the root resolver. It holds the service's dependencies, and
// no state: everything per request (the loader, the account) travels in the
// context, and the operation limits are handler extensions (limits.go).
type Resolver struct {
	Watch   Watcher // the watched videos of every subscription
	Library Lister  // the accounts' libraries, a page at a time; nil: none
}
