// Package presence lets the replicas that share one Redis see which of them
// have dropped out of it lately: a replica that cannot reach Redis spends
// its fallback share of the rate limit on its own, and the replicas still
// sharing the budget must leave that share unspent.
//
// Each replica records itself in a sorted set every second, scored with
// Redis's clock. A replica seen within the last two minutes but not within
// the last three seconds counts as missing: cut off from Redis, or crashed.
// One that shuts down cleanly removes itself and is not missed.
package presence

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/memories-facade/memories-graphql/internal/redisconn"
)

// Options tune a Tracker; the zero value takes the defaults.
type Options struct {
	// Expected is the number of replicas the rate limit is split by when
	// one is cut off (EXPECTED_REPLICAS); more replicas seen than that logs
	// a warning, since their fallback shares would overshoot. 0: no check.
	Expected int
	// Logger receives changes in the number of missing replicas.
	Logger *slog.Logger

	// The timings; only the tests change them.

	// every is how often the replica records itself (default 1s).
	every time.Duration
	// alive is how recently a replica must have recorded itself to count as
	// sharing the budget (default 3 × every).
	alive time.Duration
	// forget is how long a replica that stopped recording counts as
	// missing (default 2m): long enough to cover a Redis outage of one
	// replica, short enough that a crashed one stops costing budget.
	forget time.Duration
}

// Tracker records this replica's presence and counts the missing ones.
type Tracker struct {
	conn    *redisconn.Conn
	key, id string
	opts    Options
	missing atomic.Int64
	live    atomic.Int64 // replicas recording themselves now, this one included
	seen    int64        // replicas seen at the last beat; run's goroutine only

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// heartbeatScript records ARGV[1] now, forgets members older than ARGV[2]
// seconds, and returns how many were last seen more than ARGV[3] seconds ago
// and how many members remain.
var heartbeatScript = redis.NewScript(`
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 1000))
return {redis.call('ZCOUNT', KEYS[1], '-inf', now - tonumber(ARGV[3])), redis.call('ZCARD', KEYS[1])}
`)

// Start records this replica at once and then every second, until Close.
func Start(conn *redisconn.Conn, opts Options) *Tracker {
	if opts.every <= 0 {
		opts.every = time.Second
	}
	if opts.alive <= 0 {
		opts.alive = 3 * opts.every
	}
	if opts.forget <= 0 {
		opts.forget = 2 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var raw [8]byte
	_, _ = rand.Read(raw[:])
	t := &Tracker{
		// One key for the deployment, which the heartbeat script takes
		// alone: on a Redis Cluster, one slot.
		conn: conn, key: conn.Key("v1", "replicas"), id: hex.EncodeToString(raw[:]), opts: opts,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	t.beat()
	go t.run()
	return t
}

// Missing returns how many replicas were seen lately but not now.
func (t *Tracker) Missing() int { return int(t.missing.Load()) }

// Live returns how many replicas share Redis now, this one included: at
// least 1, and its last count while Redis is unavailable.
func (t *Tracker) Live() int { return max(1, int(t.live.Load())) }

func (t *Tracker) run() {
	defer close(t.done)
	tick := time.NewTicker(t.opts.every)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			t.beat()
		}
	}
}

// beat records this replica and updates the count of missing ones. While
// Redis is unavailable the count keeps its last value: this replica then
// limits itself locally and does not read it.
func (t *Tracker) beat() {
	if !t.conn.Up() {
		return
	}
	ctx, cancel := t.conn.Context(context.Background())
	defer cancel()
	counts, err := heartbeatScript.Run(ctx, t.conn.Client(), []string{t.key}, t.id,
		t.opts.forget.Seconds(), t.opts.alive.Seconds()).Int64Slice()
	if err == nil && len(counts) != 2 {
		err = fmt.Errorf("presence heartbeat: unexpected reply %v", counts)
	}
	if err != nil {
		t.conn.Fail(err)
		return
	}
	n, seen := counts[0], counts[1]
	t.live.Store(seen - n)
	if old := t.missing.Swap(n); old != n {
		t.opts.Logger.Info("redis: replicas missing from the shared rate limit", "missing", n)
	}
	if e := int64(t.opts.Expected); e > 0 && seen > e && seen > t.seen {
		t.opts.Logger.Warn("more replicas share Redis than EXPECTED_REPLICAS: one cut off from Redis would take more than its share of the rate limit",
			"replicas", seen, "expected_replicas", e)
	}
	t.seen = seen
}

// Close stops recording and removes this replica, so that the others do not
// count it as missing.
func (t *Tracker) Close() error {
	t.once.Do(func() {
		close(t.stop)
		<-t.done
		if !t.conn.Up() {
			return
		}
		ctx, cancel := t.conn.Context(context.Background())
		defer cancel()
		_ = t.conn.Client().ZRem(ctx, t.key, t.id).Err()
	})
	return nil
}
