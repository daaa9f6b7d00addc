package videocache

import (
	"context"
	"sync"
)

// Reads records the kept answers that the look-ups of one request served,
// so that what was built from them (a response, see internal/responsecache)
// can tell later whether it still holds: Cache.Holds. It is safe for
// concurrent use; the zero value is ready.
type Reads struct {
	mu     sync.Mutex
	keys   []Key
	kept   []Kept
	beyond bool // a look-up needed more than kept answers
}

type readsKey struct{}

// WithReads returns ctx carrying r: the look-ups made with it record into r.
func WithReads(ctx context.Context, r *Reads) context.Context {
	return context.WithValue(ctx, readsKey{}, r)
}

// readsFrom returns the Reads ctx carries, or nil.
func readsFrom(ctx context.Context) *Reads {
	r, _ := ctx.Value(readsKey{}).(*Reads)
	return r
}

// Kept reports whether every look-up recorded was answered from kept
// answers alone, and there was at least one.
func (r *Reads) Kept() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.beyond && len(r.keys) > 0
}

// Len returns how many answers r recorded.
func (r *Reads) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys)
}

// served records kept[i], the answer that served keys[i].
func (r *Reads) served(keys []Key, kept []Kept) {
	r.mu.Lock()
	r.keys = append(r.keys, keys...)
	r.kept = append(r.kept, kept...)
	r.mu.Unlock()
}

// reachedBeyond records a look-up that kept answers did not serve alone.
func (r *Reads) reachedBeyond() {
	r.mu.Lock()
	r.beyond = true
	r.mu.Unlock()
}

// Holds reports whether every answer r recorded is still kept as it was:
// the same look-ups now would serve the same videos, without an upstream
// call. It costs one store round trip, as a look-up does. Reads that
// needed more than kept answers never hold.
func (c *Cache) Holds(ctx context.Context, r *Reads) bool {
	r.mu.Lock()
	keys, was, beyond := r.keys, r.kept, r.beyond
	r.mu.Unlock()
	if beyond || len(keys) == 0 {
		return false
	}
	now := c.store.Get(ctx, keys)
	for i := range keys {
		// was[i] served its look-up, so it was found and not stale; the
		// same video now serves the same look-up.
		if !now[i].Found || now[i].Stale || !now[i].Video.Equal(was[i].Video) {
			return false
		}
	}
	return true
}
