package model

import (
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// dateTimeLayout is RFC 3339 with exactly three fractional digits, so that
// every value has the same width and sorts as a string.
const dateTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalDateTime writes t as an RFC 3339 string in UTC with milliseconds.
func MarshalDateTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(t.UTC().Format(dateTimeLayout)))
	})
}

// UnmarshalDateTime reads an RFC 3339 string, as videoLibrary's
// takenAfter filter takes it. A value that is not one is the client's
// mistake: BAD_USER_INPUT, not an internal error.
func UnmarshalDateTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, badDateTime("got %T", v)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, badDateTime("%q is not one", s)
	}
	return t.UTC(), nil
}

func badDateTime(format string, args ...any) error {
	e := gqlerror.Errorf("DateTime must be an RFC 3339 string such as 2025-08-01T08:33:37.992Z; "+format, args...)
	e.Extensions = map[string]any{"code": "BAD_USER_INPUT"}
	return e
}
