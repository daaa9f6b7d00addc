package upstream

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/memories"
)

// errListUnavailable is the cause of a library page refused without a call:
// the account's list_videos answered that it does not exist, lately.
var errListUnavailable = errors.New("list_videos is unavailable for this account")

// LibraryPage asks list_videos for one page of a scope's library, through
// req's filter (req.Library must be set): one call on the list budget,
// waiting for it and retried as a batch's call is. It returns the page as
// the upstream answered it; its PageSize says how large the upstream's
// pages are.
//
// An account whose list_videos does not exist gets KindUnsupported, and its
// batches use get_metadata for ProbeAfter, as when a batch finds out; until
// then its library pages are refused at once, with no call. Errors are as
// Videos'.
func (c *Caller) LibraryPage(ctx context.Context, acct account.Account, req memories.ListRequest) (*memories.ListPage, error) {
	if !req.Library {
		return nil, &memories.Error{Kind: memories.KindBadRequest, Err: errors.New("upstream: a library page without Library")}
	}
	if !c.listAvailable(acct.ID()) {
		return nil, &memories.Error{Kind: memories.KindUnsupported, Err: errListUnavailable}
	}
	var p *memories.ListPage
	err := c.do(ctx, acct, c.list, false, func(ctx context.Context, span trace.Span) (string, error) {
		if span.IsRecording() {
			span.SetAttributes(attribute.String("memories.unique_id", req.UniqueID),
				attribute.Int("memories.page", req.Page), attribute.Int("memories.size", req.Size))
		}
		var err error
		p, err = c.client.ListVideos(ctx, acct.Key(), req)
		return "ok", err
	})
	var me *memories.Error
	if errors.As(err, &me) && me.Kind == memories.KindUnsupported {
		c.markUnavailable(ctx, acct.ID())
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}
