package videocache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/memories-facade/memories-graphql/internal/memories"
)

// flights are the fetches in flight in this process, one per video and
// kind of answer: look-ups that miss a video another look-up is fetching
// wait for that answer instead of fetching it again.
type flights struct {
	mu sync.Mutex
	m  map[flightKey]*flight

	// kept counts the flights completed and the listings kept: a look-up
	// that misses and sees it unchanged when it has claimed its flights
	// knows that no answer was kept in this process since it read the
	// store, and need not read it again.
	kept atomic.Uint64
}

type flightKey struct {
	Key
	detail bool
}

// flight is one video being fetched by the look-up that owns it.
type flight struct {
	done      chan struct{} // closed once the fields below are set
	video     *memories.Video
	err       error
	outOfTime bool // the owner ran out of time: a look-up with more asks again
	finished  bool // guarded by flights.mu

	span     trace.SpanContext // the owner's look-up, which holds the call
	deadline time.Time         // the owner's; zero when it has none
	group    *fetchGroup
}

// fetchGroup is the fetch of the flights one look-up owns. It runs on
// after its owner leaves (its client went away) while others wait for any
// of its flights, and is cancelled once nobody does.
type fetchGroup struct {
	// Guarded by flights.mu.
	waiters   int
	ownerGone bool
	fetch     canceller // the fetch's context
	// cancelled is set once nobody waited and the fetch was cancelled: its
	// flights end with the owner's error, which is no answer for a look-up
	// arriving before they do, so claim does not join them.
	cancelled bool
}

// stop cancels g's fetch once its owner has gone and nobody waits.
func (g *fetchGroup) stop() {
	if g.ownerGone && g.waiters == 0 && g.fetch != nil && !g.cancelled {
		g.cancelled = true
		g.fetch.Cancel()
	}
}

// owned is a flight a look-up must complete, for its video i.
type owned struct {
	i int
	k flightKey
	f *flight
}

// joinedFlight is a flight of another look-up that answers video i.
type joinedFlight struct {
	i int
	f *flight
}

// errAbandoned completes the flights of a fetch that ended without an
// answer for them (it panicked): the look-ups waiting fetch them again.
var errAbandoned = errors.New("videocache: the fetch of this video ended without an answer")

// claim joins, for each video at idx, a flight that answers it (any
// flight answers a look-up without detail; only a detail flight one with
// detail), or starts one that the caller owns.
func (fs *flights) claim(ctx context.Context, keys []Key, idx []int, detail func(i int) bool, span trace.SpanContext) (own []owned, joined []joinedFlight) {
	deadline, _ := ctx.Deadline()
	g := &fetchGroup{}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.m == nil {
		fs.m = map[flightKey]*flight{}
	}
	for _, i := range idx {
		full := flightKey{Key: keys[i], detail: true}
		k := flightKey{Key: keys[i], detail: detail(i)}
		f, ok := fs.joinable(full)
		if !ok {
			f, ok = fs.joinable(k)
		}
		if ok {
			f.group.waiters++
			joined = append(joined, joinedFlight{i: i, f: f})
			continue
		}
		f = &flight{done: make(chan struct{}), span: span, deadline: deadline, group: g}
		fs.m[k] = f // in place of a cancelled flight, which complete then leaves
		own = append(own, owned{i: i, k: k, f: f})
	}
	return own, joined
}

// joinable returns the flight of k unless there is none or its fetch was
// cancelled (fetchGroup.cancelled). fs.mu must be held.
func (fs *flights) joinable(k flightKey) (*flight, bool) {
	f, ok := fs.m[k]
	if !ok || f.group.cancelled {
		return nil, false
	}
	return f, true
}

// complete publishes the answer of an owned flight, once, and retires it,
// so that look-ups arriving afterwards start a new one (or find the answer
// kept).
func (fs *flights) complete(o owned, v *memories.Video, err error, outOfTime bool) {
	fs.mu.Lock()
	if o.f.finished {
		fs.mu.Unlock()
		return
	}
	o.f.finished = true
	o.f.video, o.f.err, o.f.outOfTime = v, err, outOfTime
	fs.kept.Add(1) // before the flight goes: a look-up that finds neither sees the count moved
	if fs.m[o.k] == o.f {
		delete(fs.m, o.k)
	}
	fs.mu.Unlock()
	close(o.f.done)
}

// canceller ends a fetch's context (a *detach.Context: an interface
// rather than its Cancel method, whose value would be an allocation a
// fetch).
type canceller interface{ Cancel() }

// start records the context of the fetch of own's group.
func (fs *flights) start(own []owned, fetch canceller) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	own[0].f.group.fetch = fetch
}

// leave is called by a look-up that stops waiting for f, answered or not.
func (fs *flights) leave(f *flight) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f.group.waiters--
	f.group.stop()
}

// ownerLeft is called when the owner of own's group has gone.
func (fs *flights) ownerLeft(own []owned) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	g := own[0].f.group
	g.ownerGone = true
	g.stop()
}

// unfinished returns the flights of own not completed yet.
func (fs *flights) unfinished(own []owned) []owned {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []owned
	for _, o := range own {
		if !o.f.finished {
			out = append(out, o)
		}
	}
	return out
}

// inFlight returns the number of videos being fetched.
func (fs *flights) inFlight() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.m)
}
