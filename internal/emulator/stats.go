package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"time"
)

// Stats is a snapshot of the emulator's counters since it was created or
// last reset (ResetCounters).
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
}

// maxServedTimes bounds the memory of served arrival times: a standalone
// emulator may run for days, and MaxServedInWindow is meant for the
// windows of a test, not for history.
const maxServedTimes = 1 << 16

// counters is the mutable state behind Stats; guarded by Server.mu.
type counters struct {
	Stats
	servedAt []time.Time // arrival times of served requests, oldest first
}

func newCounters() counters {
	return counters{Stats: Stats{ByVideo: map[string]int64{}, ByKeyHash: map[string]int64{}}}
}

// recordServed notes a served request that arrived at t.
func (c *counters) recordServed(t time.Time) {
	c.Served++
	if len(c.servedAt) >= maxServedTimes {
		// Drop the older half at once so the copy happens rarely.
		c.servedAt = append(c.servedAt[:0], c.servedAt[len(c.servedAt)/2:]...)
	}
	c.servedAt = append(c.servedAt, t)
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
	st := s.stats.Stats
	st.ByVideo = maps.Clone(st.ByVideo)
	st.ByKeyHash = maps.Clone(st.ByKeyHash)
	return st
}

// RequestsFor returns how many requests named videoNo, whatever the outcome.
func (s *Server) RequestsFor(videoNo string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.ByVideo[videoNo]
}

// ResetCounters zeroes every counter and forgets the served arrival times.
// Rate-limit buckets, videos and faults are left as they are.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = newCounters()
}

// MaxServedInWindow returns the largest number of served requests (answered
// 0000) that arrived within any sliding window of the given length, that is
// with arrival times t1 <= t2 < t1+window. A test uses it to check the rate
// a client actually produced, for example that it never exceeded the
// upstream's limit. It returns 0 for a window <= 0. Only the most recent
// 65536 arrivals are remembered.
func (s *Server) MaxServedInWindow(window time.Duration) int {
	if window <= 0 {
		return 0
	}
	s.mu.Lock()
	times := slices.Clone(s.stats.servedAt)
	s.mu.Unlock()

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
