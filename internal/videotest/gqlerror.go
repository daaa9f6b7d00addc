package videotest

import (
	"fmt"
	"strings"
)

// GQLError is one entry of a GraphQL answer's errors, as encoding/json
// decodes it.
type GQLError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code is extensions.code; "" when there is none.
func (e GQLError) Code() string {
	c, _ := e.Extensions["code"].(string)
	return c
}

// PathString renders the path as "videos.3" or "a7"; "" for none.
func (e GQLError) PathString() string {
	parts := make([]string, len(e.Path))
	for i, p := range e.Path {
		parts[i] = fmt.Sprint(p)
	}
	return strings.Join(parts, ".")
}

// RetryAfterSeconds reads extensions.retryAfterSeconds, which JSON decodes
// as a float64; ok is false when it is missing or not a number.
func (e GQLError) RetryAfterSeconds() (float64, bool) {
	n, ok := e.Extensions["retryAfterSeconds"].(float64)
	return n, ok
}
