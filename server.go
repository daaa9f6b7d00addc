// Command memories-graphql serves memories.ai video metadata as GraphQL: one
// query can ask for many videos, each distinct video is fetched once, inside
// the account's rate limit, and failures stay on the videos they concern.
//
//	go run .              # the server; the built-in sandbox upstream when no key is set
//	go run . emulator     # the sandbox upstream alone, for your own tests
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/memories-facade/memories-graphql/graph"
	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/loader"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/playground"
	"github.com/memories-facade/memories-graphql/internal/ratelimit"
	"github.com/memories-facade/memories-graphql/internal/redisconn"
	"github.com/memories-facade/memories-graphql/internal/upstream"
	"github.com/memories-facade/memories-graphql/internal/videocache"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "error:", err)
		}
		stop()
		os.Exit(1)
	}
}

// defaultBaseURL is the real upstream.
const defaultBaseURL = "https://api.memories.ai"

// sandboxKey is the key the server uses against its in-process sandbox
// upstream; it opens nothing anywhere else.
const sandboxKey = "sandbox"

// config is every setting; each has an environment variable and a flag twin,
// and the flag wins.
type config struct {
	Host           string
	Port           int
	APIKey         string
	BaseURL        string
	RateLimit      float64
	RateBurst      int
	RequestTimeout time.Duration
	CallTimeout    time.Duration
	MaxVideos      int
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
}

// run is main without the process: it parses args and the environment,
// serves until ctx is done, then drains in-flight requests.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "emulator" {
		return emulator.Run(ctx, args[1:], getenv, stdout)
	}
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	logger, err := newLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}

	a, err := newApp(cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		// Long enough for a query that queues for rate budget.
		WriteTimeout: cfg.RequestTimeout + 10*time.Second,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("listening", "addr", ln.Addr().String(), "playground", "http://"+displayAddr(ln.Addr())+"/")

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	logger.Info("shutting down: draining in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.RequestTimeout+5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// displayAddr turns a wildcard listen address into one a browser can open.
func displayAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		if ok {
			return net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
		}
	}
	return addr.String()
}

// app is the wired service: its HTTP handler and what must be closed.
type app struct {
	handler http.Handler
	closers []func() error
}

// Close releases what newApp started (the sandbox upstream).
func (a *app) Close() error {
	var errs []error
	for _, c := range a.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// newApp wires the layers: HTTP → gqlgen → per-request loader → cache and
// cross-request coalescing → upstream source (limiter, retries) → memories
// client.
func newApp(cfg config, logger *slog.Logger) (*app, error) {
	a := &app{}
	baseURL, apiKey := cfg.BaseURL, cfg.APIKey
	if baseURL == "" && apiKey == "" {
		emu, err := emulator.Start(emulator.Options{
			Keys: []string{sandboxKey},
			// The sandbox behaves like an account whose limit matches the
			// setting, so raising it past the real limit shows what happens.
			RateLimit: cfg.RateLimit,
			Burst:     cfg.RateBurst,
			Latency:   20 * time.Millisecond,
		})
		if err != nil {
			return nil, fmt.Errorf("start sandbox upstream: %w", err)
		}
		a.closers = append(a.closers, emu.Close)
		baseURL, apiKey = emu.URL(), sandboxKey
		logger.Info("sandbox mode: no MEMORIES_API_KEY or MEMORIES_BASE_URL set, serving built-in sample videos from an in-process emulator", "upstream", baseURL)
	}
	if baseURL == "" {
		baseURL = defaultBaseURL
	}

	client, err := memories.NewClient(baseURL, memories.WithCallTimeout(cfg.CallTimeout))
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("upstream client: %w", err)
	}
	// Headroom: the upstream counts arrivals, we count departures, and the
	// network between them jitters. Running at 95% of the rate and holding
	// one burst token back keeps arrivals inside the upstream's bucket.
	perSecond, burst := cfg.RateLimit*0.95, max(1, cfg.RateBurst-1)
	local, err := videocache.NewLocal(cfg.CacheMaxEntries)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.closers = append(a.closers, local.Close)
	var (
		limiter upstream.Limiter
		store   videocache.Store = local
	)
	if cfg.RedisURL == "" {
		limiter, err = ratelimit.New(perSecond, burst)
	} else {
		// Replicas share one budget and one cache through Redis. While
		// Redis is unavailable each falls back on its own limiter, with
		// its share of the budget, and its own cache.
		conn, cerr := redisconn.Open(cfg.RedisURL, redisconn.Options{Prefix: cfg.RedisKeyPrefix, Timeout: cfg.RedisTimeout, Logger: logger})
		if cerr != nil {
			a.Close()
			return nil, cerr
		}
		a.closers = append(a.closers, conn.Close)
		n := cfg.ExpectedReplicas
		var fallback *ratelimit.Registry
		if fallback, err = ratelimit.New(perSecond/float64(n), max(1, burst/n)); err == nil {
			limiter, err = ratelimit.NewShared(conn, perSecond, burst, fallback)
		}
		store = videocache.NewShared(conn, local)
	}
	if err != nil {
		a.Close()
		return nil, err
	}
	src := videocache.New(
		upstream.New(client, limiter, upstream.Options{MaxConcurrency: cfg.MaxConcurrency}),
		store,
		videocache.TTLs{Parse: cfg.CacheTTLParse, Failed: cfg.CacheTTLFailed, Unparse: cfg.CacheTTLUnparse, NotFound: cfg.CacheTTLNotFound},
	)

	var fixed *account.Account
	if apiKey != "" {
		acct, ok := account.New(apiKey)
		if !ok {
			a.Close()
			return nil, errors.New("MEMORIES_API_KEY is blank")
		}
		fixed = &acct
	} else {
		logger.Info("pass-through mode: each request's Authorization header is used as its memories.ai API key")
	}

	gql := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}))
	gql.AddTransport(transport.Options{})
	gql.AddTransport(transport.GET{})
	gql.AddTransport(transport.POST{})
	gql.SetQueryCache(lru.New[*ast.QueryDocument](cfg.QueryCacheSize))
	gql.Use(extension.Introspection{})
	gql.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](cfg.QueryCacheSize)})
	gql.Use(graph.VideoLimit{Max: cfg.MaxVideos})
	gql.Use(graph.EntityKeys{})
	gql.SetErrorPresenter(graph.ErrorPresenter(logger))
	gql.SetRecoverFunc(graph.Recover(logger))

	r := chi.NewRouter()
	r.Use(middleware.RequestID, requestLogger(logger), middleware.Recoverer)
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	playgroundUI := playground.Handler("memories.ai video GraphQL", "/query")
	r.Handle("/", playgroundUI)
	r.Handle(playground.AssetPath+"*", playgroundUI)
	r.With(
		maxBody(cfg.MaxBodyBytes),
		withAccount(fixed),
		loader.Middleware(src, cfg.RequestTimeout, nil),
	).Handle("/query", gql)
	a.handler = r
	return a, nil
}

// withAccount puts the request's upstream account in its context: the
// server's own key when it has one, else the caller's Authorization header.
func withAccount(fixed *account.Account) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			if fixed != nil {
				ctx = account.NewContext(ctx, *fixed)
			} else if acct, ok := account.New(r.Header.Get("Authorization")); ok {
				ctx = account.NewContext(ctx, acct)
			}
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// maxBody refuses bodies over n bytes: by their Content-Length at once with
// 413, and a body without one when reading passes the limit.
func maxBody(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				fmt.Fprintf(w, `{"errors":[{"message":"request body exceeds %d bytes","extensions":{"code":"BAD_REQUEST"}}],"data":null}`+"\n", n)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// requestLogger logs one line per request; never headers, which carry keys.
func requestLogger(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("id", middleware.GetReqID(r.Context())),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", ww.Status()),
				slog.Duration("duration", time.Since(start)),
			)
		})
	}
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("LOG_FORMAT must be text or json, got %q", format)
	}
}
