package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/ratelimit"
)

func newRegistry(t *testing.T, perSecond float64, burst int) *ratelimit.Registry {
	t.Helper()
	return ratelimit.New(perSecond, burst)
}

func TestNewRejectsBadSettings(t *testing.T) {
	for _, tt := range []struct {
		rate  float64
		burst int
	}{{0, 1}, {-1, 1}, {1, 0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%v, %d) did not panic; want a panic", tt.rate, tt.burst)
				}
			}()
			ratelimit.New(tt.rate, tt.burst)
		}()
	}
}

// The bucket never lets calls through early: n calls after the burst take at
// least n/rate. Only the lower bound is checked, which no load can break.
func TestWaitQueuesForBudget(t *testing.T) {
	r := newRegistry(t, 20, 2)
	start := time.Now()
	for i := 0; i < 6; i++ {
		if err := r.Wait(context.Background(), "acct"); err != nil {
			t.Fatalf("Wait #%d: %v", i, err)
		}
	}
	if got, want := time.Since(start), 200*time.Millisecond; got < want {
		t.Errorf("6 calls at 20/s with burst 2 took %v; want at least %v", got, want)
	}
}

func TestWaitDeniesWhenDeadlineTooShort(t *testing.T) {
	r := newRegistry(t, 1, 1)
	if err := r.Wait(context.Background(), "acct"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := r.Wait(ctx, "acct")
	var denied *ratelimit.DeniedError
	if !errors.As(err, &denied) {
		t.Fatalf("Wait = %v; want *DeniedError", err)
	}
	if denied.RetryAfter <= 0 || denied.RetryAfter > time.Second {
		t.Errorf("RetryAfter = %v; want in (0, 1s]", denied.RetryAfter)
	}
	if ctx.Err() != nil {
		t.Errorf("Wait returned after the deadline (%v); want at once", time.Since(start))
	}
	// The denied call gave its reservation back: a caller with room to wait
	// gets the next token no later than one interval from now.
	if err := r.Wait(context.Background(), "acct"); err != nil {
		t.Fatal(err)
	}
}

// TakeNow takes the budget that is there and never waits for more: the
// burst, then nothing until it refills; nothing while the account is
// paused; and none of what a Wait took.
func TestTakeNow(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(*ratelimit.Registry)
		want  []bool
	}{
		{"the burst", func(*ratelimit.Registry) {}, []bool{true, true, false}},
		{"paused", func(r *ratelimit.Registry) { r.Pause("a", time.Hour) }, []bool{false}},
		{"after a wait took the burst", func(r *ratelimit.Registry) {
			for range 2 {
				if err := r.Wait(context.Background(), "a"); err != nil {
					t.Fatal(err)
				}
			}
		}, []bool{false}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRegistry(t, 0.001, 2) // no refill within the test
			tt.setup(r)
			for i, want := range tt.want {
				if got := r.TakeNow("a"); got != want {
					t.Errorf("TakeNow #%d = %v; want %v", i+1, got, want)
				}
			}
			if !r.TakeNow("b") {
				t.Errorf("TakeNow of another account = false; want true")
			}
		})
	}
}

func TestAccountsAreIndependent(t *testing.T) {
	r := newRegistry(t, 0.001, 1) // one call per account, then a very long wait
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for i := 0; i < 50; i++ {
		if err := r.Wait(ctx, fmt.Sprintf("acct-%d", i)); err != nil {
			t.Fatalf("first call of acct-%d: %v; want nil", i, err)
		}
	}
	if err := r.Wait(ctx, "acct-0"); err == nil {
		t.Fatal("second call of acct-0: nil; want denied")
	}
}

func TestPauseDelaysCalls(t *testing.T) {
	r := newRegistry(t, 1000, 10)
	r.Pause("acct", 300*time.Millisecond)
	r.Pause("acct", 10*time.Millisecond) // a shorter pause must not shorten it
	start := time.Now()
	if err := r.Wait(context.Background(), "acct"); err != nil {
		t.Fatal(err)
	}
	if got, want := time.Since(start), 300*time.Millisecond; got < want {
		t.Errorf("Wait after Pause(300ms) returned after %v; want at least %v", got, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r.Pause("acct", 5*time.Second)
	var denied *ratelimit.DeniedError
	if err := r.Wait(ctx, "acct"); !errors.As(err, &denied) || denied.RetryAfter < 4*time.Second {
		t.Errorf("Wait during a 5s pause = %v; want *DeniedError with RetryAfter near 5s", err)
	}
	if err := r.Wait(context.Background(), "other"); err != nil {
		t.Errorf("other account during acct's pause: %v; want nil", err)
	}
}

func TestCancelledWaitReturnsCtxErr(t *testing.T) {
	r := newRegistry(t, 1, 1)
	_ = r.Wait(context.Background(), "acct")
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if err := r.Wait(ctx, "acct"); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait = %v; want context.Canceled", err)
	}
}

func TestManyAccountsAreSwept(t *testing.T) {
	// More accounts than the sweep threshold must keep working; each new
	// account starts with a full burst.
	r := newRegistry(t, 1, 1)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				if err := r.Wait(ctx, fmt.Sprintf("acct-%d-%d", w, i)); err != nil {
					t.Errorf("first call of a new account: %v", err)
				}
				cancel()
			}
		}()
	}
	wg.Wait()
}
