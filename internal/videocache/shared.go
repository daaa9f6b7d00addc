package videocache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/redisconn"
)

// Shared is a Store in Redis, shared by every replica. Each answer is one
// key, <prefix>:v1:video:<account id>:<unique id>:<video no> (the last two
// through redisconn.KeyPart), holding JSON and expiring with the answer's
// time-to-live.
//
// Answers are also kept in the local store. While Redis is unavailable the
// local store serves alone, so it is warm when it has to.
//
// Shared is also a Leaser: replicas that miss the same video at the same
// time agree through a lease key (the same name with "lease" for "video")
// on which one fetches it, and the others read its answer.
type Shared struct {
	conn     *redisconn.Conn
	local    Store
	leaseTTL time.Duration // 0: leaseTTL; tests shorten it
}

// NewShared returns a Store in Redis that falls back on local.
func NewShared(conn *redisconn.Conn, local Store) *Shared {
	return &Shared{conn: conn, local: local}
}

func (s *Shared) key(k Key) string {
	return s.conn.Key(codecVersion, "video", k.AccountID, redisconn.KeyPart(k.UniqueID), redisconn.KeyPart(k.VideoNo))
}

// Get returns the answer kept in Redis, or in the local store while Redis
// is unavailable.
func (s *Shared) Get(ctx context.Context, k Key) (*memories.Video, bool) {
	if !s.conn.Up() {
		return s.local.Get(ctx, k)
	}
	opCtx, cancel := s.conn.Context(ctx)
	b, err := s.conn.Client().Get(opCtx, s.key(k)).Bytes()
	cancel()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, false
	case err != nil:
		if ctx.Err() != nil {
			return nil, false
		}
		s.conn.Fail(err)
		return s.local.Get(ctx, k)
	}
	v, err := decode(b)
	if err != nil {
		return nil, false // not what this version writes: fetch it again
	}
	return v, true
}

// Set keeps v in the local store and in Redis.
func (s *Shared) Set(ctx context.Context, k Key, v *memories.Video, ttl time.Duration) {
	s.local.Set(ctx, k, v, ttl)
	if ttl <= 0 || !s.conn.Up() {
		return
	}
	b, err := encode(v)
	if err != nil {
		return
	}
	opCtx, cancel := s.conn.Context(context.WithoutCancel(ctx))
	defer cancel()
	if err := s.conn.Client().Set(opCtx, s.key(k), b, ttl).Err(); err != nil {
		s.conn.Fail(err)
	}
}

// leaseTTL is how long a claim on a fetch outlives its holder: a replica
// that dies mid-fetch delays the others by at most this much. The holder
// renews it every third of it for as long as the fetch runs.
const leaseTTL = 5 * time.Second

// Poll intervals while waiting for another replica's answer: short at first,
// since most fetches take one upstream latency, then backing off.
const (
	firstPoll = 10 * time.Millisecond
	maxPoll   = 100 * time.Millisecond
)

func (s *Shared) leaseKey(k Key) string {
	return s.conn.Key(codecVersion, "lease", k.AccountID, redisconn.KeyPart(k.UniqueID), redisconn.KeyPart(k.VideoNo))
}

// renewScript extends a lease only for its holder, and releaseScript ends
// it only for its holder: a lease that expired and went to another replica
// is not theirs to touch.
var (
	renewScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)
	releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`)
)

// Lease claims the fetch of k for this replica, in Redis. While Redis is
// unavailable every claim is granted: each replica fetches for itself.
func (s *Shared) Lease(ctx context.Context, k Key) (release func(), held bool) {
	if !s.conn.Up() {
		return func() {}, true
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return func() {}, true
	}
	token, key := hex.EncodeToString(raw[:]), s.leaseKey(k)
	ttl := s.leaseTTL
	if ttl <= 0 {
		ttl = leaseTTL
	}
	opCtx, cancel := s.conn.Context(ctx)
	ok, err := s.conn.Client().SetNX(opCtx, key, token, ttl).Result()
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			s.conn.Fail(err)
		}
		return func() {}, true
	}
	if !ok {
		return nil, false
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go s.renew(key, token, ttl, stop, done)
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-done
			if !s.conn.Up() {
				return // the lease expires on its own
			}
			opCtx, cancel := s.conn.Context(context.Background())
			defer cancel()
			if err := releaseScript.Run(opCtx, s.conn.Client(), []string{key}, token).Err(); err != nil {
				s.conn.Fail(err) // the lease expires on its own
			}
		})
	}, true
}

// renew keeps a held lease alive until stop closes.
func (s *Shared) renew(key, token string, ttl time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		opCtx, cancel := s.conn.Context(context.Background())
		err := renewScript.Run(opCtx, s.conn.Client(), []string{key}, token, ttl.Milliseconds()).Err()
		cancel()
		if err != nil {
			s.conn.Fail(err)
			return // the lease expires; the others fetch for themselves
		}
	}
}

// Await waits for the answer of the replica holding the lease on k. It
// returns ok false as soon as nobody holds the lease and no answer is kept
// (the holder failed, had nothing to keep, or died and its lease expired),
// or when Redis becomes unavailable; err is ctx's error when ctx ends first.
func (s *Shared) Await(ctx context.Context, k Key) (v *memories.Video, ok bool, err error) {
	key, leaseKey := s.key(k), s.leaseKey(k)
	t := time.NewTimer(firstPoll)
	defer t.Stop()
	for wait := firstPoll; ; wait = min(wait*3/2, maxPoll) {
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-t.C:
		}
		if !s.conn.Up() {
			return nil, false, nil
		}
		// The lease first: a holder keeps its answer before it lets go, so
		// a lease seen gone means the answer, if any, is there to read.
		opCtx, cancel := s.conn.Context(ctx)
		var leased *redis.IntCmd
		var answer *redis.StringCmd
		_, err := s.conn.Client().Pipelined(opCtx, func(p redis.Pipeliner) error {
			leased = p.Exists(opCtx, leaseKey)
			answer = p.Get(opCtx, key)
			return nil
		})
		cancel()
		if err != nil && !errors.Is(err, redis.Nil) {
			if ctx.Err() != nil {
				return nil, false, ctx.Err()
			}
			s.conn.Fail(err)
			return nil, false, nil
		}
		if b, err := answer.Bytes(); err == nil {
			if v, err := decode(b); err == nil {
				return v, true, nil
			}
			return nil, false, nil // not what this version writes: fetch it
		}
		if leased.Val() == 0 {
			return nil, false, nil
		}
		t.Reset(wait)
	}
}
