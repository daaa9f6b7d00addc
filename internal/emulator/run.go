package emulator

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/memories-facade/memories-graphql/internal/envflag"
)

// defaultRunAddr is the address Run listens on unless -addr or
// EMULATOR_ADDR says otherwise: a fixed port, so that people can configure
// their clients once.
const defaultRunAddr = "127.0.0.1:9090"

// Run is the standalone emulator: it parses args (without the program or
// subcommand name), starts a server, prints
//
//	memories.ai emulator listening on http://127.0.0.1:9090
//
// to stdout and serves until ctx is done, then closes gracefully. The
// façade's main calls it for "go run . emulator [flags]".
//
// Flags, each with an environment twin read through getenv (nil means no
// environment); a flag on the command line wins over its variable:
//
//	-addr              EMULATOR_ADDR               listen address (default 127.0.0.1:9090)
//	-keys              EMULATOR_KEYS               comma-separated accepted keys (default: any non-empty key)
//	-rate-limit        EMULATOR_RATE_LIMIT         requests per second per key (default 0, unlimited)
//	-burst             EMULATOR_BURST              bucket size per key (default 1 with a rate limit)
//	-latency           EMULATOR_LATENCY            delay before every answer, e.g. 150ms
//	-rate-limit-status EMULATOR_RATE_LIMIT_STATUS  HTTP status of 0429 answers (default 200)
//	-retry-after       EMULATOR_RETRY_AFTER        send Retry-After with 0429 answers
//	-list-rate-limit   EMULATOR_LIST_RATE_LIMIT    list_videos requests per second per key (default 0, unlimited)
//	-list-burst        EMULATOR_LIST_BURST         list_videos bucket size per key (default 1 with a list rate limit)
//	-list-page-cap     EMULATOR_LIST_PAGE_CAP      largest list_videos page served (default 100)
//	-list-disabled     EMULATOR_LIST_DISABLED      answer list_videos with 404, like an upstream without it
//	-videos            EMULATOR_VIDEOS             JSON file of videos to serve instead of the samples (see ParseVideos)
//	-verbose           EMULATOR_VERBOSE            log every request to stdout
//
// With -h it prints the usage to stdout and returns nil.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var (
		opts       Options
		keys       string
		videosPath string
		verbose    bool
	)
	fs.StringVar(&opts.Addr, "addr", defaultRunAddr, "listen `address`")
	fs.StringVar(&keys, "keys", "", "comma-separated accepted API `keys`; empty accepts any non-empty key")
	fs.Float64Var(&opts.RateLimit, "rate-limit", 0, "per-key rate limit in `requests/second`; 0 is unlimited")
	fs.IntVar(&opts.Burst, "burst", 0, "per-key burst `size`; 0 means 1 with a rate limit")
	fs.DurationVar(&opts.Latency, "latency", 0, "`delay` added before every answer")
	fs.IntVar(&opts.RateLimitStatus, "rate-limit-status", 200, "HTTP `status` of rate-limited (0429) answers")
	fs.BoolVar(&opts.RetryAfterHeader, "retry-after", false, "send a Retry-After header with rate-limited answers")
	fs.Float64Var(&opts.ListRateLimit, "list-rate-limit", 0, "per-key rate limit of list_videos in `requests/second`; 0 is unlimited")
	fs.IntVar(&opts.ListBurst, "list-burst", 0, "per-key burst `size` of list_videos; 0 means 1 with a list rate limit")
	fs.IntVar(&opts.ListPageCap, "list-page-cap", DefaultListPageCap, "largest list_videos page `size` served")
	fs.BoolVar(&opts.ListDisabled, "list-disabled", false, "answer list_videos with 404, like an upstream without it")
	fs.StringVar(&videosPath, "videos", "", "JSON `file` of videos to serve instead of the embedded samples")
	fs.BoolVar(&verbose, "verbose", false, "log every request to stdout")

	if err := envflag.Parse(fs, args, "EMULATOR_", getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("emulator: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("emulator: unexpected arguments %q", fs.Args())
	}

	for k := range strings.SplitSeq(keys, ",") {
		if k = strings.TrimSpace(k); k != "" {
			opts.Keys = append(opts.Keys, k)
		}
	}
	if videosPath != "" {
		data, err := os.ReadFile(videosPath)
		if err != nil {
			return fmt.Errorf("emulator: %w", err)
		}
		if opts.Videos, err = ParseVideos(data); err != nil {
			return fmt.Errorf("emulator: %s: %w", videosPath, err)
		}
		if opts.Videos == nil {
			// An empty file means no videos, not the samples.
			opts.Videos = []Video{}
		}
	}
	if verbose {
		opts.Logger = slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}

	s, err := Start(opts)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "memories.ai emulator listening on %s\n", s.URL()); err != nil {
		return errors.Join(fmt.Errorf("emulator: %w", err), s.Close())
	}
	select {
	case <-ctx.Done():
		return s.Close()
	case <-s.served:
		// Serve stopped on its own, which only a broken listener does.
		return errors.Join(fmt.Errorf("emulator: serve: %w", s.serveErr), s.Close())
	}
}
