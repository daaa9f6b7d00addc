// Package detach gives work shared between requests a context of its own:
// the values and deadline of the request that started it, not its
// cancellation, ended by whoever shares the work (videocache's fetches,
// library's pages). WithTimeout gives each upstream call beneath it the
// call's own, shorter deadline.
//
// context.WithoutCancel under context.WithDeadline does the same with a
// timer armed at once, and a call's context.WithTimeout beneath it
// registers in a map of children, as does the HTTP transport's context
// beneath that: on a cache miss of one video, two timers and two maps. A
// Context arms its timer only when something waits on it (Done), keeps its
// children in a slice, and is the parent the context package registers
// with (AfterFunc), so a miss costs the one timer of its call.
package detach

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Context is a context with the values and deadline of another but not
// its cancellation: it ends when Cancel is called, when its parent Context
// ends (for one made by WithTimeout), or at its deadline.
type Context struct {
	values      context.Context // its parent's values, not its cancellation
	parent      *Context        // WithTimeout's; nil for New's
	deadline    time.Time
	hasDeadline bool

	mu       sync.Mutex
	err      error
	done     chan struct{} // made when first asked for, or on the end
	timer    *time.Timer   // armed with done, when there is a deadline
	children []child       // ended with it
	// first is children's storage while it has one: most Contexts have
	// one child at a time (a call, or the transport's context under a
	// call), kept without an allocation.
	first [1]child
}

// child is what a Context ends with itself.
type child interface {
	parentEnded(err error)
}

// New returns a context with parent's values and deadline that parent's
// cancellation does not end. Its Cancel ends it.
func New(parent context.Context) *Context {
	d, ok := parent.Deadline()
	return &Context{values: valuesOf(parent), deadline: d, hasDeadline: ok}
}

// valuesOf returns a context with parent's values only. WithoutCancel's
// hides parent's cancellation cause from context.Cause too, but asked for
// a value directly it boxes itself again on every look-up, an allocation
// each; under a valueCtx (of a key nobody asks for), it is looked through
// without one.
func valuesOf(parent context.Context) context.Context {
	return context.WithValue(context.WithoutCancel(parent), valuesKey{}, nil)
}

type valuesKey struct{}

// WithTimeout returns a context that ends after d, or with parent, as
// context.WithTimeout's does. Under a Context it is a Context, registered
// with its parent without a map and without arming the parent's timer; its
// own is armed when something waits on it.
func WithTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	p, ok := parent.(*Context)
	if !ok {
		return context.WithTimeout(parent, d)
	}
	deadline := time.Now().Add(d)
	if p.hasDeadline && p.deadline.Before(deadline) {
		deadline = p.deadline
	}
	c := &Context{values: p.values, parent: p, deadline: deadline, hasDeadline: true}
	if err := p.add(c); err != nil {
		c.end(err)
	}
	return c, c.Cancel
}

// Cancel ends c with context.Canceled, unless it has ended already, and
// the contexts made under it with it.
func (c *Context) Cancel() {
	c.end(context.Canceled)
	if c.parent != nil {
		c.parent.remove(c)
	}
}

// Deadline implements context.Context.
func (c *Context) Deadline() (time.Time, bool) { return c.deadline, c.hasDeadline }

// Done implements context.Context. The first call arms the deadline's
// timer.
func (c *Context) Done() <-chan struct{} {
	c.mu.Lock()
	past := false
	if c.done == nil {
		c.done = make(chan struct{})
		if c.hasDeadline {
			if d := time.Until(c.deadline); d > 0 {
				c.timer = time.AfterFunc(d, c.expire)
			} else {
				past = true // ended below, outside the lock its children take
			}
		}
	}
	done := c.done
	c.mu.Unlock()
	if past {
		c.end(context.DeadlineExceeded)
	}
	return done
}

// Err implements context.Context. Past the deadline it ends c, whether or
// not its timer was armed.
func (c *Context) Err() error {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err != nil || !c.hasDeadline || time.Now().Before(c.deadline) {
		return err
	}
	c.end(context.DeadlineExceeded)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Value implements context.Context.
func (c *Context) Value(key any) any { return c.values.Value(key) }

// String names the context, as the standard library's do.
func (c *Context) String() string {
	if c.parent != nil {
		return "detach.WithTimeout(" + c.deadline.String() + ")"
	}
	return "detach.New"
}

// AfterFunc arranges for f to run once c has ended; stop, if it comes
// first, keeps f from running and reports whether it did. The context
// package calls it to tie the contexts made under c to it (in place of a
// goroutine each): f then cancels one of them, in the goroutine that ended
// c, as a context.WithCancel parent cancels its children. f must not block.
func (c *Context) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	if err := c.add(a); err != nil {
		// Not in this goroutine: the context package calls AfterFunc
		// holding the lock that f takes.
		go f()
		return func() bool { return false }
	}
	return func() bool { return c.remove(a) }
}

type afterFunc struct{ f func() }

func (a *afterFunc) parentEnded(error) { a.f() }

func (c *Context) parentEnded(err error) { c.end(err) }

func (c *Context) expire() { c.end(context.DeadlineExceeded) }

// end ends c with err, unless it has ended, and then its children.
func (c *Context) end(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	if c.done == nil {
		c.done = closed
	} else {
		close(c.done)
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	children := c.children
	c.children = nil
	c.mu.Unlock()
	for _, ch := range children {
		ch.parentEnded(err)
	}
}

// add registers ch to end with c, or returns c's error if it has ended.
func (c *Context) add(ch child) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if c.children == nil {
		c.children = c.first[:0]
	}
	c.children = append(c.children, ch)
	return nil
}

// remove unregisters ch and reports whether it was registered.
func (c *Context) remove(ch child) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.children, ch)
	if i < 0 {
		return false
	}
	c.children = slices.Delete(c.children, i, i+1)
	return true
}

// closed is the Done of a context that ended before anything asked for it.
var closed = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()
