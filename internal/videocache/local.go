package videocache

import (
	"context"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/memories-facade/memories-graphql/internal/memories"
)

// Local is a Store in the process's memory, bounded in entries; when full
// it evicts the entries least likely to be asked for again (otter's
// W-TinyLFU). Each entry expires after its own time-to-live.
type Local struct {
	c *otter.Cache[Key, localEntry]
}

type localEntry struct {
	v   *memories.Video
	ttl time.Duration
}

// NewLocal returns a Local store of at most maxEntries entries. It panics
// unless maxEntries is at least 1: settings are checked where they are read.
func NewLocal(maxEntries int) *Local {
	if maxEntries < 1 {
		// otter reads 0 as "unbounded", which no setting means.
		panic("videocache: cache size must be at least 1")
	}
	return &Local{c: otter.Must(&otter.Options[Key, localEntry]{
		MaximumSize: maxEntries,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[Key, localEntry]) time.Duration {
			return e.Value.ttl
		}),
	})}
}

// Get returns the answers kept for keys.
func (l *Local) Get(_ context.Context, keys []Key) ([]*memories.Video, []bool) {
	videos, found := make([]*memories.Video, len(keys)), make([]bool, len(keys))
	for i, k := range keys {
		e, ok := l.c.GetIfPresent(k)
		videos[i], found[i] = e.v, ok
	}
	return videos, found
}

// Set keeps entries. A list_videos answer does not replace a complete one
// kept already: it would only cost a get_metadata call later.
func (l *Local) Set(_ context.Context, entries []Entry) {
	for _, e := range entries {
		if e.TTL <= 0 {
			continue
		}
		if e.Video != nil && !e.Video.Detailed {
			if old, ok := l.c.GetIfPresent(e.Key); ok && old.v != nil && old.v.Detailed {
				continue
			}
		}
		l.c.Set(e.Key, localEntry{v: e.Video, ttl: e.TTL})
	}
}

// Close stops the cache's maintenance goroutine.
func (l *Local) Close() error {
	l.c.StopAllGoroutines()
	return nil
}
