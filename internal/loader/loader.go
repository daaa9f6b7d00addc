// Package loader batches and deduplicates the videos one GraphQL request asks
// for: a Loader lives for one request, so any number of references to one
// video in that request cost one upstream call.
package loader

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/memories"
)

// Key names one video of the request's account.
type Key struct {
	UniqueID string
	VideoNo  string
}

// Source fetches one video; (nil, nil) means the upstream does not know it.
type Source interface {
	Video(ctx context.Context, acct account.Account, uniqueID, videoNo string) (*memories.Video, error)
}

// ErrNoAccount is the error of every video of a request that carries no API
// key while the server has none either.
var ErrNoAccount = errors.New("no API key: send the memories.ai key in the Authorization header")

// Loader loads the videos of one request.
type Loader struct {
	dl       *dataloader.Loader[Key, *memories.Video]
	src      Source
	acct     account.Account
	hasAcct  bool
	deadline time.Time
	done     <-chan struct{}
	onBatch  func(size int)
}

// New returns a loader for one request of acct (hasAcct false: the request
// has no key). Fetches stop at deadline, or as soon as done is closed (the
// request has ended).
func New(src Source, acct account.Account, hasAcct bool, deadline time.Time, done <-chan struct{}) *Loader {
	l := &Loader{src: src, acct: acct, hasAcct: hasAcct, deadline: deadline, done: done}
	// The default cache is right here: it lives as long as this request,
	// and it is what deduplicates, whatever batch a key lands in. So no
	// batching window: the upstream has no batch call to fill, and on this
	// kind of VM even a 500µs timer costs every request about 1.5ms
	// (BenchmarkQuery).
	l.dl = dataloader.NewBatchedLoader(l.batch,
		dataloader.WithWait[Key, *memories.Video](0),
	)
	return l
}

// OnBatch makes l report the size of every batch it fetches (for metrics).
func (l *Loader) OnBatch(f func(size int)) *Loader {
	l.onBatch = f
	return l
}

// Load returns one video, or nil when the upstream does not know it.
func (l *Loader) Load(ctx context.Context, k Key) (*memories.Video, error) {
	return l.resolve(ctx, k, l.dl.Load(ctx, k))
}

// LoadMany returns the videos in the order of keys, with nil errs when all
// succeeded, else an error (or nil) per key.
func (l *Loader) LoadMany(ctx context.Context, keys []Key) (videos []*memories.Video, errs []error) {
	// Queue every key before waiting on any, so that they share batches.
	thunks := make([]dataloader.Thunk[*memories.Video], len(keys))
	for i, k := range keys {
		thunks[i] = l.dl.Load(ctx, k)
	}
	videos = make([]*memories.Video, len(keys))
	for i, k := range keys {
		v, err := l.resolve(ctx, k, thunks[i])
		if err != nil {
			if errs == nil {
				errs = make([]error, len(keys))
			}
			errs[i] = err
		}
		videos[i] = v
	}
	return videos, errs
}

// resolve waits for a thunk. A transient failure is dropped from the
// request's cache so that a later Load of the key tries again (dataloader v7
// keeps errors otherwise); callers already sharing the thunk share its error.
func (l *Loader) resolve(ctx context.Context, k Key, thunk dataloader.Thunk[*memories.Video]) (*memories.Video, error) {
	v, err := thunk()
	if err != nil && transient(err) {
		l.dl.Clear(ctx, k)
	}
	return v, err
}

// batch fetches the distinct keys of one batch concurrently; the upstream
// Source bounds how many calls are in flight and queues them for budget.
func (l *Loader) batch(ctx context.Context, keys []Key) []*dataloader.Result[*memories.Video] {
	results := make([]*dataloader.Result[*memories.Video], len(keys))
	if l.onBatch != nil {
		l.onBatch(len(keys))
	}
	if !l.hasAcct {
		// Not transient: without a key no retry in this request can succeed.
		for i := range results {
			results[i] = &dataloader.Result[*memories.Video]{Error: ErrNoAccount}
		}
		return results
	}

	// dataloader runs the batch with the context of the first Load of the
	// window. Use none of its cancellation or values: the batch serves every
	// caller of the request, so it ends at the request's deadline or when
	// the request is over.
	ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), l.deadline)
	defer cancel()
	go func() {
		select {
		case <-l.done:
			cancel()
		case <-ctx.Done():
		}
	}()

	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := l.src.Video(ctx, l.acct, k.UniqueID, k.VideoNo)
			results[i] = &dataloader.Result[*memories.Video]{Data: v, Error: err}
		}()
	}
	wg.Wait()
	return results
}

// transient reports errors that may not recur: everything but a definite
// answer about the key or the account.
func transient(err error) bool {
	if errors.Is(err, ErrNoAccount) {
		return false
	}
	var me *memories.Error
	if errors.As(err, &me) {
		switch me.Kind {
		case memories.KindUnauthenticated, memories.KindForbidden, memories.KindQuotaExceeded, memories.KindBadRequest:
			return false
		}
	}
	return true
}

type ctxKey struct{}

// For returns the request's loader. It panics when the middleware is missing,
// which is a wiring bug that tests catch at once.
func For(ctx context.Context) *Loader {
	l, ok := ctx.Value(ctxKey{}).(*Loader)
	if !ok {
		panic("loader: no loader in context; is loader.Middleware installed?")
	}
	return l
}

// NewContext returns ctx carrying l.
func NewContext(ctx context.Context, l *Loader) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// Middleware installs a fresh loader on every request. The request's account
// comes from account.FromContext, so an account middleware must run first.
// timeout bounds the request; its deadline is the loader's. onBatch, if not
// nil, is told the size of every batch.
func Middleware(src Source, timeout time.Duration, onBatch func(size int)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			deadline, _ := ctx.Deadline()
			acct, ok := account.FromContext(ctx)
			l := New(src, acct, ok, deadline, ctx.Done()).OnBatch(onBatch)
			next.ServeHTTP(w, r.WithContext(NewContext(ctx, l)))
		})
	}
}
