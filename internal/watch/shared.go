package watch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/redisconn"
)

// Shared shares polls between the replicas of one Redis. A lease per
// watched video names the replica that polls it; that replica publishes
// every answer on the account's channel, and each replica's registry takes
// them for its own subscribers. Pub/sub rather than keyspace events or the
// shared cache alone: an answer reaches the others the moment it is in,
// with no polling of the cache and nothing for Redis to be configured for;
// the cache still gets every answer (the poll goes through it), so a
// replica that joins late starts from the cache.
//
// While Redis is unavailable, every lease is granted: each replica polls
// for its own subscribers, as it would alone, and sharing resumes when
// Redis answers again.
type Shared struct {
	conn *redisconn.Conn
	id   string // this replica, in its messages and leases

	mu        sync.Mutex
	ps        *redis.PubSub
	listeners map[string]func([]Event) // by channel
	done      chan struct{}
	wg        sync.WaitGroup
}

// NewShared returns the sharing of polls through conn.
func NewShared(conn *redisconn.Conn) *Shared {
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	return &Shared{conn: conn, id: hex.EncodeToString(raw[:]), listeners: map[string]func([]Event){}, done: make(chan struct{})}
}

// claimScript holds or takes each key for its token: a key it holds is
// renewed, a free one taken. It returns 1 for each key held.
var claimScript = redis.NewScript(`
local held = {}
for i, k in ipairs(KEYS) do
  local cur = redis.call("GET", k)
  if cur == ARGV[1] then
    redis.call("PEXPIRE", k, ARGV[2]); held[i] = 1
  elseif not cur then
    redis.call("SET", k, ARGV[1], "PX", ARGV[2]); held[i] = 1
  else
    held[i] = 0
  end
end
return held`)

func (s *Shared) leaseKey(account string, detail bool, ref memories.VideoRef) string {
	kind := "watch-lease"
	if detail {
		kind = "watch-lease-detail"
	}
	return s.conn.Key(kind, "{"+account+"}", redisconn.KeyPart(ref.UniqueID), redisconn.KeyPart(ref.VideoNo))
}

func (s *Shared) channel(account string) string {
	return s.conn.Key("watch", "{"+account+"}")
}

// claim returns, for each of refs, whether this replica polls it now,
// holding its lease for ttl, in one round trip.
func (s *Shared) claim(account string, refs []memories.VideoRef, detail bool, ttl time.Duration) []bool {
	mine := make([]bool, len(refs))
	all := func() []bool {
		for i := range mine {
			mine[i] = true
		}
		return mine
	}
	if !s.conn.Up() || len(refs) == 0 {
		return all()
	}
	keys := make([]string, len(refs))
	for i, ref := range refs {
		keys[i] = s.leaseKey(account, detail, ref)
	}
	ctx, cancel := s.conn.Context(context.Background())
	res, err := claimScript.Run(ctx, s.conn.Client(), keys, s.id, ttl.Milliseconds()).Int64Slice()
	cancel()
	if err != nil || len(res) != len(refs) {
		if err != nil {
			s.conn.Fail(err)
		}
		return all()
	}
	for i, r := range res {
		mine[i] = r == 1
	}
	return mine
}

// message is what a replica publishes: its answers of one poll.
type message struct {
	From   string        `json:"from"`
	Events []sharedEvent `json:"events"`
}

// sharedEvent is an Event as it travels: the error as its kind, which is
// all a subscriber's event error needs.
type sharedEvent struct {
	Ref     memories.VideoRef `json:"ref"`
	Video   *memories.Video   `json:"video,omitempty"`
	Err     *sharedError      `json:"err,omitempty"`
	Settled bool              `json:"settled,omitempty"`
}

type sharedError struct {
	Kind       memories.Kind `json:"kind"`
	Code       string        `json:"code,omitempty"`
	RetryAfter time.Duration `json:"retryAfter,omitempty"`
}

// publish hands a poll's answers to the other replicas; without Redis
// they have polled for themselves.
func (s *Shared) publish(account string, evs []Event) {
	if !s.conn.Up() || len(evs) == 0 {
		return
	}
	m := message{From: s.id, Events: make([]sharedEvent, len(evs))}
	for i, ev := range evs {
		se := sharedEvent{Ref: ev.Ref, Video: ev.Video, Settled: ev.Settled}
		if ev.Err != nil {
			se.Err = &sharedError{Kind: memories.KindUpstream}
			if me, ok := ev.Err.(*memories.Error); ok {
				se.Err = &sharedError{Kind: me.Kind, Code: me.Code, RetryAfter: me.RetryAfter}
			}
			se.Video = nil
		}
		m.Events[i] = se
	}
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	ctx, cancel := s.conn.Context(context.Background())
	defer cancel()
	if err := s.conn.Client().Publish(ctx, s.channel(account), b).Err(); err != nil {
		s.conn.Fail(err)
	}
}

// listen delivers the other replicas' answers for account to deliver
// until stop.
func (s *Shared) listen(account string, deliver func([]Event)) (stop func()) {
	ch := s.channel(account)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listeners[ch] = deliver
	if s.ps == nil {
		s.ps = s.conn.Client().Subscribe(context.Background())
		s.wg.Add(1)
		go s.receive(s.ps)
	}
	_ = s.ps.Subscribe(context.Background(), ch) // go-redis subscribes again after reconnecting
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.listeners, ch)
		if s.ps != nil {
			_ = s.ps.Unsubscribe(context.Background(), ch)
		}
	}
}

// receive hands each message of another replica to its listener.
func (s *Shared) receive(ps *redis.PubSub) {
	defer s.wg.Done()
	msgs := ps.Channel()
	for {
		select {
		case <-s.done:
			return
		case msg, ok := <-msgs:
			if !ok {
				return
			}
			var m message
			if json.Unmarshal([]byte(msg.Payload), &m) != nil || m.From == s.id {
				continue
			}
			s.mu.Lock()
			deliver := s.listeners[msg.Channel]
			s.mu.Unlock()
			if deliver == nil || !strings.HasPrefix(msg.Channel, s.conn.Key("watch")) {
				continue
			}
			evs := make([]Event, len(m.Events))
			for i, se := range m.Events {
				evs[i] = Event{Ref: se.Ref, Video: se.Video, Settled: se.Settled}
				if se.Err != nil {
					evs[i] = Event{Ref: se.Ref, Err: &memories.Error{Kind: se.Err.Kind, Code: se.Err.Code, RetryAfter: se.Err.RetryAfter}}
				}
			}
			deliver(evs)
		}
	}
}

// Close stops listening.
func (s *Shared) Close() error {
	s.mu.Lock()
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	ps := s.ps
	s.ps = nil
	s.mu.Unlock()
	var err error
	if ps != nil {
		err = ps.Close()
	}
	s.wg.Wait()
	return err
}
