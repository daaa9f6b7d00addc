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
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/memories-facade/memories-graphql/internal/app"
	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/flushwriter"
)

// version is what the build says this binary is; scripts/image.sh stamps it
// with -ldflags "-X main.version=$(git describe --always --dirty)".
var version = "dev"

// commit, when stamped (-X main.commit=...), is the revision built from;
// otherwise buildInfo reads what the go command recorded, if it did.
var commit = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "error:", err)
		}
		stop()
		os.Exit(1)
	}
}

// run is main without the process: it parses args and the environment,
// serves until ctx is done, then drains in-flight requests. listening, if
// not nil, is told the address once the server accepts connections.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, listening func(net.Addr)) error {
	if len(args) > 0 && args[0] == "emulator" {
		return emulator.Run(ctx, args[1:], getenv, stdout)
	}
	build := buildInfo()
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		_, err := fmt.Fprintf(stdout, "memories-graphql %s (commit %s, %s)\n", build.Version, build.Commit, build.GoVersion)
		return err
	}
	cfg, err := app.ParseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	cfg.Build = build
	// One write per 100ms rather than one per request; Close (after the
	// drain) writes what is left.
	logOut := flushwriter.New(stderr, 100*time.Millisecond)
	defer logOut.Close()
	logger, err := app.NewLogger(logOut, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}

	a, err := app.New(cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// Long enough for a query that queues for rate budget.
		WriteTimeout: cfg.RequestTimeout + 10*time.Second,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("listening", "addr", ln.Addr().String(), "playground", "http://"+displayAddr(ln.Addr())+"/", "version", build.Version, "commit", build.Commit)
	if cfg.Exposed(ln.Addr()) {
		logger.Warn("SECURITY: this server holds MEMORIES_API_KEY and listens beyond loopback without ACCESS_TOKENS: " +
			"anyone who can reach it spends that memories.ai account. Set ACCESS_TOKENS, or HOST=127.0.0.1.")
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	if listening != nil {
		listening(ln.Addr())
	}
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	// Fail readiness first, so that load balancers stop sending new
	// requests, then stop accepting and drain what is in flight.
	a.Drain()
	logger.Info("shutting down: draining in-flight requests", "delay", cfg.ShutdownDelay)
	if cfg.ShutdownDelay > 0 {
		time.Sleep(cfg.ShutdownDelay)
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.RequestTimeout+5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// displayAddr turns a wildcard listen address into one a browser can open.
func displayAddr(addr net.Addr) string {
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		return net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
	}
	return addr.String()
}

// buildInfo is what this binary says of itself: the stamped version, the
// stamped commit or else the VCS revision the go command recorded (go
// build in a checkout records it unless -buildvcs=false; go run does not),
// and the Go version.
func buildInfo() app.Build {
	b := app.Build{Version: version, Commit: "unknown", GoVersion: runtime.Version()}
	if commit != "" {
		b.Commit = commit
		return b
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && b.Commit != "unknown" {
		b.Commit += "-dirty"
	}
	return b
}
