package emulator_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// slowRate refills one token every 20 seconds: no test here runs long
// enough to see a refill, even on a loaded machine, so counts are exact.
const slowRate = 0.05

func TestRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status         int // Options.RateLimitStatus
		retryAfter     bool
		wantHTTPStatus int
	}{
		{0, false, 200},
		{0, true, 200},
		{429, false, 429},
		{429, true, 429},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("status=%d/retry-after=%v", tt.status, tt.retryAfter), func(t *testing.T) {
			t.Parallel()
			s := start(t, emulator.Options{RateLimit: slowRate, Burst: 3, RateLimitStatus: tt.status, RetryAfterHeader: tt.retryAfter})
			c := newClient(t, s.URL(), true)

			for i := range 3 {
				res, env := c.getEnvelope("key", "video_no="+vendorNo)
				if got := wantFound(t, res, env); got != vendorData {
					t.Errorf("request %d within the burst: data = %s; want %s", i+1, got, vendorData)
				}
			}
			res, env := c.getEnvelope("key", "video_no="+vendorNo)
			wantError(t, res, env, tt.wantHTTPStatus, "0429", "Request has exceeded the limit.")

			ra := res.header.Get("Retry-After")
			switch {
			case !tt.retryAfter && ra != "":
				t.Errorf("Retry-After = %q; want no header", ra)
			case tt.retryAfter:
				// One token takes 1/slowRate = 20s; a little has already refilled.
				secs, err := strconv.Atoi(ra)
				if err != nil || secs < 1 || secs > 20 {
					t.Errorf("Retry-After = %q; want whole seconds in [1, 20]", ra)
				}
			}

			got := s.Stats()
			if got.Served != 3 || got.RateLimited != 1 || got.Requests != 4 {
				t.Errorf("Served, RateLimited, Requests = %d, %d, %d; want 3, 1, 4", got.Served, got.RateLimited, got.Requests)
			}
		})
	}
}

func TestRateLimitRetryAfterRoundsUp(t *testing.T) {
	t.Parallel()
	// Two tokens per second: a token is at most 0.5s away, which must
	// still be announced as 1 second.
	s := start(t, emulator.Options{RateLimit: 2, RetryAfterHeader: true})
	c := newClient(t, s.URL(), true)
	for {
		res, env := c.getEnvelope("key", "video_no="+vendorNo)
		if env.Code == "0429" {
			if got := res.header.Get("Retry-After"); got != "1" {
				t.Errorf("Retry-After = %q; want \"1\"", got)
			}
			return
		}
		if s.Stats().Served > 50 {
			t.Fatalf("50 requests served without a 0429 at 2 req/s")
		}
	}
}

func TestRateLimitIsPerKey(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{RateLimit: slowRate, Burst: 2})
	c := newClient(t, s.URL(), true)

	tests := []struct {
		key, wantCode string
	}{
		{"alice", "0000"},
		{"alice", "0000"},
		{"alice", "0429"},
		{"bob", "0000"},
		{"Bearer alice", "0429"}, // the same key, written differently
		{"bob", "0000"},
		{"bob", "0429"},
	}
	for i, tt := range tests {
		if _, env := c.getEnvelope(tt.key, "video_no="+vendorNo); env.Code != tt.wantCode {
			t.Errorf("request %d with %q: code = %q; want %q", i+1, tt.key, env.Code, tt.wantCode)
		}
	}
}

func TestRateLimitOrder(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{Keys: []string{"k"}, RateLimit: slowRate})
	c := newClient(t, s.URL(), true)

	tests := []struct {
		name, key, query, wantCode string
	}{
		// Parameters are checked after the rate limit, so a bad request
		// still spends the key's only token...
		{"bad parameters spend a token", "k", "video_no=", "0003"},
		{"then the key is limited", "k", "video_no=" + vendorNo, "0429"},
		{"even for bad parameters", "k", "video_no=", "0429"},
		// ...while authorization comes first and has no bucket.
		{"unknown key", "other", "video_no=" + vendorNo, "9009"},
		{"unknown key again", "other", "video_no=" + vendorNo, "9009"},
		{"no key", noAuth, "video_no=" + vendorNo, "0401"},
	}
	for _, tt := range tests {
		if _, env := c.getEnvelope(tt.key, tt.query); env.Code != tt.wantCode {
			t.Errorf("%s: code = %q; want %q", tt.name, env.Code, tt.wantCode)
		}
	}
}

func TestRateLimitRejectionsTakeNoToken(t *testing.T) {
	t.Parallel()
	// One token per second, burst 1. If each of the rejected calls below
	// took a token (or put the bucket in debt), the call after a 1.5s pause
	// would be refused too; if they are free, a token is back by then.
	s := start(t, emulator.Options{RateLimit: 1})
	c := newClient(t, s.URL(), true)

	if _, env := c.getEnvelope("key", "video_no="+vendorNo); env.Code != "0000" {
		t.Fatalf("first request: code = %q; want 0000", env.Code)
	}
	for i := range 5 {
		// Local requests take milliseconds; the bucket needs a full second.
		if _, env := c.getEnvelope("key", "video_no="+vendorNo); env.Code != "0429" {
			t.Fatalf("rejected request %d: code = %q; want 0429", i+1, env.Code)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	if _, env := c.getEnvelope("key", "video_no="+vendorNo); env.Code != "0000" {
		t.Errorf("request after the refill: code = %q; want 0000 (rejections must not take tokens)", env.Code)
	}
	if got := s.Stats(); got.Served != 2 || got.RateLimited != 5 {
		t.Errorf("Served, RateLimited = %d, %d; want 2, 5", got.Served, got.RateLimited)
	}
}

func TestRateLimitObservedRate(t *testing.T) {
	t.Parallel()
	const (
		rate   = 20
		burst  = 3
		window = 500 * time.Millisecond
	)
	s := start(t, emulator.Options{RateLimit: rate, Burst: burst})
	c := newClient(t, s.URL(), true)

	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		c.get("key", "video_no="+vendorNo)
	}
	// A token bucket never serves more than burst + rate*window within a
	// window; the +1 allows for the window's closed start.
	limit := burst + int(rate*window.Seconds()) + 1
	got := s.MaxServedInWindow(window)
	if got > limit {
		t.Errorf("MaxServedInWindow(%v) = %d; want at most %d", window, got, limit)
	}
	if got < 1 {
		t.Errorf("MaxServedInWindow(%v) = %d; want at least 1", window, got)
	}
}
