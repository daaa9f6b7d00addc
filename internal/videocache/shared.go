package videocache

import (
	"context"
	"errors"
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
type Shared struct {
	conn  *redisconn.Conn
	local Store
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
