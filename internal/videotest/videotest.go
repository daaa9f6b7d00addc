// Package videotest is test support, for _test.go files only: the one fake
// of the Videos call that the loader, the cache and the upstream caller
// share, video references and accounts, GraphQL answers' errors and a
// buffer safe to read while a logger writes it. It lives outside _test.go
// files because those cannot be imported; nothing in the server imports it.
//
// It imports only internal/memories and internal/account, so that the
// tests inside graph, loader or videocache may use it without a cycle.
package videotest

import (
	"testing"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/memories"
)

// Ref is video no in the default scope, where most tests' videos are.
func Ref(no string) memories.VideoRef {
	return memories.VideoRef{UniqueID: memories.DefaultUniqueID, VideoNo: no}
}

// Refs is Ref of each of nos, in order.
func Refs(nos ...string) []memories.VideoRef {
	out := make([]memories.VideoRef, len(nos))
	for i, no := range nos {
		out[i] = Ref(no)
	}
	return out
}

// Account returns the account of the API key key, failing t when key is
// not one.
func Account(t testing.TB, key string) account.Account {
	t.Helper()
	a, ok := account.New(key)
	if !ok {
		t.Fatalf("account.New(%q) refused the key", key)
	}
	return a
}
