package watch_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/videotest"
	"github.com/memories-facade/memories-graphql/internal/watch"
)

// Every poller and subscription ends with its test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// interval is the tests' poll interval: short, with margins of several
// intervals wherever a test waits.
const interval = 40 * time.Millisecond

// processing answers videos as UNPARSE until flip is closed for them
// (flipped), then PARSE, with detail fields when asked in detail; videos
// whose number starts with "missing" do not exist.
type processing struct {
	mu      sync.Mutex
	flipped map[string]bool
}

func (p *processing) flip(nos ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.flipped == nil {
		p.flipped = map[string]bool{}
	}
	for _, no := range nos {
		p.flipped[no] = true
	}
}

func (p *processing) answer(_ account.Account, ref memories.VideoRef, detail bool) *memories.Video {
	if len(ref.VideoNo) >= 7 && ref.VideoNo[:7] == "missing" {
		return nil
	}
	p.mu.Lock()
	parsed := p.flipped[ref.VideoNo]
	p.mu.Unlock()
	v := &memories.Video{VideoNo: ref.VideoNo, Status: memories.StatusUnparse, RawStatus: "UNPARSE"}
	if parsed {
		v.Status, v.RawStatus = memories.StatusParse, "PARSE"
		if detail {
			v.FPS, v.Detailed = new(30), true
		}
	}
	return v
}

func newRegistry(t *testing.T, f watch.Fetcher, o watch.Options) *watch.Registry {
	t.Helper()
	if o.Interval == 0 {
		o.Interval = interval
	}
	r := watch.New(f, o)
	t.Cleanup(func() { r.Close() })
	return r
}

// collect reads s until it ends, and returns every event and why it ended.
func collect(t *testing.T, s *watch.Subscription) ([]watch.Event, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var all []watch.Event
	for {
		evs, err := s.Next(ctx)
		if err != nil {
			return all, err
		}
		all = append(all, evs...)
	}
}

// statuses lists each event as "videoNo:STATUS" (or :missing, :error), and
// a "*" after a settled one.
func statuses(evs []watch.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		s := ev.Ref.VideoNo + ":"
		switch {
		case ev.Err != nil:
			s += "error"
		case ev.Video == nil:
			s += "missing"
		default:
			s += string(ev.Video.Status)
		}
		if ev.Settled {
			s += "*"
		}
		out[i] = s
	}
	return out
}

// A subscriber gets each video's first state, then its change, and the
// subscription ends once all have settled; a missing video is reported
// once.
func TestWatchUntilSettled(t *testing.T) {
	p := &processing{}
	f := &videotest.Fetcher{Answer: p.answer}
	r := newRegistry(t, f, watch.Options{})
	s, err := r.Subscribe(videotest.Account(t, "k"), videotest.Refs("V1", "V2", "missing1", "V1"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	go func() {
		time.Sleep(3 * interval)
		p.flip("V1", "V2")
	}()
	evs, err := collect(t, s)
	if !errors.Is(err, watch.ErrDone) {
		t.Fatalf("ended with %v; want ErrDone", err)
	}
	got := statuses(evs)
	want := map[string]int{"V1:UNPARSE": 1, "V2:UNPARSE": 1, "missing1:missing*": 1, "V1:PARSE*": 1, "V2:PARSE*": 1}
	count := map[string]int{}
	for _, s := range got {
		count[s]++
	}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("events %q; want each of %v once", got, want)
	}
	if r.Watched() != 0 {
		t.Errorf("Watched() = %d after every video settled; want 0", r.Watched())
	}
}

// However many subscribers watch the same videos, each interval costs one
// call for all of them.
func TestWatchPollsOncePerInterval(t *testing.T) {
	p := &processing{}
	f := &videotest.Fetcher{Answer: p.answer}
	r := newRegistry(t, f, watch.Options{})
	acct := videotest.Account(t, "k")
	var refs []memories.VideoRef
	for i := range 50 {
		refs = append(refs, videotest.Ref(fmt.Sprintf("V%d", i)))
	}
	var subs []*watch.Subscription
	for range 100 {
		s, err := r.Subscribe(acct, refs, false)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		subs = append(subs, s)
	}
	const polls = 5
	time.Sleep(polls * interval)
	got := f.CallCount()
	if got < 2 || got > polls+2 {
		t.Errorf("%d calls in %d intervals for 100 subscribers; want about %d", got, polls, polls)
	}
	for _, c := range f.Calls() {
		if len(c.Refs) != 50 || c.Detail {
			t.Errorf("a poll asked %d videos, detail %v; want all 50 in one call, without detail", len(c.Refs), c.Detail)
		}
	}
	// Every subscriber has the first state of every video.
	for i, s := range subs {
		evs, err := s.Next(t.Context())
		if err != nil || len(evs) != 50 {
			t.Fatalf("subscriber %d: %d events, %v; want 50", i, len(evs), err)
		}
	}
}

// A subscriber that selects detail fields gets a settled video once its
// detail is fetched, by one call for that video after it settles; the
// others get it at once.
func TestWatchDetailOnceSettled(t *testing.T) {
	p := &processing{}
	f := &videotest.Fetcher{Answer: p.answer}
	r := newRegistry(t, f, watch.Options{})
	acct := videotest.Account(t, "k")
	detailed, err := r.Subscribe(acct, videotest.Refs("V1"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer detailed.Close()
	plain, err := r.Subscribe(acct, videotest.Refs("V1"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	time.Sleep(2 * interval)
	p.flip("V1")

	evs, err := collect(t, detailed)
	if !errors.Is(err, watch.ErrDone) || len(evs) == 0 {
		t.Fatalf("detail subscriber: %v, %v", statuses(evs), err)
	}
	last := evs[len(evs)-1]
	if !last.Settled || last.Video == nil || last.Video.FPS == nil {
		t.Errorf("detail subscriber's last event %+v; want settled with fps", last)
	}
	if _, err := collect(t, plain); !errors.Is(err, watch.ErrDone) {
		t.Errorf("plain subscriber ended with %v; want ErrDone", err)
	}
	detailCalls := 0
	for _, c := range f.Calls() {
		if c.Detail {
			detailCalls++
			if len(c.Refs) != 1 {
				t.Errorf("detail call of %v; want V1 alone", c.Refs)
			}
		}
	}
	if detailCalls != 1 {
		t.Errorf("%d detail calls; want 1, after the video settled", detailCalls)
	}
}

// A poll that fails is an error event, and the watch tries again at the
// next interval.
func TestWatchRetriesFailures(t *testing.T) {
	p := &processing{}
	var failing atomic.Bool
	failing.Store(true)
	boom := &memories.Error{Kind: memories.KindUpstream}
	f := &videotest.Fetcher{Answer: p.answer, Before: func(context.Context) error {
		if failing.Load() {
			return boom
		}
		return nil
	}}
	r := newRegistry(t, f, watch.Options{})
	s, err := r.Subscribe(videotest.Account(t, "k"), videotest.Refs("V1"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs, err := s.Next(t.Context())
	if err != nil || len(evs) != 1 || !errors.Is(evs[0].Err, boom) || evs[0].Settled {
		t.Fatalf("first events %+v, %v; want the failure, not settled", evs, err)
	}
	failing.Store(false)
	p.flip("V1")
	evs, err = collect(t, s)
	if !errors.Is(err, watch.ErrDone) || len(evs) == 0 || !evs[len(evs)-1].Settled {
		t.Errorf("after recovery: %v, %v; want the settled video", statuses(evs), err)
	}
}

// A subscriber that does not read holds one state per video, the latest;
// the states it missed count as dropped.
func TestWatchSlowSubscriberKeepsTheLatest(t *testing.T) {
	var n atomic.Int64
	f := &videotest.Fetcher{Answer: func(_ account.Account, ref memories.VideoRef, _ bool) *memories.Video {
		name := fmt.Sprint(n.Add(1)) // a new state at every poll
		return &memories.Video{VideoNo: ref.VideoNo, VideoName: &name, Status: memories.StatusUnparse}
	}}
	obs := &observer{}
	r := newRegistry(t, f, watch.Options{Observer: obs})
	s, err := r.Subscribe(videotest.Account(t, "k"), videotest.Refs("V1", "V2"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	time.Sleep(6 * interval)
	evs, err := s.Next(t.Context())
	if err != nil || len(evs) != 2 {
		t.Fatalf("after missing several polls: %d events, %v; want the latest state of each of 2 videos", len(evs), err)
	}
	if obs.dropped.Load() == 0 {
		t.Error("no state counted as dropped; want those replaced unread")
	}
}

type observer struct{ polls, waits, sent, dropped atomic.Int64 }

func (o *observer) WatchPoll(int, bool)  { o.polls.Add(1) }
func (o *observer) WatchBudgetWait()     { o.waits.Add(1) }
func (o *observer) WatchEvents(s, d int) { o.sent.Add(int64(s)); o.dropped.Add(int64(d)) }

// When nobody watches a video any more it is no longer polled, and the
// poller stops with its last video.
func TestWatchStopsWhenNobodyWatches(t *testing.T) {
	f := &videotest.Fetcher{Answer: (&processing{}).answer}
	r := newRegistry(t, f, watch.Options{})
	s, err := r.Subscribe(videotest.Account(t, "k"), videotest.Refs("V1"), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	time.Sleep(2 * interval) // any poll in flight ends
	before := f.CallCount()
	time.Sleep(4 * interval)
	if got := f.CallCount(); got != before {
		t.Errorf("%d polls after the last subscriber left; want none", got-before)
	}
	if r.Watched() != 0 {
		t.Errorf("Watched() = %d; want 0", r.Watched())
	}
}

// A subscription ends with ErrExpired at MaxDuration, and with ErrClosed
// when the registry closes.
func TestWatchEnds(t *testing.T) {
	f := &videotest.Fetcher{Answer: (&processing{}).answer}
	r := newRegistry(t, f, watch.Options{MaxDuration: 4 * interval})
	s, err := r.Subscribe(videotest.Account(t, "k"), videotest.Refs("V1"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := collect(t, s); !errors.Is(err, watch.ErrExpired) {
		t.Errorf("ended with %v; want ErrExpired", err)
	}

	r2 := watch.New(f, watch.Options{Interval: interval})
	s2, err := r2.Subscribe(videotest.Account(t, "k"), videotest.Refs("V1"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	go func() {
		time.Sleep(2 * interval)
		r2.Close()
	}()
	if _, err := collect(t, s2); !errors.Is(err, watch.ErrClosed) {
		t.Errorf("ended with %v; want ErrClosed", err)
	}
	if _, err := r2.Subscribe(videotest.Account(t, "k"), videotest.Refs("V1"), false); !errors.Is(err, watch.ErrClosed) {
		t.Errorf("Subscribe after Close: %v; want ErrClosed", err)
	}
}

// The watch takes at most its share of the budget: polls that do not fit
// are put off and counted.
func TestWatchBudgetShare(t *testing.T) {
	f := &videotest.Fetcher{Answer: (&processing{}).answer}
	obs := &observer{}
	// One list call per second for the whole account, half of it for the
	// watch: far less than a poll every interval.
	r := newRegistry(t, f, watch.Options{Observer: obs, Budget: watch.NewBudget(0.5, 1, 2, 1, 2)})
	s, err := r.Subscribe(videotest.Account(t, "k"), videotest.Refs("V1"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	time.Sleep(8 * interval)
	if got := f.CallCount(); got > 2 {
		t.Errorf("%d polls in 8 intervals with a share of 0.5 call/s; want at most 2", got)
	}
	if obs.waits.Load() == 0 {
		t.Error("no budget wait counted")
	}
}

// An account may have MaxPerAccount subscriptions open; a closed one makes
// room, and other accounts have their own.
func TestWatchSubscriptionsPerAccount(t *testing.T) {
	f := &videotest.Fetcher{Answer: (&processing{}).answer}
	r := newRegistry(t, f, watch.Options{MaxPerAccount: 2})
	a, b := videotest.Account(t, "a"), videotest.Account(t, "b")
	s1, err1 := r.Subscribe(a, videotest.Refs("V1"), false)
	s2, err2 := r.Subscribe(a, videotest.Refs("V2"), false)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	defer s2.Close()
	if _, err := r.Subscribe(a, videotest.Refs("V3"), false); !errors.Is(err, watch.ErrTooMany) {
		t.Errorf("third subscription: %v; want ErrTooMany", err)
	}
	sb, err := r.Subscribe(b, videotest.Refs("V3"), false)
	if err != nil {
		t.Errorf("another account's: %v; want nil", err)
	} else {
		defer sb.Close()
	}
	s1.Close()
	s3, err := r.Subscribe(a, videotest.Refs("V3"), false)
	if err != nil {
		t.Errorf("after one closed: %v; want nil", err)
	} else {
		s3.Close()
	}
}
