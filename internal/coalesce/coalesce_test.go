package coalesce

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitForWaiters blocks until n callers wait on key's call.
func waitForWaiters[K comparable, V any](t *testing.T, g *Group[K, V], key K, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if g.Waiters(key) == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("callers waiting on %v never reached %d", key, n)
}

type result struct {
	val string
	err error
}

func TestConcurrentCallersShareOneCall(t *testing.T) {
	for _, n := range []int{1, 2, 50} {
		var g Group[string, string]
		var calls atomic.Int32
		release := make(chan struct{})
		fn := func(ctx context.Context) (string, error) {
			calls.Add(1)
			<-release
			return "v", nil
		}
		results := make(chan result, n)
		for range n {
			go func() {
				v, err := g.Do(context.Background(), "k", fn)
				results <- result{v, err}
			}()
		}
		waitForWaiters(t, &g, "k", n)
		close(release)
		for range n {
			if r := <-results; r.val != "v" || r.err != nil {
				t.Errorf("n=%d: Do = %q, %v; want \"v\", nil", n, r.val, r.err)
			}
		}
		if got := calls.Load(); got != 1 {
			t.Errorf("n=%d: calls = %d; want 1", n, got)
		}
		if got := g.InFlight(); got != 0 {
			t.Errorf("n=%d: InFlight after the call = %d; want 0", n, got)
		}
	}
}

func TestDistinctKeysDoNotShare(t *testing.T) {
	var g Group[string, string]
	var calls atomic.Int32
	for _, k := range []string{"a", "b", "c"} {
		v, err := g.Do(context.Background(), k, func(context.Context) (string, error) {
			calls.Add(1)
			return k, nil
		})
		if v != k || err != nil {
			t.Errorf("Do(%q) = %q, %v; want %q, nil", k, v, err, k)
		}
	}
	if got, want := calls.Load(), int32(3); got != want {
		t.Errorf("calls = %d; want %d", got, want)
	}
}

// A caller that gives up returns its own error at once; the call goes on for
// the others and is not cancelled.
func TestCallerLeavingDoesNotFailOthers(t *testing.T) {
	for _, tt := range []struct {
		name    string
		leaver  int // which caller gives up: 0 started the call
		wantErr error
	}{
		{"starter cancels", 0, context.Canceled},
		{"joiner cancels", 2, context.Canceled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var g Group[string, string]
			release := make(chan struct{})
			fnCtxErr := make(chan error, 1)
			fn := func(ctx context.Context) (string, error) {
				<-release
				fnCtxErr <- ctx.Err()
				return "v", nil
			}
			const n = 5
			ctxs := make([]context.Context, n)
			cancels := make([]context.CancelFunc, n)
			for i := range n {
				ctxs[i], cancels[i] = context.WithCancel(context.Background())
				defer cancels[i]()
			}
			results := make([]chan result, n)
			for i := range n {
				results[i] = make(chan result, 1)
				go func() {
					v, err := g.Do(ctxs[i], "k", fn)
					results[i] <- result{v, err}
				}()
				waitForWaiters(t, &g, "k", i+1) // keep the order: 0 starts the call
			}
			cancels[tt.leaver]()
			if r := <-results[tt.leaver]; !errors.Is(r.err, tt.wantErr) {
				t.Errorf("leaver: err = %v; want %v", r.err, tt.wantErr)
			}
			close(release)
			for i := range n {
				if i == tt.leaver {
					continue
				}
				if r := <-results[i]; r.val != "v" || r.err != nil {
					t.Errorf("caller %d: Do = %q, %v; want \"v\", nil", i, r.val, r.err)
				}
			}
			if err := <-fnCtxErr; err != nil {
				t.Errorf("call's context: %v; want not cancelled", err)
			}
		})
	}
}

// When every caller has left, the call's context is cancelled and the next
// caller starts a new call.
func TestCallNobodyWaitsForIsCancelled(t *testing.T) {
	var g Group[string, string]
	cancelled := make(chan error, 1)
	started := make(chan struct{})
	fn := func(ctx context.Context) (string, error) {
		close(started)
		<-ctx.Done()
		cancelled <- ctx.Err()
		return "", ctx.Err()
	}
	const n = 3
	var wg sync.WaitGroup
	cancels := make([]context.CancelFunc, n)
	for i := range n {
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := g.Do(ctx, "k", fn); !errors.Is(err, context.Canceled) {
				t.Errorf("caller %d: err = %v; want context.Canceled", i, err)
			}
		}()
	}
	<-started
	waitForWaiters(t, &g, "k", n)
	for _, c := range cancels {
		c()
	}
	wg.Wait()
	select {
	case err := <-cancelled:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("call's context error = %v; want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call was not cancelled after every caller left")
	}
	v, err := g.Do(context.Background(), "k", func(context.Context) (string, error) { return "fresh", nil })
	if got, want := v, "fresh"; got != want || err != nil {
		t.Errorf("Do after cancel = %q, %v; want %q, nil", got, err, want)
	}
}

// The call runs until the deadline of the caller that started it; a caller
// that joined with a later deadline asks again after a deadline error, one
// with the same or an earlier deadline does not.
func TestDeadlineRule(t *testing.T) {
	errBudget := errors.New("no budget in time")
	for _, tt := range []struct {
		name         string
		joinerOffset time.Duration // joiner's deadline relative to the starter's
		predicate    func(error) bool
		fnErr        error // the first call's failure
		wantErr      error // what the joiner gets
		wantCalls    int32
	}{
		{"later joiner retries after DeadlineExceeded", time.Hour, nil, context.DeadlineExceeded, nil, 2},
		{"later joiner retries after a custom deadline error", time.Hour, func(err error) bool { return errors.Is(err, errBudget) }, errBudget, nil, 2},
		{"later joiner shares other errors", time.Hour, nil, errBudget, errBudget, 1},
		{"same deadline shares the error", 0, nil, context.DeadlineExceeded, context.DeadlineExceeded, 1},
		{"earlier joiner shares the error", -time.Second, nil, context.DeadlineExceeded, context.DeadlineExceeded, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := Group[string, string]{DeadlineError: tt.predicate}
			var calls atomic.Int32
			release := make(chan struct{})
			fn := func(ctx context.Context) (string, error) {
				if calls.Add(1) == 1 {
					<-release
					return "", tt.fnErr
				}
				return "v", nil
			}
			base := time.Now().Add(time.Hour)
			starterCtx, cancel1 := context.WithDeadline(context.Background(), base)
			defer cancel1()
			joinerCtx, cancel2 := context.WithDeadline(context.Background(), base.Add(tt.joinerOffset))
			defer cancel2()

			starter := make(chan result, 1)
			go func() {
				v, err := g.Do(starterCtx, "k", fn)
				starter <- result{v, err}
			}()
			waitForWaiters(t, &g, "k", 1)
			joiner := make(chan result, 1)
			go func() {
				v, err := g.Do(joinerCtx, "k", fn)
				joiner <- result{v, err}
			}()
			waitForWaiters(t, &g, "k", 2)
			close(release)

			if r := <-starter; !errors.Is(r.err, tt.fnErr) {
				t.Errorf("starter: err = %v; want %v", r.err, tt.fnErr)
			}
			r := <-joiner
			if tt.wantErr == nil {
				if r.val != "v" || r.err != nil {
					t.Errorf("joiner: Do = %q, %v; want \"v\", nil", r.val, r.err)
				}
			} else if !errors.Is(r.err, tt.wantErr) {
				t.Errorf("joiner: err = %v; want %v", r.err, tt.wantErr)
			}
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("calls = %d; want %d", got, tt.wantCalls)
			}
		})
	}
}

// The call runs with the starter's deadline and values, not its cancellation.
func TestCallContext(t *testing.T) {
	var g Group[string, string]
	type ctxKey struct{}
	deadline := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.WithValue(context.Background(), ctxKey{}, "value"), deadline)
	defer cancel()
	_, _ = g.Do(ctx, "k", func(fctx context.Context) (string, error) {
		if got, ok := fctx.Deadline(); !ok || !got.Equal(deadline) {
			t.Errorf("call deadline = %v, %v; want %v", got, ok, deadline)
		}
		if got := fctx.Value(ctxKey{}); got != "value" {
			t.Errorf("call value = %v; want \"value\"", got)
		}
		return "", nil
	})
}

func TestPanicBecomesError(t *testing.T) {
	var g Group[string, string]
	_, err := g.Do(context.Background(), "k", func(context.Context) (string, error) { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("err = %v; want one that mentions the panic", err)
	}
	v, err := g.Do(context.Background(), "k", func(context.Context) (string, error) { return "ok", nil })
	if v != "ok" || err != nil {
		t.Errorf("Do after panic = %q, %v; want \"ok\", nil", v, err)
	}
}
