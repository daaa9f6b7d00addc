package library_test

import (
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/library"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

func TestCursorsRoundTrip(t *testing.T) {
	c := library.CursorsFor(videotest.Account(t, keyA), library.Listing{UniqueID: "default"})
	for _, offset := range []int{0, 1, 199, 200, 100_000, library.MaxOffset} {
		s := c.Encode(offset)
		if len(s) > 24 {
			t.Errorf("cursor of %d is %d characters; want at most 24", offset, len(s))
		}
		got, err := c.Decode(s)
		if err != nil || got != offset {
			t.Errorf("Decode(Encode(%d)) = %d, %v; want %d, nil", offset, got, err, offset)
		}
	}
}

// A cursor serves only the account, scope and filter it came from, and
// only as issued.
func TestCursorsRefuse(t *testing.T) {
	taken := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	base := library.Listing{UniqueID: "default", Filter: memories.ListFilter{Tag: "holiday", TakenAfter: &taken}}
	issued := library.CursorsFor(videotest.Account(t, keyA), base).Encode(42)
	with := func(f func(*library.Listing)) library.Listing {
		q := base
		f(&q)
		return q
	}
	later := taken.Add(time.Millisecond)
	for _, tt := range []struct {
		name   string
		key    string
		q      library.Listing
		cursor string
	}{
		{name: "another account", key: keyB, q: base, cursor: issued},
		{name: "another scope", key: keyA, q: with(func(q *library.Listing) { q.UniqueID = "other" }), cursor: issued},
		{name: "another tag", key: keyA, q: with(func(q *library.Listing) { q.Filter.Tag = "holidays" }), cursor: issued},
		{name: "no tag", key: keyA, q: with(func(q *library.Listing) { q.Filter.Tag = "" }), cursor: issued},
		{name: "another time", key: keyA, q: with(func(q *library.Listing) { q.Filter.TakenAfter = &later }), cursor: issued},
		{name: "a status", key: keyA, q: with(func(q *library.Listing) { q.Filter.Status = memories.StatusParse }), cursor: issued},
		{name: "a point", key: keyA, q: with(func(q *library.Listing) { q.Filter.Near = &memories.GeoPoint{Latitude: 1, Longitude: 2} }), cursor: issued},
		{name: "tag moved to name", key: keyA, q: with(func(q *library.Listing) { q.Filter.Tag, q.Filter.VideoName = "", "holiday" }), cursor: issued},
		{name: "truncated", key: keyA, q: base, cursor: issued[:len(issued)-1]},
		{name: "last character changed", key: keyA, q: base, cursor: issued[:len(issued)-1] + string(issued[len(issued)-1]^1)},
		{name: "first character changed", key: keyA, q: base, cursor: string(issued[0]^1) + issued[1:]},
		{name: "padded", key: keyA, q: base, cursor: issued + "="},
		{name: "empty", key: keyA, q: base, cursor: ""},
		{name: "not base64", key: keyA, q: base, cursor: "!!!!!!!!!!!!!!!!"},
		{name: "too long", key: keyA, q: base, cursor: issued + issued + issued},
		{name: "an offset", key: keyA, q: base, cursor: "42"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := library.CursorsFor(videotest.Account(t, tt.key), tt.q).Decode(tt.cursor)
			if err != library.ErrBadCursor {
				t.Errorf("Decode(%q) = %d, %v; want ErrBadCursor", tt.cursor, got, err)
			}
		})
	}
	if got, err := library.CursorsFor(videotest.Account(t, keyA), base).Decode(issued); err != nil || got != 42 {
		t.Errorf("the cursor as issued: %d, %v; want 42", got, err)
	}
}
