package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/memories-facade/memories-graphql/graph"
	"github.com/memories-facade/memories-graphql/internal/envflag"
)

// Build is what the binary says of itself.
type Build struct {
	Version   string // stamped at build (-X main.version); "dev" when not
	Commit    string // the VCS revision built from; "unknown" when the build did not record one
	GoVersion string
}

// Config is every setting; each flag has an environment twin named after it
// (envflag), and the flag wins.
type Config struct {
	// Build names the binary, for memories_build_info; main sets it, no
	// setting does.
	Build Build

	Host           string
	Port           int
	APIKey         string
	BaseURL        string
	RateLimit      float64
	RateBurst      int
	ListRateLimit  float64
	ListRateBurst  int
	ListBatchSize  int
	Batch          bool
	ListProbe      time.Duration
	RequestTimeout time.Duration
	CallTimeout    time.Duration
	MaxVideos      int
	MaxDetail      int
	MaxConcurrency int
	QueryCacheSize int
	MaxBodyBytes   int64
	// BodyReadTimeout bounds reading one request body.
	BodyReadTimeout time.Duration
	// Limits bound a document before it is parsed; a zero field takes
	// its default from MaxVideos (graph.DefaultLimits).
	Limits    graph.Limits
	LogFormat string
	LogLevel  string

	// Subscriptions: how watched videos are polled.
	WatchInterval    time.Duration
	WatchBudgetShare float64
	WatchMaxDuration time.Duration
	// Open subscriptions at once, per WebSocket connection and per account.
	MaxSubscriptionsPerConnection int
	WebsocketIdleTimeout          time.Duration
	MaxSubscriptionsPerAccount    int

	// Cross-request cache and, with Redis, state shared by replicas.
	RedisURL         string
	RedisCluster     bool
	RedisTimeout     time.Duration
	RedisKeyPrefix   string
	ExpectedReplicas int
	CacheMaxEntries  int
	CacheTTLParse    time.Duration
	CacheTTLFailed   time.Duration
	CacheTTLUnparse  time.Duration
	CacheTTLNotFound time.Duration
	CacheTTLDetail   time.Duration
	// ResponseCacheBytes bounds the answers kept to give again
	// (internal/responsecache); 0 keeps none.
	ResponseCacheBytes int64

	// Limits, access and observability.
	MaxDepth           int
	Introspection      bool
	Cost               bool
	AccessTokens       []string
	CORSOrigins        []string
	OTLPEndpoint       string
	OTLPTracesEndpoint string
	ShutdownDelay      time.Duration
}

// ParseConfig reads the settings from args and the environment (getenv): defaults, then the environment, then
// flags. A malformed environment value is an error, not a silent default.
func ParseConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	c := Config{Batch: true, Cost: true}
	fs := flag.NewFlagSet("memories-graphql", flag.ContinueOnError)
	fs.SetOutput(out)

	fs.StringVar(&c.Host, "host", "", "interface to listen on; empty means all")
	fs.IntVar(&c.Port, "port", 8080, "port to listen on; 0 picks a free one")
	fs.StringVar(&c.APIKey, "memories-api-key", "",
		"memories.ai API key for every request; prefer the env var, flags show in process lists")
	fs.StringVar(&c.BaseURL, "memories-base-url", "",
		"upstream base URL; default "+DefaultBaseURL+", or the sandbox when no key is set either")
	fs.Float64Var(&c.RateLimit, "memories-rate-limit", 5,
		"upstream calls per second per account")
	fs.IntVar(&c.RateBurst, "memories-rate-burst", 5,
		"upstream calls an account may make at once before the rate applies")
	fs.Float64Var(&c.ListRateLimit, "memories-list-rate-limit", 5,
		"list_videos calls per second per account, a budget of its own")
	fs.IntVar(&c.ListRateBurst, "memories-list-rate-burst", 5,
		"list_videos calls an account may make at once before the rate applies")
	fs.IntVar(&c.ListBatchSize, "memories-list-batch-size", 200,
		"videos asked per list_videos call")
	fs.Func("memories-batch", "on: fetch videos whose selection needs no resolutionLabel, fps, width or height through list_videos, many per call; off: one get_metadata call per video (default on)",
		func(v string) (err error) { c.Batch, err = parseSwitch(v); return err })
	fs.DurationVar(&c.ListProbe, "memories-list-probe-interval", time.Minute,
		"after list_videos is found unavailable for an account, how long it uses get_metadata before list_videos is tried again")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", 30*time.Second,
		"time budget of one GraphQL request")
	fs.DurationVar(&c.CallTimeout, "memories-call-timeout", 10*time.Second,
		"time budget of one upstream call")
	fs.IntVar(&c.MaxVideos, "max-videos-per-query", 2000,
		"video references one operation may make; each field, list element or entity counts")
	fs.IntVar(&c.MaxDetail, "max-detail-videos-per-query", 100,
		"distinct videos one operation may ask resolutionLabel, fps, width or height of, one get_metadata call each")
	fs.IntVar(&c.MaxConcurrency, "memories-max-concurrency", 16,
		"upstream calls in flight at once, per process")
	fs.IntVar(&c.QueryCacheSize, "query-cache-size", 1000,
		"parsed queries and persisted queries kept")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", 1<<20,
		"largest request body accepted")
	fs.DurationVar(&c.BodyReadTimeout, "body-read-timeout", 10*time.Second,
		"longest time one request body may take to arrive; a body still arriving then is answered 408 and its connection closed")
	fs.DurationVar(&c.WatchInterval, "watch-interval", 10*time.Second,
		"time between two polls of a watched video, whatever its subscribers")
	fs.Float64Var(&c.WatchBudgetShare, "watch-budget-share", 0.5,
		"share of each rate budget that polls of watched videos may take (0 to 1); the rest is left to queries")
	fs.DurationVar(&c.WatchMaxDuration, "watch-max-duration", time.Hour,
		"longest a watchVideos subscription lasts before it ends with WATCH_EXPIRED")
	fs.IntVar(&c.MaxSubscriptionsPerConnection, "max-subscriptions-per-connection", 100,
		"subscriptions one WebSocket connection may have open at once")
	fs.DurationVar(&c.WebsocketIdleTimeout, "websocket-idle-timeout", 5*time.Minute,
		"longest a WebSocket connection stays open with no subscription; 0 keeps it open")
	fs.IntVar(&c.MaxSubscriptionsPerAccount, "max-subscriptions-per-account", 1000,
		"subscriptions one memories.ai account may have open at once, on this replica, over every transport")
	fs.IntVar(&c.Limits.Tokens, "max-query-tokens", 0,
		"lexical tokens one document may have, comments included; default 40 × MAX_VIDEOS_PER_QUERY + 10000")
	fs.IntVar(&c.Limits.Selections, "max-selections", 0,
		"selections one selection set may have, as written and as collected through fragments; default MAX_VIDEOS_PER_QUERY + 100")
	fs.IntVar(&c.Limits.Fragments, "max-fragments", 0,
		"fragment spreads and inline fragments one document may have; default MAX_VIDEOS_PER_QUERY + 100")
	fs.IntVar(&c.Limits.Directives, "max-directives", 0,
		"directives one field, fragment, operation or variable may have; default 10")
	fs.IntVar(&c.Limits.Variables, "max-variables", 0,
		"variable definitions one document may have; default MAX_VIDEOS_PER_QUERY + 100")
	fs.IntVar(&c.Limits.Operations, "max-operations", 0,
		"operations one document may have; default 50")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")

	fs.StringVar(&c.RedisURL, "redis-url", "",
		"Redis shared by replicas for the rate limit and cache, such as redis://host:6379/0, or with REDIS_CLUSTER=on a Redis Cluster's seed addresses, such as redis://host1:6379,host2:6379; empty keeps both in process; prefer the env var when it has a password")
	fs.Func("redis-cluster", "on: REDIS_URL is a Redis Cluster's, its host and each addr= parameter (or each of its comma-separated hosts) a seed address; off (default): a single Redis",
		func(v string) (err error) { c.RedisCluster, err = parseSwitch(v); return err })
	fs.DurationVar(&c.RedisTimeout, "redis-timeout", 500*time.Millisecond,
		"longest wait for one Redis command; a command that takes longer makes the service use its local limiter and cache until Redis answers again")
	fs.StringVar(&c.RedisKeyPrefix, "redis-key-prefix", "mgql",
		"start of every Redis key, so that deployments can share a Redis")
	fs.IntVar(&c.ExpectedReplicas, "expected-replicas", 1,
		"replicas sharing the account; one cut off from Redis uses 1/this of the rate limit and burst, and the others leave that share")
	fs.IntVar(&c.CacheMaxEntries, "cache-max-entries", 10000,
		"videos kept in the process's cache")
	fs.DurationVar(&c.CacheTTLParse, "cache-ttl-parse", 10*time.Minute,
		"how long a PARSE video is kept; 0 keeps none")
	fs.DurationVar(&c.CacheTTLFailed, "cache-ttl-failed", time.Minute,
		"how long a FAILED video is kept; 0 keeps none")
	fs.DurationVar(&c.CacheTTLUnparse, "cache-ttl-unparse", 5*time.Second,
		"how long an UNPARSE video is kept; 0 keeps none")
	fs.DurationVar(&c.CacheTTLNotFound, "cache-ttl-not-found", 5*time.Second,
		"how long \"no such video\" is kept; 0 keeps none")
	fs.Int64Var(&c.ResponseCacheBytes, "response-cache-bytes", 32<<20,
		"bytes of answers kept to give again to the same query, without executing it, while every video it read is kept unchanged; 0: none")
	fs.DurationVar(&c.CacheTTLDetail, "cache-ttl-detail", 24*time.Hour,
		"how long a PARSE video's resolutionLabel, fps, width and height are kept, refreshed through list_videos; at most CACHE_TTL_PARSE keeps them no longer than the rest")

	fs.IntVar(&c.MaxDepth, "max-query-depth", 10,
		"deepest field nesting of an operation; introspection's ofType chains do not count")
	fs.BoolVar(&c.Introspection, "introspection", true,
		"answer introspection queries (GraphiQL's docs, gateways' schema checks)")
	fs.Func("cost-extension", "on (default) or off: extensions.cost in every query's response, with the upstream calls, cached videos and rate-limit wait of the operation",
		func(v string) (err error) { c.Cost, err = parseSwitch(v); return err })
	fs.Func("access-tokens", "comma-separated tokens clients must send in X-Access-Token (or as a Bearer token when the server holds the key); prefer the env var",
		func(v string) error { c.AccessTokens = splitList(v); return nil })
	fs.Func("cors-allowed-origins", "comma-separated origins browser apps may call from, or *",
		func(v string) error { c.CORSOrigins = splitList(v); return nil })
	fs.StringVar(&c.OTLPEndpoint, "otel-exporter-otlp-endpoint", "",
		"OTLP/HTTP collector base URL for traces, e.g. http://localhost:4318; empty: no tracing")
	fs.StringVar(&c.OTLPTracesEndpoint, "otel-exporter-otlp-traces-endpoint", "",
		"full OTLP/HTTP traces URL; wins over the base URL")
	fs.DurationVar(&c.ShutdownDelay, "shutdown-delay", 0,
		"on SIGTERM, time /readyz fails before the listener closes")

	if err := envflag.Parse(fs, args, "", getenv); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q (the only subcommand is \"emulator\")", fs.Args())
	}
	c.Limits = withDefaults(c.Limits, graph.DefaultLimits(c.MaxVideos))
	return c, c.validate()
}

// Exposed reports a server that spends its own account for anyone who can
// reach it: it holds a real key, has no access tokens and listens beyond
// loopback.
func (c Config) Exposed(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return c.APIKey != "" && len(c.AccessTokens) == 0 && ok && !tcp.IP.IsLoopback()
}

func (c Config) validate() error {
	var errs []error
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("PORT %d out of range", c.Port))
	}
	if c.RateLimit <= 0 {
		errs = append(errs, fmt.Errorf("MEMORIES_RATE_LIMIT must be positive, got %v", c.RateLimit))
	}
	if c.RateBurst < 1 {
		errs = append(errs, fmt.Errorf("MEMORIES_RATE_BURST must be at least 1, got %d", c.RateBurst))
	}
	if c.ListRateLimit <= 0 || c.ListRateBurst < 1 {
		errs = append(errs, fmt.Errorf("MEMORIES_LIST_RATE_LIMIT must be positive and MEMORIES_LIST_RATE_BURST at least 1, got %v and %d", c.ListRateLimit, c.ListRateBurst))
	}
	if c.ListBatchSize < 1 || c.ListProbe <= 0 {
		errs = append(errs, fmt.Errorf("MEMORIES_LIST_BATCH_SIZE must be at least 1 and MEMORIES_LIST_PROBE_INTERVAL positive, got %d and %v", c.ListBatchSize, c.ListProbe))
	}
	if c.RequestTimeout <= 0 || c.CallTimeout <= 0 {
		errs = append(errs, errors.New("REQUEST_TIMEOUT and MEMORIES_CALL_TIMEOUT must be positive"))
	}
	if c.MaxDetail < 1 {
		errs = append(errs, fmt.Errorf("MAX_DETAIL_VIDEOS_PER_QUERY must be at least 1, got %d", c.MaxDetail))
	}
	if c.MaxVideos < 1 || c.MaxConcurrency < 1 || c.QueryCacheSize < 1 || c.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("MAX_VIDEOS_PER_QUERY, MEMORIES_MAX_CONCURRENCY and QUERY_CACHE_SIZE must be at least 1, MAX_BODY_BYTES at least 1024"))
	}
	if c.ExpectedReplicas < 1 || c.CacheMaxEntries < 1 {
		errs = append(errs, errors.New("EXPECTED_REPLICAS and CACHE_MAX_ENTRIES must be at least 1"))
	}
	if c.ResponseCacheBytes < 0 {
		errs = append(errs, fmt.Errorf("RESPONSE_CACHE_BYTES must not be negative, got %d", c.ResponseCacheBytes))
	}
	if c.CacheTTLParse < 0 || c.CacheTTLFailed < 0 || c.CacheTTLUnparse < 0 || c.CacheTTLNotFound < 0 || c.CacheTTLDetail < 0 {
		errs = append(errs, errors.New("CACHE_TTL_PARSE, CACHE_TTL_FAILED, CACHE_TTL_UNPARSE, CACHE_TTL_NOT_FOUND and CACHE_TTL_DETAIL must not be negative"))
	}
	if l := c.Limits; l.Tokens < 1 || l.Selections < 1 || l.Fragments < 1 || l.Directives < 1 || l.Variables < 1 || l.Operations < 1 || c.BodyReadTimeout <= 0 {
		errs = append(errs, errors.New("MAX_QUERY_TOKENS, MAX_SELECTIONS, MAX_FRAGMENTS, MAX_DIRECTIVES, MAX_VARIABLES and MAX_OPERATIONS must be at least 1 (or unset, for their defaults), BODY_READ_TIMEOUT positive"))
	}
	if c.WebsocketIdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("WEBSOCKET_IDLE_TIMEOUT must not be negative, got %v", c.WebsocketIdleTimeout))
	}
	if c.MaxSubscriptionsPerConnection < 1 || c.MaxSubscriptionsPerAccount < 1 {
		errs = append(errs, errors.New("MAX_SUBSCRIPTIONS_PER_CONNECTION and MAX_SUBSCRIPTIONS_PER_ACCOUNT must be at least 1"))
	}
	if c.WatchInterval <= 0 || c.WatchMaxDuration <= 0 || !(c.WatchBudgetShare > 0 && c.WatchBudgetShare <= 1) {
		errs = append(errs, fmt.Errorf("WATCH_INTERVAL and WATCH_MAX_DURATION must be positive and WATCH_BUDGET_SHARE in (0, 1], got %v, %v and %v", c.WatchInterval, c.WatchMaxDuration, c.WatchBudgetShare))
	}
	if c.MaxDepth < 1 || c.ShutdownDelay < 0 {
		errs = append(errs, errors.New("MAX_QUERY_DEPTH must be at least 1 and SHUTDOWN_DELAY not negative"))
	}
	if c.RedisURL != "" && (c.RedisKeyPrefix == "" || c.RedisTimeout <= 0) {
		errs = append(errs, errors.New("REDIS_KEY_PREFIX must not be empty and REDIS_TIMEOUT must be positive"))
	}
	if strings.ContainsAny(c.RedisKeyPrefix, "{}") {
		// Redis Cluster hashes the first {...} of a key: braces in the
		// prefix would take the place of each account's hash tag.
		errs = append(errs, fmt.Errorf("REDIS_KEY_PREFIX must not contain { or }, got %q", c.RedisKeyPrefix))
	}
	if c.RedisCluster && c.RedisURL == "" {
		errs = append(errs, errors.New("REDIS_CLUSTER=on needs REDIS_URL, the cluster's seed addresses"))
	}
	return errors.Join(errs...)
}

// withDefaults fills the zero fields of l from d.
func withDefaults(l, d graph.Limits) graph.Limits {
	for _, f := range []struct {
		v *int
		d int
	}{
		{&l.Tokens, d.Tokens}, {&l.Selections, d.Selections}, {&l.Fragments, d.Fragments},
		{&l.Directives, d.Directives}, {&l.Variables, d.Variables}, {&l.Operations, d.Operations},
	} {
		if *f.v == 0 {
			*f.v = f.d
		}
	}
	return l
}

// parseSwitch reads "on" or "off", or a boolean.
func parseSwitch(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "on":
		return true, nil
	case "off":
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("want on or off, got %q", s)
	}
	return b, nil
}

// splitList reads a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
