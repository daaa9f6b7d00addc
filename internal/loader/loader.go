// Package loader batches and deduplicates the videos one GraphQL request
// asks for. A Loader lives for one request: the operation's plan (every
// video it names, and whether some reference needs the detail fields)
// becomes one batch at the start of the request, and any number of
// references to one video share one answer, a failure included.
//
// It sits between the resolvers (graph) and the cross-request cache
// (videocache).
package loader

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/cost"
	"github.com/memories-facade/memories-graphql/internal/memories"
)

// Key is one video as the request needs it: Detail when a reference
// selects a field that only get_metadata returns.
type Key struct {
	Ref    memories.VideoRef
	Detail bool
}

// Fetcher fetches distinct videos of one account, in order: nil where the
// upstream does not know a video, errs nil when none failed. Videos takes
// one kind (detail or not); VideosMixed both, detail[i] for refs[i], so
// that they can share batches: the cache sends videos whose detail fields
// it keeps to list_videos with the others.
type Fetcher interface {
	Videos(ctx context.Context, acct account.Account, refs []memories.VideoRef, detail bool) ([]*memories.Video, []error)
	VideosMixed(ctx context.Context, acct account.Account, refs []memories.VideoRef, detail []bool) ([]*memories.Video, []error)
}

// ErrNoAccount is the error of every video of a request that carries no API
// key while the server has none either.
var ErrNoAccount = &memories.Error{Kind: memories.KindUnauthenticated,
	Err: errors.New("no API key: send the memories.ai key in the Authorization header")}

// window is how long a batch of loads that no plan announced waits for
// more keys. The plan is the normal path (Prefetch); this only keeps loads
// outside it from costing one call each.
const window = time.Millisecond

// Loader loads the videos of one request.
type Loader struct {
	// ctx is the request's: every batch serves all the request's fields,
	// so none runs on one field's context, and all end with the request.
	ctx     context.Context
	fetcher Fetcher
	acct    account.Account // the zero Account when the request has no key
	onBatch func(size int)

	// The plan's answers, fetched by Prefetch before any field resolves
	// and read-only afterwards: planned, nil for a small plan, indexes
	// plan, videos and errs.
	planned map[memories.VideoRef]int
	plan    []Key
	videos  []*memories.Video
	errs    []error

	// dl batches loads outside the plan.
	once sync.Once
	dl   *dataloader.Loader[Key, *memories.Video]

	mu sync.Mutex
	// detail holds the videos that some reference needs in full and the
	// plan does not fetch in full.
	detail map[memories.VideoRef]bool
	// alone holds the videos fetched in full one by one (LoadAlone).
	alone map[memories.VideoRef]*call
}

// call is one video's fetch of its own, which later loads of it wait for.
type call struct {
	done  chan struct{}
	video *memories.Video
	err   error
}

// New returns a loader for one request of acct (the zero Account: the
// request has no key) that fetches from f, whose fetches end with ctx.
// onBatch, if not nil, is told the size of every batch.
func New(ctx context.Context, f Fetcher, acct account.Account, onBatch func(size int)) *Loader {
	return &Loader{ctx: ctx, fetcher: f, acct: acct, onBatch: onBatch}
}

// Account returns the request's account: the zero Account when the request
// has no key.
func (l *Loader) Account() account.Account { return l.acct }

// unplanned returns the dataloader of loads outside the plan, which waits
// a window for more keys before it fetches.
func (l *Loader) unplanned() *dataloader.Loader[Key, *memories.Video] {
	l.once.Do(func() {
		l.dl = dataloader.NewBatchedLoader(l.batch, dataloader.WithWait[Key, *memories.Video](window))
	})
	return l.dl
}

// Prefetch fetches, in one batch, every video the operation names, before
// any field resolves: the plan is known whole, so it needs no batching
// window, and a cache hit costs no goroutine. A video that some reference
// needs in full is fetched in full once and serves every reference to it.
// Call it once, before any Load.
func (l *Loader) Prefetch(keys []Key) {
	plan := make([]Key, 0, len(keys))
	var index map[memories.VideoRef]int
	if len(keys) > smallPlan {
		index = make(map[memories.VideoRef]int, len(keys))
	}
	for _, k := range keys {
		if i, ok := find(plan, index, k.Ref); ok {
			plan[i].Detail = plan[i].Detail || k.Detail
			continue
		}
		if index != nil {
			index[k.Ref] = len(plan)
		}
		plan = append(plan, k)
	}
	if len(plan) == 0 {
		return
	}
	videos, errs := l.fetchPlan(plan)
	l.mu.Lock()
	l.planned, l.plan, l.videos, l.errs = index, plan, videos, errs
	l.mu.Unlock()
}

// smallPlan is the size up to which a plan is searched rather than
// indexed: most operations name a video or a few, and a map would cost
// more than it saves.
const smallPlan = 8

// find returns where ref is in plan, through index when there is one.
func find(plan []Key, index map[memories.VideoRef]int, ref memories.VideoRef) (int, bool) {
	if index != nil {
		i, ok := index[ref]
		return i, ok
	}
	for i, k := range plan {
		if k.Ref == ref {
			return i, true
		}
	}
	return 0, false
}

// fetchPlan fetches the plan; a panic fails its videos rather than the
// request, as a panic in a dataloader batch would.
func (l *Loader) fetchPlan(plan []Key) (videos []*memories.Video, errs []error) {
	defer func() {
		if p := recover(); p != nil {
			err := fmt.Errorf("loader: batch panicked: %v\n%s", p, debug.Stack())
			videos, errs = make([]*memories.Video, len(plan)), make([]error, len(plan))
			for i := range errs {
				errs[i] = err
			}
		}
	}()
	return l.fetch(plan)
}

// load queues the key that answers a reference to ref: in full when any
// reference of the request needs it in full, in the planned batch when the
// plan has that key.
func (l *Loader) load(ctx context.Context, ref memories.VideoRef, detail bool) dataloader.Thunk[*memories.Video] {
	l.mu.Lock()
	i, planned := find(l.plan, l.planned, ref)
	full := planned && l.plan[i].Detail
	if detail && !full {
		if l.detail == nil {
			l.detail = map[memories.VideoRef]bool{}
		}
		l.detail[ref] = true
	}
	want := detail || full || l.detail[ref]
	l.mu.Unlock()
	if planned && full == want {
		v, err := l.planAnswer(i)
		return func() (*memories.Video, error) { return v, err }
	}
	return l.unplanned().Load(ctx, Key{Ref: ref, Detail: want})
}

// planAnswer is the plan's answer for its key i.
func (l *Loader) planAnswer(i int) (*memories.Video, error) {
	if l.errs != nil && l.errs[i] != nil {
		return nil, l.errs[i]
	}
	return l.videos[i], nil
}

// Load returns one video, or nil when the upstream does not know it.
func (l *Loader) Load(ctx context.Context, ref memories.VideoRef, detail bool) (*memories.Video, error) {
	return l.load(ctx, ref, detail)()
}

// LoadAlone returns one video in full, fetched on its own rather than in
// a batch, so that it is answered as soon as its own call is: a deferred
// part of a response waits for its video only. Loads of one video share
// its fetch, and a video the plan fetched in full costs nothing.
func (l *Loader) LoadAlone(ctx context.Context, ref memories.VideoRef) (*memories.Video, error) {
	l.mu.Lock()
	if i, ok := find(l.plan, l.planned, ref); ok && l.plan[i].Detail {
		l.mu.Unlock()
		return l.planAnswer(i)
	}
	c, started := l.alone[ref]
	if !started {
		if l.alone == nil {
			l.alone = map[memories.VideoRef]*call{}
		}
		c = &call{done: make(chan struct{})}
		l.alone[ref] = c
	}
	l.mu.Unlock()
	if !started {
		videos, errs := l.fetchPlan([]Key{{Ref: ref, Detail: true}})
		c.video = videos[0]
		if errs != nil {
			c.err = errs[0]
		}
		close(c.done)
	}
	select {
	case <-c.done:
		return c.video, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// LoadMany returns the videos of refs in order, with nil errs when all
// succeeded, else an error (or nil) per ref.
func (l *Loader) LoadMany(ctx context.Context, refs []memories.VideoRef, detail bool) (videos []*memories.Video, errs []error) {
	// Queue every key before waiting on any, so that they share batches.
	thunks := make([]dataloader.Thunk[*memories.Video], len(refs))
	for i, ref := range refs {
		thunks[i] = l.load(ctx, ref, detail)
	}
	videos = make([]*memories.Video, len(refs))
	for i, thunk := range thunks {
		v, err := thunk()
		if err != nil {
			if errs == nil {
				errs = make([]error, len(refs))
			}
			errs[i] = err
		}
		videos[i] = v
	}
	return videos, errs
}

// batch is the dataloader's batch function, for loads outside the plan.
// dataloader passes the context of the batch's first Load; the fetch runs
// on the request's instead.
func (l *Loader) batch(_ context.Context, keys []Key) []*dataloader.Result[*memories.Video] {
	videos, errs := l.fetch(keys)
	results := make([]*dataloader.Result[*memories.Video], len(keys))
	for i := range keys {
		results[i] = &dataloader.Result[*memories.Video]{Data: videos[i]}
		if errs != nil {
			results[i].Error = errs[i]
		}
	}
	return results
}

// fetch fetches distinct keys, the videos needed in full and the others,
// in one call of the Fetcher, on the request's context. errs, if
// not nil, has an entry per key; it may be nil when no video failed.
func (l *Loader) fetch(keys []Key) (videos []*memories.Video, errs []error) {
	if l.onBatch != nil {
		l.onBatch(len(keys))
	}
	if l.acct.IsZero() {
		videos, errs = make([]*memories.Video, len(keys)), make([]error, len(keys))
		for i := range errs {
			errs[i] = ErrNoAccount
		}
		return videos, errs
	}
	full := 0
	for _, k := range keys {
		if k.Detail {
			full++
		}
	}
	if full == 0 || full == len(keys) {
		// One kind, the usual case: one call, and its answers as they are.
		refs := make([]memories.VideoRef, len(keys))
		for i, k := range keys {
			refs[i] = k.Ref
		}
		return l.fetcher.Videos(l.ctx, l.acct, refs, full > 0)
	}
	refs, detail := make([]memories.VideoRef, len(keys)), make([]bool, len(keys))
	for i, k := range keys {
		refs[i], detail[i] = k.Ref, k.Detail
	}
	return l.fetcher.VideosMixed(l.ctx, l.acct, refs, detail)
}

type ctxKey struct{}

// For returns the request's loader. It panics when the middleware is missing,
// which is a wiring bug that tests catch at once.
func For(ctx context.Context) *Loader {
	l, ok := ctx.Value(ctxKey{}).(*Loader)
	if !ok {
		panic("loader: no loader in context; was it made with loader.NewContext?")
	}
	return l
}

// newContext returns ctx carrying l.
func newContext(ctx context.Context, l *Loader) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// NewContext returns ctx carrying a new Loader for one request of acct
// (see New) and a cost.Meter that its fetches add to, and ending after
// timeout: the loader's fetches end with it, and a request that waits on
// nothing (a cache hit) arms no timer for it. end releases the deadline;
// call it when the request is done.
func NewContext(ctx context.Context, timeout time.Duration, f Fetcher, acct account.Account, onBatch func(size int)) (_ context.Context, end func()) {
	ctx, _ = cost.NewContext(ctx)
	dl := withLazyDeadline(ctx, time.Now().Add(timeout))
	return newContext(dl, New(dl, f, acct, onBatch)), dl.stop
}

// FromContext returns the request's loader, if any.
func FromContext(ctx context.Context) (*Loader, bool) {
	l, ok := ctx.Value(ctxKey{}).(*Loader)
	return l, ok
}

// Stream is what a streaming request (a WebSocket connection, an event
// stream) carries in place of a loader: it outlives any one operation, so
// each of its queries gets a loader of its own, made from it
// (ForOperation), and its subscriptions read its account.
type Stream struct {
	Fetcher Fetcher
	Account account.Account // the zero Account when the client sent no key
	Timeout time.Duration   // of each query
	OnBatch func(size int)
}

type streamKey struct{}

// WithStream returns ctx carrying s.
func WithStream(ctx context.Context, s Stream) context.Context {
	return context.WithValue(ctx, streamKey{}, s)
}

// StreamFrom returns the stream ctx carries, if any.
func StreamFrom(ctx context.Context) (Stream, bool) {
	s, ok := ctx.Value(streamKey{}).(Stream)
	return s, ok
}

// ForOperation returns ctx carrying a loader for one operation of s, as
// NewContext does for one request.
func (s Stream) ForOperation(ctx context.Context) (_ context.Context, end func()) {
	return NewContext(ctx, s.Timeout, s.Fetcher, s.Account, s.OnBatch)
}
