package videocache

import (
	"context"
	"time"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/memories"
)

// Listed keeps the videos of a library listing (a list_videos answer for
// one scope, uniqueID) as list answers, as a batch's answers are kept, so
// that look-ups of them afterwards cost no call. It returns them in order,
// each completed by the detail fields kept for it when the listing shows it
// still parsed: a listed node that needs them then costs no get_metadata
// call either. A kept complete answer that the listing shows untrue (no
// longer parsed) is replaced.
//
// One store round trip reads what is kept and one keeps the listing; the
// videos returned may be shared, as Videos' are.
func (c *Cache) Listed(ctx context.Context, acct account.Account, uniqueID string, videos []*memories.Video) []*memories.Video {
	if len(videos) == 0 {
		return videos
	}
	keys := make([]Key, len(videos))
	for i, v := range videos {
		keys[i] = Key{AccountID: acct.ID(), Ref: memories.VideoRef{UniqueID: uniqueID, VideoNo: v.VideoNo}}
	}
	kept := c.store.Get(ctx, keys)
	now := time.Now()
	out := make([]*memories.Video, len(videos))
	entries := make([]Entry, 0, len(videos))
	for i, v := range videos {
		e := c.ttl.entry(keys[i], v, now)
		if h := heldDetail(kept[i]); h != nil {
			if v.Status == memories.StatusParse {
				// The detail fields keep the time of the get_metadata call
				// that read them.
				e.Video, e.DetailUntil = withDetail(v, h), kept[i].DetailUntil
			}
			e.Replace = true // newer than the complete answer, whatever it says
		}
		out[i] = e.Video
		if e.TTL > 0 || e.DetailUntil.After(now) {
			entries = append(entries, e)
		}
	}
	if len(entries) > 0 {
		c.store.Set(context.WithoutCancel(ctx), entries)
		c.flights.kept.Add(1)
	}
	return out
}
