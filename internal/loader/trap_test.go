package loader

import (
	"context"
	"sync"
	"testing"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/memories"
)

// ctxFetcher answers every ref, and fails all of them with ctx.Err() when
// the context it is given has ended.
type ctxFetcher struct {
	mu     sync.Mutex
	ctxErr []error
}

func (f *ctxFetcher) Videos(ctx context.Context, _ account.Account, refs []memories.VideoRef, detail bool) ([]*memories.Video, []error) {
	f.mu.Lock()
	f.ctxErr = append(f.ctxErr, ctx.Err())
	f.mu.Unlock()
	vs := make([]*memories.Video, len(refs))
	if err := ctx.Err(); err != nil {
		errs := make([]error, len(refs))
		for i := range errs {
			errs[i] = err
		}
		return vs, errs
	}
	for i, r := range refs {
		vs[i] = &memories.Video{VideoNo: r.VideoNo, Detailed: detail}
	}
	return vs, nil
}

// dataloader runs a batch with the context of the first Load of its window.
// A first caller whose field context is already cancelled must not fail the
// batch for itself or the callers behind it: the batch runs on the request's
// context. (Internal test: load returns the thunk, so the cancelled caller
// queues first, deterministically.)
func TestCancelledFirstCallerDoesNotFailOthers(t *testing.T) {
	acct, _ := account.New("k")
	f := &ctxFetcher{}
	l := New(t.Context(), f, acct, true, nil)
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	x := memories.VideoRef{UniqueID: "default", VideoNo: "x"}
	y := memories.VideoRef{UniqueID: "default", VideoNo: "y"}
	first := l.load(cancelled, x, false)
	v, err := l.Load(t.Context(), y, false)
	if err != nil || v == nil || v.VideoNo != "y" {
		t.Errorf("Load behind a cancelled first caller = %v, %v; want video y", v, err)
	}
	if v, err := first(); err != nil || v == nil || v.VideoNo != "x" {
		t.Errorf("cancelled first caller = %v, %v; want video x", v, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.ctxErr) != 1 || f.ctxErr[0] != nil {
		t.Errorf("Fetcher ctx errors per call = %v; want one call on a live context", f.ctxErr)
	}
}
