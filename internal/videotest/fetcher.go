package videotest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/memories"
)

// holdLimit bounds how long Hold keeps a call whose context never ends, so
// that a test that forgets to release it fails rather than hangs.
const holdLimit = 10 * time.Second

// ErrStillHeld fails every ref of a call that Hold kept for holdLimit
// without being closed or the call's context ending.
var ErrStillHeld = errors.New("videotest: call still held after 10s; its context never ended")

// Call is one call of Fetcher.Videos.
type Call struct {
	Refs    []memories.VideoRef
	Detail  bool
	Account string // the account's ID
	// Err is ctx.Err() when the call was answered, after any Hold.
	Err error
	// Deadline and HasDeadline are ctx.Deadline() of the call.
	Deadline    time.Time
	HasDeadline bool
}

// Fetcher is a fake of the Videos call that loader.Fetcher,
// videocache.Upstream and upstream.Caller share. It records every call and
// answers each ref, in this order: Errs fails it; else Answer, when set,
// answers it; else Known does; else a video named "uniqueId/videoNo" (so
// that answers show which ref was fetched), with the detail fields only
// when fetched in detail, as get_metadata and not list_videos would, and
// none ("not found") for a VideoNo that starts with "missing" or
// "VI0000".
//
// Set the fields before the first call; the zero value answers every ref
// at once, and fails them as a real fetch would when the context has
// ended.
type Fetcher struct {
	// Errs fails refs by VideoNo.
	Errs map[string]error
	// Known answers refs by VideoNo with a copy of the video as given; a
	// nil value is "not found".
	Known map[string]*memories.Video
	// Answer, when set, answers every ref that Errs does not fail, in
	// place of Known and the named video: nil is "not found".
	Answer func(acct account.Account, ref memories.VideoRef, detail bool) *memories.Video

	// IgnoreEnded answers a call that is not held whatever its context;
	// without it a ref asked on an ended context fails as a real fetch
	// would (see Hold).
	IgnoreEnded bool
	// Hold, when not nil, keeps calls until it is closed or their context
	// ends, which fails every ref as a real fetch would (a deadline as a
	// memories timeout). HoldFirst > 0 keeps only the first HoldFirst calls.
	Hold      chan struct{}
	HoldFirst int
	// Before, when set, runs for each call once past Hold: an error fails
	// every ref of the call with it, and a panic is the call's.
	Before func(ctx context.Context) error
	// Started, when not nil, is closed at the first call.
	Started chan struct{}

	mu    sync.Mutex
	calls []*Call
	total int // calls ever made: Reset does not restart HoldFirst or Started
}

// Videos records the call and answers it as Fetcher says.
func (f *Fetcher) Videos(ctx context.Context, acct account.Account, refs []memories.VideoRef, detail bool) ([]*memories.Video, []error) {
	c := &Call{Refs: slices.Clone(refs), Detail: detail, Account: acct.ID()}
	c.Deadline, c.HasDeadline = ctx.Deadline()
	f.mu.Lock()
	f.calls = append(f.calls, c)
	n := f.total
	f.total++
	if f.Started != nil && n == 0 {
		close(f.Started)
	}
	f.mu.Unlock()

	vs := make([]*memories.Video, len(refs))
	failAll := func(err error) ([]*memories.Video, []error) {
		errs := make([]error, len(refs))
		for i := range errs {
			errs[i] = err
		}
		return vs, errs
	}
	if f.Hold != nil && (f.HoldFirst == 0 || n < f.HoldFirst) {
		select {
		case <-f.Hold:
		case <-ctx.Done():
			f.answered(ctx, c)
			return failAll(endedError(ctx))
		case <-time.After(holdLimit):
			f.answered(ctx, c)
			return failAll(ErrStillHeld)
		}
	}
	f.answered(ctx, c)
	if f.Before != nil {
		if err := f.Before(ctx); err != nil {
			return failAll(err)
		}
	}
	var errs []error
	for i, ref := range refs {
		err := f.Errs[ref.VideoNo]
		if !f.IgnoreEnded && ctx.Err() != nil {
			err = endedError(ctx)
		}
		if err != nil {
			if errs == nil {
				errs = make([]error, len(refs))
			}
			errs[i] = err
			continue
		}
		vs[i] = f.answer(acct, ref, detail)
	}
	return vs, errs
}

// VideosMixed answers each kind as Videos does, in a call of its own, the
// two at once: the calls show which refs the caller wanted in full.
func (f *Fetcher) VideosMixed(ctx context.Context, acct account.Account, refs []memories.VideoRef, detail []bool) ([]*memories.Video, []error) {
	videos, errs := make([]*memories.Video, len(refs)), make([]error, len(refs))
	failed := false
	var mu sync.Mutex
	kind := func(want bool) {
		var idx []int
		var rs []memories.VideoRef
		for i, d := range detail {
			if d == want {
				idx, rs = append(idx, i), append(rs, refs[i])
			}
		}
		if len(rs) == 0 {
			return
		}
		vs, es := f.Videos(ctx, acct, rs, want)
		mu.Lock()
		defer mu.Unlock()
		for j, i := range idx {
			videos[i] = vs[j]
			if es != nil && es[j] != nil {
				errs[i], failed = es[j], true
			}
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { kind(true) })
	kind(false)
	wg.Wait()
	if !failed {
		errs = nil
	}
	return videos, errs
}

// Refresh answers as Videos does, recording the call with Refresh set: the
// fake keeps nothing to refresh.
func (f *Fetcher) Refresh(ctx context.Context, acct account.Account, refs []memories.VideoRef, detail bool) ([]*memories.Video, []error) {
	return f.Videos(ctx, acct, refs, detail)
}

// answered records ctx's state as c's when it is answered.
func (f *Fetcher) answered(ctx context.Context, c *Call) {
	err := ctx.Err()
	f.mu.Lock()
	c.Err = err
	f.mu.Unlock()
}

func (f *Fetcher) answer(acct account.Account, ref memories.VideoRef, detail bool) *memories.Video {
	if f.Answer != nil {
		return f.Answer(acct, ref, detail)
	}
	if v, ok := f.Known[ref.VideoNo]; ok {
		if v == nil {
			return nil
		}
		c := *v
		return &c
	}
	if strings.HasPrefix(ref.VideoNo, "missing") || strings.HasPrefix(ref.VideoNo, "VI0000") {
		return nil
	}
	v := &memories.Video{
		VideoNo:   ref.VideoNo,
		VideoName: new(ref.UniqueID + "/" + ref.VideoNo),
		Status:    memories.StatusParse,
		RawStatus: "PARSE",
	}
	if detail {
		v.ResolutionLabel, v.FPS, v.Width, v.Height = new("1080P"), new(30), new(1920), new(1080)
		v.Detailed = true
	}
	return v
}

// endedError is the error of a fetch whose context ended, as the memories
// client gives it: a passed deadline is a timeout.
func endedError(ctx context.Context) error {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return &memories.Error{Kind: memories.KindTimeout, Err: err}
	}
	return err
}

// Calls returns the calls so far, in the order they were made.
func (f *Fetcher) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Call, len(f.calls))
	for i, c := range f.calls {
		out[i] = *c
		out[i].Refs = slices.Clone(c.Refs)
	}
	return out
}

// CallCount returns the number of calls so far.
func (f *Fetcher) CallCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// Fetched returns how often each video was asked for so far.
func (f *Fetcher) Fetched() map[memories.VideoRef]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := map[memories.VideoRef]int{}
	for _, c := range f.calls {
		for _, r := range c.Refs {
			n[r]++
		}
	}
	return n
}

// Reset forgets the calls so far, so that Calls returns the next ones
// only.
func (f *Fetcher) Reset() {
	f.mu.Lock()
	f.calls = nil
	f.mu.Unlock()
}
