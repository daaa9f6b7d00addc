package loader

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memories-facade/memories-graphql/internal/departure"
)

// lazyDeadline is a request's context ending at the request's deadline, as
// context.WithDeadline's does, but it arms its timer only when something
// waits on it (Done) or asks past the deadline (Err): a request answered
// from the cache never does, and so costs no timer.
//
// Once armed it is context.WithDeadline's context, whose values, children
// and cancellation cause it hands on. Before that, context.Cause reports the
// parent's cause.
type lazyDeadline struct {
	parent   context.Context
	deadline time.Time
	// ends is the earlier of deadline and parent's: what Deadline reports,
	// read once, since a context's deadline never changes and the parent's
	// is a walk up the request's chain of contexts.
	ends time.Time

	mu      sync.Mutex // serialises arming and stopping
	armed   atomic.Pointer[armedDeadline]
	stopped atomic.Bool
}

type armedDeadline struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// withLazyDeadline returns a context that ends at deadline or with parent;
// stop ends it, as a context.CancelFunc would.
func withLazyDeadline(parent context.Context, deadline time.Time) *lazyDeadline {
	ends := deadline
	if d, ok := parent.Deadline(); ok && d.Before(deadline) {
		ends = d
	}
	return &lazyDeadline{parent: parent, deadline: deadline, ends: ends}
}

// arm returns the context.WithDeadline context, making it on first use; a
// context armed after stop is ended already.
func (c *lazyDeadline) arm() context.Context {
	if a := c.armed.Load(); a != nil {
		return a.ctx
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.armed.Load(); a != nil {
		return a.ctx
	}
	ctx, cancel := context.WithDeadline(c.parent, c.deadline)
	if c.stopped.Load() {
		cancel()
	}
	c.armed.Store(&armedDeadline{ctx: ctx, cancel: cancel})
	return ctx
}

// stop ends the context and releases its timer, if it has one.
func (c *lazyDeadline) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped.Store(true)
	if a := c.armed.Load(); a != nil {
		a.cancel()
	}
}

// Deadline implements context.Context.
func (c *lazyDeadline) Deadline() (time.Time, bool) { return c.ends, true }

// Done implements context.Context; it arms the timer.
func (c *lazyDeadline) Done() <-chan struct{} { return c.arm().Done() }

// Err implements context.Context. It arms the timer only once the context
// has ended: stopped, or past its deadline.
func (c *lazyDeadline) Err() error {
	if a := c.armed.Load(); a != nil {
		return a.ctx.Err()
	}
	if err := c.parent.Err(); err != nil {
		return err
	}
	if c.stopped.Load() || !time.Now().Before(c.deadline) {
		return c.arm().Err()
	}
	return nil
}

// Value implements context.Context. Asked for departure.Key, it names its
// parent (or what its parent names): the request's client leaving ends the
// parent, and watching the parent arms no timer.
func (c *lazyDeadline) Value(key any) any {
	if _, ok := key.(departure.Key); ok {
		if watch := c.parent.Value(key); watch != nil {
			return watch
		}
		return c.parent
	}
	if a := c.armed.Load(); a != nil {
		return a.ctx.Value(key)
	}
	return c.parent.Value(key)
}

// String names the context, as the standard library's do.
func (c *lazyDeadline) String() string {
	return "loader.withLazyDeadline(" + c.deadline.String() + ")"
}
