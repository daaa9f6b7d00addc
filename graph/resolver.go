// Package graph is the GraphQL layer: resolvers, the generated executor and the
// error presenter. Resolvers stay thin; every video goes through the
// per-request loader.
package graph

//go:generate go run github.com/99designs/gqlgen generate

// Resolver holds the dependencies of the resolvers. Per-request state (the
// loader, the account) travels in the context, never here.
type Resolver struct {
	// MaxVideosPerQuery bounds the video references of one operation.
	MaxVideosPerQuery int
}
