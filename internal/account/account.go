// Package account identifies an upstream account by a hash of its API key, so
// that limiters, caches and logs can tell accounts apart without ever holding
// the key in a printable form.
//
// It sits at the edge of a request (internal/app reads it off the request
// for the request's loader) and is carried down to the upstream client,
// which alone reads the key.
package account

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strings"

	"github.com/memories-facade/memories-graphql/internal/authheader"
)

// Account is one upstream account: its API key, hidden from every printing
// path, and a stable identifier derived from it.
type Account struct {
	key string
	id  string
}

// New returns the account that key (an Authorization value) opens. A
// leading "Bearer" is dropped (authheader.Credential) because clients in
// pass-through mode often send one out of habit, and the upstream wants the
// raw key. New returns false when no key remains, or when what remains has
// white space inside.
func New(key string) (Account, bool) {
	key = authheader.Credential(key)
	// A value with white space inside is not a key (the playground's
	// placeholder hint, for one): refusing it here spares the upstream a
	// call that can only be rejected.
	if key == "" || strings.ContainsAny(key, " \t\r\n") {
		return Account{}, false
	}
	sum := sha256.Sum256([]byte(key))
	// A plain hash, not a keyed one: replicas must derive the same id to share
	// a rate limit and a cache, and API keys carry enough entropy that the
	// hash does not reveal them.
	return Account{key: key, id: hex.EncodeToString(sum[:])}, true
}

// Key returns the API key, for the Authorization header and nothing else.
func (a Account) Key() string { return a.key }

// ID returns the account's stable identifier: the hex SHA-256 of its key.
func (a Account) ID() string { return a.id }

// IsZero reports the zero Account: no key, as when a request brings none.
func (a Account) IsZero() bool { return a.id == "" }

// String prints a short form of the identifier, never the key, so that an
// Account dropped into a log line or an error by mistake leaks nothing.
func (a Account) String() string {
	if a.id == "" {
		return "account(none)"
	}
	return "account(" + a.id[:8] + ")"
}

// GoString keeps %#v from printing the key.
func (a Account) GoString() string { return a.String() }

// LogValue keeps log/slog from printing the key.
func (a Account) LogValue() slog.Value { return slog.StringValue(a.String()) }
