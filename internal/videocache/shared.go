package videocache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/memories-facade/memories-graphql/internal/redisconn"
)

// Shared is a Store in Redis, shared by every replica. Each answer is one
// key, <prefix>:v3:video:{<account id>}:<unique id>:<video no> (the last
// two through redisconn.KeyPart), holding JSON and expiring with the
// answer's time-to-live. The braces (redisconn.Tag) keep an account's keys
// in one Redis Cluster slot, so that one command or script can take many of
// them; each command and script here takes the keys of one account, and a
// call with keys of several accounts makes one per account.
//
// Answers are also kept in the local store. While Redis is unavailable the
// local store serves alone, so it is warm when it has to.
//
// Shared is also a Leaser: replicas that miss the same videos at the same
// time agree through lease keys (the same names with "lease" for "video")
// on which one fetches each, and the others read its answers.
type Shared struct {
	conn     *redisconn.Conn
	local    Store
	leaseTTL time.Duration // 0: leaseTTL; tests shorten it
}

// NewShared returns a Store in Redis that falls back on local.
func NewShared(conn *redisconn.Conn, local Store) *Shared {
	return &Shared{conn: conn, local: local}
}

func (s *Shared) key(kind string, k Key) string {
	return s.conn.Key(codecVersion, kind, redisconn.Tag(k.AccountID), redisconn.KeyPart(k.Ref.UniqueID), redisconn.KeyPart(k.Ref.VideoNo))
}

// byAccount splits the indexes of keys by account, in the order each
// account first appears: the keys of one group share a Redis Cluster slot.
// A look-up is for one account: one group, unless a caller mixes accounts.
func byAccount(keys []Key) [][]int {
	if !slices.ContainsFunc(keys, func(k Key) bool { return k.AccountID != keys[0].AccountID }) {
		all := make([]int, len(keys))
		for i := range all {
			all[i] = i
		}
		return [][]int{all}
	}
	var groups [][]int
	group := map[string]int{}
	for i, k := range keys {
		g, ok := group[k.AccountID]
		if !ok {
			g = len(groups)
			group[k.AccountID] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

func (s *Shared) keyList(kind string, keys []Key) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = s.key(kind, k)
	}
	return out
}

// Get returns what is kept in Redis, in one round trip (one MGET per
// account), or in the local store while Redis is unavailable.
func (s *Shared) Get(ctx context.Context, keys []Key) []Kept {
	if !s.conn.Up() {
		return s.local.Get(ctx, keys)
	}
	if len(keys) == 0 {
		return nil
	}
	vals, err := s.mget(ctx, s.keyList("video", keys), byAccount(keys))
	kept := make([]Kept, len(keys))
	if err != nil {
		if ctx.Err() != nil {
			return kept
		}
		s.conn.Fail(err)
		return s.local.Get(ctx, keys)
	}
	now := time.Now()
	for i, val := range vals {
		str, ok := val.(string)
		if !ok {
			continue
		}
		e, err := decode([]byte(str))
		if err != nil {
			continue // not what this version writes: fetch it again
		}
		kept[i] = e.kept(now)
	}
	return kept
}

// mget reads names in one round trip: one MGET per group (of one slot),
// pipelined when there are several.
func (s *Shared) mget(ctx context.Context, names []string, groups [][]int) ([]any, error) {
	opCtx, cancel := s.conn.Context(ctx)
	defer cancel()
	if len(groups) == 1 {
		return s.conn.Client().MGet(opCtx, names...).Result()
	}
	cmds := make([]*redis.SliceCmd, len(groups))
	_, err := s.conn.Client().Pipelined(opCtx, func(p redis.Pipeliner) error {
		for g, idx := range groups {
			cmds[g] = p.MGet(opCtx, pick(names, idx)...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(names))
	for g, idx := range groups {
		for j, v := range cmds[g].Val() {
			vals[idx[j]] = v
		}
	}
	return vals, nil
}

// pick returns the elements of names at idx.
func pick(names []string, idx []int) []string {
	out := make([]string, len(idx))
	for j, i := range idx {
		out[j] = names[i]
	}
	return out
}

// Set keeps entries in the local store and in Redis, in one round trip (per
// account). As in the local store, a list_videos answer does not replace a
// complete one that another replica kept meanwhile, unless it says so.
func (s *Shared) Set(ctx context.Context, entries []Entry) {
	s.local.Set(ctx, entries)
	if !s.conn.Up() {
		return
	}
	now := time.Now()
	keys := make([]Key, len(entries))
	for i, e := range entries {
		keys[i] = e.Key
	}
	opCtx, cancel := s.conn.Context(context.WithoutCancel(ctx))
	defer cancel()
	for _, idx := range byAccount(keys) {
		names := make([]string, 0, len(idx))
		args := make([]any, 0, 3*len(idx)+1)
		for _, i := range idx {
			e := entries[i]
			le, ok := localEntryOf(e, now)
			if !ok {
				continue
			}
			b, err := encode(le)
			if err != nil {
				continue
			}
			soft := "0"
			if e.Video != nil && !e.Video.Detailed && !e.Replace {
				soft = "1"
			}
			names = append(names, s.key("video", e.Key))
			args = append(args, b, le.ttl.Milliseconds(), soft)
		}
		if len(names) == 0 {
			continue
		}
		args = append(args, completePrefix)
		if err := setScript.Run(opCtx, s.conn.Client(), names, args...).Err(); err != nil && !errors.Is(err, redis.Nil) {
			s.conn.Fail(err)
			return
		}
	}
}

// setScript keeps many answers of one account in one round trip. ARGV
// holds, per key, its value, its TTL in milliseconds and "1" when it must
// not replace a complete answer, then the prefix that marks complete
// answers.
var setScript = redis.NewScript(`
local complete = ARGV[#ARGV]
for i, k in ipairs(KEYS) do
  local v, ttl, soft = ARGV[3*i-2], ARGV[3*i-1], ARGV[3*i]
  local cur = soft == "1" and redis.call("GET", k)
  if not (cur and string.sub(cur, 1, #complete) == complete) then
    redis.call("SET", k, v, "PX", ttl)
  end
end
return 0`)

// leaseTTL is how long a claim on a fetch outlives its holder: a replica
// that dies mid-fetch delays the others by at most this much. The holder
// renews it every third of it for as long as the fetch runs.
const leaseTTL = 5 * time.Second

// Poll intervals while waiting for another replica's answers: short at
// first, since most fetches take one upstream latency, then backing off.
const (
	firstPoll = 10 * time.Millisecond
	maxPoll   = 100 * time.Millisecond
)

// The lease scripts take many keys of one account in one round trip.
// leaseScript claims each key that nobody holds; renewScript extends and
// releaseScript ends only the claims of their holder's token: a lease that
// expired and went to another replica is not theirs to touch.
var (
	leaseScript = redis.NewScript(`
local held = {}
for i, k in ipairs(KEYS) do
  if redis.call("SET", k, ARGV[1], "NX", "PX", ARGV[2]) then held[i] = 1 else held[i] = 0 end
end
return held`)
	renewScript = redis.NewScript(`
for _, k in ipairs(KEYS) do
  if redis.call("GET", k) == ARGV[1] then redis.call("PEXPIRE", k, ARGV[2]) end
end
return 0`)
	releaseScript = redis.NewScript(`
for _, k in ipairs(KEYS) do
  if redis.call("GET", k) == ARGV[1] then redis.call("DEL", k) end
end
return 0`)
)

// Lease claims the fetch of keys for this replica, in one round trip (per
// account). While Redis is unavailable every claim is granted: each replica
// fetches for itself.
func (s *Shared) Lease(ctx context.Context, keys []Key) (held []bool, release func()) {
	held = make([]bool, len(keys))
	all := func() ([]bool, func()) {
		for i := range held {
			held[i] = true
		}
		return held, func() {}
	}
	if !s.conn.Up() || len(keys) == 0 {
		return all()
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return all()
	}
	token := hex.EncodeToString(raw[:])
	ttl := s.leaseTTL
	if ttl <= 0 {
		ttl = leaseTTL
	}
	leaseKeys := s.keyList("lease", keys)
	var mine [][]string // the leases taken, by account
	opCtx, cancel := s.conn.Context(ctx)
	for _, idx := range byAccount(keys) {
		names := pick(leaseKeys, idx)
		res, err := leaseScript.Run(opCtx, s.conn.Client(), names, token, ttl.Milliseconds()).Int64Slice()
		if err != nil || len(res) != len(idx) {
			cancel()
			if err != nil && ctx.Err() == nil {
				s.conn.Fail(err)
			}
			// Those taken expire on their own; this replica fetches all.
			return all()
		}
		var taken []string
		for j, r := range res {
			if held[idx[j]] = r == 1; held[idx[j]] {
				taken = append(taken, names[j])
			}
		}
		if len(taken) > 0 {
			mine = append(mine, taken)
		}
	}
	cancel()
	if len(mine) == 0 {
		return held, func() {}
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go s.renew(mine, token, ttl, stop, done)
	var once sync.Once
	return held, func() {
		once.Do(func() {
			close(stop)
			<-done
			if !s.conn.Up() {
				return // the leases expire on their own
			}
			opCtx, cancel := s.conn.Context(context.Background())
			defer cancel()
			for _, names := range mine {
				if err := releaseScript.Run(opCtx, s.conn.Client(), names, token).Err(); err != nil {
					s.conn.Fail(err) // the leases expire on their own
					return
				}
			}
		})
	}
}

// renew keeps held leases alive until stop closes: one goroutine per
// claim, however many videos it holds; one script per account.
func (s *Shared) renew(keys [][]string, token string, ttl time.Duration, stop <-chan struct{}, done chan<- struct{}) {
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
		var err error
		for _, names := range keys {
			if err = renewScript.Run(opCtx, s.conn.Client(), names, token, ttl.Milliseconds()).Err(); err != nil {
				break
			}
		}
		cancel()
		if err != nil {
			s.conn.Fail(err)
			return // the leases expire; the others fetch for themselves
		}
	}
}

// Await waits for the answers of the replicas holding the leases on keys,
// polling all of them in one round trip. A key is settled when its answer
// is kept, or when nobody holds its lease and no answer is kept (the holder
// failed, had nothing to keep, or died and its lease expired: found false).
// It returns when every key is settled, when Redis becomes unavailable
// (the rest found false), or with ctx's error when ctx ends first.
func (s *Shared) Await(ctx context.Context, keys []Key) ([]Kept, error) {
	kept := make([]Kept, len(keys))
	pending := make([]int, len(keys))
	for i := range pending {
		pending[i] = i
	}
	t := time.NewTimer(firstPoll)
	defer t.Stop()
	for wait := firstPoll; len(pending) > 0; wait = min(wait*3/2, maxPoll) {
		select {
		case <-ctx.Done():
			return kept, ctx.Err()
		case <-t.C:
		}
		if !s.conn.Up() {
			return kept, nil
		}
		// The lease first: a holder keeps its answer before it lets go, so
		// a lease seen gone means the answer, if any, is there to read.
		opCtx, cancel := s.conn.Context(ctx)
		leased := make([]*redis.IntCmd, len(pending))
		answers := make([]*redis.StringCmd, len(pending))
		_, err := s.conn.Client().Pipelined(opCtx, func(p redis.Pipeliner) error {
			for j, i := range pending {
				leased[j] = p.Exists(opCtx, s.key("lease", keys[i]))
				answers[j] = p.Get(opCtx, s.key("video", keys[i]))
			}
			return nil
		})
		cancel()
		if err != nil && !errors.Is(err, redis.Nil) {
			if ctx.Err() != nil {
				return kept, ctx.Err()
			}
			s.conn.Fail(err)
			return kept, nil
		}
		now := time.Now()
		still := pending[:0]
		for j, i := range pending {
			if b, err := answers[j].Bytes(); err == nil {
				// An entry this version cannot read settles as not found:
				// the caller fetches it.
				if e, err := decode(b); err == nil {
					kept[i] = e.kept(now)
				}
				continue
			}
			if leased[j].Val() != 0 {
				still = append(still, i)
			}
		}
		pending = still
		t.Reset(wait)
	}
	return kept, nil
}
