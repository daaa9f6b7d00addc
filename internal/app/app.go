// Package app is the service, wired: it reads the settings (ParseConfig),
// builds the request path (HTTP → gqlgen → per-request loader → cache and
// sharing → upstream calls → memories.ai client) and serves it as one
// http.Handler. package main only listens, signals and drains.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/cors"
	"go.opentelemetry.io/otel/trace"

	"github.com/memories-facade/memories-graphql/graph"
	"github.com/memories-facade/memories-graphql/internal/access"
	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/gqlhttp"
	"github.com/memories-facade/memories-graphql/internal/library"
	"github.com/memories-facade/memories-graphql/internal/loader"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/metrics"
	"github.com/memories-facade/memories-graphql/internal/playground"
	"github.com/memories-facade/memories-graphql/internal/presence"
	"github.com/memories-facade/memories-graphql/internal/ratelimit"
	"github.com/memories-facade/memories-graphql/internal/redisconn"
	"github.com/memories-facade/memories-graphql/internal/reqlog"
	"github.com/memories-facade/memories-graphql/internal/responsecache"
	"github.com/memories-facade/memories-graphql/internal/tracing"
	"github.com/memories-facade/memories-graphql/internal/upstream"
	"github.com/memories-facade/memories-graphql/internal/videocache"
	"github.com/memories-facade/memories-graphql/internal/watch"
)

// DefaultBaseURL is the real upstream.
const DefaultBaseURL = "https://api.memories.ai"

// sandboxKey is the key the server uses against its in-process sandbox
// upstream; it opens nothing anywhere else.
const sandboxKey = "sandbox"

// App is the wired service: its HTTP handler and what must be closed.
type App struct {
	handler http.Handler
	closers []func() error
	metrics *metrics.Metrics
	replays *replays // nil: RESPONSE_CACHE_BYTES=0
	// ready is false while the server drains, so that load balancers stop
	// sending new requests before it closes its listener.
	ready   atomic.Bool
	watch   *watch.Registry
	library *library.Lister
	redis   *redisconn.Conn   // nil without REDIS_URL
	peers   *presence.Tracker // nil without REDIS_URL

	// streams cancels the open WebSocket connections and event streams
	// when the app closes, after Drain ended their subscriptions.
	mu      sync.Mutex
	streams map[*context.CancelFunc]bool
}

// pollingReplicas returns how many replicas split the watch's share of
// the budgets now: those sharing Redis, or, without it, the expected count
// (each then polls its own subscribers' videos on its part alone).
func (a *App) pollingReplicas(expected int) func() int {
	return func() int {
		if a.peers == nil || !a.redis.Up() { // peers: set with redis
			return expected
		}
		return a.peers.Live()
	}
}

// Close releases what New started, in reverse order.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}

// New wires the layers: HTTP → gqlgen → per-request loader → cache and
// shared fetches → upstream calls (budgets, retries, batches) → memories
// client.
func New(cfg Config, logger *slog.Logger) (_ *App, err error) {
	a := &App{metrics: metrics.New()}
	a.ready.Store(true)
	b := cfg.Build
	a.metrics.BuildInfo(cmp.Or(b.Version, "dev"), cmp.Or(b.Commit, "unknown"), cmp.Or(b.GoVersion, runtime.Version()))
	defer func() {
		if err != nil {
			a.Close()
		}
	}()

	tp, err := tracing.New(context.Background(), cfg.OTLPEndpoint, cfg.OTLPTracesEndpoint, "memories-graphql")
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return tp.Shutdown(ctx)
	})
	// Without an exporter no layer makes spans, which would only cost: the
	// incoming trace context reaches the upstream calls either way.
	var tracer trace.Tracer
	if cfg.OTLPEndpoint != "" || cfg.OTLPTracesEndpoint != "" {
		logger.Info("tracing: exporting spans over OTLP/HTTP")
		tracer = tp.Tracer()
	}

	client, fixed, err := a.upstreamClient(cfg, logger)
	if err != nil {
		return nil, err
	}
	videos, up, err := a.videoCache(cfg, logger, client, tracer)
	if err != nil {
		return nil, err
	}
	// The library lists through the same budgets and keeps what it lists
	// in the same cache as the videos of queries.
	a.library = library.New(up, videos, library.Options{})
	var share *watch.Shared
	if a.redis != nil {
		share = watch.NewShared(a.redis)
		a.closers = append(a.closers, share.Close)
	}
	a.watch = watch.New(videos, watch.Options{
		Share:       share,
		Interval:    cfg.WatchInterval,
		MaxDuration: cfg.WatchMaxDuration,
		PollTimeout: cfg.CallTimeout,
		// The watch's share of each budget, replica by replica: each polls
		// its share of the watched videos, or, cut off from Redis, its own
		// subscribers'.
		Budget: watch.NewBudget(cfg.WatchBudgetShare,
			cfg.ListRateLimit, cfg.ListRateBurst, cfg.RateLimit, cfg.RateBurst,
		).Among(a.pollingReplicas(cfg.ExpectedReplicas)),
		BatchSize:     cfg.ListBatchSize,
		MaxPerAccount: cfg.MaxSubscriptionsPerAccount,
		Observer:      a.metrics,
	})
	a.closers = append(a.closers, a.watch.Close)
	a.metrics.WatchRegistry(a.watch.Subscriptions, a.watch.Watched)
	a.handler = a.routes(cfg, logger, videos, fixed, tracer)
	// First on Close: the streams still open end.
	a.closers = append(a.closers, func() error { a.endStreams(); return nil })
	return a, nil
}

// upstreamClient returns the memories.ai client and the server's own account
// (nil in pass-through mode), starting the sandbox upstream when neither a
// key nor a base URL is configured.
func (a *App) upstreamClient(cfg Config, logger *slog.Logger) (*memories.Client, *account.Account, error) {
	baseURL, apiKey := cfg.BaseURL, cfg.APIKey
	if baseURL == "" && apiKey == "" {
		emu, err := emulator.Start(emulator.Options{
			Keys: []string{sandboxKey},
			// The sandbox behaves like an account whose limit matches the
			// setting, so raising it past the real limit shows what happens.
			RateLimit:     cfg.RateLimit,
			Burst:         cfg.RateBurst,
			ListRateLimit: cfg.ListRateLimit,
			ListBurst:     cfg.ListRateBurst,
			// The vendor's default page size: the batches of 200 arrive
			// whole. (The emulator's own default pages sooner, for tests.)
			ListPageCap: 200,
			Latency:     20 * time.Millisecond,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("start sandbox upstream: %w", err)
		}
		a.closers = append(a.closers, emu.Close)
		baseURL, apiKey = emu.URL(), sandboxKey
		logger.Info("sandbox mode: no MEMORIES_API_KEY or MEMORIES_BASE_URL set, serving built-in sample videos from an in-process emulator", "upstream", baseURL)
	}
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	// Its own transport, closed with the app, keeping idle connections for
	// twice as many calls as may be in flight (the default keeps two, so
	// every burst would open new ones). Twice: a call's connection goes
	// back to the pool a moment after its answer was read, so the next
	// call can find it still away and dial one more; with room for only as
	// many as the bound, one of them is then closed again, and under a
	// steady load one call in a couple of hundred paid for a new
	// connection, at both ends.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 2 * cfg.MaxConcurrency
	a.closers = append(a.closers, func() error { tr.CloseIdleConnections(); return nil })
	client, err := memories.NewClient(baseURL, memories.WithCallTimeout(cfg.CallTimeout), memories.WithTransport(tr))
	if err != nil {
		return nil, nil, fmt.Errorf("upstream client: %w", err)
	}
	if apiKey == "" {
		logger.Info("pass-through mode: each request's Authorization header is used as its memories.ai API key")
		return client, nil, nil
	}
	acct, ok := account.New(apiKey)
	if !ok {
		return nil, nil, errors.New("MEMORIES_API_KEY is blank")
	}
	return client, &acct, nil
}

// videoCache builds what the loader fetches from: the cache and
// cross-request sharing over the upstream calls, with limiters and a cache
// in process or, with REDIS_URL, shared by all replicas.
func (a *App) videoCache(cfg Config, logger *slog.Logger, client *memories.Client, tracer trace.Tracer) (*videocache.Cache, *upstream.Caller, error) {
	local := videocache.NewLocal(cfg.CacheMaxEntries)
	a.closers = append(a.closers, local.Close)
	var (
		meta, list upstream.Limiter
		store      videocache.Store = local
	)
	if cfg.RedisURL == "" {
		meta = ratelimit.New(ratelimit.Headroom(cfg.RateLimit, cfg.RateBurst))
		list = ratelimit.New(ratelimit.Headroom(cfg.ListRateLimit, cfg.ListRateBurst))
	} else {
		// Replicas share the budgets and the cache through Redis. While
		// Redis is unavailable each falls back on its own limiters, with
		// its share of each budget, and its own cache.
		conn, err := redisconn.Open(cfg.RedisURL, redisconn.Options{Prefix: cfg.RedisKeyPrefix, Timeout: cfg.RedisTimeout, Cluster: cfg.RedisCluster, Logger: logger})
		if err != nil {
			return nil, nil, err
		}
		a.closers = append(a.closers, conn.Close)
		a.redis = conn
		n := cfg.ExpectedReplicas
		// Replicas cut off from Redis spend their fallback share alone;
		// the others leave it unspent.
		peers := presence.Start(conn, presence.Options{Expected: n, Logger: logger})
		a.peers = peers
		a.closers = append(a.closers, peers.Close)
		a.metrics.WatchRedis(conn.Up, peers.Missing)
		a.metrics.WatchRedisSlotMoves(conn.SlotMoving)
		shared := func(budget string, perSecond float64, burst int) upstream.Limiter {
			perSecond, burst = ratelimit.Headroom(perSecond, burst)
			fallback := ratelimit.New(ratelimit.ReplicaShare(perSecond, burst, n))
			return ratelimit.NewShared(conn, ratelimit.SharedOptions{
				Budget: budget, PerSecond: perSecond, Burst: burst, Fallback: fallback, Peers: peers, Replicas: n,
			})
		}
		meta = shared("rate", cfg.RateLimit, cfg.RateBurst)
		list = shared("rate-list", cfg.ListRateLimit, cfg.ListRateBurst)
		store = videocache.NewShared(conn, local)
	}
	up := upstream.New(client, meta, list, upstream.Options{
		MaxConcurrency:    cfg.MaxConcurrency,
		NoBatch:           !cfg.Batch,
		BatchSize:         cfg.ListBatchSize,
		SingleViaMetadata: true,
		ProbeAfter:        cfg.ListProbe,
		Observer:          a.metrics,
		Tracer:            tracer,
		Logger:            logger,
	})
	return videocache.New(videocache.Options{
		Upstream: up,
		Store:    store,
		TTLs: videocache.TTLs{
			Parse: cfg.CacheTTLParse, Failed: cfg.CacheTTLFailed, Unparse: cfg.CacheTTLUnparse, NotFound: cfg.CacheTTLNotFound,
			Detail: cfg.CacheTTLDetail,
		},
		Observer: a.metrics,
		Tracer:   tracer,
	}), up, nil
}

// routes builds the HTTP surface: the GraphQL endpoint with its checks, the
// playground, health, readiness and metrics.
func (a *App) routes(cfg Config, logger *slog.Logger, videos *videocache.Cache, fixed *account.Account, tracer trace.Tracer) http.Handler {
	tokens := access.New(cfg.AccessTokens, fixed != nil)
	var replay gqlhttp.Replays // a nil *replays is not a nil Replays
	if cfg.ResponseCacheBytes > 0 {
		a.replays = &replays{cache: responsecache.New(cfg.ResponseCacheBytes, videos, a.metrics), metrics: a.metrics}
		replay = a.replays
	}
	gql := graph.NewServer(graph.Options{
		// GraphQL over HTTP as its specification says (status codes, media
		// types, no data on request errors), which gqlgen's own GET and POST
		// transports do not quite: see internal/gqlhttp and e2e/graphql-http.
		// Subscriptions over a WebSocket or an event stream.
		Transports: []graphql.Transport{
			transport.Options{},
			a.websocket(cfg, tokens, fixed != nil),
			gqlhttp.SSE{BodyTimeout: cfg.BodyReadTimeout, KeepAlive: 15 * time.Second},
			gqlhttp.Multipart{BodyTimeout: cfg.BodyReadTimeout, Gather: 10 * time.Millisecond},
			gqlhttp.GET{},
			gqlhttp.POST{BodyTimeout: cfg.BodyReadTimeout, Replays: replay},
			gqlhttp.Unsupported{}, // last: it takes what no other does
		},
		QueryCacheSize: cfg.QueryCacheSize,
		Introspection:  cfg.Introspection,
		Limits:         cfg.Limits,
		MaxDepth:       cfg.MaxDepth,
		MaxVideos:      cfg.MaxVideos,
		MaxDetail:      cfg.MaxDetail,
		Recorder:       a.metrics,
		Tracer:         tracer,
		Logger:         logger,
		Watch:          a.watch,
		Library:        a.library,
		Cost:           cfg.Cost,
	})

	r := chi.NewRouter()
	r.Use(reqlog.Middleware(logger), middleware.Recoverer)
	if len(cfg.CORSOrigins) > 0 {
		r.Use(cors.Handler(cors.Options{
			AllowedOrigins: cfg.CORSOrigins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodOptions},
			AllowedHeaders: []string{"Authorization", "Content-Type", access.Header, "traceparent", "tracestate"},
			MaxAge:         600,
		}))
	}
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	r.Get("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !a.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "draining\n")
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	r.Handle("/metrics", a.metrics.Handler())
	playgroundUI := playground.Handler("memories.ai video GraphQL", "/query")
	r.Handle("/", playgroundUI)
	r.Handle(playground.AssetPath+"*", playgroundUI)
	r.Handle("/query", a.query(cfg, gql, tokens, videos, accountOf(fixed)))
	return r
}

// accountOf returns how a request's upstream account is read: the server's
// own key when it has one, else the caller's Authorization header (the zero
// Account when it holds none).
func accountOf(fixed *account.Account) func(*http.Request) account.Account {
	if fixed != nil {
		return func(*http.Request) account.Account { return *fixed }
	}
	return func(r *http.Request) account.Account {
		acct, _ := account.New(r.Header.Get("Authorization"))
		return acct
	}
}

// query is /query, in order: no cache may keep the answer, the access
// token, the body limit, the caller's trace context, the request's deadline
// and loader, then gqlgen. It is one handler rather than a middleware each,
// so that every request's stack stays small: past a few kilobytes, each
// garbage collection shrinks a connection's stack and the next request
// copies it back.
//
// A stream (a WebSocket or an event stream) outlives any one operation: it
// gets no deadline, and each of its queries a loader of its own
// (graph.StreamLoader). A WebSocket may bring its access token and key in
// connection_init instead of headers, which browsers cannot set on one.
func (a *App) query(cfg Config, gql http.Handler, tokens *access.Tokens, videos loader.Fetcher, accountOf func(*http.Request) account.Account) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Answers depend on the caller's key (and its access token): no
		// browser or shared HTTP cache may keep them.
		w.Header()["Cache-Control"] = noStore
		// A WebSocket's token is checked in connection_init (see websocket).
		kind := streamKind(r)
		if kind != "websocket" && !tokens.Allow(w, r) {
			return
		}
		if r.ContentLength > cfg.MaxBodyBytes {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			fmt.Fprintf(w, `{"errors":[{"message":"request body exceeds %d bytes","extensions":{"code":"BAD_REQUEST"}}]}`+"\n", cfg.MaxBodyBytes)
			return
		}
		// A body without a Content-Length is cut off where it passes the
		// limit, and gqlhttp answers 413.
		r.Body = http.MaxBytesReader(w, r.Body, cfg.MaxBodyBytes)
		if kind != "" {
			ctx, done := a.openStream(tracing.Extract(r.Context(), r.Header), kind)
			defer done()
			ctx = context.WithValue(ctx, upgradeHeadersKey{}, r.Header)
			ctx = loader.WithStream(ctx, loader.Stream{Fetcher: videos, Account: accountOf(r), Timeout: cfg.RequestTimeout, OnBatch: a.metrics.LoaderBatch})
			gql.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		acct := accountOf(r)
		ctx := tracing.Extract(r.Context(), r.Header)
		if a.replays != nil {
			ctx = a.replays.start(ctx, acct)
		}
		ctx, end := loader.NewContext(ctx, cfg.RequestTimeout, videos, acct, a.metrics.LoaderBatch)
		defer end()
		gql.ServeHTTP(w, r.WithContext(ctx))
	})
}

// noStore is every /query answer's Cache-Control, set as it is: net/http
// never changes a header's values, and it is full, so Add would copy it.
var noStore = []string{"no-store"}

// streamKind names the stream a request opens: "websocket", "sse", or ""
// for a plain request.
func streamKind(r *http.Request) string {
	switch {
	case r.Header.Get("Upgrade") != "":
		return "websocket"
	case (r.Method == http.MethodPost || r.Method == http.MethodGet) && gqlhttp.PrefersEventStream(r):
		return "sse"
	}
	return ""
}

// openStream returns ctx, cancelled when the app closes, for a stream of
// kind; done forgets it.
func (a *App) openStream(ctx context.Context, kind string) (_ context.Context, done func()) {
	ctx, cancel := context.WithCancel(ctx)
	closed := a.metrics.StreamOpened(kind)
	a.mu.Lock()
	if a.streams == nil {
		a.streams = map[*context.CancelFunc]bool{}
	}
	a.streams[&cancel] = true
	a.mu.Unlock()
	return ctx, func() {
		a.mu.Lock()
		delete(a.streams, &cancel)
		a.mu.Unlock()
		cancel()
		closed()
	}
}

// endStreams cancels every open stream: WebSocket connections close.
func (a *App) endStreams() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for cancel := range a.streams {
		(*cancel)()
	}
}

// websocket is the graphql-transport-ws transport (and the older
// graphql-ws): connection_init within 10 s, a ping every 15 s, at most
// MAX_SUBSCRIPTIONS_PER_CONNECTION subscriptions at once, closed after
// WEBSOCKET_IDLE_TIMEOUT without one. Its
// connection_init payload may carry the access token (X-Access-Token, or
// Authorization: Bearer when the server holds the key) and, in pass-through
// mode, the memories.ai key (Authorization), as headers would.
func (a *App) websocket(cfg Config, tokens *access.Tokens, fixedKey bool) graphql.Transport {
	var patterns []string
	for _, o := range cfg.CORSOrigins {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			patterns = append(patterns, u.Host)
		} else {
			patterns = append(patterns, o) // "*", or a bare host
		}
	}
	return gqlhttp.Websocket(transport.Websocket{
		InitTimeout:      10 * time.Second,
		PingPongInterval: 15 * time.Second,
		InitFunc: func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			h := http.Header{}
			for k, v := range payload {
				if s, ok := v.(string); ok {
					h.Set(k, s)
				}
			}
			if tokens.Enabled() && !tokens.Check(h) && !tokens.Check(upgradeHeaders(ctx)) {
				ctx = transport.WithWebsocketCloseCode(ctx, 4403)
				return transport.AppendCloseReason(ctx, "Forbidden"), nil, errors.New("missing or invalid access token: send it in connection_init's payload as " + access.Header)
			}
			if s, ok := loader.StreamFrom(ctx); ok && !fixedKey && h.Get("Authorization") != "" {
				s.Account, _ = account.New(h.Get("Authorization"))
				ctx = loader.WithStream(ctx, s)
			}
			return ctx, nil, nil
		},
	},
		// Browsers send Origin on a WebSocket and CORS does not apply:
		// only this server's own origin and CORS_ALLOWED_ORIGINS may open
		// one.
		coderws.AcceptOptions{OriginPatterns: patterns},
		cfg.MaxSubscriptionsPerConnection, cfg.WebsocketIdleTimeout)
}

// upgradeHeaders returns the headers of the request that opened the
// WebSocket whose context ctx is.
func upgradeHeaders(ctx context.Context) http.Header {
	h, _ := ctx.Value(upgradeHeadersKey{}).(http.Header)
	return h
}

type upgradeHeadersKey struct{}

// Handler returns the service's HTTP handler.
func (a *App) Handler() http.Handler { return a.handler }

// Drain makes /readyz answer 503, so that load balancers stop sending new
// requests before the server closes its listener, and ends every
// subscription: each gets a SHUTTING_DOWN error and completes, so that
// event streams end before the drain waits for them.
func (a *App) Drain() {
	a.ready.Store(false)
	_ = a.watch.Close()
}

// NewLogger returns the service's logger: text or json, at level, tagging
// every record of a request with its request id.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(reqlog.NewHandler(w, false, lvl)), nil
	case "json":
		return slog.New(reqlog.NewHandler(w, true, lvl)), nil
	default:
		return nil, fmt.Errorf("LOG_FORMAT must be text or json, got %q", format)
	}
}
