package bodyread_test

import (
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/memories-facade/memories-graphql/internal/bodyread"
)

var errBroken = errors.New("broken body")

// Read reads every byte up to its limit, whatever the body says of its
// length, tells a body read to its end from one cut at the limit, and
// passes a read's error on.
func TestRead(t *testing.T) {
	big := strings.Repeat("x", 70<<10) // past the 64 KiB reserve below
	const reserve, unlimited = 64 << 10, math.MaxInt64
	tests := []struct {
		name      string
		body      io.Reader
		declared  int64 // -1: not declared
		limit     int64
		want      string
		wantWhole bool
		wantErr   error
	}{
		{"declared", strings.NewReader(`{"query":"{ a }"}`), 17, unlimited, `{"query":"{ a }"}`, true, nil},
		{"undeclared", strings.NewReader(`{"query":"{ a }"}`), -1, unlimited, `{"query":"{ a }"}`, true, nil},
		{"undeclared, past the first buffer", strings.NewReader(big[:3000]), -1, unlimited, big[:3000], true, nil},
		{"declared past the reserve", strings.NewReader(big), int64(len(big)), unlimited, big, true, nil},
		{"empty", strings.NewReader(""), 0, unlimited, "", true, nil},
		{"one byte at a time", iotest.OneByteReader(strings.NewReader(big[:700])), 700, unlimited, big[:700], true, nil},
		{"failing", io.MultiReader(strings.NewReader("part"), iotest.ErrReader(errBroken)), 10, unlimited, "part", false, errBroken},
		{"within the limit", strings.NewReader(big[:100]), 100, 101, big[:100], true, nil},
		{"cut at the limit", strings.NewReader(big[:100]), 100, 50, big[:50], false, nil},
		{"cut at the limit, undeclared", strings.NewReader(big), -1, 1000, big[:1000], false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, whole, err := bodyread.Read(tt.body, tt.declared, reserve, tt.limit)
			if string(got) != tt.want || whole != tt.wantWhole || !errors.Is(err, tt.wantErr) {
				t.Errorf("Read = %d bytes, whole %v, %v; want %d bytes, whole %v, %v", len(got), whole, err, len(tt.want), tt.wantWhole, tt.wantErr)
			}
		})
	}
}
