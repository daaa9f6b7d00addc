// Package redisconn is the Redis connection that replicas share their rate
// limit and cache through: a single Redis or a Redis Cluster. It knows
// whether Redis answers: after a failed command its users fall back to their
// in-process state, and a probe brings them back once Redis answers again.
// Each change is logged once.
//
// On a Redis Cluster, each command and script must touch one hash slot: its
// users put an account's keys in one slot with Tag, and a command or script
// takes the keys of one account only.
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
	// Cluster makes the URL a Redis Cluster's (REDIS_CLUSTER=on): its host
	// and each addr= parameter, or each host of a comma-separated list,
	// are seed addresses.
	Cluster bool
}

// Conn is a Redis client that tracks whether Redis is available. Its methods
// are safe for concurrent use.
type Conn struct {
	client     redis.UniversalClient
	cluster    *redis.ClusterClient // nil for a single Redis
	prefix     string
	timeout    time.Duration
	probeEvery time.Duration
	logger     *slog.Logger

	down atomic.Bool
	// moving counts the commands refused while their slot moved between
	// cluster nodes; movingLogged is when that was last logged (UnixNano).
	moving       atomic.Int64
	movingLogged atomic.Int64

	mu     sync.Mutex // serializes availability changes with Close
	closed bool
	done   chan struct{}
	wg     sync.WaitGroup
}

// Open returns a Conn to the Redis at rawURL (redis://, rediss:// or
// unix://), or with opts.Cluster to the Redis Cluster whose seed addresses
// rawURL names. It does not fail when Redis is unreachable: the Conn starts
// as unavailable and probes until Redis answers. Errors never contain the
// URL, which may carry a password.
func Open(rawURL string, opts Options) (*Conn, error) {
	if strings.ContainsAny(opts.Prefix, "{}") {
		// Redis Cluster hashes the first {...} of a key: braces in the
		// prefix would take the place of the account's hash tag.
		return nil, errors.New("REDIS_KEY_PREFIX: must not contain { or }")
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

	c := &Conn{
		prefix:     opts.Prefix,
		timeout:    opts.Timeout,
		probeEvery: opts.ProbeEvery,
		logger:     opts.Logger,
		done:       make(chan struct{}),
	}
	var where []any
	if opts.Cluster {
		copts, err := parseClusterURL(rawURL)
		if err != nil {
			return nil, err
		}
		// As for a single Redis below. Routing policies off: a command goes
		// to the node of its first key's slot, never split or fanned out
		// behind the caller's back, so a command that spans slots fails
		// (CROSSSLOT) rather than costing several round trips unseen; and
		// no COMMAND round trip to learn the policies.
		copts.DialTimeout = opts.Timeout
		copts.DialerRetries = 1
		copts.ReadTimeout = opts.Timeout
		copts.WriteTimeout = opts.Timeout
		copts.PoolTimeout = opts.Timeout
		copts.ContextTimeoutEnabled = true
		copts.MaxRetries = 1
		copts.DisableIdentity = true
		copts.DisableRoutingPolicies = true
		copts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		c.cluster = redis.NewClusterClient(copts)
		c.client = c.cluster
		where = []any{"cluster_seeds", copts.Addrs}
	} else {
		ropts, err := parseURL(rawURL)
		if err != nil {
			return nil, err
		}
		// Short timeouts and no dial retries: while Redis is down, the
		// service answers from its local state and the probe does the
		// retrying.
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
		c.client = redis.NewClient(ropts)
		where = []any{"addr", ropts.Addr, "db", ropts.DB}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*opts.Timeout)
	defer cancel()
	if err := c.ping(ctx); err != nil {
		c.Fail(err)
	} else {
		c.logger.Info("redis: sharing the rate limit and cache with other replicas", append(where, "prefix", c.prefix)...)
	}
	return c, nil
}

// parseURL reads the URL of a single Redis.
func parseURL(rawURL string) (*redis.Options, error) {
	if seeds, _ := severalHosts(rawURL); seeds {
		return nil, errors.New("REDIS_URL: several addresses are a Redis Cluster's: set REDIS_CLUSTER=on")
	}
	ropts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", unwrapURLError(err))
	}
	return ropts, nil
}

// parseClusterURL reads the seed addresses of a Redis Cluster: the host
// and each addr= parameter (go-redis's form), or a comma-separated list of
// hosts. A path may name database 0 only, the one a cluster has.
func parseClusterURL(rawURL string) (*redis.ClusterOptions, error) {
	_, rewritten := severalHosts(rawURL)
	u, err := url.Parse(rewritten)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", unwrapURLError(err))
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, errors.New("REDIS_URL: a Redis Cluster's URL has the scheme redis:// or rediss://")
	}
	switch u.Path {
	case "", "/", "/0":
		u.Path = ""
	default:
		return nil, errors.New("REDIS_URL: a Redis Cluster has database 0 only")
	}
	copts, err := redis.ParseClusterURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", unwrapURLError(err))
	}
	return copts, nil
}

// severalHosts reports whether rawURL names more than one address, with
// addr= parameters or a comma-separated list of hosts, and returns it with
// such a list written as addr= parameters, go-redis's form.
func severalHosts(rawURL string) (several bool, rewritten string) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return false, rawURL
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo, hosts := "", authority
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		userinfo, hosts = authority[:at+1], authority[at+1:]
	}
	tail, _, _ = strings.Cut(tail, "#")
	path, query, _ := strings.Cut(tail, "?")
	q, _ := url.ParseQuery(query)
	several = len(q["addr"]) > 0
	if !strings.Contains(hosts, ",") {
		return several, rawURL
	}
	list := strings.Split(hosts, ",")
	params := make([]string, 0, len(list))
	for _, h := range list[1:] {
		params = append(params, "addr="+url.QueryEscape(h))
	}
	if query != "" {
		params = append(params, query)
	}
	return true, scheme + "://" + userinfo + list[0] + path + "?" + strings.Join(params, "&")
}

// unwrapURLError drops what a url.Error adds: the URL, password and all.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// ping checks that Redis answers: a single one, or each primary of a
// cluster, which must also say that the cluster serves every slot.
func (c *Conn) ping(ctx context.Context) error {
	if c.cluster == nil {
		return c.client.Ping(ctx).Err()
	}
	return c.cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		info, err := node.ClusterInfo(ctx).Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return errors.New("redis cluster: cluster_state is not ok")
		}
		return nil
	})
}

// Client returns the Redis client: a *redis.Client, or a
// *redis.ClusterClient when Cluster reports true. Use it only while Up
// reports true, and call Fail when a command fails for a reason other than
// the caller's context. On a cluster, each command and script must touch
// the keys of one slot (see Tag).
func (c *Conn) Client() redis.UniversalClient { return c.client }

// Cluster reports whether the Conn is to a Redis Cluster. Its users then
// publish and subscribe through sharded pub/sub (SPUBLISH, SSUBSCRIBE).
func (c *Conn) Cluster() bool { return c.cluster != nil }

// ReloadState makes a cluster client learn again which node serves which
// slot, as after a slot moved; it does nothing on a single Redis.
func (c *Conn) ReloadState(ctx context.Context) {
	if c.cluster != nil {
		c.cluster.ReloadState(ctx)
	}
}

// Tag returns the hash tag of an account's keys: its id (through KeyPart)
// in braces. Redis Cluster hashes only what is between the first braces of
// a key, so keys with one account's tag share a slot, and one command or
// script may take several of them.
func Tag(accountID string) string { return "{" + KeyPart(accountID) + "}" }

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
//
// A cluster's refusal of a command whose slot is moving between nodes
// leaves Redis available: TRYAGAIN (some of the command's keys have moved,
// others not yet), or an ASK redirection still there when go-redis gave
// up following them. It concerns the calls on that one slot, each of which
// its caller serves from local state, for as long as the move takes. It is
// counted (SlotMoving) and logged at most once a minute.
func (c *Conn) Fail(err error) {
	if slotMoving(err) {
		n := c.moving.Add(1)
		now, last := time.Now().UnixNano(), c.movingLogged.Load()
		if now-last >= int64(time.Minute) && c.movingLogged.CompareAndSwap(last, now) {
			c.logger.Info("redis cluster: a slot is moving between nodes; calls on its keys use local state until it has", "refused", n, "err", err)
		}
		return
	}
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

// slotMoving reports whether err is a cluster's refusal of a command whose
// slot is moving (see Fail).
func slotMoving(err error) bool {
	_, ask := redis.IsAskError(err)
	return ask || redis.IsTryAgainError(err)
}

// SlotMoving returns how many commands a cluster refused so far because
// their slot was moving between nodes (see Fail).
func (c *Conn) SlotMoving() int64 { return c.moving.Load() }

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
		err := c.ping(ctx)
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
