// Package videocache answers video look-ups across requests: from a cache
// keyed by account, and otherwise through one upstream call shared by every
// request that asks for the same video at the same time.
//
// It sits between the per-request loader and the upstream source and has
// the same method, so the loader does not know it is there.
package videocache

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/coalesce"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/upstream"
)

// Upstream fetches one video; (nil, nil) means the upstream does not know it.
type Upstream interface {
	Video(ctx context.Context, acct account.Account, uniqueID, videoNo string) (*memories.Video, error)
}

// Key names one video of one account. AccountID is account.Account.ID, a
// hash: the API key itself is never part of a key.
type Key struct {
	AccountID string
	UniqueID  string
	VideoNo   string
}

// Store keeps answers for a while. Implementations report no errors: a
// store that cannot answer reports a miss, and one that cannot keep an
// answer drops it.
type Store interface {
	// Get returns the answer kept for k; ok is false on a miss. A nil video
	// with ok true is a kept "not found".
	Get(ctx context.Context, k Key) (v *memories.Video, ok bool)
	// Set keeps v (nil: not found) for ttl, which is positive.
	Set(ctx context.Context, k Key, v *memories.Video, ttl time.Duration)
}

// Leaser is a Store shared by replicas that also lets them agree on which
// one fetches a video they all miss: the others wait for its answer instead
// of calling the upstream too.
type Leaser interface {
	// Lease claims the fetch of k. held is false while someone else holds
	// the claim; otherwise release must be called once the answer is kept.
	// A store that cannot tell grants the claim.
	Lease(ctx context.Context, k Key) (release func(), held bool)
	// Await waits for the answer of whoever holds the claim on k. ok is
	// false when the claim ended with no answer kept; err is ctx's error.
	Await(ctx context.Context, k Key) (v *memories.Video, ok bool, err error)
}

// maxClaims bounds how often a caller waits for another replica before it
// fetches without a claim: each wait that ends with no answer means the
// holder failed, and the caller's own try is due.
const maxClaims = 3

// TTLs say how long an answer is kept, by what the upstream said. Zero
// means "do not keep". Errors are never kept.
type TTLs struct {
	Parse    time.Duration // parsed: final, kept long
	Failed   time.Duration // the upstream gave up parsing
	Unparse  time.Duration // not parsed yet: it will change soon
	NotFound time.Duration // unknown video: it may be uploaded any moment
}

// For returns how long v (nil: not found) is kept.
func (t TTLs) For(v *memories.Video) time.Duration {
	if v == nil {
		return t.NotFound
	}
	switch v.Status {
	case memories.StatusParse:
		return t.Parse
	case memories.StatusFailed:
		return t.Failed
	default:
		return t.Unparse
	}
}

// Source fetches videos through a cache and shares concurrent fetches of one
// video. It is safe for concurrent use and shared by all requests.
//
// The videos it returns may be shared with other requests: treat them as
// read-only.
type Source struct {
	next    Upstream
	store   Store
	ttl     TTLs
	flights coalesce.Group[Key, fetched]
	obs     Observer
	tracer  trace.Tracer
}

// fetched is the result of one shared call, with the span of the lookup
// that made it, so that the lookups sharing it can link to it.
type fetched struct {
	video *memories.Video
	span  trace.SpanContext
}

// Observer records how each lookup was answered, for metrics: "hit" (kept
// answer), "miss" (this caller's call reached the upstream) or "coalesced"
// (it shared a call in flight, in this replica or another).
type Observer interface {
	CacheResult(result string)
}

// Observe makes s report every lookup to o.
func (s *Source) Observe(o Observer) *Source {
	s.obs = o
	return s
}

func (s *Source) observe(result string) {
	if s.obs != nil {
		s.obs.CacheResult(result)
	}
}

// Trace makes s record a span per lookup ("videocache.lookup", with its
// result) and per wait for another replica's call. A lookup that shares
// another's call links to that lookup's span, which holds the call.
func (s *Source) Trace(t trace.Tracer) *Source {
	s.tracer = t
	return s
}

// New returns a Source over next that keeps answers in store for ttl.
func New(next Upstream, store Store, ttl TTLs) *Source {
	s := &Source{next: next, store: store, ttl: ttl, tracer: noop.NewTracerProvider().Tracer("")}
	s.flights.DeadlineError = deadlineError
	return s
}

// Video returns one video, or nil when the upstream does not know it. A
// kept answer costs no upstream call; otherwise the callers asking for the
// same video at the same time share one. A caller whose ctx ends stops
// waiting at once; the shared call goes on for the others, and is cancelled
// when nobody waits for it any more.
func (s *Source) Video(ctx context.Context, acct account.Account, uniqueID, videoNo string) (*memories.Video, error) {
	k := Key{AccountID: acct.ID(), UniqueID: uniqueID, VideoNo: videoNo}
	// The span names the video, never the account (see upstream).
	ctx, span := s.tracer.Start(ctx, "videocache.lookup",
		trace.WithAttributes(attribute.String("memories.video_no", videoNo), attribute.String("memories.unique_id", uniqueID)))
	defer span.End()
	if v, ok := s.store.Get(ctx, k); ok {
		s.observe("hit")
		span.SetAttributes(attribute.String("cache.result", "hit"))
		return v, nil
	}
	// Only the closure of the caller that starts the call runs; the others
	// share its result. Atomic: a caller that leaves early reads it while
	// the call may still be running.
	var ran, stored, peer atomic.Bool
	defer func() {
		result := "coalesced"
		switch {
		case stored.Load():
			result = "hit"
		case ran.Load() && !peer.Load():
			result = "miss"
		}
		s.observe(result)
		span.SetAttributes(attribute.String("cache.result", result))
	}()
	own := span.SpanContext()
	f, err := s.flights.Do(ctx, k, func(ctx context.Context) (fetched, error) {
		ran.Store(true)
		v, err := s.fetch(ctx, acct, k, &stored, &peer)
		return fetched{video: v, span: own}, err
	})
	if !ran.Load() && f.span.IsValid() {
		span.AddLink(trace.Link{SpanContext: f.span})
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, waitError(ctx)
		}
		return nil, err
	}
	return f.video, nil
}

// fetch is the shared call for k: a last look in the store, then the
// upstream, or the answer of another replica that fetches k already.
func (s *Source) fetch(ctx context.Context, acct account.Account, k Key, stored, peer *atomic.Bool) (*memories.Video, error) {
	// Look again: a call that ended between this caller's miss and its
	// joining has stored its answer and left no call to join.
	if v, ok := s.store.Get(ctx, k); ok {
		stored.Store(true)
		return v, nil
	}
	v, found, release, err := s.claim(ctx, k)
	if err != nil {
		// Out of time waiting for another replica: a caller with more time
		// asks again.
		return nil, &outOfTimeError{waitError(ctx)}
	}
	if found {
		peer.Store(true)
		return v, nil
	}
	defer release()
	v, err = s.next.Video(ctx, acct, k.UniqueID, k.VideoNo)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = &outOfTimeError{err}
		}
		return nil, err
	}
	if ttl := s.ttl.For(v); ttl > 0 {
		// Store before the call ends, so that callers arriving after it find
		// the answer rather than start another call.
		s.store.Set(context.WithoutCancel(ctx), k, v, ttl)
	}
	return v, nil
}

// claim makes the caller the one replica that fetches k, or returns the
// answer another replica fetched meanwhile (found). Without a shared store
// every caller fetches. err is ctx's error, when it ends while waiting.
func (s *Source) claim(ctx context.Context, k Key) (v *memories.Video, found bool, release func(), err error) {
	l, ok := s.store.(Leaser)
	if !ok {
		return nil, false, func() {}, nil
	}
	for range maxClaims {
		release, held := l.Lease(ctx, k)
		if held {
			return nil, false, release, nil
		}
		if v, ok, err := s.await(ctx, l, k); err != nil || ok {
			return v, ok, nil, err
		}
	}
	return nil, false, func() {}, nil
}

// await waits for another replica's answer, in a span of its own: the time
// a lookup spends there is another replica's upstream call.
func (s *Source) await(ctx context.Context, l Leaser, k Key) (*memories.Video, bool, error) {
	ctx, span := s.tracer.Start(ctx, "videocache.await_replica")
	defer span.End()
	v, ok, err := l.Await(ctx, k)
	span.SetAttributes(attribute.Bool("videocache.answered", ok))
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return v, ok, err
}

// waitError is the error of a caller whose context ended while it waited,
// in the terms the upstream source uses for the same event.
func waitError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &memories.Error{Kind: memories.KindTimeout, Err: ctx.Err()}
	}
	return ctx.Err()
}

// deadlineError reports failures that come from the shared call's deadline
// rather than from the video: a caller with more time asks again.
func deadlineError(err error) bool {
	var rl *upstream.RateLimitedError
	var ot *outOfTimeError
	return errors.As(err, &rl) || errors.As(err, &ot)
}

// outOfTimeError marks a failure of a shared call that ran out of its
// deadline (the deadline of the caller that started it), as opposed to one
// that timed out on its own, such as an upstream call past its timeout.
type outOfTimeError struct{ err error }

func (e *outOfTimeError) Error() string { return e.err.Error() }
func (e *outOfTimeError) Unwrap() error { return e.err }
