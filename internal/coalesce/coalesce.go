// Package coalesce makes concurrent callers that ask for the same key share
// one call, across requests.
//
// Unlike golang.org/x/sync/singleflight, each caller waits on its own
// context: a caller that gives up (cancelled, past its deadline) returns at
// once without failing the others, and a call that nobody waits for any more
// is cancelled.
//
// The deadline rule: a call runs until the deadline of the caller that
// started it. A caller that joined with a later deadline and sees the call
// fail with a deadline error (see Group.DeadlineError) asks again on its own
// time, so that a caller in a hurry never fails the patient ones.
package coalesce

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// maxAttempts bounds how many calls one Do may wait for: the first, plus
// retries after calls that ran out of a shorter deadline than the caller's.
const maxAttempts = 3

// Group shares calls by key. The zero value is ready to use; a Group must
// not be copied after first use.
type Group[K comparable, V any] struct {
	// DeadlineError reports failures that may come from the call's deadline
	// rather than from the key, such as a rate limit that had no budget in
	// time. A caller whose deadline is later than the call's asks again
	// after such a failure. Nil means errors.Is(err, context.DeadlineExceeded).
	DeadlineError func(error) bool

	mu    sync.Mutex
	calls map[K]*call[V]
}

// call is one shared call in flight.
type call[V any] struct {
	done     chan struct{} // closed when val and err are set
	val      V
	err      error
	waiters  int // guarded by Group.mu
	cancel   context.CancelFunc
	deadline time.Time // zero when the call has none
}

// Do returns the result of fn for key, sharing one call of fn among all
// callers that ask for key while it runs. fn runs on a context that keeps
// ctx's values and deadline but not its cancellation; it is cancelled when
// every caller has left. Do returns ctx.Err() as soon as ctx is done.
func (g *Group[K, V]) Do(ctx context.Context, key K, fn func(context.Context) (V, error)) (V, error) {
	own, hasOwn := ctx.Deadline()
	for attempt := 1; ; attempt++ {
		c := g.join(ctx, key, fn)
		select {
		case <-c.done:
		case <-ctx.Done():
			g.leave(key, c)
			var zero V
			return zero, ctx.Err()
		}
		if c.err == nil || attempt == maxAttempts || ctx.Err() != nil || !g.deadlineError(c.err) {
			return c.val, c.err
		}
		// Ask again only if the call gave up earlier than this caller has to.
		if c.deadline.IsZero() || (hasOwn && !own.After(c.deadline)) {
			return c.val, c.err
		}
	}
}

func (g *Group[K, V]) deadlineError(err error) bool {
	if g.DeadlineError != nil {
		return g.DeadlineError(err)
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// join adds the caller to the call in flight for key, or starts one.
func (g *Group[K, V]) join(ctx context.Context, key K, fn func(context.Context) (V, error)) *call[V] {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[key]; ok {
		c.waiters++
		return c
	}
	if g.calls == nil {
		g.calls = make(map[K]*call[V])
	}
	c := &call[V]{done: make(chan struct{}), waiters: 1}
	base := context.WithoutCancel(ctx)
	var cctx context.Context
	if d, ok := ctx.Deadline(); ok {
		c.deadline = d
		cctx, c.cancel = context.WithDeadline(base, d)
	} else {
		cctx, c.cancel = context.WithCancel(base)
	}
	g.calls[key] = c
	go g.run(cctx, key, c, fn)
	return c
}

// run calls fn, publishes its result and retires the call, so that callers
// arriving afterwards start a new one.
func (g *Group[K, V]) run(ctx context.Context, key K, c *call[V], fn func(context.Context) (V, error)) {
	defer func() {
		if p := recover(); p != nil {
			// The call runs on its own goroutine: a panic here would end the
			// process, out of reach of the HTTP server's recoverer.
			c.err = fmt.Errorf("coalesce: call panicked: %v\n%s", p, debug.Stack())
		}
		c.cancel()
		g.mu.Lock()
		if g.calls[key] == c {
			delete(g.calls, key)
		}
		g.mu.Unlock()
		close(c.done)
	}()
	c.val, c.err = fn(ctx)
}

// leave removes a caller that gave up; the last one out cancels the call.
func (g *Group[K, V]) leave(key K, c *call[V]) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c.waiters--
	if c.waiters > 0 {
		return
	}
	if g.calls[key] == c {
		delete(g.calls, key)
	}
	c.cancel()
}

// InFlight returns the number of calls running that callers still wait for.
func (g *Group[K, V]) InFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.calls)
}

// Waiters returns the number of callers waiting for key's call; 0 when no
// call for key is in flight.
func (g *Group[K, V]) Waiters(key K) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[key]; ok {
		return c.waiters
	}
	return 0
}
