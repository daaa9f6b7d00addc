// Package videotest is test support, for _test.go files only: the one fake
// of the Videos call that the loader, the cache and the upstream caller
// share, video references and accounts, a client of the emulator over
// HTTP, GraphQL answers' errors and a
// buffer safe to read while a logger writes it. It lives outside _test.go
// files because those cannot be imported; nothing in the server imports it.
//
// It imports only internal/memories and internal/account, so that the
// tests inside graph, loader or videocache may use it without a cycle.
package videotest

import (
	"net/http"
	"testing"
	"time"

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

// Client returns a memories client of the emulator (or any upstream) at
// url, over a transport of its own whose idle connections are closed at
// cleanup: registered after the emulator's own cleanup, it runs before it,
// so that the emulator's graceful shutdown does not wait for connections
// the transport dialled but never used.
func Client(t testing.TB, url string) *memories.Client {
	t.Helper()
	transport := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(transport.CloseIdleConnections)
	client, err := memories.NewClient(url, memories.WithCallTimeout(5*time.Second),
		memories.WithTransport(transport))
	if err != nil {
		t.Fatal(err)
	}
	return client
}
