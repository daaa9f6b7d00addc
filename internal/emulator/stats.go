package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"time"
)

// Stats is a snapshot of the emulator's counters since it was created or
// last reset (ResetCounters). Its fields count get_metadata requests only;
// List counts list_videos requests.
type Stats struct {
	Requests     int64 // every request received to the endpoint, whatever the outcome
	Served       int64 // answered 0000 (found or not found)
	RateLimited  int64 // 0429 answers
	Unauthorized int64 // 0401 and 9009 answers
	Invalid      int64 // 0003 answers: bad parameters or a method other than GET
	Faulted      int64 // answers replaced by a configured Fault
	// ByVideo counts requests per video_no, whatever the outcome. Requests
	// without a video_no are not counted here.
	ByVideo map[string]int64
	// ByKeyHash counts requests per API key, keyed by KeyHash(key) so that
	// raw keys never leave the emulator. Requests without a key are not
	// counted here.
	ByKeyHash map[string]int64
	// List counts the requests to ListPath.
	List ListStats
}

// ListStats counts the requests to ListPath.
type ListStats struct {
	Requests     int64 // every request received to ListPath, whatever the outcome
	Served       int64 // answered 0000 (one page each, possibly empty)
	RateLimited  int64 // 0429 answers
	Unauthorized int64 // 0401 and 9009 answers
	Invalid      int64 // 0003 answers: bad body or parameters, or a method other than POST
	Faulted      int64 // answers replaced by a configured list fault
	Disabled     int64 // 404 answers while the endpoint was disabled
	// VideosAsked sums, over requests whose body could be decoded, the
	// video numbers each named: len(video_nos), plus one for a video_no.
	VideosAsked int64
	// ByVideo counts, per video_no, the requests that named it in
	// video_nos or video_no (once per request), whatever the outcome.
	ByVideo map[string]int64
	// ByKeyHash counts requests per KeyHash of their API key, whatever
	// the outcome. Requests without a key are not counted here.
	ByKeyHash map[string]int64
}

// maxServedTimes bounds the memory of served arrival times: a standalone
// emulator may run for days, and MaxServedInWindow is meant for the
// windows of a test, not for history.
const maxServedTimes = 1 << 16

// counters are one endpoint's counts since the server was made or last
// reset; guarded by Server.mu. Stats shows get_metadata's as its own fields
// and list_videos' as Stats.List.
type counters struct {
	requests     int64
	served       int64
	rateLimited  int64
	unauthorized int64
	invalid      int64
	faulted      int64
	disabled     int64 // answers while the endpoint was disabled
	videosAsked  int64 // video numbers named by decodable list bodies
	byVideo      map[string]int64
	byKeyHash    map[string]int64
	servedAt     arrivals
}

func newCounters() counters {
	return counters{byVideo: map[string]int64{}, byKeyHash: map[string]int64{}}
}

// servedLocked notes a served request that arrived at t.
func (c *counters) servedLocked(t time.Time) {
	c.served++
	c.servedAt.add(t)
}

// arrivals are the arrival times of served requests, oldest first, at
// most maxServedTimes of them.
type arrivals []time.Time

// add notes an arrival at t.
func (a *arrivals) add(t time.Time) {
	if len(*a) >= maxServedTimes {
		// Drop the older half at once so the copy happens rarely.
		*a = append((*a)[:0], (*a)[len(*a)/2:]...)
	}
	*a = append(*a, t)
}

// maxInWindow returns the largest number of times within any sliding
// window of the given length: t1 <= t2 < t1+window. It sorts times.
func maxInWindow(times []time.Time, window time.Duration) int {
	if window <= 0 {
		return 0
	}
	// Arrival times are taken under the lock and so are already ordered;
	// sorting only guards against a clock that is not monotonic.
	slices.SortFunc(times, time.Time.Compare)
	best, lo := 0, 0
	for hi, t := range times {
		for t.Sub(times[lo]) >= window {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// KeyHash returns the hex SHA-256 of an API key: the form under which keys
// appear in Stats.ByKeyHash. Logs use its first 12 characters.
func KeyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Stats returns a snapshot of the counters; the maps are copies.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, l := &s.meta.stats, &s.list.stats
	return Stats{
		Requests:     m.requests,
		Served:       m.served,
		RateLimited:  m.rateLimited,
		Unauthorized: m.unauthorized,
		Invalid:      m.invalid,
		Faulted:      m.faulted,
		ByVideo:      maps.Clone(m.byVideo),
		ByKeyHash:    maps.Clone(m.byKeyHash),
		List: ListStats{
			Requests:     l.requests,
			Served:       l.served,
			RateLimited:  l.rateLimited,
			Unauthorized: l.unauthorized,
			Invalid:      l.invalid,
			Faulted:      l.faulted,
			Disabled:     l.disabled,
			VideosAsked:  l.videosAsked,
			ByVideo:      maps.Clone(l.byVideo),
			ByKeyHash:    maps.Clone(l.byKeyHash),
		},
	}
}

// RequestsFor returns how many get_metadata requests named videoNo,
// whatever the outcome. It is a test hook.
func (s *Server) RequestsFor(videoNo string) int64 {
	return s.requestsFor(s.meta, videoNo)
}

// ListRequestsFor returns how many list_videos requests named videoNo in
// video_nos or video_no, whatever the outcome. It is a test hook.
func (s *Server) ListRequestsFor(videoNo string) int64 {
	return s.requestsFor(s.list, videoNo)
}

func (s *Server) requestsFor(e *endpoint, videoNo string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return e.stats.byVideo[videoNo]
}

// ResetCounters zeroes every counter, of both endpoints, and forgets the
// served arrival times.
// Rate-limit buckets, videos and faults are left as they are.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.endpoints() {
		e.stats = newCounters()
	}
}

// MaxServedInWindow returns the largest number of served get_metadata
// requests (answered 0000) that arrived within any sliding window of the
// given length, that is with arrival times t1 <= t2 < t1+window. A test
// uses it to check the rate a client actually produced, for example that it
// never exceeded the upstream's limit. It returns 0 for a window <= 0. Only
// the most recent 65536 arrivals are remembered. It is a test hook.
func (s *Server) MaxServedInWindow(window time.Duration) int {
	return s.maxServedInWindow(s.meta, window)
}

// MaxListServedInWindow is MaxServedInWindow for list_videos: the largest
// number of list requests answered 0000 that arrived within any sliding
// window of the given length. It is a test hook.
func (s *Server) MaxListServedInWindow(window time.Duration) int {
	return s.maxServedInWindow(s.list, window)
}

func (s *Server) maxServedInWindow(e *endpoint, window time.Duration) int {
	s.mu.Lock()
	times := slices.Clone(e.stats.servedAt)
	s.mu.Unlock()
	return maxInWindow(times, window)
}
