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
	ttl time.Duration // how long the entry is kept
	// fresh, when not zero, is when v's list fields stop serving, earlier
	// than the entry's end: only its detail fields are kept after it.
	fresh time.Time
	// detail, when not zero, is when v's detail fields stop serving.
	detail time.Time
}

// kept is what e holds at now (a zero now: time.Now, read only if e has
// times to compare).
func (e localEntry) kept(now time.Time) Kept {
	k := Kept{Found: true, Video: e.v}
	if e.fresh.IsZero() && e.detail.IsZero() {
		return k
	}
	if now.IsZero() {
		now = time.Now()
	}
	k.Stale = !e.fresh.IsZero() && !now.Before(e.fresh)
	switch {
	case e.detail.IsZero():
	case now.Before(e.detail):
		k.DetailUntil = e.detail
	default:
		k.Video, k.Stale = withoutDetail(e.v), false
	}
	return k
}

// withoutDetail returns v without its detail fields, as list_videos
// answers it.
func withoutDetail(v *memories.Video) *memories.Video {
	c := *v
	c.Detailed = false
	c.ResolutionLabel, c.FPS, c.Width, c.Height = nil, nil, nil, nil
	return &c
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
		// Maintenance on the reading goroutine, amortized over otter's read
		// buffer: the default starts a goroutine for each drain, which on a
		// hot key is every few hits (5% of a hit's CPU). Safe here: the store
		// has no OnDeletion and no refresh, the only other tasks.
		Executor: func(fn func()) { fn() },
	})}
}

// Get returns what is kept for keys.
func (l *Local) Get(_ context.Context, keys []Key) []Kept {
	kept := make([]Kept, len(keys))
	for i, k := range keys {
		if e, ok := l.c.GetIfPresent(k); ok {
			kept[i] = e.kept(time.Time{})
		}
	}
	return kept
}

// Set keeps entries. A list_videos answer does not replace a complete one
// kept already, unless it says so (Entry.Replace).
func (l *Local) Set(_ context.Context, entries []Entry) {
	now := time.Now()
	for _, e := range entries {
		le, ok := localEntryOf(e, now)
		if !ok {
			continue
		}
		if e.Video != nil && !e.Video.Detailed && !e.Replace {
			if old, ok := l.c.GetIfPresent(e.Key); ok {
				if k := old.kept(now); k.Video != nil && k.Video.Detailed {
					continue
				}
			}
		}
		l.c.Set(e.Key, le)
	}
}

// localEntryOf is how e is kept from now; false when it is not kept.
func localEntryOf(e Entry, now time.Time) (localEntry, bool) {
	le := localEntry{v: e.Video, ttl: e.TTL}
	if e.Video != nil && e.Video.Detailed && !e.DetailUntil.IsZero() {
		le.detail = e.DetailUntil
		if d := e.DetailUntil.Sub(now); d > e.TTL {
			le.ttl, le.fresh = d, now.Add(e.TTL)
		}
	}
	return le, le.ttl > 0
}

// Close stops the cache's maintenance goroutine.
func (l *Local) Close() error {
	l.c.StopAllGoroutines()
	return nil
}
