// Package upstream fetches one video for one account: it waits for the
// account's rate budget, calls the memories.ai client, and retries the answers
// that are worth retrying (rate limited, the vendor's transient 0001).
package upstream

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/ratelimit"
)

// Client is the upstream call this package needs.
type Client interface {
	GetMetadata(ctx context.Context, key, uniqueID, videoNo string) (*memories.Video, error)
}

// Limiter spends an account's rate budget.
type Limiter interface {
	// Wait blocks until the account may call; it returns a
	// *ratelimit.DeniedError when the budget will not be there in time.
	Wait(ctx context.Context, accountID string) error
	// Pause holds back all calls of the account for d.
	Pause(accountID string, d time.Duration)
}

// Observer records what the Source does, for metrics.
type Observer interface {
	UpstreamCall(outcome string, d time.Duration)
	LimiterWait(d time.Duration)
}

// RateLimitedError reports a video that could not be fetched in time because
// the account's budget was spent. RetryAfter says when asking again is likely
// to work.
type RateLimitedError struct {
	RetryAfter time.Duration
	Err        error
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited: retry after %s", e.RetryAfter.Round(time.Millisecond))
}

func (e *RateLimitedError) Unwrap() error { return e.Err }

// Options tune the retry policy; the zero value takes the defaults.
type Options struct {
	// MaxConcurrency bounds the upstream calls in flight at once (default 16).
	MaxConcurrency int
	// TransientRetries is how many times a vendor "0001" is retried (default 2).
	TransientRetries int
	// BackoffBase is the first retry delay when the upstream gives no
	// Retry-After (default 200ms); it doubles on each attempt up to 5s.
	BackoffBase time.Duration
	// Observer, if set, is told about every call and every wait for budget.
	Observer Observer
	// Tracer, if set, gets a span per upstream call.
	Tracer trace.Tracer
	// CallReserve is the time a call needs after it gets budget (default
	// 250ms): budget that would come later than CallReserve before the
	// deadline is refused at once, rather than spent on a call that would
	// time out.
	CallReserve time.Duration
}

// Source fetches videos. It is safe for concurrent use and shared by all
// requests of the process.
type Source struct {
	client  Client
	limiter Limiter
	slots   chan struct{}
	retries int
	backoff time.Duration
	reserve time.Duration
	obs     Observer
	tracer  trace.Tracer
}

const maxBackoff = 5 * time.Second

// New returns a Source over client and limiter.
func New(client Client, limiter Limiter, opts Options) *Source {
	if opts.MaxConcurrency <= 0 {
		opts.MaxConcurrency = 16
	}
	if opts.TransientRetries <= 0 {
		opts.TransientRetries = 2
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = 200 * time.Millisecond
	}
	if opts.CallReserve <= 0 {
		opts.CallReserve = 250 * time.Millisecond
	}
	s := &Source{
		client:  client,
		limiter: limiter,
		slots:   make(chan struct{}, opts.MaxConcurrency),
		retries: opts.TransientRetries,
		backoff: opts.BackoffBase,
		reserve: opts.CallReserve,
		obs:     opts.Observer,
		tracer:  opts.Tracer,
	}
	if s.tracer == nil {
		s.tracer = noop.NewTracerProvider().Tracer("")
	}
	return s
}

// Video fetches one video. It returns (nil, nil) when the upstream does not
// know the video, a *RateLimitedError when the budget ran out before ctx's
// deadline, and the client's *memories.Error otherwise.
func (s *Source) Video(ctx context.Context, acct account.Account, uniqueID, videoNo string) (*memories.Video, error) {
	transient := 0
	for attempt := 0; ; attempt++ {
		if err := s.wait(ctx, acct); err != nil {
			return nil, err
		}
		v, err := s.call(ctx, acct, uniqueID, videoNo)
		var me *memories.Error
		if err == nil || !errors.As(err, &me) || !me.Retryable() {
			return v, err
		}

		delay := s.backoffFor(attempt)
		if me.Kind == memories.KindRateLimited {
			if me.RetryAfter > 0 {
				// The upstream says when the account's budget is back: hold
				// every caller of this account, not just this one.
				delay = me.RetryAfter
				s.limiter.Pause(acct.ID(), delay)
			}
		} else {
			transient++
			if transient > s.retries {
				return nil, err
			}
		}
		if deadline, ok := ctx.Deadline(); ok && time.Now().Add(delay).After(deadline) {
			if me.Kind == memories.KindRateLimited {
				return nil, &RateLimitedError{RetryAfter: delay, Err: err}
			}
			return nil, err
		}
		if err := sleep(ctx, delay); err != nil {
			return nil, err
		}
	}
}

// wait waits for budget, keeping CallReserve before ctx's deadline for the
// call itself.
func (s *Source) wait(ctx context.Context, acct account.Account) error {
	waitCtx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithDeadline(ctx, deadline.Add(-s.reserve))
		defer cancel()
	}
	start := time.Now()
	err := s.limiter.Wait(waitCtx, acct.ID())
	if s.obs != nil {
		s.obs.LimiterWait(time.Since(start))
	}
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			// Only the reserve ran out, not the caller's time.
			return &RateLimitedError{RetryAfter: s.reserve, Err: err}
		}
		return budgetError(ctx, err)
	}
	return nil
}

// call makes one upstream call inside the concurrency bound. Waiting for a
// slot means calls already in flight are slow, so running out of time there
// is an upstream timeout, not a rate limit.
func (s *Source) call(ctx context.Context, acct account.Account, uniqueID, videoNo string) (*memories.Video, error) {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, &memories.Error{Kind: memories.KindTimeout, Err: ctx.Err()}
		}
		return nil, ctx.Err()
	}
	defer func() { <-s.slots }()
	// The span names the video, never the account: its key must not leave
	// the process, and its hash identifies a customer.
	ctx, span := s.tracer.Start(ctx, "memories.get_metadata", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("memories.video_no", videoNo), attribute.String("memories.unique_id", uniqueID)))
	defer span.End()
	start := time.Now()
	v, err := s.client.GetMetadata(ctx, acct.Key(), uniqueID, videoNo)
	outcome := Outcome(v, err)
	span.SetAttributes(attribute.String("memories.outcome", outcome))
	if err != nil {
		span.SetStatus(codes.Error, outcome)
	}
	if s.obs != nil {
		s.obs.UpstreamCall(outcome, time.Since(start))
	}
	return v, err
}

// Outcome names the result of one upstream call for metrics and traces:
// "ok", "not_found", "canceled", or the error kind ("rate_limited",
// "timeout", "upstream_error", ...).
func Outcome(v *memories.Video, err error) string {
	var me *memories.Error
	switch {
	case err == nil && v == nil:
		return "not_found"
	case err == nil:
		return "ok"
	case errors.As(err, &me):
		switch me.Kind {
		case memories.KindRateLimited:
			return "rate_limited"
		case memories.KindUnauthenticated:
			return "unauthenticated"
		case memories.KindForbidden:
			return "forbidden"
		case memories.KindQuotaExceeded:
			return "quota_exceeded"
		case memories.KindBadRequest:
			return "bad_request"
		case memories.KindTimeout:
			return "timeout"
		default:
			return "upstream_error"
		}
	case errors.Is(err, context.Canceled):
		return "canceled"
	default:
		return "error"
	}
}

// backoffFor returns a jittered exponential delay: between half and all of
// base·2^attempt, capped, so that callers that failed together do not retry
// together.
func (s *Source) backoffFor(attempt int) time.Duration {
	d := s.backoff << min(attempt, 10)
	if d > maxBackoff || d <= 0 {
		d = maxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

func budgetError(ctx context.Context, err error) error {
	var denied *ratelimit.DeniedError
	if errors.As(err, &denied) {
		return &RateLimitedError{RetryAfter: denied.RetryAfter, Err: err}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &RateLimitedError{RetryAfter: time.Second, Err: err}
	}
	return err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return budgetError(ctx, ctx.Err())
	}
}
