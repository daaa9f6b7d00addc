package watch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
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
// On a single Redis one subscription (SUBSCRIBE) takes every channel a
// replica listens to. On a Redis Cluster the account's channel carries its
// hash tag, and answers go through sharded pub/sub (SPUBLISH, SSUBSCRIBE):
// a message goes to the primary of the account's slot and its replicas
// only, not to every node as PUBLISH's would. A replica subscribes once per
// account it listens to, on that primary; when the slot moves (or its
// primary fails over), Redis ends the subscription and the replica
// subscribes again where the slot now is.
//
// While Redis is unavailable, every lease is granted: each replica polls
// for its own subscribers, as it would alone, and sharing resumes when
// Redis answers again.
type Shared struct {
	conn *redisconn.Conn
	id   string // this replica, in its messages and leases

	mu        sync.Mutex
	ps        *redis.PubSub        // a single Redis's subscription; nil on a cluster
	listeners map[string]*listener // by channel
	done      chan struct{}
	closed    bool
	wg        sync.WaitGroup
}

// listener is one listen call: where the messages of its channel go and,
// on a cluster, its sharded subscription.
type listener struct {
	deliver func([]Event)
	shard   *shardSub
}

// NewShared returns the sharing of polls through conn.
func NewShared(conn *redisconn.Conn) *Shared {
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	return &Shared{conn: conn, id: hex.EncodeToString(raw[:]), listeners: map[string]*listener{}, done: make(chan struct{})}
}

// claimScript holds or takes each key for its token: a key it holds is
// renewed, a free one taken. It returns 1 for each key held. Its keys are
// one account's: one slot on a cluster.
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
	return s.conn.Key(kind, redisconn.Tag(account), redisconn.KeyPart(ref.UniqueID), redisconn.KeyPart(ref.VideoNo))
}

// channel is the account's channel; on a cluster its hash tag puts it in
// the slot of the account's keys.
func (s *Shared) channel(account string) string {
	return s.conn.Key("watch", redisconn.Tag(account))
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
	publish := s.conn.Client().Publish
	if s.conn.Cluster() {
		publish = s.conn.Client().SPublish
	}
	if err := publish(ctx, s.channel(account), b).Err(); err != nil {
		s.conn.Fail(err)
	}
}

// listen delivers the other replicas' answers for account to deliver
// until stop. A later listen to the same account replaces this one; this
// one's stop then leaves the later one alone.
func (s *Shared) listen(account string, deliver func([]Event)) (stop func()) {
	ch := s.channel(account)
	l := &listener{deliver: deliver}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return func() {}
	}
	old := s.listeners[ch]
	s.listeners[ch] = l
	if s.conn.Cluster() {
		if old != nil {
			old.shard.stop()
		}
		l.shard = s.subscribeShard(ch, l)
	} else {
		if s.ps == nil {
			s.ps = s.conn.Client().Subscribe(context.Background())
			s.wg.Add(1)
			go s.receive(s.ps)
		}
		_ = s.ps.Subscribe(context.Background(), ch) // go-redis subscribes again after reconnecting
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.listeners[ch] != l {
			return
		}
		delete(s.listeners, ch)
		if l.shard != nil {
			l.shard.stop()
		} else if s.ps != nil {
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
			s.mu.Lock()
			l := s.listeners[msg.Channel]
			s.mu.Unlock()
			if l != nil {
				s.handle(msg, l.deliver)
			}
		}
	}
}

// handle hands msg to deliver, unless this replica sent it.
func (s *Shared) handle(msg *redis.Message, deliver func([]Event)) {
	var m message
	if json.Unmarshal([]byte(msg.Payload), &m) != nil || m.From == s.id || !strings.HasPrefix(msg.Channel, s.conn.Key("watch")) {
		return
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

// shardSub is the sharded subscription of one channel on a cluster, kept
// on the primary of the channel's slot by its goroutine.
type shardSub struct {
	cancel context.CancelFunc

	mu sync.Mutex
	ps *redis.PubSub // the current one; nil once stopped
	on bool          // stopped: make no other
}

// How often a quiet sharded subscription checks its connection, and how
// long it waits before subscribing again after losing one.
const (
	shardHealthEvery = 30 * time.Second
	resubscribeFirst = 50 * time.Millisecond
	resubscribeMax   = 2 * time.Second
)

// subscribeShard starts the sharded subscription of ch for l. Called with
// s.mu held.
func (s *Shared) subscribeShard(ch string, l *listener) *shardSub {
	ctx, cancel := context.WithCancel(context.Background())
	sub := &shardSub{cancel: cancel, on: true}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		wait := resubscribeFirst
		for {
			ps := s.conn.Client().SSubscribe(ctx, ch)
			if !sub.set(ps) {
				ps.Close()
				return
			}
			confirmed := s.receiveShard(ctx, ps, l)
			ps.Close()
			if ctx.Err() != nil {
				return
			}
			if confirmed {
				wait = resubscribeFirst
			}
			// The slot moved, its primary went away, or the client's map
			// of the slots is out of date: learn where the slot is now
			// and subscribe there.
			s.conn.ReloadState(ctx)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, resubscribeMax)
		}
	}()
	return sub
}

// receiveShard delivers the messages of ps until it is lost: an error (a
// MOVED answer to SSUBSCRIBE, a connection that went away and does not
// answer a ping), or a SUNSUBSCRIBE that this replica did not ask for,
// which is how Redis ends a sharded subscription when its slot moves. It
// reports whether Redis confirmed the subscription.
func (s *Shared) receiveShard(ctx context.Context, ps *redis.PubSub, l *listener) (confirmed bool) {
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, shardHealthEvery)
		if err != nil {
			if ctx.Err() != nil {
				return confirmed
			}
			var netErr net.Error
			if errors.As(err, &netErr) && netErr.Timeout() && !pinged {
				pinged = true
				if ps.Ping(ctx) == nil {
					continue
				}
			}
			return confirmed
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			switch m.Kind {
			case "ssubscribe":
				confirmed = true
			case "sunsubscribe":
				return confirmed
			}
		case *redis.Message:
			s.handle(m, l.deliver)
		}
	}
}

// set makes ps the current subscription; false once stopped.
func (sub *shardSub) set(ps *redis.PubSub) bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if !sub.on {
		return false
	}
	sub.ps = ps
	return true
}

// stop ends the subscription: its goroutine returns.
func (sub *shardSub) stop() {
	sub.cancel()
	sub.mu.Lock()
	defer sub.mu.Unlock()
	sub.on = false
	if sub.ps != nil {
		_ = sub.ps.Close() // ends a receive that waits on the connection
		sub.ps = nil
	}
}

// Close stops listening.
func (s *Shared) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	for ch, l := range s.listeners {
		if l.shard != nil {
			l.shard.stop()
		}
		delete(s.listeners, ch)
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
