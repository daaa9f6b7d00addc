// Package redisconn is the Redis connection that replicas share their rate
// limit and cache through. It knows whether Redis answers: after a failed
// command its users fall back to their in-process state, and a probe brings
// them back once Redis answers again. Each change is logged once.
package redisconn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Options tune a Conn; the zero value takes the defaults.
type Options struct {
	// Prefix starts every key (default "mgql"), so that several
	// deployments can share one Redis.
	Prefix string
	// Timeout bounds each command, dialing included (default 200ms): a slow
	// Redis must cost a request little more than a missing one.
	Timeout time.Duration
	// ProbeEvery is how often an unavailable Redis is tried again
	// (default 1s). For tests: the service keeps the default.
	ProbeEvery time.Duration
	// Logger receives the availability changes; nil discards them.
	Logger *slog.Logger
}

// Conn is a Redis client that tracks whether Redis is available. Its methods
// are safe for concurrent use.
type Conn struct {
	client     *redis.Client
	prefix     string
	timeout    time.Duration
	probeEvery time.Duration
	logger     *slog.Logger

	down atomic.Bool

	mu     sync.Mutex // serializes availability changes with Close
	closed bool
	done   chan struct{}
	wg     sync.WaitGroup
}

// Open returns a Conn to the Redis at rawURL (redis://, rediss:// or
// unix://). It does not fail when Redis is unreachable: the Conn starts as
// unavailable and probes until Redis answers. Errors never contain the URL,
// which may carry a password.
func Open(rawURL string, opts Options) (*Conn, error) {
	ropts, err := redis.ParseURL(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, password and all
		}
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if opts.Prefix == "" {
		opts.Prefix = "mgql"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 200 * time.Millisecond
	}
	if opts.ProbeEvery <= 0 {
		opts.ProbeEvery = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	setLibraryLogger(opts.Logger)

	// Short timeouts and no dial retries: while Redis is down, the service
	// answers from its local state and the probe does the retrying.
	ropts.DialTimeout = opts.Timeout
	ropts.DialerRetries = 1
	ropts.ReadTimeout = opts.Timeout
	ropts.WriteTimeout = opts.Timeout
	ropts.PoolTimeout = opts.Timeout
	ropts.ContextTimeoutEnabled = true
	// One retry replaces a pooled connection that died with a restarted
	// Redis; a retried reservation at worst wastes one slot of budget.
	ropts.MaxRetries = 1
	// New connections cost one round trip (HELLO), not two: a burst of
	// requests opens many at once.
	ropts.DisableIdentity = true
	ropts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}

	c := &Conn{
		client:     redis.NewClient(ropts),
		prefix:     opts.Prefix,
		timeout:    opts.Timeout,
		probeEvery: opts.ProbeEvery,
		logger:     opts.Logger,
		done:       make(chan struct{}),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*opts.Timeout)
	defer cancel()
	if err := c.client.Ping(ctx).Err(); err != nil {
		c.Fail(err)
	} else {
		c.logger.Info("redis: sharing the rate limit and cache with other replicas", "addr", ropts.Addr, "db", ropts.DB, "prefix", c.prefix)
	}
	return c, nil
}

// Client returns the Redis client. Use it only while Up reports true, and
// call Fail when a command fails for a reason other than the caller's
// context.
func (c *Conn) Client() *redis.Client { return c.client }

// Key returns the key made of the Conn's prefix and parts, joined by ':'.
// Parts from outside the service go through KeyPart first.
func (c *Conn) Key(parts ...string) string {
	return c.prefix + ":" + strings.Join(parts, ":")
}

// Context returns ctx bounded by the command timeout.
func (c *Conn) Context(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// Up reports whether Redis answered the last command or probe.
func (c *Conn) Up() bool { return !c.down.Load() }

// Fail marks Redis unavailable after a failed command: Up reports false
// until a probe succeeds. Only the first failure logs. Do not call it for a
// command that failed because the caller's own context ended.
func (c *Conn) Fail(err error) {
	if c.down.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down.Load() {
		return
	}
	c.down.Store(true)
	c.logger.Warn("redis unavailable, using local limiter and cache", "err", err)
	if c.closed {
		return
	}
	c.wg.Add(1)
	go c.probe()
}

// probe pings Redis until it answers, then marks it available. One runs
// while Redis is marked unavailable.
func (c *Conn) probe() {
	defer c.wg.Done()
	t := time.NewTicker(c.probeEvery)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		err := c.client.Ping(ctx).Err()
		cancel()
		if err != nil {
			continue
		}
		c.mu.Lock()
		c.down.Store(false)
		c.logger.Info("redis available again")
		c.mu.Unlock()
		return
	}
}

// Close stops the probe and closes the client.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	c.mu.Unlock()
	c.wg.Wait()
	return c.client.Close()
}

// KeyPart makes s safe as one part of a key: it escapes '%', ':' and the
// braces that Redis Cluster reads as a hash tag, and replaces a part longer
// than 128 bytes by "%h" and its SHA-256, so that a key stays short whatever
// a client sends. Distinct strings give distinct parts.
func KeyPart(s string) string {
	if strings.ContainsAny(s, "%:{}") {
		s = escaper.Replace(s)
	}
	if len(s) > maxKeyPart {
		// An escaped part never holds "%h": its '%' are followed by hex.
		sum := sha256.Sum256([]byte(s))
		return "%h" + hex.EncodeToString(sum[:])
	}
	return s
}

const maxKeyPart = 128

var escaper = strings.NewReplacer("%", "%25", ":", "%3A", "{", "%7B", "}", "%7D")

// libraryLogger routes go-redis's own messages (each failed dial, for one)
// to the debug level of the first Conn's logger: the Conn reports
// availability itself, once per change.
var libraryLogger sync.Once

func setLibraryLogger(l *slog.Logger) {
	libraryLogger.Do(func() { redis.SetLogger(debugLogger{l}) })
}

type debugLogger struct{ l *slog.Logger }

func (d debugLogger) Printf(ctx context.Context, format string, v ...any) {
	d.l.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}
