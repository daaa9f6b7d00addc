package loader

import (
	"context"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/memories"
)

type ctxSource struct{}

func (ctxSource) Video(ctx context.Context, _ account.Account, _, videoNo string) (*memories.Video, error) {
	select {
	case <-time.After(5 * time.Millisecond):
		return &memories.Video{VideoNo: videoNo}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// dataloader runs a batch with the context of the first Load of its window.
// A first caller that is already cancelled must not fail the batch for the
// callers behind it. (Internal test: the thunk API lets the cancelled caller
// queue first, deterministically.)
func TestCancelledFirstCallerDoesNotFailOthers(t *testing.T) {
	acct, _ := account.New("k")
	l := New(ctxSource{}, acct, true, time.Now().Add(10*time.Second), nil)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	first := l.dl.Load(cancelled, Key{UniqueID: "default", VideoNo: "x"})
	v, err := l.Load(context.Background(), Key{UniqueID: "default", VideoNo: "y"})
	if err != nil || v == nil || v.VideoNo != "y" {
		t.Errorf("Load behind a cancelled first caller = %v, %v; want video y", v, err)
	}
	_, _ = first()
}
