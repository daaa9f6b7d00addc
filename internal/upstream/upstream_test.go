package upstream_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/ratelimit"
	"github.com/memories-facade/memories-graphql/internal/upstream"
)

// recordingLimiter is the real registry, with its pauses recorded.
type recordingLimiter struct {
	*ratelimit.Registry
	mu     sync.Mutex
	pauses []time.Duration
}

func (r *recordingLimiter) Pause(id string, d time.Duration) {
	r.mu.Lock()
	r.pauses = append(r.pauses, d)
	r.mu.Unlock()
	r.Registry.Pause(id, d)
}

// setup returns a Source over the real client against an emulator over HTTP.
func setup(t *testing.T, opts emulator.Options, perSecond float64, burst int, srcOpts ...upstream.Options) (*upstream.Source, *emulator.Server, *recordingLimiter) {
	t.Helper()
	emu, err := emulator.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	client, err := memories.NewClient(emu.URL(), memories.WithCallTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := ratelimit.New(perSecond, burst)
	if err != nil {
		t.Fatal(err)
	}
	lim := &recordingLimiter{Registry: reg}
	o := upstream.Options{BackoffBase: 10 * time.Millisecond}
	if len(srcOpts) > 0 {
		o = srcOpts[0]
	}
	return upstream.New(client, lim, o), emu, lim
}

var acct, _ = account.New("sk-upstream-test")

const sample = "VI606404158946574336"

func TestRetriesRateLimitAndHonoursRetryAfter(t *testing.T) {
	src, emu, lim := setup(t, emulator.Options{Faults: map[string]emulator.Fault{
		sample: {Kind: emulator.FaultCode, Code: "0429", Msg: "Request has exceeded the limit.", Status: 429, Times: 2},
	}}, 1000, 100)
	// The emulator's fault carries no Retry-After: backoff with jitter.
	v, err := src.Video(context.Background(), acct, "default", sample)
	if err != nil || v == nil || v.VideoNo != sample {
		t.Fatalf("Video = %v, %v; want the sample", v, err)
	}
	if got, want := emu.RequestsFor(sample), int64(3); got != want {
		t.Errorf("upstream calls = %d; want %d (two 0429, then success)", got, want)
	}
	if len(lim.pauses) != 0 {
		t.Errorf("pauses = %v; want none without Retry-After", lim.pauses)
	}
}

func TestRetryAfterPausesTheAccount(t *testing.T) {
	src, emu, lim := setup(t, emulator.Options{RateLimit: 1, Burst: 1, RetryAfterHeader: true}, 1000, 100)
	ctx := context.Background()
	if _, err := src.Video(ctx, acct, "default", sample); err != nil {
		t.Fatal(err)
	}
	// The emulator's bucket is empty now: the next call gets 0429 with
	// Retry-After: 1, pauses the account, and succeeds after the pause.
	if _, err := src.Video(ctx, acct, "default", sample); err != nil {
		t.Fatalf("second call: %v; want success after the pause", err)
	}
	if len(lim.pauses) == 0 || lim.pauses[0] != time.Second {
		t.Errorf("pauses = %v; want [1s] from Retry-After", lim.pauses)
	}
	if st := emu.Stats(); st.RateLimited < 1 {
		t.Errorf("0429 answers = %d; want at least 1", st.RateLimited)
	}
}

func TestRateLimitedWhenRetryAfterPassesDeadline(t *testing.T) {
	src, _, _ := setup(t, emulator.Options{RateLimit: 0.1, Burst: 1, RetryAfterHeader: true}, 1000, 100)
	if _, err := src.Video(context.Background(), acct, "default", sample); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := src.Video(ctx, acct, "default", sample)
	var rl *upstream.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter < 5*time.Second {
		t.Errorf("Video = %v; want *RateLimitedError with RetryAfter near 10s", err)
	}
	if ctx.Err() != nil {
		t.Error("Video waited out the deadline; want an immediate answer")
	}
}

func TestTransientCodeRetriedAFewTimes(t *testing.T) {
	tests := []struct {
		name      string
		times     int
		wantCalls int64
		wantErr   bool
	}{
		{"once", 1, 2, false},
		{"twice", 2, 3, false},
		{"always", 0, 3, true}, // the first call and two retries
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, emu, _ := setup(t, emulator.Options{Faults: map[string]emulator.Fault{
				sample: {Kind: emulator.FaultCode, Code: "0001", Msg: "network abnormal", Times: tt.times},
			}}, 1000, 100)
			_, err := src.Video(context.Background(), acct, "default", sample)
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v; want error %v", err, tt.wantErr)
			}
			if got := emu.RequestsFor(sample); got != tt.wantCalls {
				t.Errorf("upstream calls = %d; want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestDefiniteFailuresAreNotRetried(t *testing.T) {
	for _, f := range []emulator.Fault{
		{Kind: emulator.FaultHTTPError},
		{Kind: emulator.FaultMalformed},
		{Kind: emulator.FaultCode, Code: "0403", Msg: "disabled"},
	} {
		t.Run(f.Kind.String()+f.Code, func(t *testing.T) {
			src, emu, _ := setup(t, emulator.Options{Faults: map[string]emulator.Fault{sample: f}}, 1000, 100)
			if _, err := src.Video(context.Background(), acct, "default", sample); err == nil {
				t.Fatal("err = nil; want an error")
			}
			if got := emu.RequestsFor(sample); got != 1 {
				t.Errorf("upstream calls = %d; want 1", got)
			}
		})
	}
}

// Budget that would only come inside the call reserve before the deadline is
// refused at once rather than spent on a call that would time out.
func TestBudgetInsideCallReserveIsRefused(t *testing.T) {
	src, emu, _ := setup(t, emulator.Options{}, 0.5, 1, upstream.Options{CallReserve: 5 * time.Second})
	if _, err := src.Video(context.Background(), acct, "default", sample); err != nil {
		t.Fatal(err)
	}
	// The next token is ~2s away: inside the deadline (6s) but not before
	// the deadline less the 5s reserve.
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	_, err := src.Video(ctx, acct, "default", sample)
	var rl *upstream.RateLimitedError
	if !errors.As(err, &rl) {
		t.Errorf("Video = %v; want *RateLimitedError", err)
	}
	if got := emu.RequestsFor(sample); got != 1 {
		t.Errorf("upstream calls = %d; want 1", got)
	}
}
