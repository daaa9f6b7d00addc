// Package responsecache keeps the answers of queries that were built from
// the video cache alone, and gives one again, without executing its query,
// to the same request while every video it read is still kept unchanged.
//
// Web apps ask the same query again and again (a dashboard, a page waiting
// on a status): each time it is parsed, checked, planned, resolved and
// marshalled into the same bytes. An answer kept here costs instead one
// look-up of the videos it read, the same look-up its execution made
// (videocache.Cache.Holds), so it is never older than what executing the
// query would give.
package responsecache

import (
	"context"

	"github.com/maypok86/otter/v2"

	"github.com/memories-facade/memories-graphql/internal/videocache"
)

// Holder tells whether what a request read from the video cache is still
// kept as it was (videocache.Cache.Holds).
type Holder interface {
	Holds(ctx context.Context, reads *videocache.Reads) bool
}

// Observer counts answers by result: "replayed" (a kept answer served a
// request), "changed" (one no longer held, dropped), "kept" (a new answer
// was kept).
type Observer interface {
	ResponseCacheResult(result string)
}

// Answer is what a request gets from the cache: the response body, and
// what the executed operation was, for its metrics.
type Answer struct {
	Body []byte
	// Operation is the executed operation's name ("" for an anonymous one).
	Operation string
	// Videos is how many video look-ups it read from the video cache.
	Videos int
}

// Cache keeps answers, up to a total weight in bytes. It is safe for
// concurrent use.
type Cache struct {
	c      *otter.Cache[string, *entry]
	videos Holder
	obs    Observer
	max    int // largest body kept
}

type entry struct {
	answer Answer
	reads  *videocache.Reads
}

// readWeight is what one read video is counted for: a kept answer holds
// its key and video, which the video cache may have dropped already.
const readWeight = 512

// New returns a Cache of at most maxBytes (at least 1) that checks its
// answers against videos. An answer over a sixteenth of maxBytes is not
// kept: a few large answers would push out many small ones.
func New(maxBytes int64, videos Holder, obs Observer) *Cache {
	if maxBytes < 1 {
		panic("responsecache: size must be at least 1") // settings are checked where they are read
	}
	return &Cache{
		c: otter.Must(&otter.Options[string, *entry]{
			MaximumWeight: uint64(maxBytes),
			Weigher: func(k string, e *entry) uint32 {
				return uint32(min(len(k)+len(e.answer.Body)+e.answer.Videos*readWeight, 1<<31))
			},
			// As the video cache's store: maintenance on the caller's
			// goroutine, since nothing else runs on the executor here.
			Executor: func(fn func()) { fn() },
		}),
		videos: videos,
		obs:    obs,
		max:    int(min(maxBytes/16, 1<<30)),
	}
}

// key is the cache key of body for account: the account's ID (a hash,
// never the API key) and the body exactly as sent.
func key(account string, body []byte) string {
	return account + "\x00" + string(body)
}

// Get returns the answer kept for body of account, if it still holds.
func (c *Cache) Get(ctx context.Context, account string, body []byte) (Answer, bool) {
	k := key(account, body)
	e, ok := c.c.GetIfPresent(k)
	if !ok {
		return Answer{}, false
	}
	if !c.videos.Holds(ctx, e.reads) {
		if ctx.Err() == nil {
			// Gone, or changed: the execution this request makes now
			// keeps its new answer.
			c.c.Invalidate(k)
			c.observe("changed")
		}
		return Answer{}, false
	}
	c.observe("replayed")
	return e.answer, true
}

// Set keeps a for body of account, built from reads: only when every
// look-up it made was answered from kept videos, and a is not too large.
func (c *Cache) Set(account string, body []byte, a Answer, reads *videocache.Reads) {
	if reads == nil || !reads.Kept() || len(a.Body)+len(body) > c.max {
		return
	}
	a.Videos = reads.Len()
	c.c.Set(key(account, body), &entry{answer: a, reads: reads})
	c.observe("kept")
}

func (c *Cache) observe(result string) {
	if c.obs != nil {
		c.obs.ResponseCacheResult(result)
	}
}

// Len returns how many answers are kept.
func (c *Cache) Len() int { return c.c.EstimatedSize() }
