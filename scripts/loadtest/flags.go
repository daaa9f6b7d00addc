package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"
)

// Limits that keep a mistyped flag from turning into an endless run.
const (
	maxDuration    = 30 * time.Minute
	maxConcurrency = 1024
)

// options are what a mode's flags set; a mode reads only the fields of the
// flags it registers.
type options struct {
	// shared by several modes (see modeFlags)
	duration      time.Duration
	concurrency   int
	rounds        int
	latency       time.Duration // -upstream-latency
	upstreamRate  float64
	videos        int
	serverBin     string
	serverLog     string
	logLevel      string            // -server-log-level
	serverEnv     map[string]string // -server-env, set on every server of ours
	floorDir      string            // -floor: vs-floor, abuse
	floorFeatures bool              // -features: vs-floor
	apolloDir     string            // -apollo: vs-apollo, abuse

	servers []*server // ours, as started (startServer)

	// load
	maxRequests int64
	cache       bool
	redisURL    string
	// per-query
	sizes []int
	// vs-apollo
	callFloor string
	baseBin   string // another build of ours, run with its defaults beside this one
	// abuse
	attackers int
	timeout   time.Duration
	// watch
	interval  time.Duration
	intervals int
	// library (and sizes)
	firsts   []int
	listRate float64
	pageCap  int
	// profile
	profileOut string
}

// modeFlags is one mode's flag set. Its methods register the flags that
// several modes share, each filling its field of o, and parse checks the
// values they were given.
type modeFlags struct {
	*flag.FlagSet
	o      *options
	checks []func() error
}

// usageError is a mistake in a mode's arguments (exit status 2); said when
// the flag package has printed it already, with the usage.
type usageError struct {
	err  error
	said bool
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// newModeFlags is the empty flag set of the mode name, whose -h prints
// usage, the flags and the modes.
func newModeFlags(name, usage string) *modeFlags {
	f := &modeFlags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), o: &options{}}
	f.Usage = func() {
		fmt.Fprint(f.Output(), usage)
		f.PrintDefaults()
		fmt.Fprintln(f.Output())
		listModes(f.Output())
	}
	return f
}

// check adds a check of the values parsed.
func (f *modeFlags) check(c func() error) { f.checks = append(f.checks, c) }

// parse parses args, none of which may be left over, and checks the values.
func (f *modeFlags) parse(args []string) (*options, error) {
	if err := f.Parse(args); err != nil {
		return nil, usageError{err, true}
	}
	if f.NArg() > 0 {
		return nil, usageError{fmt.Errorf("unexpected arguments %q", f.Args()), false}
	}
	for _, c := range f.checks {
		if err := c(); err != nil {
			return nil, usageError{err, false}
		}
	}
	return f.o, nil
}

// checkRange adds a check that *p, the value of the flag name, is in
// [lo, hi].
func (f *modeFlags) checkRange(name string, p *int, lo, hi int) {
	f.check(func() error {
		if *p < lo || *p > hi {
			return fmt.Errorf("-%s must be in [%d, %d], got %d", name, lo, hi, *p)
		}
		return nil
	})
}

// checkAtLeast adds a check that *p, the value of the flag name, is at
// least lo.
func checkAtLeast[T int | int64](f *modeFlags, name string, p *T, lo T) {
	f.check(func() error {
		if *p < lo {
			return fmt.Errorf("-%s must be at least %d, got %d", name, lo, *p)
		}
		return nil
	})
}

// durationFlag registers -duration: how long each run lasts.
func (f *modeFlags) durationFlag(def time.Duration, usage string) {
	f.DurationVar(&f.o.duration, "duration", def, usage+"; at most 30m")
	f.check(func() error {
		if f.o.duration <= 0 || f.o.duration > maxDuration {
			return fmt.Errorf("-duration must be in (0, %v], got %v", maxDuration, f.o.duration)
		}
		return nil
	})
}

// concurrencyFlag registers -concurrency: the clients sending at once.
func (f *modeFlags) concurrencyFlag(usage string) {
	f.IntVar(&f.o.concurrency, "concurrency", 32, usage)
	f.checkRange("concurrency", &f.o.concurrency, 1, maxConcurrency)
}

// roundsFlag registers -rounds: the interleaved wrk rounds.
func (f *modeFlags) roundsFlag(def int, usage string) {
	f.IntVar(&f.o.rounds, "rounds", def, usage)
	f.checkRange("rounds", &f.o.rounds, 1, 100)
}

// upstreamFlags registers -upstream-latency, with the default latency, and
// -upstream-rate: how the emulator answers.
func (f *modeFlags) upstreamFlags(latency time.Duration, rateUsage string) {
	f.DurationVar(&f.o.latency, "upstream-latency", latency, "latency the emulator adds to every upstream answer")
	f.Float64Var(&f.o.upstreamRate, "upstream-rate", 100_000, rateUsage)
	f.check(func() error {
		if f.o.upstreamRate < 0 || f.o.latency < 0 {
			return errors.New("-upstream-rate and -upstream-latency must not be negative")
		}
		return nil
	})
}

// videosFlag registers -videos: how many videos the emulator serves.
func (f *modeFlags) videosFlag(usage string) {
	f.IntVar(&f.o.videos, "videos", 500, usage)
	checkAtLeast(f, "videos", &f.o.videos, 20)
}

// serverBinFlag registers -server-bin: which build of ours to run.
func (f *modeFlags) serverBinFlag() {
	f.StringVar(&f.o.serverBin, "server-bin", "", "a server binary to run; empty builds this module's")
}

// serverFlags registers -server-bin and how our server runs: -server-log,
// -server-log-level and -server-env.
func (f *modeFlags) serverFlags(logUsage string) {
	f.serverBinFlag()
	f.StringVar(&f.o.serverLog, "server-log", "", logUsage)
	f.StringVar(&f.o.logLevel, "server-log-level", "info", "the server's LOG_LEVEL (info logs one line per request, as in production)")
	f.Func("server-env", "a `KEY=VALUE` to set in our server's environment after the mode's own settings, such as GOGC=200 (repeatable)", func(kv string) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return errors.New("want KEY=VALUE")
		}
		if f.o.serverEnv == nil {
			f.o.serverEnv = map[string]string{}
		}
		f.o.serverEnv[k] = v
		return nil
	})
}

// floorFlag registers -floor, the directory of the bare gqlgen server
// (../shared/bench/gqlgen-floor), which a mode may require.
func (f *modeFlags) floorFlag(required bool, usage string) {
	f.dirFlag(&f.o.floorDir, "floor", required, usage)
}

// apolloFlag registers -apollo, the directory of the Apollo Server
// baseline (scripts/apollo-baseline), which a mode may require.
func (f *modeFlags) apolloFlag(required bool, usage string) {
	f.dirFlag(&f.o.apolloDir, "apollo", required, usage)
}

func (f *modeFlags) dirFlag(p *string, name string, required bool, usage string) {
	f.StringVar(p, name, "", usage)
	if required {
		f.check(func() error {
			if *p == "" {
				return fmt.Errorf("-%s DIR is required", name)
			}
			return nil
		})
	}
}
