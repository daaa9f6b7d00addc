package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// config is every setting; each has an environment variable and a flag twin,
// and the flag wins.
type config struct {
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
	LogFormat      string
	LogLevel       string

	// Cross-request cache and, with Redis, state shared by replicas.
	RedisURL         string
	RedisTimeout     time.Duration
	RedisKeyPrefix   string
	ExpectedReplicas int
	CacheMaxEntries  int
	CacheTTLParse    time.Duration
	CacheTTLFailed   time.Duration
	CacheTTLUnparse  time.Duration
	CacheTTLNotFound time.Duration

	// Limits, access and observability.
	MaxDepth           int
	Introspection      bool
	AccessTokens       []string
	CORSOrigins        []string
	OTLPEndpoint       string
	OTLPTracesEndpoint string
	ShutdownDelay      time.Duration
}

// parseConfig reads the settings: defaults, then the environment, then
// flags. A malformed environment value is an error, not a silent default.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("memories-graphql", flag.ContinueOnError)
	fs.SetOutput(out)
	e := envReader{getenv: getenv}

	fs.StringVar(&c.Host, "host", e.str("HOST", ""), "interface to listen on; empty means all (env HOST)")
	fs.IntVar(&c.Port, "port", e.int("PORT", 8080), "port to listen on; 0 picks a free one (env PORT)")
	fs.StringVar(&c.APIKey, "memories-api-key", e.str("MEMORIES_API_KEY", ""),
		"memories.ai API key for every request; prefer the env var, flags show in process lists (env MEMORIES_API_KEY)")
	fs.StringVar(&c.BaseURL, "memories-base-url", e.str("MEMORIES_BASE_URL", ""),
		"upstream base URL; default "+defaultBaseURL+", or the sandbox when no key is set either (env MEMORIES_BASE_URL)")
	fs.Float64Var(&c.RateLimit, "memories-rate-limit", e.float("MEMORIES_RATE_LIMIT", 5),
		"upstream calls per second per account (env MEMORIES_RATE_LIMIT)")
	fs.IntVar(&c.RateBurst, "memories-rate-burst", e.int("MEMORIES_RATE_BURST", 5),
		"upstream calls an account may make at once before the rate applies (env MEMORIES_RATE_BURST)")
	fs.Float64Var(&c.ListRateLimit, "memories-list-rate-limit", e.float("MEMORIES_LIST_RATE_LIMIT", 5),
		"list_videos calls per second per account, a budget of its own (env MEMORIES_LIST_RATE_LIMIT)")
	fs.IntVar(&c.ListRateBurst, "memories-list-rate-burst", e.int("MEMORIES_LIST_RATE_BURST", 5),
		"list_videos calls an account may make at once before the rate applies (env MEMORIES_LIST_RATE_BURST)")
	fs.IntVar(&c.ListBatchSize, "memories-list-batch-size", e.int("MEMORIES_LIST_BATCH_SIZE", 200),
		"videos asked per list_videos call (env MEMORIES_LIST_BATCH_SIZE)")
	fs.Func("memories-batch", "on: fetch videos whose selection needs no resolutionLabel, fps, width or height through list_videos, many per call; off: one get_metadata call per video (env MEMORIES_BATCH, default on)",
		func(v string) (err error) { c.Batch, err = parseSwitch(v); return err })
	c.Batch = e.switchValue("MEMORIES_BATCH", true)
	fs.DurationVar(&c.ListProbe, "memories-list-probe-interval", e.duration("MEMORIES_LIST_PROBE_INTERVAL", time.Minute),
		"after list_videos is found unavailable for an account, how long it uses get_metadata before list_videos is tried again (env MEMORIES_LIST_PROBE_INTERVAL)")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", e.duration("REQUEST_TIMEOUT", 30*time.Second),
		"time budget of one GraphQL request (env REQUEST_TIMEOUT)")
	fs.DurationVar(&c.CallTimeout, "memories-call-timeout", e.duration("MEMORIES_CALL_TIMEOUT", 10*time.Second),
		"time budget of one upstream call (env MEMORIES_CALL_TIMEOUT)")
	fs.IntVar(&c.MaxVideos, "max-videos-per-query", e.int("MAX_VIDEOS_PER_QUERY", 2000),
		"video references one operation may make; each field, list element or entity counts (env MAX_VIDEOS_PER_QUERY)")
	fs.IntVar(&c.MaxDetail, "max-detail-videos-per-query", e.int("MAX_DETAIL_VIDEOS_PER_QUERY", 100),
		"distinct videos one operation may ask resolutionLabel, fps, width or height of, one get_metadata call each (env MAX_DETAIL_VIDEOS_PER_QUERY)")
	fs.IntVar(&c.MaxConcurrency, "memories-max-concurrency", e.int("MEMORIES_MAX_CONCURRENCY", 16),
		"upstream calls in flight at once, per process (env MEMORIES_MAX_CONCURRENCY)")
	fs.IntVar(&c.QueryCacheSize, "query-cache-size", e.int("QUERY_CACHE_SIZE", 1000),
		"parsed queries and persisted queries kept (env QUERY_CACHE_SIZE)")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", int64(e.int("MAX_BODY_BYTES", 1<<20)),
		"largest request body accepted (env MAX_BODY_BYTES)")
	fs.StringVar(&c.LogFormat, "log-format", e.str("LOG_FORMAT", "text"), "text or json (env LOG_FORMAT)")
	fs.StringVar(&c.LogLevel, "log-level", e.str("LOG_LEVEL", "info"), "debug, info, warn or error (env LOG_LEVEL)")

	fs.StringVar(&c.RedisURL, "redis-url", e.str("REDIS_URL", ""),
		"Redis shared by replicas for the rate limit and cache, such as redis://host:6379/0; empty keeps both in process; prefer the env var when it has a password (env REDIS_URL)")
	fs.DurationVar(&c.RedisTimeout, "redis-timeout", e.duration("REDIS_TIMEOUT", 500*time.Millisecond),
		"longest wait for one Redis command; a command that takes longer makes the service use its local limiter and cache until Redis answers again (env REDIS_TIMEOUT)")
	fs.StringVar(&c.RedisKeyPrefix, "redis-key-prefix", e.str("REDIS_KEY_PREFIX", "mgql"),
		"start of every Redis key, so that deployments can share a Redis (env REDIS_KEY_PREFIX)")
	fs.IntVar(&c.ExpectedReplicas, "expected-replicas", e.int("EXPECTED_REPLICAS", 1),
		"replicas sharing the account; one cut off from Redis uses 1/this of the rate limit and burst, and the others leave that share (env EXPECTED_REPLICAS)")
	fs.IntVar(&c.CacheMaxEntries, "cache-max-entries", e.int("CACHE_MAX_ENTRIES", 10000),
		"videos kept in the process's cache (env CACHE_MAX_ENTRIES)")
	fs.DurationVar(&c.CacheTTLParse, "cache-ttl-parse", e.duration("CACHE_TTL_PARSE", 10*time.Minute),
		"how long a PARSE video is kept; 0 keeps none (env CACHE_TTL_PARSE)")
	fs.DurationVar(&c.CacheTTLFailed, "cache-ttl-failed", e.duration("CACHE_TTL_FAILED", time.Minute),
		"how long a FAILED video is kept; 0 keeps none (env CACHE_TTL_FAILED)")
	fs.DurationVar(&c.CacheTTLUnparse, "cache-ttl-unparse", e.duration("CACHE_TTL_UNPARSE", 5*time.Second),
		"how long an UNPARSE video is kept; 0 keeps none (env CACHE_TTL_UNPARSE)")
	fs.DurationVar(&c.CacheTTLNotFound, "cache-ttl-not-found", e.duration("CACHE_TTL_NOT_FOUND", 5*time.Second),
		"how long \"no such video\" is kept; 0 keeps none (env CACHE_TTL_NOT_FOUND)")

	fs.IntVar(&c.MaxDepth, "max-query-depth", e.int("MAX_QUERY_DEPTH", 10),
		"deepest field nesting of an operation; introspection's ofType chains do not count (env MAX_QUERY_DEPTH)")
	fs.BoolVar(&c.Introspection, "introspection", e.bool("INTROSPECTION", true),
		"answer introspection queries (GraphiQL's docs, gateways' schema checks) (env INTROSPECTION)")
	fs.Func("access-tokens", "comma-separated tokens clients must send in X-Access-Token (or as a Bearer token when the server holds the key); prefer the env var (env ACCESS_TOKENS)",
		func(v string) error { c.AccessTokens = splitList(v); return nil })
	c.AccessTokens = splitList(e.str("ACCESS_TOKENS", ""))
	fs.Func("cors-allowed-origins", "comma-separated origins browser apps may call from, or * (env CORS_ALLOWED_ORIGINS)",
		func(v string) error { c.CORSOrigins = splitList(v); return nil })
	c.CORSOrigins = splitList(e.str("CORS_ALLOWED_ORIGINS", ""))
	fs.StringVar(&c.OTLPEndpoint, "otel-exporter-otlp-endpoint", e.str("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
		"OTLP/HTTP collector base URL for traces, e.g. http://localhost:4318; empty: no tracing (env OTEL_EXPORTER_OTLP_ENDPOINT)")
	fs.StringVar(&c.OTLPTracesEndpoint, "otel-exporter-otlp-traces-endpoint", e.str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ""),
		"full OTLP/HTTP traces URL; wins over the base URL (env OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)")
	fs.DurationVar(&c.ShutdownDelay, "shutdown-delay", e.duration("SHUTDOWN_DELAY", 0),
		"on SIGTERM, time /readyz fails before the listener closes (env SHUTDOWN_DELAY)")

	if err := errors.Join(e.errs...); err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q (the only subcommand is \"emulator\")", fs.Args())
	}
	return c, c.validate()
}

func (c config) validate() error {
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
	if c.CacheTTLParse < 0 || c.CacheTTLFailed < 0 || c.CacheTTLUnparse < 0 || c.CacheTTLNotFound < 0 {
		errs = append(errs, errors.New("CACHE_TTL_PARSE, CACHE_TTL_FAILED, CACHE_TTL_UNPARSE and CACHE_TTL_NOT_FOUND must not be negative"))
	}
	if c.MaxDepth < 1 || c.ShutdownDelay < 0 {
		errs = append(errs, errors.New("MAX_QUERY_DEPTH must be at least 1 and SHUTDOWN_DELAY not negative"))
	}
	if c.RedisURL != "" && (c.RedisKeyPrefix == "" || c.RedisTimeout <= 0) {
		errs = append(errs, errors.New("REDIS_KEY_PREFIX must not be empty and REDIS_TIMEOUT must be positive"))
	}
	return errors.Join(errs...)
}

// envReader reads typed environment values, collecting parse errors.
type envReader struct {
	getenv func(string) string
	errs   []error
}

func (e *envReader) str(name, def string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	return def
}

func (e *envReader) bool(name string, def bool) bool {
	return envParse(e, name, def, strconv.ParseBool)
}

// switchValue reads on/off (or a boolean).
func (e *envReader) switchValue(name string, def bool) bool {
	return envParse(e, name, def, parseSwitch)
}

func (e *envReader) int(name string, def int) int {
	return envParse(e, name, def, strconv.Atoi)
}

func (e *envReader) float(name string, def float64) float64 {
	return envParse(e, name, def, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) })
}

func (e *envReader) duration(name string, def time.Duration) time.Duration {
	return envParse(e, name, def, time.ParseDuration)
}

func envParse[T any](e *envReader, name string, def T, parse func(string) (T, error)) T {
	s := e.getenv(name)
	if s == "" {
		return def
	}
	v, err := parse(s)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: %w", name, s, err))
		return def
	}
	return v
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
