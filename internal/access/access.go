// Package access lets in only clients that present one of the server's
// access tokens. Tokens are compared in constant time and never logged.
//
// It guards /query, before the request's account is read (internal/app).
package access

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/memories-facade/memories-graphql/internal/authheader"
)

// Header is the header that carries an access token.
const Header = "X-Access-Token"

// Tokens is a set of accepted access tokens.
type Tokens struct {
	// Only hashes are kept: comparing fixed-size digests takes the same time
	// whatever the token's length, and no token sits in memory as text.
	sums [][sha256.Size]byte
	// bearer also accepts "Authorization: Bearer <token>", for servers where
	// Authorization carries nothing else (they hold the upstream key).
	bearer bool
}

// New returns the set of tokens; blank entries are ignored. With bearer, the
// token may also come as "Authorization: Bearer <token>".
func New(tokens []string, bearer bool) *Tokens {
	t := &Tokens{bearer: bearer}
	for _, tok := range tokens {
		if tok = strings.TrimSpace(tok); tok != "" {
			t.sums = append(t.sums, sha256.Sum256([]byte(tok)))
		}
	}
	return t
}

// enabled reports whether any token is configured.
func (t *Tokens) enabled() bool { return t != nil && len(t.sums) > 0 }

// allowed reports whether the headers h present an accepted token.
func (t *Tokens) allowed(h http.Header) bool {
	tok := h.Get(Header)
	if tok == "" && t.bearer {
		tok, _ = authheader.Bearer(h.Get("Authorization"))
	}
	if tok == "" {
		return false
	}
	sum := sha256.Sum256([]byte(tok))
	ok := 0
	for i := range t.sums {
		// No early exit: every token is compared, so timing says nothing
		// about which one matched.
		ok |= subtle.ConstantTimeCompare(sum[:], t.sums[i][:])
	}
	return ok == 1
}

// Allow reports whether r may go on: it carries an accepted token, it is a
// CORS preflight, or no tokens are configured. A request refused has been
// answered with 401 and a GraphQL-shaped error.
func (t *Tokens) Allow(w http.ResponseWriter, r *http.Request) bool {
	if !t.enabled() || r.Method == http.MethodOptions || t.allowed(r.Header) {
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("WWW-Authenticate", `Bearer realm="memories-graphql"`)
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"errors":[{"message":"missing or invalid access token: send it in the ` + Header + ` header","extensions":{"code":"UNAUTHENTICATED"}}]}` + "\n"))
	return false
}

// Check reports whether h carries an accepted token, or no tokens are
// configured. h is a request's headers, or what a client sends in their
// place: a WebSocket's connection_init payload, since browsers cannot set
// headers on a WebSocket.
func (t *Tokens) Check(h http.Header) bool { return !t.enabled() || t.allowed(h) }

// Enabled reports whether any token is configured.
func (t *Tokens) Enabled() bool { return t.enabled() }
