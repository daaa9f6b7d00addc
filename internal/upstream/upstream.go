// Package upstream makes the memories.ai calls for the videos an account
// needs: list_videos in batches where the caller needs no detail fields,
// get_metadata otherwise. Each endpoint has its own rate budget per account;
// calls queue for it, the answers worth retrying are retried, and a batch
// that keeps failing is split until only the videos that fail get an error.
//
// It sits below the cross-request cache (videocache) and above the
// memories.ai client.
package upstream

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/cost"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/ratelimit"
)

// Client is the upstream calls this package needs.
type Client interface {
	GetMetadata(ctx context.Context, key string, ref memories.VideoRef) (*memories.Video, error)
	ListVideos(ctx context.Context, key string, req memories.ListRequest) (*memories.ListPage, error)
}

// Limiter spends one rate budget per account.
type Limiter interface {
	// Wait blocks until the account may call; it returns an error when the
	// budget will not be there before ctx's deadline (a
	// *ratelimit.DeniedError) or ctx ends.
	Wait(ctx context.Context, accountID string) error
	// Pause holds back all calls of the account for d.
	Pause(accountID string, d time.Duration)
}

// The endpoints, as metrics and traces name them.
const (
	endpointMetadata = cost.GetMetadata
	endpointList     = cost.ListVideos
)

// Observer records what the Caller does, for metrics. endpoint is
// "get_metadata" or "list_videos".
type Observer interface {
	UpstreamCall(endpoint, outcome string, d time.Duration)
	LimiterWait(endpoint string, d time.Duration)
	// ListUnavailable counts the times list_videos was found unavailable
	// for an account, which then falls back on get_metadata.
	ListUnavailable()
}

// Options tune a Caller; the zero value takes the defaults.
type Options struct {
	// MaxConcurrency bounds the upstream calls in flight at once (default 16).
	MaxConcurrency int
	// NoBatch makes every video cost one get_metadata call, whatever its
	// selection (MEMORIES_BATCH=off).
	NoBatch bool
	// BatchSize is the number of videos asked per list_videos call
	// (default 200).
	BatchSize int
	// SingleViaMetadata sends a batch of one video to get_metadata when
	// that budget is there now (see metaNow). The server sets it; it is off
	// in the zero value so that tests of list_videos can ask for one video.
	SingleViaMetadata bool
	// ProbeAfter is how long an account whose list_videos is unavailable
	// uses get_metadata before list_videos is tried again (default 1m).
	ProbeAfter time.Duration
	// Observer, if set, is told about every call and every wait for budget.
	Observer Observer
	// Tracer, if set, gets a span per upstream call.
	Tracer trace.Tracer
	// Logger gets a warning when list_videos is unavailable for an account;
	// nil discards it.
	Logger *slog.Logger

	// The retry and deadline timings; only the tests change them.

	// transientRetries is how many times a vendor "0001" is retried
	// (default 2).
	transientRetries int
	// backoffBase is the first retry delay when the upstream gives no
	// Retry-After (default 200ms); it doubles on each attempt up to 5s.
	backoffBase time.Duration
	// callReserve is the time a call needs after it gets budget (default
	// 250ms): budget that would come later than callReserve before the
	// deadline is refused at once, rather than spent on a call that would
	// time out.
	callReserve time.Duration
}

// Caller fetches videos. It is safe for concurrent use and shared by all
// requests of the process.
type Caller struct {
	client     Client
	meta, list endpoint
	slots      chan struct{}
	retries    int
	backoff    time.Duration
	reserve    time.Duration
	noBatch    bool
	batchSize  int
	single     bool
	probeAfter time.Duration
	obs        Observer
	tracer     trace.Tracer
	logger     *slog.Logger

	mu          sync.Mutex
	unavailable map[string]time.Time // account ID -> when to try list_videos again
}

// endpoint is one upstream call with its budget.
type endpoint struct {
	name    string
	limiter Limiter
}

// noSpan stands for the span of a call when there is no tracer.
var noSpan trace.Span = noop.Span{}

const (
	maxBackoff       = 5 * time.Second
	sweepUnavailable = 1024
)

// New returns a Caller over client, spending meta's budget on get_metadata
// calls and list's on list_videos calls.
func New(client Client, meta, list Limiter, opts Options) *Caller {
	s := &Caller{
		client:      client,
		meta:        endpoint{name: endpointMetadata, limiter: meta},
		list:        endpoint{name: endpointList, limiter: list},
		slots:       make(chan struct{}, positive(opts.MaxConcurrency, 16)),
		retries:     positive(opts.transientRetries, 2),
		backoff:     positive(opts.backoffBase, 200*time.Millisecond),
		reserve:     positive(opts.callReserve, 250*time.Millisecond),
		noBatch:     opts.NoBatch,
		batchSize:   positive(opts.BatchSize, 200),
		single:      opts.SingleViaMetadata,
		probeAfter:  positive(opts.ProbeAfter, time.Minute),
		obs:         opts.Observer,
		tracer:      opts.Tracer,
		logger:      opts.Logger,
		unavailable: map[string]time.Time{},
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return s
}

func positive[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// Videos fetches refs, which must be distinct, and returns the videos in
// the same order, nil where the upstream does not know the video. errs is
// nil when every video has an answer, else it holds an error (or nil) per
// ref. With detail, or with batching off, every video costs a get_metadata
// call; otherwise the videos of one scope are asked through list_videos,
// BatchSize at a time, and the videos carry no detail fields.
//
// Every error is a *memories.Error, except when ctx is cancelled. Running
// out of budget before ctx's deadline is memories.KindRateLimited, with the
// limiter's refusal as its cause.
func (c *Caller) Videos(ctx context.Context, acct account.Account, refs []memories.VideoRef, detail bool) ([]*memories.Video, []error) {
	r := &results{videos: make([]*memories.Video, len(refs)), errs: make([]error, len(refs))}
	all := make([]int, len(refs))
	for i := range all {
		all[i] = i
	}
	if detail || c.noBatch || !c.listAvailable(acct.ID()) {
		c.each(ctx, acct, refs, all, r)
	} else {
		c.batches(ctx, acct, refs, all, r)
	}
	for _, err := range r.errs {
		if err != nil {
			return r.videos, r.errs
		}
	}
	return r.videos, nil
}

// results collects answers by index; concurrent writers use distinct
// indices.
type results struct {
	videos []*memories.Video
	errs   []error
}

// each fetches the videos at idx with get_metadata, at most MaxConcurrency
// at once.
func (c *Caller) each(ctx context.Context, acct account.Account, refs []memories.VideoRef, idx []int, r *results) {
	parallel(len(idx), cap(c.slots), func(j int) {
		i := idx[j]
		r.videos[i], r.errs[i] = c.video(ctx, acct, refs[i])
	})
}

// batches groups the videos at idx by scope, cuts each group into chunks of
// BatchSize and fetches the chunks through list_videos.
func (c *Caller) batches(ctx context.Context, acct account.Account, refs []memories.VideoRef, idx []int, r *results) {
	var chunks [][]int
	if len(idx) == 1 {
		chunks = [][]int{idx} // one video, the most common look-up
	} else {
		groups := map[string][]int{}
		var order []string
		for _, i := range idx {
			u := refs[i].UniqueID
			if _, ok := groups[u]; !ok {
				order = append(order, u)
			}
			groups[u] = append(groups[u], i)
		}
		for _, u := range order {
			g := groups[u]
			for len(g) > 0 {
				n := min(len(g), c.batchSize)
				chunks = append(chunks, g[:n:n])
				g = g[n:]
			}
		}
	}
	parallel(len(chunks), cap(c.slots), func(j int) {
		if c.single && len(chunks[j]) == 1 && !batchOnly(ctx) && c.metaNow(ctx, acct) {
			i := chunks[j][0]
			r.videos[i], r.errs[i] = c.fetchVideo(ctx, acct, refs[i], true)
			return
		}
		c.batch(ctx, acct, refs, chunks[j], r)
	})
}

// metaNow takes a get_metadata call's budget for the account if it is
// there now, without waiting: a batch of one video then costs one
// get_metadata call in place of one list_videos call. Both are one call;
// get_metadata's answer is complete, so it also serves later selections
// of the detail fields, and it skips the list path's work. A batch of two
// or more stays on list_videos, one call for all: more get_metadata calls
// would spend more of the account's budget. When get_metadata's budget is
// spent or queued for (detail look-ups waiting for it keep their turn),
// the video goes to list_videos as before.
func (c *Caller) metaNow(ctx context.Context, acct account.Account) bool {
	if taken, decided := c.takeNow(ctx, acct, c.meta); decided {
		return taken
	}
	now, cancel := context.WithTimeout(ctx, noWait)
	defer cancel()
	err := c.meta.limiter.Wait(now, acct.ID())
	return err == nil
}

// takeNow takes ep's budget for acct if it is there now and callReserve is
// left before ctx's deadline. decided is false when ep's limiter can only
// tell through a Wait (not a nowTaker) and there is time for one.
func (c *Caller) takeNow(ctx context.Context, acct account.Account, ep endpoint) (taken, decided bool) {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < c.reserve {
		return false, true
	}
	t, ok := ep.limiter.(nowTaker)
	if !ok {
		return false, false
	}
	return t.TakeNow(acct.ID()), true
}

// nowTaker is a Limiter that takes a call's budget only if it is there now
// more cheaply than a Wait with a deadline that has come
// (ratelimit.Registry; the shared one asks Redis either way).
type nowTaker interface {
	TakeNow(accountID string) bool
}

type batchOnlyKey struct{}

// BatchOnly returns ctx with its look-ups kept to list_videos where they
// need no detail fields: a batch of one video stays a list_videos call.
// A watch polls this way, because it counts its polls against its share of
// the list_videos budget (watch.Budget); taking get_metadata's budget
// would take from the queries' share of it.
func BatchOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, batchOnlyKey{}, true)
}

func batchOnly(ctx context.Context) bool {
	v, _ := ctx.Value(batchOnlyKey{}).(bool)
	return v
}

// noWait is the longest wait for budget metaNow takes as "there now": the
// limiters refuse at once a wait longer than the caller's deadline.
const noWait = time.Millisecond

// batch fetches one chunk of videos of one scope through list_videos. When
// the call keeps failing in a way that may concern only some of its videos
// (an answer that does not decode, a server error, a call timeout), it
// splits the chunk and tries the halves, down to get_metadata calls for the
// last one or two videos, so that only the videos that fail on their own
// get an error.
func (c *Caller) batch(ctx context.Context, acct account.Account, refs []memories.VideoRef, idx []int, r *results) {
	got, err := c.listAll(ctx, acct, refs, idx)
	if err == nil {
		for _, i := range idx {
			r.videos[i] = got[refs[i].VideoNo]
		}
		return
	}
	var me *memories.Error
	isMe := errors.As(err, &me)
	switch {
	case isMe && me.Kind == memories.KindUnsupported:
		c.markUnavailable(ctx, acct.ID())
		c.each(ctx, acct, refs, idx, r)
	case ctx.Err() != nil || !isMe || me.Kind == memories.KindRateLimited || me.AboutAccount():
		// Out of time or budget, or an answer about the account: no
		// smaller call would fare better.
		for _, i := range idx {
			r.errs[i] = err
		}
	case len(idx) <= 2:
		c.each(ctx, acct, refs, idx, r)
	default:
		half := len(idx) / 2
		parallel(2, 2, func(j int) {
			if j == 0 {
				c.batch(ctx, acct, refs, idx[:half:half], r)
			} else {
				c.batch(ctx, acct, refs, idx[half:], r)
			}
		})
	}
}

// listAll asks list_videos for the videos at idx (one scope), page after
// page until every match has arrived, and returns them by video number.
// Videos the answer names but the call did not ask for are dropped: the
// order and the contents of an answer are the upstream's, not a promise.
func (c *Caller) listAll(ctx context.Context, acct account.Account, refs []memories.VideoRef, idx []int) (map[string]*memories.Video, error) {
	nos := make([]string, len(idx))
	want := make(map[string]bool, len(idx))
	for j, i := range idx {
		nos[j] = refs[i].VideoNo
		want[nos[j]] = true
	}
	uniqueID := refs[idx[0]].UniqueID
	got := make(map[string]*memories.Video, len(idx))
	// One page more than videos asked bounds an upstream whose counts
	// never add up.
	for page := 1; page <= len(nos)+1; page++ {
		var p *memories.ListPage
		err := c.do(ctx, acct, c.list, false, func(ctx context.Context, span trace.Span) (string, error) {
			if span.IsRecording() {
				span.SetAttributes(attribute.String("memories.unique_id", uniqueID),
					attribute.Int("memories.videos", len(nos)), attribute.Int("memories.page", page))
			}
			var err error
			p, err = c.client.ListVideos(ctx, acct.Key(), memories.ListRequest{UniqueID: uniqueID, VideoNos: nos, Page: page, Size: len(nos)})
			return "ok", err
		})
		if err != nil {
			return nil, err
		}
		for _, v := range p.Videos {
			if want[v.VideoNo] {
				got[v.VideoNo] = v
			}
		}
		seen := int64(page) * int64(max(p.PageSize, len(p.Videos)))
		if len(p.Videos) == 0 || int64(len(got)) >= p.TotalCount || seen >= p.TotalCount {
			break
		}
	}
	return got, nil
}

// video fetches one video with get_metadata.
func (c *Caller) video(ctx context.Context, acct account.Account, ref memories.VideoRef) (*memories.Video, error) {
	return c.fetchVideo(ctx, acct, ref, false)
}

// fetchVideo is video; budgeted says the call's budget is taken already.
func (c *Caller) fetchVideo(ctx context.Context, acct account.Account, ref memories.VideoRef, budgeted bool) (*memories.Video, error) {
	var v *memories.Video
	err := c.do(ctx, acct, c.meta, budgeted, func(ctx context.Context, span trace.Span) (string, error) {
		if span.IsRecording() {
			span.SetAttributes(attribute.String("memories.video_no", ref.VideoNo), attribute.String("memories.unique_id", ref.UniqueID))
		}
		var err error
		v, err = c.client.GetMetadata(ctx, acct.Key(), ref)
		if err == nil && v == nil {
			return "not_found", nil
		}
		return "ok", err
	})
	return v, err
}

// do makes one upstream call on ep's budget, retrying the answers worth
// retrying: rate limited (after the upstream's Retry-After, which pauses
// the whole account, or a jittered backoff) and the vendor's transient
// 0001 (up to transientRetries times). call returns the outcome to record
// when it succeeds. budgeted says the first attempt's budget is taken.
func (c *Caller) do(ctx context.Context, acct account.Account, ep endpoint, budgeted bool, call func(context.Context, trace.Span) (string, error)) error {
	transient := 0
	for attempt := 0; ; attempt++ {
		if attempt > 0 || !budgeted {
			if err := c.wait(ctx, acct, ep); err != nil {
				return err
			}
		}
		err := c.call(ctx, ep, call)
		var me *memories.Error
		if err == nil || !errors.As(err, &me) || !me.Retryable() {
			return err
		}
		delay := c.backoffFor(attempt)
		if me.Kind == memories.KindRateLimited {
			if me.RetryAfter > 0 {
				// The upstream says when the account's budget is back: hold
				// every caller of this account, not just this one.
				delay = me.RetryAfter
				ep.limiter.Pause(acct.ID(), delay)
			}
		} else if transient++; transient > c.retries {
			return err
		}
		if deadline, ok := ctx.Deadline(); ok && time.Now().Add(delay).After(deadline) {
			if me.Kind == memories.KindRateLimited && me.RetryAfter < delay {
				me.RetryAfter = delay
			}
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return waitEnded(ctx, delay, ctx.Err())
		}
	}
}

// wait waits for ep's budget, keeping callReserve before ctx's deadline for
// the call itself.
func (c *Caller) wait(ctx context.Context, acct account.Account, ep endpoint) error {
	if taken, _ := c.takeNow(ctx, acct, ep); taken {
		// There now: no wait to bound with a context of its own.
		if c.obs != nil {
			c.obs.LimiterWait(ep.name, 0)
		}
		return nil
	}
	waitCtx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithDeadline(ctx, deadline.Add(-c.reserve))
		defer cancel()
	}
	start := time.Now()
	err := ep.limiter.Wait(waitCtx, acct.ID())
	waited := time.Since(start)
	if c.obs != nil {
		c.obs.LimiterWait(ep.name, waited)
	}
	cost.From(ctx).Wait(waited)
	if err == nil {
		return nil
	}
	var denied *ratelimit.DeniedError
	if errors.As(err, &denied) {
		return &memories.Error{Kind: memories.KindRateLimited, RetryAfter: denied.RetryAfter, Unsent: true, Err: err}
	}
	return waitEnded(ctx, c.reserve, err)
}

// waitEnded is the error of a call whose context ended while it waited:
// for budget or between retries (retry after wait), or cancelled.
func waitEnded(ctx context.Context, wait time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	return &memories.Error{Kind: memories.KindRateLimited, RetryAfter: max(wait, time.Second), Err: err}
}

// acquire takes a slot of the concurrency bound, waiting for one only if
// none is free: only a wait asks for ctx.Done, which arms the timer of a
// detached fetch's context (detach.Context). It fails once ctx has ended.
func (c *Caller) acquire(ctx context.Context) error {
	select {
	case c.slots <- struct{}{}:
	default:
		select {
		case c.slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := ctx.Err(); err != nil {
		<-c.slots
		return err
	}
	return nil
}

// call makes one upstream call inside the concurrency bound. Waiting for a
// slot means calls already in flight are slow, so running out of time there
// is an upstream timeout, not a rate limit.
func (c *Caller) call(ctx context.Context, ep endpoint, call func(context.Context, trace.Span) (string, error)) error {
	if err := c.acquire(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return &memories.Error{Kind: memories.KindTimeout, Err: err}
		}
		return err
	}
	defer func() { <-c.slots }()
	cost.From(ctx).Call(ep.name)
	// Spans name videos, never the account: its key must not leave the
	// process, and its hash identifies a customer.
	// Without a tracer, no span: starting even a no-op one costs a context
	// and its look-ups on every call.
	var span trace.Span = noSpan
	if c.tracer != nil {
		ctx, span = c.tracer.Start(ctx, "memories."+ep.name, trace.WithSpanKind(trace.SpanKindClient))
		defer span.End()
	}
	start := time.Now()
	outcome, err := call(ctx, span)
	if err != nil {
		outcome = outcomeOf(err)
		span.SetStatus(codes.Error, outcome)
	}
	if span.IsRecording() {
		span.SetAttributes(attribute.String("memories.outcome", outcome))
	}
	if c.obs != nil {
		c.obs.UpstreamCall(ep.name, outcome, time.Since(start))
	}
	return err
}

// outcomeOf names a failed call for metrics and traces: the error kind's
// name ("rate_limited", "timeout", "upstream_error", ...), "canceled", or
// "error" for anything else.
func outcomeOf(err error) string {
	var me *memories.Error
	switch {
	case errors.As(err, &me):
		return me.Kind.Name()
	case errors.Is(err, context.Canceled):
		return "canceled"
	default:
		return "error"
	}
}

// listAvailable reports whether list_videos may be used for the account:
// it has not been found unavailable lately.
func (c *Caller) listAvailable(accountID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	until, ok := c.unavailable[accountID]
	if !ok {
		return true
	}
	if time.Now().Before(until) {
		return false
	}
	// Probe: the next batch tries list_videos again.
	delete(c.unavailable, accountID)
	return true
}

// markUnavailable makes the account use get_metadata for ProbeAfter.
func (c *Caller) markUnavailable(ctx context.Context, accountID string) {
	now := time.Now()
	c.mu.Lock()
	_, already := c.unavailable[accountID]
	if len(c.unavailable) >= sweepUnavailable {
		for id, until := range c.unavailable {
			if now.After(until) {
				delete(c.unavailable, id)
			}
		}
	}
	c.unavailable[accountID] = now.Add(c.probeAfter)
	c.mu.Unlock()
	if already {
		return // another batch of the account found out at the same time
	}
	c.logger.WarnContext(ctx, "list_videos is unavailable for this account: using get_metadata, one call per video",
		"probe_after", c.probeAfter)
	if c.obs != nil {
		c.obs.ListUnavailable()
	}
}

// backoffFor returns a jittered exponential delay: between half and all of
// base·2^attempt, capped, so that callers that failed together do not retry
// together.
func (c *Caller) backoffFor(attempt int) time.Duration {
	d := c.backoff << min(attempt, 10)
	if d > maxBackoff || d <= 0 {
		d = maxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// parallel runs fn(0..n-1) on at most workers goroutines and waits for
// them; with one task it runs on the caller's goroutine.
func parallel(n, workers int, fn func(int)) {
	if n == 1 {
		fn(0)
		return
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		next int
	)
	for range min(n, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				j := next
				next++
				mu.Unlock()
				if j >= n {
					return
				}
				fn(j)
			}
		}()
	}
	wg.Wait()
}
