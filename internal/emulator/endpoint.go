package emulator

import (
	"fmt"
	"math"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// outcomeDisabled marks the answers of a disabled endpoint.
const outcomeDisabled = "disabled"

// endpoint is the state of one emulated endpoint: the method it serves,
// its per-key rate limit, its faults and its counters. Each endpoint has
// its own; an endpoint is added as one more value, sharing the checks of
// gateLocked.
type endpoint struct {
	method   string     // the one HTTP method served; others get 405
	limit    rate.Limit // per key; 0 = unlimited
	burst    int
	disabled atomic.Bool // answer 404, like an upstream without the endpoint

	// Guarded by Server.mu.
	limiters map[string]*rate.Limiter // by KeyHash, made on first use
	faults   map[string]Fault         // by video_no; Times counts down
	stats    counters
}

// newEndpoint returns the state of an endpoint serving method, limited to
// limit requests per second per key (0 = unlimited) in buckets of burst (0
// means 1), with faults (zero kinds are ignored).
func newEndpoint(method string, limit float64, burst int, faults map[string]Fault) *endpoint {
	e := &endpoint{
		method:   method,
		limiters: map[string]*rate.Limiter{},
		faults:   map[string]Fault{},
		stats:    newCounters(),
	}
	if limit > 0 {
		e.limit = rate.Limit(limit)
		e.burst = max(burst, 1)
	}
	for no, f := range faults {
		e.setFaultLocked(no, f)
	}
	return e
}

// endpoints returns the state of every endpoint, for what applies to all.
func (s *Server) endpoints() []*endpoint { return []*endpoint{s.meta, s.list} }

// arriveLocked counts a request from keyHash ("" = no key) that names
// videoNos, each distinct number once.
func (e *endpoint) arriveLocked(keyHash string, videoNos ...string) {
	c := &e.stats
	c.requests++
	seen := map[string]bool{}
	for _, no := range videoNos {
		if !seen[no] {
			seen[no] = true
			c.byVideo[no]++
		}
	}
	if keyHash != "" {
		c.byKeyHash[keyHash]++
	}
}

// gateLocked applies the checks every endpoint makes first, in the
// vendor's order: disabled, the method, the key, then e's rate limit. It
// counts a refusal in e's counters; refused is true with the answer to
// send.
func (s *Server) gateLocked(e *endpoint, method, key, keyHash string, now time.Time) (a answer, refused bool) {
	c := &e.stats
	switch {
	case e.disabled.Load():
		c.disabled++
		a = notFoundAnswer()
		a.outcome = outcomeDisabled
		return a, true
	case method != e.method:
		c.invalid++
		a = errorAnswer(http.StatusMethodNotAllowed, codeParam, "method "+method+" not allowed, use "+e.method)
		a.allow = e.method
		return a, true
	case key == "":
		c.unauthorized++
		return errorAnswer(http.StatusUnauthorized, codeUnauthorized, msgUnauthorized), true
	case len(s.keys) > 0 && !s.keys[keyHash]:
		c.unauthorized++
		return errorAnswer(http.StatusOK, codeInvalidKey, msgInvalidKey), true
	}
	if lim, ok := e.allowLocked(keyHash, now); !ok {
		c.rateLimited++
		a = errorAnswer(s.rateLimitStatus, codeRateLimited, msgRateLimited)
		if s.retryAfterHeader {
			a.retryAfter = retryAfterSeconds(lim, now)
		}
		return a, true
	}
	return answer{}, false
}

// allowLocked takes a token from keyHash's bucket, made on first use, and
// returns false with the bucket when it has none. An endpoint without a
// limit allows every request.
func (e *endpoint) allowLocked(keyHash string, now time.Time) (*rate.Limiter, bool) {
	if e.limit == 0 {
		return nil, true
	}
	lim, ok := e.limiters[keyHash]
	if !ok {
		lim = rate.NewLimiter(e.limit, e.burst)
		e.limiters[keyHash] = lim
	}
	// AllowN takes no token when it refuses, so clients that retry too
	// eagerly are not punished beyond the refusal itself.
	return lim, lim.AllowN(now, 1)
}

// retryAfterSeconds is how long until lim has a whole token again, in
// whole seconds rounded up and at least 1, as Retry-After requires.
func retryAfterSeconds(lim *rate.Limiter, now time.Time) int {
	missing := 1 - lim.TokensAt(now)
	secs := math.Ceil(missing / float64(lim.Limit()))
	if math.IsNaN(secs) || secs < 1 {
		return 1
	}
	if secs > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(secs)
}

// setFaultLocked sets or, for a zero Kind, removes the fault for videoNo.
func (e *endpoint) setFaultLocked(videoNo string, f Fault) {
	if f.Kind == 0 {
		delete(e.faults, videoNo)
		return
	}
	e.faults[videoNo] = f
}

// takeFaultLocked returns the fault for videoNo, if any, counts down its
// Times and counts it in Faulted.
func (e *endpoint) takeFaultLocked(videoNo string) (Fault, bool) {
	f, ok := e.faults[videoNo]
	if !ok {
		return Fault{}, false
	}
	switch {
	case f.Times == 1:
		delete(e.faults, videoNo)
	case f.Times > 1:
		next := f
		next.Times--
		e.faults[videoNo] = next
	}
	e.stats.faulted++
	return f, true
}

// SetFault makes get_metadata requests for videoNo misbehave as f
// describes, replacing any fault already set for it; a zero f.Kind removes
// it. It panics on an invalid fault (unknown kind, impossible status,
// negative Times). List calls have their own faults; see SetListFault. It
// is a test hook.
func (s *Server) SetFault(videoNo string, f Fault) {
	s.setFault(s.meta, "SetFault", videoNo, f)
}

// SetListFault makes list calls that name videoNo (in video_nos or
// video_no), and library listings whose page holds it, misbehave as f describes, for the whole answer, replacing any
// list fault already set for it; a zero f.Kind removes it. Times counts
// list calls that used this fault. It panics on an invalid fault, like
// SetFault. It is a test hook.
func (s *Server) SetListFault(videoNo string, f Fault) {
	s.setFault(s.list, "SetListFault", videoNo, f)
}

// setFault validates f and sets it on e; caller names the exported method
// in the panic.
func (s *Server) setFault(e *endpoint, caller, videoNo string, f Fault) {
	if err := f.validate(); err != nil {
		panic(fmt.Sprintf("emulator: %s(%q): %v", caller, videoNo, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e.setFaultLocked(videoNo, f)
}

// ClearFaults removes every fault, of get_metadata and of list_videos. It
// is a test hook.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.endpoints() {
		clear(e.faults)
	}
}

// SetListDisabled switches ListPath off (HTTP 404 with the 0404 envelope,
// as from an upstream without the endpoint) or back on. It is a test hook.
func (s *Server) SetListDisabled(disabled bool) {
	s.list.disabled.Store(disabled)
}
