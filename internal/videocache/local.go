package videocache

import (
	"context"
	"fmt"
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

// NewLocal returns a Local store of at most maxEntries entries.
func NewLocal(maxEntries int) (*Local, error) {
	if maxEntries < 1 {
		return nil, fmt.Errorf("cache size must be at least 1, got %d", maxEntries)
	}
	c, err := otter.New(&otter.Options[Key, localEntry]{
		MaximumSize: maxEntries,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[Key, localEntry]) time.Duration {
			return e.Value.ttl
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return &Local{c: c}, nil
}

// Get returns the answer kept for k.
func (l *Local) Get(_ context.Context, k Key) (*memories.Video, bool) {
	e, ok := l.c.GetIfPresent(k)
	return e.v, ok
}

// Set keeps v for ttl.
func (l *Local) Set(_ context.Context, k Key, v *memories.Video, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	l.c.Set(k, localEntry{v: v, ttl: ttl})
}

// Close stops the cache's maintenance goroutine.
func (l *Local) Close() error {
	l.c.StopAllGoroutines()
	return nil
}
