// Package redisconntest opens redisconn connections for tests, for
// _test.go files only. It is apart from redistest because redisconn's own
// tests use redistest: redistest cannot import redisconn without a cycle.
package redisconntest

import (
	"testing"

	"github.com/memories-facade/memories-graphql/internal/redisconn"
	"github.com/memories-facade/memories-graphql/internal/redistest"
)

// Open opens a Conn to the single Redis at rawURL with opts, failing t
// when it cannot, and closes it when the test ends.
func Open(t testing.TB, rawURL string, opts redisconn.Options) *redisconn.Conn {
	t.Helper()
	return OpenRedis(t, redistest.Redis{URL: rawURL}, opts)
}

// OpenRedis is Open for a single Redis or a cluster (opts.Cluster is set
// from r).
func OpenRedis(t testing.TB, r redistest.Redis, opts redisconn.Options) *redisconn.Conn {
	t.Helper()
	opts.Cluster = r.Cluster
	conn, err := redisconn.Open(r.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
