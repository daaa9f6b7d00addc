// Package ratelimit keeps one token bucket per upstream account, shared by
// every request of the process. Callers queue for budget rather than fail;
// a caller whose deadline comes before its turn is told at once how long it
// would have had to wait.
//
// It sits below the upstream calls (internal/upstream), which wait on one
// limiter per endpoint before each call.
package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DeniedError reports that a call could not get budget before its context's
// deadline. RetryAfter is how long from now the budget would have been there.
type DeniedError struct {
	RetryAfter time.Duration
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("rate limit: no budget before the deadline (retry after %s)", e.RetryAfter.Round(time.Millisecond))
}

// sweepAbove is the number of accounts above which idle limiters are dropped.
// In pass-through mode every distinct key makes an entry, so the map must not
// grow without bound.
const sweepAbove = 1024

// Registry holds the limiters of all accounts. Its zero value is not usable;
// call New.
type Registry struct {
	limit rate.Limit
	burst int

	mu       sync.Mutex
	accounts map[string]*bucket
	sweepAt  int // the size at which the next sweep runs
}

type bucket struct {
	lim *rate.Limiter

	mu          sync.Mutex
	pausedUntil time.Time
}

// New returns a registry whose accounts may each make perSecond calls a
// second, with bursts of up to burst calls. It panics unless perSecond is
// positive and burst at least 1: settings are checked where they are read.
func New(perSecond float64, burst int) *Registry {
	mustBudget(perSecond, burst)
	return &Registry{limit: rate.Limit(perSecond), burst: burst, accounts: make(map[string]*bucket), sweepAt: sweepAbove}
}

func mustBudget(perSecond float64, burst int) {
	if !(perSecond > 0) || burst < 1 {
		panic(fmt.Sprintf("ratelimit: rate %v and burst %d must be positive", perSecond, burst))
	}
}

func (r *Registry) bucket(accountID string) *bucket {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.accounts[accountID]
	if ok {
		return b
	}
	if len(r.accounts) >= r.sweepAt {
		r.sweepLocked(time.Now())
		// Sweeping again only after the map has doubled keeps inserts O(1)
		// amortized when most accounts are busy.
		r.sweepAt = max(sweepAbove, 2*len(r.accounts))
	}
	b = &bucket{lim: rate.NewLimiter(r.limit, r.burst)}
	r.accounts[accountID] = b
	return b
}

// sweepLocked drops buckets that are full and not paused: a new bucket for the
// same account would behave exactly the same.
func (r *Registry) sweepLocked(now time.Time) {
	for id, b := range r.accounts {
		b.mu.Lock()
		idle := !b.pausedUntil.After(now) && b.lim.TokensAt(now) >= float64(r.burst)
		b.mu.Unlock()
		if idle {
			delete(r.accounts, id)
		}
	}
}

// Wait blocks until accountID may make one upstream call. It returns a
// *DeniedError without waiting when ctx's deadline comes before that, and
// ctx.Err() when ctx ends while waiting.
func (r *Registry) Wait(ctx context.Context, accountID string) error {
	b := r.bucket(accountID)
	now := time.Now()

	b.mu.Lock()
	pause := b.pausedUntil.Sub(now)
	b.mu.Unlock()
	if pause < 0 {
		pause = 0
	}

	// Reserve at the end of the pause, so that queued callers are served in
	// order once the upstream's Retry-After has passed.
	res := b.lim.ReserveN(now.Add(pause), 1)
	delay := res.DelayFrom(now)
	if deadline, ok := ctx.Deadline(); ok && now.Add(delay).After(deadline) {
		res.CancelAt(now)
		return &DeniedError{RetryAfter: delay}
	}
	if delay <= 0 {
		return nil
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		// Give the token back so that the callers behind this one move up.
		res.Cancel()
		return ctx.Err()
	}
}

// TakeNow takes one call's budget for accountID if it is there now, and
// reports whether it did: a Wait whose deadline has come, without the
// context and timer that would cost.
func (r *Registry) TakeNow(accountID string) bool {
	b := r.bucket(accountID)
	now := time.Now()
	b.mu.Lock()
	paused := b.pausedUntil.After(now)
	b.mu.Unlock()
	return !paused && b.lim.AllowN(now, 1)
}

// Pause stops all calls of accountID for d, as when the upstream answers
// "rate limited" with a Retry-After. A shorter pause never shortens a longer
// one already in force.
func (r *Registry) Pause(accountID string, d time.Duration) {
	if d <= 0 {
		return
	}
	b := r.bucket(accountID)
	until := time.Now().Add(d)
	b.mu.Lock()
	if until.After(b.pausedUntil) {
		b.pausedUntil = until
	}
	b.mu.Unlock()
}

// Headroom returns the rate and burst to enforce for an upstream that allows
// perSecond calls a second in bursts of burst. The upstream counts arrivals,
// a limiter counts departures, and the network between them jitters: running
// at 95% of the rate and holding back a third of the burst (at least one
// call) keeps arrivals inside the upstream's bucket even when a burst lands
// late and bunched.
func Headroom(perSecond float64, burst int) (float64, int) {
	return perSecond * 0.95, max(1, burst-max(1, (burst+2)/3))
}

// ReplicaShare returns the rate and burst a replica uses on its own while it
// cannot reach the budget it shares with replicas-1 others: its share.
func ReplicaShare(perSecond float64, burst, replicas int) (float64, int) {
	replicas = max(1, replicas)
	return perSecond / float64(replicas), max(1, burst/replicas)
}
