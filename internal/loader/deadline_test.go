package loader

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/departure"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

type key struct{}

// The lazy deadline behaves as context.WithDeadline's context would, seen
// from outside.
func TestLazyDeadline(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		end     func(c *lazyDeadline, cancelParent context.CancelFunc)
		wantErr error
	}{
		{"deadline passes", 20 * time.Millisecond, func(*lazyDeadline, context.CancelFunc) {}, context.DeadlineExceeded},
		{"parent cancelled", time.Minute, func(_ *lazyDeadline, cancel context.CancelFunc) { cancel() }, context.Canceled},
		{"stopped", time.Minute, func(c *lazyDeadline, _ context.CancelFunc) { c.stop() }, context.Canceled},
	}
	for _, tt := range tests {
		for _, waitFirst := range []bool{false, true} {
			name := tt.name
			if waitFirst {
				name += ", armed before"
			}
			t.Run(name, func(t *testing.T) {
				parent, cancel := context.WithCancel(context.WithValue(t.Context(), key{}, "v"))
				defer cancel()
				c := withLazyDeadline(parent, time.Now().Add(tt.timeout))
				defer c.stop()
				if got := c.Value(key{}); got != "v" {
					t.Errorf("Value = %v; want the parent's", got)
				}
				if err := c.Err(); err != nil {
					t.Fatalf("Err before the end = %v; want nil", err)
				}
				if c.armed.Load() != nil {
					t.Fatal("armed by Value or Err before the end; want no timer")
				}
				var child context.Context
				if waitFirst {
					var stop context.CancelFunc
					child, stop = context.WithCancel(c)
					defer stop()
				}
				tt.end(c, cancel)
				requireEnded(t, c, "the context", tt.wantErr)
				if child != nil {
					requireEnded(t, child, "a child", tt.wantErr)
				}
				if got := c.Value(key{}); got != "v" {
					t.Errorf("Value once armed = %v; want the parent's", got)
				}
			})
		}
	}
}

// requireEnded fails t unless ctx's Done closes within 10s with Err
// wantErr.
func requireEnded(t *testing.T, ctx context.Context, name string, wantErr error) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: Done never closed", name)
	}
	if err := ctx.Err(); !errors.Is(err, wantErr) {
		t.Errorf("%s: Err = %v; want %v", name, err, wantErr)
	}
}

// Err reports the end of a context nobody waited on, without waiting.
func TestLazyDeadlineErrWithoutDone(t *testing.T) {
	c := withLazyDeadline(t.Context(), time.Now().Add(-time.Second))
	defer c.stop()
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err past the deadline = %v; want DeadlineExceeded", err)
	}
}

// Deadline is the earlier of the parent's and its own.
func TestLazyDeadlineDeadline(t *testing.T) {
	now := time.Now()
	parent, cancel := context.WithDeadline(t.Context(), now.Add(time.Minute))
	defer cancel()
	for _, tt := range []struct {
		own, want time.Time
	}{
		{now.Add(time.Second), now.Add(time.Second)},
		{now.Add(time.Hour), now.Add(time.Minute)},
	} {
		c := withLazyDeadline(parent, tt.own)
		if got, ok := c.Deadline(); !ok || !got.Equal(tt.want) {
			t.Errorf("Deadline = %v, %v; want %v, true", got, ok, tt.want)
		}
		c.stop()
	}
}

// A request whose videos need no waiting (a fetcher that answers at once,
// as the cache does on a hit) arms no timer.
func TestCacheHitArmsNoTimer(t *testing.T) {
	c := withLazyDeadline(t.Context(), time.Now().Add(time.Minute))
	defer c.stop()
	// The fake looks at ctx only with Deadline and Err, which arm no timer
	// before the deadline.
	l := New(c, &videotest.Fetcher{}, videotest.Account(t, "sk-test"), nil)
	a, b := videotest.Ref("a"), videotest.Ref("b")
	l.Prefetch([]Key{{Ref: a}, {Ref: b}})
	if _, errs := l.LoadMany(t.Context(), []memories.VideoRef{a, b}, false); errs != nil {
		t.Fatalf("LoadMany errs = %v", errs)
	}
	if c.armed.Load() != nil {
		t.Error("the request's deadline armed a timer; want none for answers that need no wait")
	}
}

// Work that watches for the request's departure (videocache, while it
// fetches on a miss) watches the parent: it arms no timer, and hears when
// the parent ends.
func TestDepartureArmsNoTimer(t *testing.T) {
	parent, leave := context.WithCancel(t.Context())
	defer leave()
	c := withLazyDeadline(parent, time.Now().Add(time.Minute))
	defer c.stop()
	ctx := context.WithValue(c, struct{ k int }{1}, "a value above, as gqlgen adds them")

	left := make(chan struct{})
	stop := departure.AfterFunc(ctx, func() { close(left) })
	defer stop()
	if c.armed.Load() != nil {
		t.Error("watching for departure armed the deadline's timer; want none")
	}
	leave()
	select {
	case <-left:
	case <-time.After(10 * time.Second):
		t.Fatal("the parent ended and departure.AfterFunc's f did not run within 10s; want it to")
	}
}
