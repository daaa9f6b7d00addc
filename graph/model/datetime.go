package model

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
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

// UnmarshalDateTime reads an RFC 3339 string. No argument takes a DateTime
// today; this keeps the scalar usable as input when one does.
func UnmarshalDateTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("DateTime must be an RFC 3339 string, got %T", v)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("DateTime must be an RFC 3339 string: %w", err)
	}
	return t.UTC(), nil
}
