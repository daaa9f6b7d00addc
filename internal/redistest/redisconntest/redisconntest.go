// Package redisconntest opens redisconn connections for tests, for
// _test.go files only. It is apart from redistest because redisconn's own
// tests use redistest: redistest cannot import redisconn without a cycle.
package redisconntest

import (
	"testing"

	"github.com/memories-facade/memories-graphql/internal/redisconn"
)

// Open opens a Conn to rawURL with opts, failing t when it cannot, and
// closes it when the test ends.
func Open(t testing.TB, rawURL string, opts redisconn.Options) *redisconn.Conn {
	t.Helper()
	conn, err := redisconn.Open(rawURL, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
