package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/memories-facade/memories-graphql/internal/redisconn"
)

// Fallback is the in-process limiter a Shared limiter falls back on while Redis
// is unavailable; *Registry is one.
type Fallback interface {
	Wait(ctx context.Context, accountID string) error
	Pause(accountID string, d time.Duration)
}

// Shared is a limiter whose budget lives in Redis, so that every replica of
// the service spends one budget per account. It keeps the semantics of
// Registry: callers queue in arrival order, a caller whose turn would come
// after its deadline is refused at once with a *DeniedError, and a pause
// holds back every caller of the account, on every replica.
//
// The budget is a GCRA (generic cell rate algorithm) kept as one Redis key
// per account, with Redis's clock as the only clock. Unlike a try-now limiter
// (such as github.com/go-redis/redis_rate's Allow), a call reserves its slot
// in one round trip and then sleeps until it, so waiting callers do not poll
// Redis and are served in order.
//
// When a Redis command fails, the call uses the local limiter, and so do
// later calls until Redis answers again (see redisconn.Conn).
type Shared struct {
	conn     *redisconn.Conn
	budget   string // names the budget in Redis keys: one per upstream endpoint
	local    Fallback
	interval float64 // seconds between calls
	burst    int

	peers    Peers
	replicas int
}

// Peers counts the replicas that have dropped out of Redis lately, and so
// spend their fallback share of the budget on their own.
type Peers interface {
	Missing() int
}

// share returns the seconds between calls and the burst that the replicas
// still sharing the budget may spend.
func (s *Shared) share() (interval float64, burst int) {
	if s.peers == nil {
		return s.interval, s.burst
	}
	// At least one replica's share stays: a replica counted missing may be
	// one that crashed.
	missing := min(s.peers.Missing(), s.replicas-1)
	if missing <= 0 {
		return s.interval, s.burst
	}
	left := float64(s.replicas-missing) / float64(s.replicas)
	return s.interval / left, max(1, s.burst-missing*max(1, s.burst/s.replicas))
}

// SharedOptions configure a Shared limiter.
type SharedOptions struct {
	// Budget names the budget, so that one account's budgets for different
	// endpoints live in different keys: "rate" is get_metadata's and
	// "rate-list" list_videos' (the names replicas of every version share).
	Budget string
	// PerSecond and Burst are the account's rate, across every replica.
	PerSecond float64
	Burst     int
	// Fallback serves while Redis is unavailable.
	Fallback Fallback
	// Peers, if set, counts the replicas cut off from Redis lately; the
	// budget then leaves unspent the fallback share of each, out of
	// Replicas (each replica's fallback takes 1/Replicas of the rate and
	// burst), so that together the replicas sharing the budget and those
	// cut off from it stay within the account's limit.
	Peers    Peers
	Replicas int
}

// NewShared returns a limiter that lets each account make opts.PerSecond
// calls a second, in bursts of up to opts.Burst, across every replica using
// conn. It panics on a rate or burst that New refuses.
func NewShared(conn *redisconn.Conn, opts SharedOptions) *Shared {
	mustBudget(opts.PerSecond, opts.Burst)
	return &Shared{conn: conn, budget: opts.Budget, local: opts.Fallback, interval: 1 / opts.PerSecond, burst: opts.Burst,
		peers: opts.Peers, replicas: max(1, opts.Replicas)}
}

// Times in the scripts are seconds since 2017-01-01 (as in redis_rate), so
// that microseconds fit in a float64; they are stored as decimal strings.
// Keys expire a second after they stop mattering.

// reserveScript takes the account's next slot. KEYS: the theoretical
// arrival time (TAT) of the next call, the end of the account's pause.
// ARGV: seconds between calls, burst, 1 if the caller has a deadline, the
// longest wait it accepts. It returns {1, delay, new TAT, previous TAT} when
// the slot is taken, {0, delay} when it would come too late.
var reserveScript = redis.NewScript(`
redis.replicate_commands()
local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1483228800) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local start = now
local paused = tonumber(redis.call('GET', KEYS[2]))
if paused and paused > start then start = paused end
local prev = redis.call('GET', KEYS[1])
local tat = tonumber(prev) or start
if tat < start then tat = start end
local goAt = tat + interval - burst * interval
if goAt < start then goAt = start end
local delay = goAt - now
if ARGV[3] == '1' and delay > tonumber(ARGV[4]) then
  return {0, string.format('%.6f', delay)}
end
local newTat = string.format('%.6f', tat + interval)
redis.call('SET', KEYS[1], newTat, 'PX', math.ceil((tat + interval - now) * 1000) + 1000)
return {1, string.format('%.6f', delay), newTat, prev or ''}
`)

// cancelScript gives a slot back when nobody has reserved after it: the TAT
// is still the one the reservation set. KEYS: the TAT. ARGV: the TAT the
// reservation set, the TAT before it (empty for none).
var cancelScript = redis.NewScript(`
redis.replicate_commands()
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1483228800) + tonumber(t[2]) / 1000000
local prev = tonumber(ARGV[2])
if not prev or prev <= now then
  redis.call('DEL', KEYS[1])
  return 1
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', math.ceil((prev - now) * 1000) + 1000)
return 1
`)

// pauseScript holds the account back for ARGV[1] seconds, unless a longer
// pause is in force. KEYS: the end of the pause.
var pauseScript = redis.NewScript(`
redis.replicate_commands()
local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1483228800) + tonumber(t[2]) / 1000000
local d = tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]))
if cur and cur >= now + d then return 0 end
redis.call('SET', KEYS[1], string.format('%.6f', now + d), 'PX', math.ceil(d * 1000) + 1000)
return 1
`)

// keys returns the account's TAT and pause keys. The account's hash tag
// makes them one Redis Cluster slot, as reserveScript's keys must be.
func (s *Shared) keys(accountID string) (tat, pause string) {
	tag := redisconn.Tag(accountID)
	return s.conn.Key("v1", s.budget, tag, "tat"), s.conn.Key("v1", s.budget, tag, "pause")
}

// Wait blocks until accountID may make one upstream call. It returns a
// *DeniedError without waiting when ctx's deadline comes before that, and
// ctx.Err() when ctx ends while waiting.
func (s *Shared) Wait(ctx context.Context, accountID string) error {
	if !s.conn.Up() {
		return s.local.Wait(ctx, accountID)
	}
	hasDeadline, maxWait := "0", 0.0
	if deadline, ok := ctx.Deadline(); ok {
		hasDeadline, maxWait = "1", time.Until(deadline).Seconds()
	}
	tatKey, pauseKey := s.keys(accountID)
	interval, burst := s.share()
	opCtx, cancel := s.conn.Context(ctx)
	res, err := reserveScript.Run(opCtx, s.conn.Client(), []string{tatKey, pauseKey},
		interval, burst, hasDeadline, maxWait).Slice()
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.conn.Fail(err)
		return s.local.Wait(ctx, accountID)
	}
	r, err := parseReservation(res)
	if err != nil {
		// Redis answered something this code did not write: treat it as
		// unavailable rather than guess.
		s.conn.Fail(err)
		return s.local.Wait(ctx, accountID)
	}
	if !r.ok {
		return &DeniedError{RetryAfter: r.delay}
	}
	if r.delay <= 0 {
		return nil
	}
	t := time.NewTimer(r.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		// Give the slot back if nobody queued behind it; otherwise it is
		// lost, which errs on the side of the upstream's limit.
		cctx, cancel := s.conn.Context(context.WithoutCancel(ctx))
		defer cancel()
		_ = cancelScript.Run(cctx, s.conn.Client(), []string{tatKey}, r.newTAT, r.prevTAT).Err()
		return ctx.Err()
	}
}

// Pause stops all calls of accountID for d on every replica, as when the
// upstream answers "rate limited" with a Retry-After. A shorter pause never
// shortens a longer one already in force. The local limiter is paused too,
// so that a fallback to it keeps the pause.
func (s *Shared) Pause(accountID string, d time.Duration) {
	if d <= 0 {
		return
	}
	s.local.Pause(accountID, d)
	if !s.conn.Up() {
		return
	}
	_, pauseKey := s.keys(accountID)
	ctx, cancel := s.conn.Context(context.Background())
	defer cancel()
	if err := pauseScript.Run(ctx, s.conn.Client(), []string{pauseKey}, d.Seconds()).Err(); err != nil {
		s.conn.Fail(err)
	}
}

type reservation struct {
	ok              bool
	delay           time.Duration
	newTAT, prevTAT string
}

func parseReservation(res []any) (reservation, error) {
	var r reservation
	if len(res) < 2 {
		return r, fmt.Errorf("rate limit script: unexpected reply %v", res)
	}
	ok, isInt := res[0].(int64)
	delayText, isText := res[1].(string)
	if !isInt || !isText {
		return r, fmt.Errorf("rate limit script: unexpected reply %v", res)
	}
	secs, err := strconv.ParseFloat(delayText, 64)
	if err != nil {
		return r, fmt.Errorf("rate limit script: delay: %w", err)
	}
	r.ok = ok == 1
	r.delay = time.Duration(secs * float64(time.Second))
	if !r.ok {
		return r, nil
	}
	if len(res) < 4 {
		return r, errors.New("rate limit script: reservation without its TAT")
	}
	r.newTAT, _ = res[2].(string)
	r.prevTAT, _ = res[3].(string)
	return r, nil
}
