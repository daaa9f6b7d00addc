package presence

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/memories-facade/memories-graphql/internal/eventually"
	"github.com/memories-facade/memories-graphql/internal/redisconn"
	"github.com/memories-facade/memories-graphql/internal/redistest"
	"github.com/memories-facade/memories-graphql/internal/redistest/redisconntest"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

// open opens a Conn to r under prefix with the options every test here
// uses.
func open(t *testing.T, r redistest.Redis, prefix string) *redisconn.Conn {
	t.Helper()
	return redisconntest.OpenRedis(t, r, redisconn.Options{Prefix: prefix, Timeout: 2 * time.Second})
}

// redisNow returns Redis's clock in seconds, the trackers' clock.
func redisNow(t *testing.T, c redis.Cmdable) float64 {
	t.Helper()
	now, err := c.Time(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return float64(now.UnixMicro()) / 1e6
}

// A replica seen lately but not now is missing until it is forgotten; one
// that closes cleanly is never missing.
func TestMissing(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		prefix := redistest.Prefix(t, r.URL)
		opts := Options{every: 50 * time.Millisecond, alive: 500 * time.Millisecond, forget: 3 * time.Second}
		one := Start(open(t, r, prefix), opts)
		defer one.Close()
		two := Start(open(t, r, prefix), opts)
		if got := one.Missing(); got != 0 {
			t.Fatalf("Missing with two live replicas = %d; want 0", got)
		}
		if got := two.Live(); got != 2 {
			t.Errorf("Live with two replicas = %d; want 2", got)
		}
		eventually.True(t, "the first replica to see the second", func() bool { return one.Live() == 2 })

		// A clean stop: the other never counts it.
		two.Close()
		time.Sleep(2 * opts.alive)
		if got := one.Missing(); got != 0 {
			t.Errorf("Missing after a clean stop = %d; want 0", got)
		}

		// A replica last seen a second ago (cut off, or crashed) is missing,
		// then forgotten.
		c := one.conn.Client()
		now := redisNow(t, c)
		if err := c.ZAdd(context.Background(), one.key, redis.Z{Score: now - 1, Member: "gone"}).Err(); err != nil {
			t.Fatal(err)
		}
		eventually.True(t, "the gone replica to be missed", func() bool { return one.Missing() == 1 })
		if got := one.Live(); got != 1 {
			t.Errorf("Live with one replica and one missing = %d; want 1", got)
		}
		eventually.True(t, "the gone replica to be forgotten", func() bool { return one.Missing() == 0 })
		if got := c.ZScore(context.Background(), one.key, "gone").Err(); got != redis.Nil {
			t.Errorf("ZScore(gone) err = %v; want redis.Nil (forgotten)", got)
		}
		members, _ := c.ZRange(context.Background(), one.key, 0, -1).Result()
		if len(members) != 1 || members[0] != one.id {
			t.Errorf("members = %q; want only %s", members, one.id)
		}
	})
}

// More replicas than expected are worth a warning: each one cut off from
// Redis would take 1/expected of the rate limit.
func TestWarnsAboveExpected(t *testing.T) {
	redistest.Each(t, func(t *testing.T, r redistest.Redis) {
		prefix := redistest.Prefix(t, r.URL)
		var logs videotest.SyncBuffer
		logger := slog.New(slog.NewTextHandler(&logs, nil))
		opts := Options{every: 50 * time.Millisecond, Expected: 1, Logger: logger}
		one := Start(open(t, r, prefix), opts)
		defer one.Close()
		time.Sleep(3 * opts.every)
		if strings.Contains(logs.String(), "EXPECTED_REPLICAS") {
			t.Fatalf("one replica, one expected: logged %q; want no warning", logs.String())
		}
		two := Start(open(t, r, prefix), Options{every: 50 * time.Millisecond})
		defer two.Close()
		eventually.True(t, "the warning", func() bool {
			return strings.Contains(logs.String(), "more replicas share Redis than EXPECTED_REPLICAS") &&
				strings.Contains(logs.String(), "replicas=2 expected_replicas=1")
		})
	})
}
