// Package videocache answers video look-ups across requests: from a cache
// keyed by account, and otherwise through upstream calls that every request
// missing the same videos at the same time shares, in this process and,
// with Redis, across replicas.
//
// It sits between the per-request loader and the upstream calls, and
// takes many videos per look-up: one store round trip for all of them, one
// claim round trip for the ones to fetch, one upstream batch for the rest.
package videocache

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/cost"
	"github.com/memories-facade/memories-graphql/internal/departure"
	"github.com/memories-facade/memories-graphql/internal/detach"
	"github.com/memories-facade/memories-graphql/internal/memories"
)

// Upstream fetches distinct videos of one account, in order; errs is nil
// when all have an answer. detail asks for the fields only get_metadata
// returns.
type Upstream interface {
	Videos(ctx context.Context, acct account.Account, refs []memories.VideoRef, detail bool) ([]*memories.Video, []error)
}

// Key names one video of one account. AccountID is account.Account.ID, a
// hash: the API key itself is never part of a key.
type Key struct {
	AccountID string
	Ref       memories.VideoRef
}

// Entry is an answer to keep: Video nil is "not found".
type Entry struct {
	Key   Key
	Video *memories.Video
	// TTL is how long the answer serves as it is: its list fields, and
	// its detail fields unless DetailUntil says longer.
	TTL time.Duration
	// DetailUntil, when later than TTL, keeps a complete answer's detail
	// fields (resolutionLabel, fps, width, height) until then: they do not
	// change once a video is parsed, so a list_videos answer that shows it
	// still parsed is enough to serve them again (see Kept.Stale).
	DetailUntil time.Time
	// Replace keeps a list_videos answer even over a complete answer: the
	// look-up saw the complete one and its answer shows it untrue (the
	// video is gone or no longer parsed). Without it, a list_videos answer
	// never replaces a complete one, which would only cost a get_metadata
	// call later.
	Replace bool
}

// Kept is what a Store holds for one key.
type Kept struct {
	// Found is false on a miss. A nil Video with Found true is a kept "not
	// found".
	Found bool
	Video *memories.Video
	// Stale reports an answer whose TTL is over but whose detail fields
	// are kept (Entry.DetailUntil): Video is complete and parsed, and
	// serves again only with fresh list fields.
	Stale bool
	// DetailUntil is when the detail fields of a complete answer stop
	// serving; zero when they end with the answer.
	DetailUntil time.Time
}

// Store keeps answers for a while. Implementations report no errors: a
// store that cannot answer reports misses, and one that cannot keep an
// answer drops it. A kept video carries whether it is complete
// (memories.Video.Detailed); a store whose detail fields' time is over
// returns the video without them.
type Store interface {
	// Get returns what is kept for keys, in order.
	Get(ctx context.Context, keys []Key) []Kept
	// Set keeps entries, each for its TTL or until its DetailUntil,
	// whichever is later; an entry with neither in the future is dropped.
	Set(ctx context.Context, entries []Entry)
}

// Leaser is a Store shared by replicas that also lets them agree on which
// one fetches the videos they all miss: the others wait for its answers
// instead of calling the upstream too.
type Leaser interface {
	// Lease claims the fetch of keys in one round trip. held[i] is false
	// while another replica holds keys[i]; release ends the claims held,
	// once their answers are kept. A store that cannot tell grants all.
	Lease(ctx context.Context, keys []Key) (held []bool, release func())
	// Await waits for the answers of whoever holds the claims on keys.
	// Found is false where the claim ended with no answer kept; err is
	// ctx's error, when it ends first.
	Await(ctx context.Context, keys []Key) ([]Kept, error)
}

// TTLs say how long an answer is kept, by what the upstream said. Zero
// means "do not keep". Errors are never kept.
type TTLs struct {
	Parse    time.Duration // parsed: final, kept long
	Failed   time.Duration // the upstream gave up parsing
	Unparse  time.Duration // not parsed yet: it will change soon
	NotFound time.Duration // unknown video: it may be uploaded any moment
	// Detail is how long a parsed video's detail fields are kept, counted
	// from the get_metadata call, when longer than Parse: a list_videos
	// call refreshes the rest (Entry.DetailUntil).
	Detail time.Duration
}

// entry is the Entry that keeps v, the upstream's answer as of now.
func (t TTLs) entry(k Key, v *memories.Video, now time.Time) Entry {
	e := Entry{Key: k, Video: v, TTL: t.For(v)}
	if v != nil && v.Detailed && v.Status == memories.StatusParse && t.Detail > e.TTL {
		e.DetailUntil = now.Add(t.Detail)
	}
	return e
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

// result is how a video of a look-up was answered.
type result string

const (
	resultHit       result = "hit"       // a kept answer
	resultMiss      result = "miss"      // this look-up's call reached the upstream
	resultCoalesced result = "coalesced" // it shared a call in flight, in this replica or another
)

// Observer records how each video of a look-up was answered, for metrics:
// "hit", "miss" or "coalesced" (see result).
type Observer interface {
	CacheResult(result string, n int)
}

// Options configure a Cache; Store and Upstream are required.
type Options struct {
	Upstream Upstream
	Store    Store
	TTLs     TTLs
	// Observer, if set, is told how every video was answered.
	Observer Observer
	// Tracer, if set, gets a span per look-up ("videocache.lookup") and per
	// wait for another replica; a look-up that shares calls of others links
	// to their look-ups, which hold the calls.
	Tracer trace.Tracer
}

// Cache fetches videos through a store and shares concurrent fetches. It
// is safe for concurrent use and shared by all requests.
//
// The videos it returns may be shared with other requests: treat them as
// read-only.
type Cache struct {
	next    Upstream
	store   Store
	ttl     TTLs
	flights flights
	obs     Observer
	tracer  trace.Tracer
}

// New returns a Cache configured by opts.
func New(opts Options) *Cache {
	return &Cache{next: opts.Upstream, store: opts.Store, ttl: opts.TTLs, obs: opts.Observer, tracer: opts.Tracer}
}

// start starts a span when the Cache has a tracer. Without one it returns
// ctx and its span as they are, allocating nothing.
func (c *Cache) start(ctx context.Context, name string) (context.Context, trace.Span) {
	if c.tracer == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	return c.tracer.Start(ctx, name)
}

// maxAttempts bounds how often a look-up fetches a video again after the
// calls it shared ran out of their owners' time.
const maxAttempts = 3

// Videos returns the videos of refs, which must be distinct, in order: nil
// where the upstream does not know a video, and an error per video that
// failed (errs nil when none did). A kept answer costs no upstream call
// when it is complete enough: with detail, only answers of get_metadata
// serve. Videos that other look-ups are fetching already are awaited, not
// fetched again.
func (c *Cache) Videos(ctx context.Context, acct account.Account, refs []memories.VideoRef, detail bool) ([]*memories.Video, []error) {
	return c.videos(ctx, acct, refs, needs{all: detail})
}

// VideosMixed is Videos with detail said per video: detail[i] for refs[i].
// The videos of one look-up share its list_videos calls, those that need
// their detail fields and have them kept included, where two look-ups
// (one per kind) would each make their own.
func (c *Cache) VideosMixed(ctx context.Context, acct account.Account, refs []memories.VideoRef, detail []bool) ([]*memories.Video, []error) {
	return c.videos(ctx, acct, refs, needs{per: detail})
}

// needs says which videos of a look-up need their detail fields: all, or
// those whose per is true.
type needs struct {
	all bool
	per []bool
}

func (n needs) of(i int) bool { return n.all || (n.per != nil && n.per[i]) }

func (n needs) any() bool { return n.all || slices.Contains(n.per, true) }

func (c *Cache) videos(ctx context.Context, acct account.Account, refs []memories.VideoRef, detail needs) ([]*memories.Video, []error) {
	ctx, span := c.start(ctx, "videocache.lookup")
	defer span.End()
	// Attributes only for a span that records them: building them is most
	// of what a cache hit costs here otherwise.
	recording := span.IsRecording()
	if recording {
		setLookupAttributes(span, len(refs), detail.any())
	}
	keys := make([]Key, len(refs))
	for i, ref := range refs {
		keys[i] = Key{AccountID: acct.ID(), Ref: ref}
	}
	version := c.flights.kept.Load() // before the read: see fetchOwn
	kept := c.store.Get(ctx, keys)
	videos := make([]*memories.Video, len(refs))
	var miss []int
	for i := range refs {
		if !complete(kept[i], detail.of(i)) {
			miss = append(miss, i)
		}
		videos[i] = kept[i].Video
	}
	meter := cost.From(ctx)
	if reads := readsFrom(ctx); reads != nil {
		if len(miss) == 0 {
			reads.served(keys, kept)
		} else {
			reads.reachedBeyond()
		}
	}
	if len(miss) < len(refs) {
		if c.obs != nil {
			c.obs.CacheResult(string(resultHit), len(refs)-len(miss))
		}
		meter.Videos(string(resultHit), len(refs)-len(miss))
	}
	if len(miss) == 0 {
		if recording {
			setHitAttributes(span, len(refs))
		}
		return videos, nil
	}
	l := &lookup{
		Cache: c, acct: acct, refs: refs, keys: keys, detail: detail, span: span, meter: meter,
		kept: kept, version: version,
		videos: videos,
		errs:   make([]error, len(refs)),
	}
	return l.fetchMisses(ctx, miss, recording)
}

// Refresh is Videos without the kept answers: every video is fetched (or
// awaited from a fetch in flight) and kept anew. A watch polls through it,
// so that it sees what the upstream says now, whatever the TTLs, and the
// queries after it see the same.
func (c *Cache) Refresh(ctx context.Context, acct account.Account, refs []memories.VideoRef, detail bool) ([]*memories.Video, []error) {
	ctx, span := c.start(ctx, "videocache.refresh")
	defer span.End()
	if reads := readsFrom(ctx); reads != nil {
		reads.reachedBeyond()
	}
	recording := span.IsRecording()
	if recording {
		setLookupAttributes(span, len(refs), detail)
	}
	l := &lookup{
		Cache: c, acct: acct, refs: refs, keys: make([]Key, len(refs)), detail: needs{all: detail}, span: span, refresh: true,
		meter:  cost.From(ctx),
		videos: make([]*memories.Video, len(refs)),
		errs:   make([]error, len(refs)),
	}
	all := make([]int, len(refs))
	for i, ref := range refs {
		l.keys[i] = Key{AccountID: acct.ID(), Ref: ref}
		all[i] = i
	}
	return l.fetchMisses(ctx, all, recording)
}

// The span's attributes and the misses' fetch are functions of their own,
// kept out of line, so that their large stack frames are not part of every
// cache hit's stack.

//go:noinline
func setLookupAttributes(span trace.Span, n int, detail bool) {
	span.SetAttributes(attribute.Int("memories.videos", n), attribute.Bool("memories.detail", detail))
}

//go:noinline
func setHitAttributes(span trace.Span, n int) {
	span.SetAttributes(attribute.Int("cache.hits", n))
}

// fetchMisses fetches the videos at miss, whose kept answers, if any, do
// not serve, and returns the look-up's answers.
//
//go:noinline
func (l *lookup) fetchMisses(ctx context.Context, miss []int, recording bool) ([]*memories.Video, []error) {
	l.n.hit = len(l.refs) - len(miss)
	for _, i := range miss {
		l.videos[i] = nil
	}
	for attempt := 1; len(miss) > 0; attempt++ {
		miss = l.fetch(ctx, miss, attempt)
	}
	if recording {
		l.span.SetAttributes(attribute.Int("cache.hits", l.n.hit), attribute.Int("cache.misses", l.n.miss),
			attribute.Int("cache.coalesced", l.n.coalesced))
	}
	for _, err := range l.errs {
		if err != nil {
			l.span.SetStatus(codes.Error, err.Error())
			return l.videos, l.errs
		}
	}
	return l.videos, nil
}

// complete reports whether a kept answer serves a look-up: a fresh "not
// found" or get_metadata answer serves any; list_videos' only look-ups
// without detail.
func complete(k Kept, detail bool) bool {
	return k.Found && !k.Stale && (k.Video == nil || k.Video.Detailed || !detail)
}

// heldDetail returns the complete, parsed answer whose detail fields a
// list_videos answer may serve again, or nil.
func heldDetail(k Kept) *memories.Video {
	if k.Found && k.Video != nil && k.Video.Detailed && k.Video.Status == memories.StatusParse {
		return k.Video
	}
	return nil
}

// withDetail returns list, a list_videos answer, completed by the detail
// fields of held, a complete answer of the same video.
func withDetail(list, held *memories.Video) *memories.Video {
	v := *list
	v.Detailed = true
	v.ResolutionLabel, v.FPS, v.Width, v.Height = held.ResolutionLabel, held.FPS, held.Width, held.Height
	return &v
}

// lookup is one call of Videos.
type lookup struct {
	*Cache
	acct    account.Account
	refs    []memories.VideoRef
	keys    []Key
	detail  needs
	refresh bool // ask the upstream, whatever is kept (Refresh)
	// kept is what the store held for keys when the look-up read it, and
	// version the flights' count of kept answers just before; nil for a
	// refresh, which does not read it first.
	kept    []Kept
	version uint64
	span    trace.Span
	meter   *cost.Meter // the operation's, or nil
	videos  []*memories.Video
	errs    []error
	n       struct{ hit, miss, coalesced int }
	linked  map[trace.SpanID]bool
}

func (l *lookup) count(r result, n int) {
	if n == 0 || r == "" {
		return
	}
	switch r {
	case resultHit:
		l.n.hit += n
	case resultMiss:
		l.n.miss += n
	case resultCoalesced:
		l.n.coalesced += n
	}
	if l.obs != nil {
		l.obs.CacheResult(string(r), n)
	}
	l.meter.Videos(string(r), n)
}

// fetch answers the videos at idx: it joins the calls in flight for some
// and makes one for the rest. It returns the videos to fetch again: those
// whose shared call ran out of its owner's time while this look-up has
// more.
func (l *lookup) fetch(ctx context.Context, idx []int, attempt int) (again []int) {
	own, joined := l.flights.claim(ctx, l.keys, idx, l.detail.of, l.span.SpanContext())
	if len(own) > 0 {
		l.fetchOwn(ctx, own)
	}
	deadline, hasDeadline := ctx.Deadline()
	for _, j := range joined {
		i, f := j.i, j.f
		select {
		case <-f.done:
			l.flights.leave(f)
		case <-ctx.Done():
			l.flights.leave(f)
			l.errs[i] = waitError(ctx)
			continue
		}
		if f.span.IsValid() && !l.linked[f.span.SpanID()] {
			if l.linked == nil {
				l.linked = map[trace.SpanID]bool{}
			}
			l.linked[f.span.SpanID()] = true
			l.span.AddLink(trace.Link{SpanContext: f.span})
		}
		// Ask again only if the call gave up earlier than this caller has to.
		later := !f.deadline.IsZero() && (!hasDeadline || deadline.After(f.deadline))
		if f.err != nil && f.outOfTime && later && attempt < maxAttempts && ctx.Err() == nil {
			again = append(again, i)
			continue
		}
		l.videos[i], l.errs[i] = f.video, f.err
		l.count(resultCoalesced, 1)
	}
	return again
}

// fetchOwn fetches the videos whose flights this look-up owns: a last look
// in the store, then the answers of other replicas fetching them already,
// then the upstream calls for the rest. It completes every flight it owns.
func (l *lookup) fetchOwn(ctx context.Context, own []owned) {
	defer func() {
		// Whatever happened, no flight is left for others to wait on.
		for _, o := range l.flights.unfinished(own) {
			l.done(o, nil, errAbandoned, "", true)
		}
	}()
	// Look again: a call that ended between this look-up's miss and its
	// claim has kept its answer and left no flight to join. A refresh
	// wants the upstream's answer, not a kept one, but it too keeps the
	// detail fields that its answers show still true. Neither can have
	// happened when the flights have completed none and no listing was
	// kept since the look-up read the store, unless replicas share it.
	_, shared := l.store.(Leaser)
	if version := l.flights.kept.Load(); l.kept == nil || shared || version != l.version {
		keys := make([]Key, len(own))
		for j, o := range own {
			keys[j] = l.keys[o.i]
		}
		kept := l.store.Get(ctx, keys)
		if l.kept == nil {
			l.kept = make([]Kept, len(l.keys))
		}
		for j, o := range own {
			l.kept[o.i] = kept[j]
		}
		l.version = version
	}
	var rest []owned
	var held map[int]Kept // by video index: detail fields a list answer may serve again
	for _, o := range own {
		k := l.kept[o.i]
		if !l.refresh && complete(k, l.detail.of(o.i)) {
			l.done(o, k.Video, nil, resultHit, false)
			continue
		}
		if heldDetail(k) != nil {
			if held == nil {
				held = map[int]Kept{}
			}
			held[o.i] = k
		}
		rest = append(rest, o)
	}
	if len(rest) == 0 {
		return
	}
	rest, release := l.claimReplicas(ctx, rest)
	defer release()
	if len(rest) == 0 {
		return
	}
	// Other look-ups may wait for these answers: a caller that leaves (its
	// client went away) cancels the fetch only once nobody waits for it.
	owner := ctx
	fctx := detach.New(ctx)
	defer fctx.Cancel()
	ctx = fctx
	l.flights.start(own, fctx)
	stop := departure.AfterFunc(owner, func() { l.flights.ownerLeft(own) })
	defer stop()
	vs, errs := l.call(ctx, rest, held)
	// Keep the answers before the flights end and before the claims go, so
	// that look-ups arriving afterwards find them rather than call again.
	now := time.Now()
	var entries []Entry
	for j, o := range rest {
		if errs[j] != nil {
			continue
		}
		e := l.ttl.entry(l.keys[o.i], vs[j], now)
		if h, ok := held[o.i]; ok {
			if !e.DetailUntil.IsZero() {
				// A list answer completed by the kept detail fields (a
				// held video is asked through get_metadata only once it is
				// no longer parsed): they keep the time of the
				// get_metadata call that read them.
				e.DetailUntil = h.DetailUntil
			}
			// Whatever the answer, it is newer than the complete one kept.
			e.Replace = true
		}
		if e.TTL > 0 || e.DetailUntil.After(now) {
			entries = append(entries, e)
		}
	}
	if len(entries) > 0 {
		l.store.Set(context.WithoutCancel(ctx), entries)
	}
	for j, o := range rest {
		err := errs[j]
		if err != nil && owner.Err() != nil {
			// Cancelled because the owner left: say why in its terms.
			err = waitError(owner)
		}
		l.done(o, vs[j], err, resultMiss, err != nil && outOfTime(ctx, err))
	}
}

// call asks the upstream for the videos of own, in order, with an error
// slot per video. A video whose detail fields are held is asked through
// list_videos, the batch call, even when the look-up needs its detail: a
// parsed video's detail fields do not change, so its list answer, if it
// shows the video still parsed, is completed by them. One that is no
// longer parsed is then asked through get_metadata, when the look-up
// needs its detail.
func (l *lookup) call(ctx context.Context, own []owned, held map[int]Kept) ([]*memories.Video, []error) {
	vs, errs := make([]*memories.Video, len(own)), make([]error, len(own))
	fetch := func(at []int, detail bool) {
		refs := make([]memories.VideoRef, len(at))
		for j, p := range at {
			refs[j] = l.refs[own[p].i]
		}
		got, es := l.next.Videos(ctx, l.acct, refs, detail)
		for j, p := range at {
			vs[p] = got[j]
			if es != nil {
				errs[p] = es[j]
			}
		}
	}
	var viaList, viaMeta []int
	for p, o := range own {
		if _, ok := held[o.i]; l.detail.of(o.i) && !ok {
			viaMeta = append(viaMeta, p)
		} else {
			viaList = append(viaList, p)
		}
	}
	var wg sync.WaitGroup
	if len(viaMeta) > 0 {
		wg.Go(func() { fetch(viaMeta, true) })
	}
	if len(viaList) > 0 {
		fetch(viaList, false)
	}
	wg.Wait()
	var again []int
	for _, p := range viaList {
		h, ok := held[own[p].i]
		if !ok || errs[p] != nil || vs[p] == nil {
			continue
		}
		if vs[p].Status == memories.StatusParse {
			vs[p] = withDetail(vs[p], h.Video)
		} else if l.detail.of(own[p].i) {
			again = append(again, p)
		}
	}
	if len(again) > 0 {
		fetch(again, true)
	}
	return vs, errs
}

// claimReplicas claims the fetch of own's videos among replicas, when the
// store is shared, and returns those this look-up must fetch itself. Videos
// that another replica fetches are awaited; those its holder fails to
// answer are claimed again, up to maxAttempts times, before this look-up
// fetches them without a claim.
func (l *lookup) claimReplicas(ctx context.Context, own []owned) (fetch []owned, release func()) {
	ls, ok := l.store.(Leaser)
	if !ok {
		return own, func() {}
	}
	var releases []func()
	release = func() {
		for _, r := range releases {
			r()
		}
	}
	pending := own
	for attempt := 0; attempt < maxAttempts && len(pending) > 0; attempt++ {
		keys := make([]Key, len(pending))
		for j, o := range pending {
			keys[j] = l.keys[o.i]
		}
		held, r := ls.Lease(ctx, keys)
		releases = append(releases, r)
		var others []owned
		var otherKeys []Key
		for j, o := range pending {
			if held[j] {
				fetch = append(fetch, o)
			} else {
				others = append(others, o)
				otherKeys = append(otherKeys, keys[j])
			}
		}
		pending = nil
		if len(others) == 0 {
			break
		}
		wctx, span := l.start(ctx, "videocache.await_replica")
		span.SetAttributes(attribute.Int("memories.videos", len(others)))
		ks, err := ls.Await(wctx, otherKeys)
		span.End()
		for j, o := range others {
			switch {
			case complete(ks[j], l.detail.of(o.i)):
				l.done(o, ks[j].Video, nil, resultCoalesced, false)
			case err != nil:
				// Out of time waiting for another replica: a caller with
				// more time asks again.
				l.done(o, nil, waitError(ctx), "", true)
			default:
				// The holder failed or kept nothing this look-up can use.
				pending = append(pending, o)
			}
		}
	}
	return append(fetch, pending...), release
}

// done completes an owned flight and this look-up's answer for it.
func (l *lookup) done(o owned, v *memories.Video, err error, r result, outOfTime bool) {
	l.videos[o.i], l.errs[o.i] = v, err
	l.count(r, 1)
	l.flights.complete(o, v, err, outOfTime)
}

// outOfTime reports a failure that comes from the time of the look-up that
// made the call, rather than from the video: its context ended, or the
// rate budget would not come before its deadline. A look-up with more time
// tries again.
func outOfTime(ctx context.Context, err error) bool {
	var me *memories.Error
	return ctx.Err() != nil || (errors.As(err, &me) && me.Unsent)
}

// waitError is the error of a look-up whose context ended while it waited,
// in the terms the upstream calls use for the same event.
func waitError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &memories.Error{Kind: memories.KindTimeout, Err: ctx.Err()}
	}
	return ctx.Err()
}
