package detach

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

type key struct{}

// wait fails t unless ctx ends within a margin that holds on a loaded
// machine.
func wait(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not done after 10s", name)
	}
}

// notDone fails t if ctx has ended.
func notDone(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if err := ctx.Err(); err != nil {
		t.Fatalf("%s: Err() got %v; want nil", name, err)
	}
	select {
	case <-ctx.Done():
		t.Fatalf("%s: Done closed; want open", name)
	default:
	}
}

func TestNewKeepsValuesAndDeadlineNotCancellation(t *testing.T) {
	deadline := time.Now().Add(time.Hour)
	parent, cancel := context.WithDeadline(context.WithValue(context.Background(), key{}, "v"), deadline)
	c := New(parent)
	defer c.Cancel()
	cancel()
	if got := c.Value(key{}); got != "v" {
		t.Errorf("Value: got %v; want v", got)
	}
	if got, ok := c.Deadline(); !ok || !got.Equal(deadline) {
		t.Errorf("Deadline: got %v, %v; want %v, true", got, ok, deadline)
	}
	notDone(t, c, "after the parent's cancellation")
	// The parent's cancellation is not c's cause.
	if got := context.Cause(c); got != nil {
		t.Errorf("Cause: got %v; want nil", got)
	}
	c.Cancel()
	wait(t, c, "after Cancel")
	if got := c.Err(); !errors.Is(got, context.Canceled) {
		t.Errorf("Err after Cancel: got %v; want context.Canceled", got)
	}
	if got := context.Cause(c); !errors.Is(got, context.Canceled) {
		t.Errorf("Cause after Cancel: got %v; want context.Canceled", got)
	}
}

func TestNoDeadline(t *testing.T) {
	c := New(context.Background())
	if _, ok := c.Deadline(); ok {
		t.Error("Deadline: got ok; want none")
	}
	c.Done()
	if c.timer != nil {
		t.Error("a timer armed without a deadline")
	}
	notDone(t, c, "New(Background)")
	c.Cancel()
	wait(t, c, "after Cancel")
}

func TestDeadline(t *testing.T) {
	tests := []struct {
		name string
		ask  string // what is asked of c first: Done before its deadline, Done or Err after it
	}{
		{"waited on", "done before"},
		{"first waited on past its deadline", "done after"},
		{"never waited on", "err after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			c := New(parent)
			defer c.Cancel()
			if tt.ask == "done before" {
				c.Done()
				if c.timer == nil {
					t.Fatal("Done armed no timer")
				}
				wait(t, c, "past the deadline")
			} else {
				if c.timer != nil {
					t.Fatal("a timer armed before anything waited")
				}
				<-parent.Done()
				time.Sleep(10 * time.Millisecond) // past the deadline, on any clock
			}
			if tt.ask == "done after" {
				select {
				case <-c.Done():
				default:
					t.Fatal("Done asked first past the deadline: open; want closed")
				}
				if c.timer != nil {
					t.Error("Done past the deadline armed a timer")
				}
			}
			if got := c.Err(); !errors.Is(got, context.DeadlineExceeded) {
				t.Errorf("Err: got %v; want context.DeadlineExceeded", got)
			}
			wait(t, c, "Done after Err")
		})
	}
}

func TestCancelWithoutWaitArmsNoTimer(t *testing.T) {
	c := New(contextWithHourDeadline(t))
	c.Cancel()
	if c.timer != nil {
		t.Error("Cancel armed a timer")
	}
	wait(t, c, "after Cancel")
}

func contextWithHourDeadline(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	t.Cleanup(cancel)
	return ctx
}

func TestWithTimeout(t *testing.T) {
	t.Run("its own deadline, first", func(t *testing.T) {
		p := New(contextWithHourDeadline(t))
		defer p.Cancel()
		start := time.Now()
		call, cancel := WithTimeout(p, 50*time.Millisecond)
		defer cancel()
		if d, ok := call.Deadline(); !ok || d.Before(start.Add(50*time.Millisecond)) || d.After(time.Now().Add(50*time.Millisecond)) {
			t.Errorf("Deadline: got %v, %v; want 50ms from the call", d, ok)
		}
		wait(t, call, "the call")
		if got := call.Err(); !errors.Is(got, context.DeadlineExceeded) {
			t.Errorf("call's Err: got %v; want context.DeadlineExceeded", got)
		}
		if p.timer != nil {
			t.Error("the call armed its parent's timer")
		}
		notDone(t, p, "the parent after its call's timeout")
	})
	t.Run("the parent's deadline, first", func(t *testing.T) {
		parent, cancelParent := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancelParent()
		p := New(parent)
		defer p.Cancel()
		call, cancel := WithTimeout(p, time.Hour)
		defer cancel()
		if got, _ := call.Deadline(); !got.Equal(mustDeadline(t, parent)) {
			t.Errorf("Deadline: got %v; want the parent's, %v", got, mustDeadline(t, parent))
		}
		wait(t, call, "the call")
		if got := call.Err(); !errors.Is(got, context.DeadlineExceeded) {
			t.Errorf("call's Err: got %v; want context.DeadlineExceeded", got)
		}
	})
	t.Run("ends with its parent", func(t *testing.T) {
		p := New(context.Background())
		call, cancel := WithTimeout(p, time.Hour)
		defer cancel()
		notDone(t, call, "the call")
		p.Cancel()
		wait(t, call, "the call after its parent's Cancel")
		if got := call.Err(); !errors.Is(got, context.Canceled) {
			t.Errorf("call's Err: got %v; want context.Canceled", got)
		}
	})
	t.Run("under an ended parent", func(t *testing.T) {
		p := New(context.Background())
		p.Cancel()
		call, cancel := WithTimeout(p, time.Hour)
		defer cancel()
		wait(t, call, "the call")
	})
	t.Run("cancel unregisters it", func(t *testing.T) {
		p := New(context.Background())
		defer p.Cancel()
		call, cancel := WithTimeout(p, time.Hour)
		if got := len(p.children); got != 1 {
			t.Fatalf("children: got %d; want 1", got)
		}
		cancel()
		wait(t, call, "the call after cancel")
		if got := len(p.children); got != 0 {
			t.Errorf("children after cancel: got %d; want 0", got)
		}
		notDone(t, p, "the parent after its call's cancel")
	})
	t.Run("keeps values", func(t *testing.T) {
		p := New(context.WithValue(context.Background(), key{}, "v"))
		defer p.Cancel()
		call, cancel := WithTimeout(p, time.Hour)
		defer cancel()
		if got := call.Value(key{}); got != "v" {
			t.Errorf("Value: got %v; want v", got)
		}
	})
	t.Run("over another context, the standard one", func(t *testing.T) {
		parent, cancelParent := context.WithCancel(context.Background())
		call, cancel := WithTimeout(parent, time.Hour)
		defer cancel()
		if _, ok := call.(*Context); ok {
			t.Error("WithTimeout over a cancelCtx: got a *Context")
		}
		cancelParent()
		wait(t, call, "the call after its parent's cancellation")
	})
}

func mustDeadline(t *testing.T, ctx context.Context) time.Time {
	t.Helper()
	d, ok := ctx.Deadline()
	if !ok {
		t.Fatal("no deadline")
	}
	return d
}

// The context package ties its contexts to a Context through AfterFunc:
// no goroutine each, ended with it, and unregistered when they end first.
func TestStandardChildren(t *testing.T) {
	p := New(context.Background())
	before := runtime.NumGoroutine()
	const n = 100
	var children []context.Context
	var cancels []context.CancelFunc
	for range n {
		ctx, cancel := context.WithCancel(p)
		children = append(children, ctx)
		cancels = append(cancels, cancel)
	}
	if got := runtime.NumGoroutine(); got > before {
		t.Errorf("goroutines: got %d; want at most %d", got, before)
	}
	if got := len(p.children); got != n {
		t.Fatalf("children: got %d; want %d", got, n)
	}
	for _, cancel := range cancels[:n/2] {
		cancel()
	}
	if got := len(p.children); got != n/2 {
		t.Errorf("children after half are cancelled: got %d; want %d", got, n/2)
	}
	p.Cancel()
	for i, ctx := range children {
		wait(t, ctx, "a child")
		if i >= n/2 && !errors.Is(context.Cause(ctx), context.Canceled) {
			t.Errorf("child %d's cause: got %v; want context.Canceled", i, context.Cause(ctx))
		}
	}
	for _, cancel := range cancels {
		cancel()
	}
	// Made after the end: ended at once.
	ctx, cancel := context.WithCancel(p)
	defer cancel()
	wait(t, ctx, "a child made after the end")
	ran := make(chan struct{})
	context.AfterFunc(p, func() { close(ran) })
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("AfterFunc after the end: f did not run")
	}
}

// A standard context with a later deadline under a Context ends at the
// Context's deadline: waiting on the Context arms its timer.
func TestStandardChildWithLaterDeadline(t *testing.T) {
	parent, cancelParent := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelParent()
	p := New(parent)
	defer p.Cancel()
	ctx, cancel := context.WithTimeout(p, time.Hour)
	defer cancel()
	wait(t, ctx, "the standard child")
	if got := ctx.Err(); !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("Err: got %v; want context.DeadlineExceeded", got)
	}
}

func TestAfterFuncStop(t *testing.T) {
	p := New(context.Background())
	ran := make(chan struct{}, 1)
	stop := p.AfterFunc(func() { ran <- struct{}{} })
	if !stop() {
		t.Error("stop: got false; want true")
	}
	if stop() {
		t.Error("second stop: got true; want false")
	}
	p.Cancel() // runs what is registered before it returns
	select {
	case <-ran:
		t.Error("f ran after stop")
	default:
	}
}

// Cancel, the deadline, Err, Done and children made and cancelled, all at
// once: for the race detector, and every child ends.
func TestConcurrent(t *testing.T) {
	for range 50 {
		parent, cancelParent := context.WithTimeout(context.Background(), time.Millisecond)
		p := New(parent)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				call, cancel := WithTimeout(p, time.Millisecond)
				ctx, cancelStd := context.WithCancel(call)
				_ = p.Err()
				<-ctx.Done()
				cancelStd()
				cancel()
			})
		}
		wg.Go(func() { <-p.Done() })
		wg.Go(func() {
			time.Sleep(time.Millisecond)
			p.Cancel()
		})
		wg.Wait()
		cancelParent()
		if p.Err() == nil {
			t.Fatal("Err: got nil after Cancel")
		}
	}
}
