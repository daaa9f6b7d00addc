package loader

import (
	"context"
	"testing"

	"github.com/memories-facade/memories-graphql/internal/videotest"
)

// dataloader runs a batch with the context of the first Load of its window.
// A first caller whose field context is already cancelled must not fail the
// batch for itself or the callers behind it: the batch runs on the request's
// context. (Internal test: load returns the thunk, so the cancelled caller
// queues first, deterministically.)
func TestCancelledFirstCallerDoesNotFailOthers(t *testing.T) {
	f := &videotest.Fetcher{}
	l := New(t.Context(), f, videotest.Account(t, "k"), nil)
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	x, y := videotest.Ref("x"), videotest.Ref("y")
	first := l.load(cancelled, x, false)
	v, err := l.Load(t.Context(), y, false)
	if err != nil || v == nil || v.VideoNo != "y" {
		t.Errorf("Load behind a cancelled first caller = %v, %v; want video y", v, err)
	}
	if v, err := first(); err != nil || v == nil || v.VideoNo != "x" {
		t.Errorf("cancelled first caller = %v, %v; want video x", v, err)
	}
	var ctxErr []error
	for _, c := range f.Calls() {
		ctxErr = append(ctxErr, c.Err)
	}
	if len(ctxErr) != 1 || ctxErr[0] != nil {
		t.Errorf("Fetcher ctx errors per call = %v; want one call on a live context", ctxErr)
	}
}
