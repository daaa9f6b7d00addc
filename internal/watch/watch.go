// Package watch polls the videos that subscriptions watch until their
// processing ends, once for everyone: one poller per account, however many
// subscribers, and at each interval one Videos call for every unsettled
// video the account's subscribers watch (the batch path: one list_videos
// call covers up to 200 videos of a scope). A video whose subscribers
// select detail fields costs one get_metadata call more, once, when it
// settles: detail fields do not exist before.
//
// Each subscription holds the latest state of each of its videos (a
// mailbox of one per video), so a slow subscriber costs at most one state
// per video it watches, and never slows the poller or other subscribers.
//
// It sits beside the per-request loader, above the video cache
// (internal/videocache), through which every poll goes, so that a poll
// refreshes the cache for queries.
package watch

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"time"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/upstream"
)

// Fetcher fetches videos of an account: internal/videocache's Cache.
// Refresh asks the upstream whatever is kept; a poll of unsettled videos
// goes through it, and the one detail call of a settled video through
// Videos, which a kept answer serves (it no longer changes).
type Fetcher interface {
	Videos(ctx context.Context, acct account.Account, refs []memories.VideoRef, detail bool) ([]*memories.Video, []error)
	Refresh(ctx context.Context, acct account.Account, refs []memories.VideoRef, detail bool) ([]*memories.Video, []error)
}

// Observer records what the watch does, for metrics.
type Observer interface {
	WatchPoll(videos int, detail bool) // one poll, of that many videos
	WatchBudgetWait()                  // a poll put off: the watch's budget share had no room
	WatchEvents(sent, dropped int)     // states delivered, and states replaced unread
}

// Options configure a Registry.
type Options struct {
	// Interval is the time between two polls of a video (WATCH_INTERVAL).
	Interval time.Duration
	// MaxDuration bounds a subscription: past it, the subscription ends
	// with ErrExpired (WATCH_MAX_DURATION).
	MaxDuration time.Duration
	// PollTimeout bounds one poll; default Interval.
	PollTimeout time.Duration
	// Budget, if not nil, is the watch's share of each account's budgets.
	Budget *Budget
	// BatchSize is the videos one list_videos call covers, for the budget's
	// count of a poll's calls (default 200).
	BatchSize int
	// MaxPerAccount bounds an account's open subscriptions; 0: no bound.
	MaxPerAccount int
	// Share, if not nil, shares the polls with the other replicas of one
	// Redis: each video is polled by one of them.
	Share    *Shared
	Observer Observer
}

// ErrTooMany refuses a subscription past MaxPerAccount.
var ErrTooMany = errors.New("watch: the account has the most subscriptions it may have open")

// ErrExpired ends a subscription that lasted MaxDuration.
var ErrExpired = errors.New("watch: the watch lasted its maximum duration")

// ErrClosed ends the subscriptions of a registry that closes, as the
// server shuts down.
var ErrClosed = errors.New("watch: the server is shutting down")

// Event is one state of a watched video.
type Event struct {
	Ref memories.VideoRef
	// Video is its state; nil with Err nil: the video does not exist.
	Video *memories.Video
	// Err is the last poll's failure for this video; the poll is retried
	// at the next interval.
	Err error
	// Settled marks the last event of this video: its processing ended
	// (PARSE or FAILED), or it does not exist.
	Settled bool
}

// settled reports whether v's processing has ended.
func settled(v *memories.Video) bool {
	return v == nil || v.Status == memories.StatusParse || v.Status == memories.StatusFailed
}

// Registry is the watched videos of every account, and their pollers.
type Registry struct {
	fetch Fetcher
	opts  Options

	mu         sync.Mutex
	pollers    map[string]*poller // by account ID
	subs       int                // open subscriptions
	perAccount map[string]int     // open subscriptions by account ID
	closed     bool
	wg         sync.WaitGroup
}

// New returns a registry that polls through f.
func New(f Fetcher, o Options) *Registry {
	if o.PollTimeout <= 0 {
		o.PollTimeout = o.Interval
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 200
	}
	return &Registry{fetch: f, opts: o, pollers: map[string]*poller{}, perAccount: map[string]int{}}
}

// Watched returns the number of videos being watched, for metrics.
func (r *Registry) Watched() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, p := range r.pollers {
		n += len(p.videos)
	}
	return n
}

// Subscriptions returns the number of open subscriptions, for metrics.
func (r *Registry) Subscriptions() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.subs
}

// Close stops every poller and ends every subscription with ErrClosed.
func (r *Registry) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	var subs []*Subscription
	for _, p := range r.pollers {
		close(p.stop)
		for _, w := range p.videos {
			for s := range w.subs {
				subs = append(subs, s)
			}
		}
	}
	r.mu.Unlock()
	for _, s := range subs {
		s.end(ErrClosed)
	}
	r.wg.Wait()
	return nil
}

// Subscribe starts watching refs for acct, with detail fields when detail.
// The subscription ends when every video has settled, when it lasted
// MaxDuration, when the registry closes, or when Close is called; call
// Close when done with it in every case.
func (r *Registry) Subscribe(acct account.Account, refs []memories.VideoRef, detail bool) (*Subscription, error) {
	s := &Subscription{
		r: r, acct: acct.ID(), detail: detail,
		pending:  map[memories.VideoRef]Event{},
		signal:   make(chan struct{}, 1),
		deadline: time.Now().Add(r.opts.MaxDuration),
		sent:     map[memories.VideoRef]bool{},
	}
	seen := map[memories.VideoRef]bool{}
	for _, ref := range refs {
		if ref.UniqueID == "" {
			ref.UniqueID = memories.DefaultUniqueID
		}
		if !seen[ref] {
			seen[ref] = true
			s.refs = append(s.refs, ref)
		}
	}
	s.left = len(s.refs)
	if r.opts.MaxDuration <= 0 {
		s.deadline = time.Now().Add(100 * 365 * 24 * time.Hour)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if r.opts.MaxPerAccount > 0 && r.perAccount[acct.ID()] >= r.opts.MaxPerAccount {
		return nil, ErrTooMany
	}
	r.subs++
	r.perAccount[acct.ID()]++
	p := r.pollers[acct.ID()]
	if p == nil {
		p = &poller{r: r, acct: acct, videos: map[memories.VideoRef]*watched{}, wake: make(chan struct{}, 1), stop: make(chan struct{})}
		r.pollers[acct.ID()] = p
		r.wg.Add(1)
		go p.run()
	}
	wake := false
	for _, ref := range s.refs {
		w := p.videos[ref]
		if w == nil {
			w = &watched{ref: ref, subs: map[*Subscription]bool{}}
			p.videos[ref] = w
			wake = true
		}
		w.subs[s] = true
		if detail {
			w.detailSubs++
		}
		if w.latest != nil && w.latest.Err == nil {
			s.offerLocked(w, *w.latest)
			if len(w.subs) == 0 {
				delete(p.videos, ref)
			}
		}
	}
	if wake {
		p.poke()
	}
	return s, nil
}

// poller polls one account's watched videos.
type poller struct {
	r    *Registry
	acct account.Account
	wake chan struct{} // videos to poll now
	stop chan struct{} // closed by Registry.Close

	// Guarded by r.mu.
	videos map[memories.VideoRef]*watched
}

// watched is one watched video of an account.
type watched struct {
	ref         memories.VideoRef
	subs        map[*Subscription]bool
	detailSubs  int       // subscribers that select detail fields
	latest      *Event    // the last poll's answer; nil before the first
	polled      time.Time // its last poll, here or by another replica
	detailTried time.Time // its last detail call was due
	detailed    bool      // its detail fields were fetched, after it settled
}

func (p *poller) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run polls until no video is watched or the registry closes.
func (p *poller) run() {
	defer p.r.wg.Done()
	if sh := p.r.opts.Share; sh != nil {
		stop := sh.listen(p.acct.ID(), p.deliver)
		defer stop()
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-p.wake:
		case <-timer.C:
		}
		list, detail, next, alone := p.due(time.Now())
		if alone {
			return
		}
		if len(list) > 0 {
			p.poll(list, false)
		}
		if len(detail) > 0 {
			p.poll(detail, true)
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(max(time.Until(next), time.Millisecond))
	}
}

// due returns the videos to poll now, without and with detail, and when
// the next poll is due; alone is true (and the poller gone from the
// registry) when nothing is watched any more.
func (p *poller) due(now time.Time) (list, detail []memories.VideoRef, next time.Time, alone bool) {
	r := p.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(p.videos) == 0 {
		delete(r.pollers, p.acct.ID())
		return nil, nil, time.Time{}, true
	}
	next = now.Add(r.opts.Interval)
	due := func(last time.Time) bool {
		if last.IsZero() || !now.Before(last.Add(r.opts.Interval)) {
			return true
		}
		next = minTime(next, last.Add(r.opts.Interval))
		return false
	}
	for ref, w := range p.videos {
		if w.latest != nil && w.latest.Err == nil && settled(w.latest.Video) {
			if w.detailSubs > 0 && !w.detailed && w.latest.Video != nil && w.latest.Video.Status == memories.StatusParse && due(w.detailTried) {
				detail = append(detail, ref)
			}
			continue
		}
		if due(w.polled) {
			list = append(list, ref)
		}
	}
	return list, detail, next, false
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// leaseFor is how long a replica holds the poll of a video it polls: a
// little over an interval, renewed at each poll, so that another replica
// takes a dead one's polls over within about two intervals.
func (r *Registry) leaseFor() time.Duration { return r.opts.Interval * 5 / 4 }

// poll asks for refs and hands each answer to the videos' subscribers. With
// Share, it polls only the videos whose lease it holds; the others'
// answers come from the replica that holds theirs (deliver), and a video
// never seen here starts from the cache.
func (p *poller) poll(refs []memories.VideoRef, detail bool) {
	r := p.r
	p.tried(refs, detail)
	if sh := r.opts.Share; sh != nil {
		mine := sh.claim(p.acct.ID(), refs, detail, r.leaseFor())
		var own, fresh []memories.VideoRef
		r.mu.Lock()
		for i, ref := range refs {
			if mine[i] {
				own = append(own, ref)
			} else if w := p.videos[ref]; w != nil && w.latest == nil && !detail {
				fresh = append(fresh, ref)
			}
		}
		r.mu.Unlock()
		if len(fresh) > 0 {
			p.fetch(fresh, false, r.fetch.Videos) // a kept answer serves until the holder's next
		}
		refs = own
		if len(refs) == 0 {
			return
		}
	}
	if b := r.opts.Budget; b != nil && !b.allow(p.acct.ID(), detail, calls(refs, detail, r.opts.BatchSize)) {
		if r.opts.Observer != nil {
			r.opts.Observer.WatchBudgetWait()
		}
		return // tried again at the next interval
	}
	if r.opts.Observer != nil {
		r.opts.Observer.WatchPoll(len(refs), detail)
	}
	fetch := r.fetch.Refresh
	if detail {
		fetch = r.fetch.Videos // a settled video's kept detail no longer changes
	}
	evs := p.fetch(refs, detail, fetch)
	if sh := r.opts.Share; sh != nil {
		sh.publish(p.acct.ID(), evs)
	}
}

// tried notes that refs were due now, so that they are next due an
// interval later, whoever polls them.
func (p *poller) tried(refs []memories.VideoRef, detail bool) {
	r := p.r
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for _, ref := range refs {
		if w := p.videos[ref]; w != nil {
			if detail {
				w.detailTried = now
			} else {
				w.polled = now
			}
		}
	}
}

// fetch asks f for refs and applies the answers; it returns them.
func (p *poller) fetch(refs []memories.VideoRef, detail bool, f func(context.Context, account.Account, []memories.VideoRef, bool) ([]*memories.Video, []error)) []Event {
	ctx, cancel := context.WithTimeout(context.Background(), p.r.opts.PollTimeout)
	if !detail {
		ctx = upstream.BatchOnly(ctx) // counted against the watch's list_videos share
	}
	vs, errs := f(ctx, p.acct, refs, detail)
	cancel()
	evs := make([]Event, len(refs))
	for i, ref := range refs {
		evs[i] = Event{Ref: ref, Video: vs[i]}
		if errs != nil && errs[i] != nil {
			evs[i] = Event{Ref: ref, Err: errs[i]}
		}
		evs[i].Settled = evs[i].Err == nil && settled(evs[i].Video)
	}
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	p.applyLocked(evs)
	return evs
}

// deliver applies another replica's answers.
func (p *poller) deliver(evs []Event) {
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	now := time.Now()
	for _, ev := range evs {
		if w := p.videos[ev.Ref]; w != nil && ev.Err == nil {
			w.polled = now // polled, by another replica
		}
	}
	p.applyLocked(evs)
}

// applyLocked hands each answer that says something new to its video's
// subscribers.
func (p *poller) applyLocked(evs []Event) {
	for _, ev := range evs {
		w := p.videos[ev.Ref]
		if w == nil {
			continue // nobody watches it any more
		}
		if ev.Err == nil && ev.Video != nil && ev.Video.Detailed {
			w.detailed = true
		}
		changed := w.latest == nil || !sameEvent(*w.latest, ev)
		if ev.Err == nil {
			w.latest = &ev
		}
		if !changed && ev.Err == nil {
			continue
		}
		for s := range w.subs {
			s.offerLocked(w, ev)
		}
		if len(w.subs) == 0 {
			delete(p.videos, ev.Ref) // every subscriber has its last state
		}
	}
}

// calls is the number of upstream calls refs cost: one per video with
// detail, else one per batch of each scope.
func calls(refs []memories.VideoRef, detail bool, batch int) int {
	if detail {
		return len(refs)
	}
	per := map[string]int{}
	for _, r := range refs {
		per[r.UniqueID]++
	}
	n := 0
	for _, v := range per {
		n += (v + batch - 1) / batch
	}
	return n
}

// sameEvent reports two answers for a video that say the same.
func sameEvent(a, b Event) bool {
	return (a.Err == nil) == (b.Err == nil) && reflect.DeepEqual(a.Video, b.Video)
}

// Subscription is one subscriber's watch of its videos.
type Subscription struct {
	r        *Registry
	acct     string
	refs     []memories.VideoRef
	detail   bool
	deadline time.Time
	signal   chan struct{} // something to read

	// Guarded by r.mu (offers) and mu (reads).
	mu      sync.Mutex
	pending map[memories.VideoRef]Event // the latest unread state of each video
	order   []memories.VideoRef         // of pending, first offered first
	sent    map[memories.VideoRef]bool  // settled videos already read
	left    int                         // videos that have not settled
	ended   error
	closed  bool
}

// offerLocked hands ev to s, in place of an unread state of the same
// video. A detail subscriber waits for its settled video's detail.
func (s *Subscription) offerLocked(w *watched, ev Event) {
	if ev.Settled && s.detail && ev.Video != nil && ev.Video.Status == memories.StatusParse && !ev.Video.Detailed {
		return // its detail comes next, with the same state
	}
	s.mu.Lock()
	if s.closed || s.sent[ev.Ref] {
		s.mu.Unlock()
		return
	}
	_, had := s.pending[ev.Ref]
	if !had {
		s.order = append(s.order, ev.Ref)
	} else if s.r.opts.Observer != nil {
		s.r.opts.Observer.WatchEvents(0, 1)
	}
	s.pending[ev.Ref] = ev
	s.mu.Unlock()
	if ev.Settled {
		delete(w.subs, s)
		if s.detail {
			w.detailSubs--
		}
	}
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// end ends s with err, after what it has not read yet.
func (s *Subscription) end(err error) {
	s.mu.Lock()
	if s.ended == nil {
		s.ended = err
	}
	s.mu.Unlock()
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// Next returns the states that came since the last call, first offered
// first, waiting for one if there are none. It returns io.EOF-like errors
// once the subscription is over: nil events and ErrDone when every video
// settled, ErrExpired or ErrClosed; or ctx's error.
func (s *Subscription) Next(ctx context.Context) ([]Event, error) {
	expire := time.NewTimer(time.Until(s.deadline))
	defer expire.Stop()
	for {
		s.mu.Lock()
		if len(s.order) > 0 {
			evs := make([]Event, 0, len(s.order))
			for _, ref := range s.order {
				ev := s.pending[ref]
				if ev.Settled {
					s.sent[ref] = true
					s.left--
				}
				evs = append(evs, ev)
			}
			clear(s.pending)
			s.order = s.order[:0]
			s.mu.Unlock()
			if s.r.opts.Observer != nil {
				s.r.opts.Observer.WatchEvents(len(evs), 0)
			}
			return evs, nil
		}
		ended, left := s.ended, s.left
		s.mu.Unlock()
		switch {
		case ended != nil:
			return nil, ended
		case left == 0:
			return nil, ErrDone
		}
		select {
		case <-s.signal:
		case <-expire.C:
			s.end(ErrExpired)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// ErrDone ends a subscription whose videos have all settled.
var ErrDone = errors.New("watch: every video settled")

// Close ends s and forgets its videos: a video nobody else watches is no
// longer polled.
func (s *Subscription) Close() {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	r.subs--
	if r.perAccount[s.acct]--; r.perAccount[s.acct] == 0 {
		delete(r.perAccount, s.acct)
	}
	p := r.pollers[s.acct]
	if p == nil {
		return
	}
	for _, ref := range s.refs {
		w := p.videos[ref]
		if w == nil || !w.subs[s] {
			continue
		}
		delete(w.subs, s)
		if s.detail {
			w.detailSubs--
		}
		if len(w.subs) == 0 {
			delete(p.videos, ref)
		}
	}
	// Settled videos leave no subscriber behind: forget those too.
	for ref, w := range p.videos {
		if len(w.subs) == 0 {
			delete(p.videos, ref)
		}
	}
	p.poke()
}
