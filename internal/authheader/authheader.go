// Package authheader reads the credential of an Authorization header value,
// the one way the service, its upstream client and its emulator all do: a
// raw key, as memories.ai wants it, or "Bearer <key>", which clients used
// to OAuth send out of habit.
package authheader

import "strings"

const scheme = "bearer"

// Credential returns the credential an Authorization value carries: the
// value without surrounding white space and without a leading "Bearer"
// scheme in any case. "Bearer" alone is a scheme without a credential (HTTP
// trims the trailing space of "Bearer "), so it gives "".
func Credential(v string) string {
	if token, ok := Bearer(v); ok {
		return token
	}
	return strings.TrimSpace(v)
}

// Bearer returns the token of a "Bearer <token>" value; ok is false when
// the value does not use the Bearer scheme.
func Bearer(v string) (token string, ok bool) {
	v = strings.TrimSpace(v)
	if len(v) >= len(scheme) && strings.EqualFold(v[:len(scheme)], scheme) {
		if rest := v[len(scheme):]; rest == "" || rest[0] == ' ' || rest[0] == '\t' {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}
