// Package departure tells work shared between requests when the request
// that started it has gone away.
//
// A request's context ends for two reasons: its client left, or its
// deadline passed. Work that outlives its caller (videocache detaches a
// fetch so that other requests can share it, and gives it the caller's
// deadline) only needs to hear of the first. A context can name, under
// Key, the context that ends when its client leaves; AfterFunc watches
// that one. The loader's request context does so: watching the context
// itself would arm its lazily started deadline timer on every cache miss.
//
// It sits beside the request path: loader answers Key, videocache asks.
package departure

import "context"

// Key is the context key under which a context names the context that ends
// when its request's client leaves (a context.Context).
type Key struct{}

// AfterFunc arranges for f to run, in its own goroutine, once the request
// of ctx has gone: when the context ctx names under Key ends, or ctx itself
// if it names none. stop is context.AfterFunc's.
func AfterFunc(ctx context.Context, f func()) (stop func() bool) {
	if watch, ok := ctx.Value(Key{}).(context.Context); ok {
		return context.AfterFunc(watch, f)
	}
	return context.AfterFunc(ctx, f)
}
