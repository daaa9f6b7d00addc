package graph

import (
	"context"
	"encoding/json"
	"math"
	"strings"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/memories-facade/memories-graphql/graph/model"
	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/library"
	"github.com/memories-facade/memories-graphql/internal/loader"
	"github.com/memories-facade/memories-graphql/internal/memories"
)

// Lister lists an account's library a window at a time
// (library.Lister).
type Lister interface {
	Page(ctx context.Context, acct account.Account, q library.Listing, offset, first int) (*library.Page, error)
}

// The bounds of videoLibrary's first.
const (
	defaultLibraryFirst = 50
	maxLibraryFirst     = 200
)

// videoLibrary answers one page of a library listing. Its arguments are
// checked before any call; a page that cannot be listed is an error on the
// field (null), and the rest of the operation still answers.
func (r *Resolver) videoLibrary(ctx context.Context, uniqueID string, filter *model.VideoFilter, first *int, after *string) (*model.VideoConnection, error) {
	n := defaultLibraryFirst
	if first != nil {
		n = *first
	}
	if n < 0 || n > maxLibraryFirst {
		return nil, inputError(nil, "first must be between 0 and %d; got %d", maxLibraryFirst, n)
	}
	if p := idProblem(uniqueID); p != "" {
		return nil, inputError(nil, "uniqueId %s", p)
	}
	q, err := listing(uniqueID, filter)
	if err != nil {
		return nil, err
	}
	acct := loader.For(ctx).Account()
	if acct.IsZero() {
		return nil, loader.ErrNoAccount
	}
	cursors := library.CursorsFor(acct, q)
	offset := 0
	if after != nil {
		at, err := cursors.Decode(*after)
		if err != nil {
			return nil, inputError(nil, "after is not a cursor of this listing: a cursor serves only the account, uniqueId and filter it came from")
		}
		offset = at + 1
	}
	if r.Library == nil {
		return nil, errNoLibrary
	}
	page, err := r.Library.Page(ctx, acct, q, offset, n)
	if err != nil {
		return nil, &listingError{err: err}
	}
	conn := &model.VideoConnection{
		Edges:      make([]*model.VideoEdge, len(page.Videos)),
		Nodes:      make([]*model.Video, len(page.Videos)),
		PageInfo:   &model.PageInfo{HasNextPage: page.More, HasPreviousPage: page.Offset > 0},
		TotalCount: int(min(page.Total, math.MaxInt32)),
	}
	for i, v := range page.Videos {
		node := newVideo(uniqueID, v)
		conn.Nodes[i] = node
		conn.Edges[i] = &model.VideoEdge{Cursor: cursors.Encode(page.Offset + i), Node: node}
	}
	if len(conn.Edges) > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[len(conn.Edges)-1].Cursor
	}
	return conn, nil
}

var errNoLibrary = &gqlerror.Error{Message: "this server lists no libraries", Extensions: map[string]any{"code": CodeInternal}}

// listing checks a filter and turns it into the vendor's: strings must
// not be empty (the vendor reads an empty one as no filter, which is not
// what the client asked), and a point must be on the globe.
func listing(uniqueID string, f *model.VideoFilter) (library.Listing, error) {
	q := library.Listing{UniqueID: uniqueID}
	if f == nil {
		return q, nil
	}
	for _, s := range []struct {
		name string
		v    *string
		to   *string
	}{
		{"videoName", f.VideoName, &q.Filter.VideoName},
		{"videoNo", f.VideoNo, &q.Filter.VideoNo},
		{"cameraModel", f.CameraModel, &q.Filter.CameraModel},
		{"tag", f.Tag, &q.Filter.Tag},
	} {
		if s.v == nil {
			continue
		}
		if strings.TrimSpace(*s.v) == "" {
			return q, inputError(nil, "filter.%s must not be empty; leave it out to match every video", s.name)
		}
		*s.to = *s.v
	}
	if f.Status != nil {
		if !f.Status.IsValid() {
			return q, inputError(nil, "filter.status %q is not a VideoStatus", string(*f.Status))
		}
		q.Filter.Status = memories.Status(*f.Status)
	}
	if f.TakenAfter != nil {
		t := *f.TakenAfter
		q.Filter.TakenAfter = &t
	}
	if p := f.Near; p != nil {
		switch {
		case math.IsNaN(p.Latitude) || p.Latitude < -90 || p.Latitude > 90:
			return q, inputError(nil, "filter.near.latitude must be between -90 and 90; got %v", p.Latitude)
		case math.IsNaN(p.Longitude) || p.Longitude < -180 || p.Longitude > 180:
			return q, inputError(nil, "filter.near.longitude must be between -180 and 180; got %v", p.Longitude)
		}
		q.Filter.Near = &memories.GeoPoint{Latitude: p.Latitude, Longitude: p.Longitude}
	}
	return q, nil
}

// intValue reads an Int argument as ArgumentMap returns it: a literal, or
// a variable as the transports decode JSON.
func intValue(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v), true
		}
	}
	return 0, false
}
