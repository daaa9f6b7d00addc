// Command loadtest measures the server, built from this module and run as
// its own process on loopback, in one of nine modes, each a subcommand with
// flags of its own (loadtest MODE -h lists them):
//
//	go run ./scripts/loadtest [load] -duration 60s -concurrency 32
//	go run ./scripts/loadtest per-query -sizes 10,60,500,2000 -upstream-rate 5 -upstream-latency 20ms
//	go run ./scripts/loadtest vs-floor -floor ../shared/bench/gqlgen-floor -duration 5s -rounds 10
//	go run ./scripts/loadtest vs-apollo -apollo scripts/apollo-baseline -call-floor ../shared/bench/gqlgen-floor
//	go run ./scripts/loadtest abuse -apollo scripts/apollo-baseline -floor ../shared/bench/gqlgen-floor
//	go run ./scripts/loadtest watch -interval 1s
//	go run ./scripts/loadtest defer -videos 100 -upstream-rate 5
//	go run ./scripts/loadtest library -sizes 1000,10000,100000 -first 50,200 -list-rate 5
//	go run ./scripts/loadtest profile -out cpu.pprof
//
// load, the mode without a name, drives the server in front of the
// memories.ai emulator with concurrent mixed queries for a fixed time. It
// reports requests, requests/s, non-2xx answers, GraphQL errors by code,
// latency percentiles and the server's memory (peak RSS, and RSS every 10 s
// to show whether it stays flat). It exits 1 if any answer was not 2xx, a
// request failed, or an answer was wrong; 130 when interrupted (Ctrl-C
// prints the report so far). In every mode, a record our server logs at
// ERROR (its bugs only) makes the run exit 1.
//
// per-query prints the wall time of one query for each number of videos,
// with list_videos batching on and off; vs-floor compares cache hits with
// the bare gqlgen server; vs-apollo compares upstream calls with the Apollo
// Server baseline (and the bare gqlgen server making the same call); abuse
// sends hostile requests to each and times a normal query under attack.
// watch counts the upstream calls of watchVideos subscribers; defer times
// the parts of a @defer answer. library pages through whole libraries with
// videoLibrary, after each page's endCursor until hasNextPage is false, and
// reports the wall time and the upstream calls of each run; it exits 1
// unless every video was seen exactly once, as many as totalCount. profile
// writes our server's CPU profile under the load mode's mixed queries, the
// cache on and off.
//
// Every mode exits 1 when it fails and 2 on a mistake in its arguments.
// Memory and CPU are read from /proc, so those figures need Linux.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// command is one mode: its name, what it does in a line, its flags (a
// fresh set over fresh options on each call) and the mode itself, which
// runs our server's binary bin and keeps its builds and scripts in tmp.
type command struct {
	name    string
	summary string
	flags   func() *modeFlags
	run     func(ctx context.Context, o *options, bin, tmp string) error
	// ownBuild: the mode builds the server it runs, and is given none.
	ownBuild bool
}

// commands are the modes; the first is the one run without a name.
func commands() []command {
	return []command{
		{"load", "concurrent mixed queries in front of the emulator for -duration (the default mode)", loadFlags, load, false},
		{"per-query", "the wall time of one query for each of -sizes videos, list_videos batching on and off", perQueryFlags, perQuery, false},
		{"vs-floor", "cache hits against the bare gqlgen server of -floor", floorFlags, vsFloor, false},
		{"vs-apollo", "upstream calls against the Apollo Server baseline of -apollo (and the bare gqlgen server of -call-floor)", apolloFlags, vsApollo, false},
		{"abuse", "hostile requests to ours (and -apollo, -floor), and a normal query's latency under attack", abuseFlags, abuse, false},
		{"watch", "watchVideos: upstream calls per interval for S subscribers of V videos, memory per subscription, event latency", watchFlags, watch, false},
		{"defer", "@defer over multipart/mixed: when the first part and each video's detail arrive, against the plain query", deferFlags, deferMode, false},
		{"library", "videoLibrary: wall time and upstream calls to page through whole libraries of -sizes videos, -first a page", libraryFlags, library, false},
		{"profile", "our server's CPU profile under the load mode's mix, cache on and off, merged into -out", profileFlags, profile, true},
	}
}

func main() {
	if cfg := os.Getenv(emulatorChildEnv); cfg != "" {
		os.Exit(emulatorChild(cfg)) // this binary re-executed as the emulator process
	}
	if len(os.Args) > 1 && os.Args[1] == "help" {
		overview(os.Stdout)
		return
	}
	cmd, args, err := modeOf(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		overview(os.Stderr)
		os.Exit(2)
	}
	o, err := cmd.flags().parse(args)
	if err == nil {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		go func() {
			// After the first Ctrl-C the default action returns, so a
			// second one ends the program at once.
			<-ctx.Done()
			stop()
		}()
		err = runMode(ctx, cmd, o)
		stop()
	}
	os.Exit(exitStatus(os.Stderr, cmd.name, err))
}

// runMode makes the mode's temporary directory, builds this module's
// server into it unless -server-bin names one, and runs the mode.
func runMode(ctx context.Context, cmd command, o *options) error {
	tmp, err := os.MkdirTemp("", "loadtest-"+cmd.name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := o.serverBin
	if bin == "" && !cmd.ownBuild {
		if bin, err = buildServer(ctx, tmp); err != nil {
			return err
		}
	}
	err = cmd.run(ctx, o, bin, tmp)
	return errors.Join(err, o.loggedErrors())
}

// modeOf finds the mode args name and returns it with the arguments after
// the name: without one (no arguments, or a flag first), the first mode.
func modeOf(args []string) (command, []string, error) {
	cmds := commands()
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return cmds[0], args, nil
	}
	for _, c := range cmds {
		if c.name == args[0] {
			return c, args[1:], nil
		}
	}
	return command{}, nil, fmt.Errorf("no mode %q", args[0])
}

// overview says how to run loadtest and lists the modes.
func overview(w io.Writer) {
	fmt.Fprint(w, "usage: loadtest [MODE] [flags]\n\n")
	listModes(w)
}

// listModes lists the modes, a line each.
func listModes(w io.Writer) {
	fmt.Fprintln(w, "modes (loadtest MODE -h lists a mode's flags):")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
}

// exitCode is an error that ends the program with that status and nothing
// more said: the mode has printed why.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

// exitStatus is the program's status after mode ended with err, which it
// prints to w unless it has been said already.
func exitStatus(w io.Writer, mode string, err error) int {
	var (
		code  exitCode
		usage usageError
	)
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		if !usage.said {
			fmt.Fprintf(w, "loadtest %s: %v\n", mode, err)
		}
		return 2
	}
	fmt.Fprintf(w, "loadtest %s: %v\n", mode, err)
	return 1
}
