package main

import (
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// The mode is the first argument; without one (or with a flag first) it is
// load, and the arguments are left whole.
func TestModeOf(t *testing.T) {
	tests := []struct {
		args     []string
		wantMode string
		wantArgs []string
	}{
		{nil, "load", nil},
		{[]string{"-duration", "3s"}, "load", []string{"-duration", "3s"}},
		{[]string{"load", "-duration", "3s"}, "load", []string{"-duration", "3s"}},
		{[]string{"per-query", "-sizes", "10,60"}, "per-query", []string{"-sizes", "10,60"}},
		{[]string{"vs-floor", "-floor", "d"}, "vs-floor", []string{"-floor", "d"}},
		{[]string{"vs-apollo", "-apollo", "d"}, "vs-apollo", []string{"-apollo", "d"}},
		{[]string{"abuse"}, "abuse", []string{}},
		{[]string{"library", "-first", "200"}, "library", []string{"-first", "200"}},
	}
	for _, tt := range tests {
		c, args, err := modeOf(tt.args)
		if err != nil || c.name != tt.wantMode || !slices.Equal(args, tt.wantArgs) {
			t.Errorf("modeOf(%q) = %s, %q, %v; want %s, %q", tt.args, c.name, args, err, tt.wantMode, tt.wantArgs)
		}
	}
	if _, _, err := modeOf([]string{"vs-flor"}); err == nil {
		t.Error("modeOf(vs-flor) found a mode; want an error")
	}
}

// parseMode parses args as loadtest's command line would, without running.
func parseMode(t *testing.T, args ...string) (*options, error) {
	t.Helper()
	c, rest, err := modeOf(args)
	if err != nil {
		t.Fatal(err)
	}
	f := c.flags()
	f.SetOutput(io.Discard)
	return f.parse(rest)
}

// Each mode holds only the flags it uses.
func TestModeFlags(t *testing.T) {
	server := []string{"server-bin", "server-env", "server-log", "server-log-level"}
	want := map[string][]string{
		"load":      append([]string{"cache", "concurrency", "duration", "max-requests", "redis-url", "upstream-latency", "upstream-rate", "videos"}, server...),
		"per-query": append([]string{"sizes", "upstream-latency", "upstream-rate"}, server...),
		"vs-floor":  append([]string{"concurrency", "duration", "features", "floor", "rounds"}, server...),
		"vs-apollo": append([]string{"apollo", "base-bin", "call-floor", "concurrency", "duration", "rounds", "upstream-latency", "upstream-rate", "videos"}, server...),
		"abuse":     {"apollo", "attackers", "duration", "floor", "server-bin", "timeout"},
		"watch":     {"interval", "intervals", "server-bin"},
		"defer":     {"rounds", "server-bin", "upstream-rate", "videos"},
		"library":   append([]string{"first", "list-rate", "page-cap", "sizes", "upstream-latency"}, server...),
		// It builds its own server: no -server-bin, nor -server-log.
		"profile": {"concurrency", "duration", "out", "upstream-latency", "upstream-rate", "videos"},
	}
	for _, c := range commands() {
		var got []string
		c.flags().VisitAll(func(f *flag.Flag) { got = append(got, f.Name) })
		w := want[c.name]
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s flags = %q; want %q", c.name, got, w)
		}
	}
}

func TestParseMode(t *testing.T) {
	o, err := parseMode(t, "-duration", "3s", "-concurrency", "8", "-server-env", "GOGC=200", "-cache=false")
	if err != nil || o.duration != 3*time.Second || o.concurrency != 8 || o.serverEnv["GOGC"] != "200" || o.cache || o.latency != 5*time.Millisecond || o.videos != 500 {
		t.Errorf("load: %+v, %v", o, err)
	}
	o, err = parseMode(t, "per-query", "-sizes", "10,60", "-upstream-rate", "5")
	if err != nil || !slices.Equal(o.sizes, []int{10, 60}) || o.upstreamRate != 5 || o.logLevel != "info" {
		t.Errorf("per-query: %+v, %v", o, err)
	}
	o, err = parseMode(t, "vs-floor", "-floor", "../f", "-duration", "2s")
	if err != nil || o.floorDir != "../f" || o.rounds != 10 || o.duration != 2*time.Second || o.concurrency != 32 {
		t.Errorf("vs-floor: %+v, %v", o, err)
	}
	if o.floorFeatures {
		t.Errorf("vs-floor: -features on by default")
	}
	o, err = parseMode(t, "vs-floor", "-floor", "../f", "-features")
	if err != nil || !o.floorFeatures {
		t.Errorf("vs-floor -features: %+v, %v", o, err)
	}
	// vs-apollo's own defaults: 3 rounds, no upstream latency.
	o, err = parseMode(t, "vs-apollo", "-apollo", "a", "-call-floor", "f")
	if err != nil || o.apolloDir != "a" || o.callFloor != "f" || o.rounds != 3 || o.latency != 0 || o.duration != time.Minute {
		t.Errorf("vs-apollo: %+v, %v", o, err)
	}
	o, err = parseMode(t, "vs-apollo", "-apollo", "a", "-base-bin", "/tmp/base")
	if err != nil || o.baseBin != "/tmp/base" || o.callFloor != "" {
		t.Errorf("vs-apollo -base-bin: %+v, %v", o, err)
	}
	o, err = parseMode(t, "abuse", "-duration", "2s")
	if err != nil || o.duration != 2*time.Second || o.attackers != 10 || o.timeout != 2*time.Minute || o.apolloDir != "" {
		t.Errorf("abuse: %+v, %v", o, err)
	}
	o, err = parseMode(t, "library")
	if err != nil || !slices.Equal(o.sizes, []int{1000, 10_000, 100_000}) || !slices.Equal(o.firsts, []int{50, 200}) ||
		o.listRate != 5 || o.pageCap != 200 || o.latency != 20*time.Millisecond {
		t.Errorf("library defaults: %+v, %v", o, err)
	}
	o, err = parseMode(t, "library", "-sizes", "500,200000", "-first", "1,200", "-list-rate", "2.5", "-page-cap", "100", "-upstream-latency", "0s")
	if err != nil || !slices.Equal(o.sizes, []int{500, 200_000}) || !slices.Equal(o.firsts, []int{1, 200}) ||
		o.listRate != 2.5 || o.pageCap != 100 || o.latency != 0 {
		t.Errorf("library: %+v, %v", o, err)
	}
	// profile runs the load mode: it sets what load reads that it has no flag for.
	o, err = parseMode(t, "profile")
	if err != nil || o.duration != 40*time.Second || o.maxRequests != 10_000_000 || o.logLevel != "info" || o.profileOut != "cpu.pprof" || o.videos != 500 {
		t.Errorf("profile defaults: %+v, %v", o, err)
	}

	for _, args := range [][]string{
		{"-vs-floor", "d"},              // the old way
		{"load", "-floor", "d"},         // another mode's flag
		{"load", "extra"},               // an argument left over
		{"load", "-duration", "31m"},    // past the limit
		{"load", "-concurrency", "0"},   // below it
		{"load", "-server-env", "GOGC"}, // not KEY=VALUE
		{"per-query"},                   // no sizes
		{"per-query", "-sizes", "10,0"}, // not a count
		{"vs-floor", "-duration", "2s"}, // no -floor
		{"vs-floor", "-floor", "d", "-rounds", "0"},
		{"vs-apollo", "-call-floor", "f"}, // no -apollo
		{"vs-apollo", "-apollo", "a", "-videos", "5"},
		{"abuse", "-attackers", "0"},
		{"abuse", "-concurrency", "4"},
		{"library", "-first", "0"},   // no page (totalCount alone) would never end
		{"library", "-first", "201"}, // past videoLibrary's bound
		{"library", "-sizes", "1000,x"},
		{"library", "-sizes", "2000000"},
		{"library", "-list-rate", "0"},
		{"library", "-page-cap", "0"},
		{"library", "-upstream-latency", "-1s"},
		{"library", "-upstream-rate", "5"}, // the list budget is -list-rate
		{"profile", "-duration", "10s"},    // no time left to profile
		{"profile", "-server-bin", "b"},    // it builds its own
	} {
		var ue usageError
		if _, err := parseMode(t, args...); !errors.As(err, &ue) {
			t.Errorf("%q: error %v; want a usage error", args, err)
		}
	}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		err      error
		want     int
		wantSaid string
	}{
		{nil, 0, ""},
		{flag.ErrHelp, 0, ""},
		{usageError{flag.ErrHelp, true}, 0, ""},
		{usageError{errors.New("flag provided but not defined: -x"), true}, 2, ""},
		{usageError{errors.New("-duration must be in (0, 30m0s], got 0s"), false}, 2, "loadtest load: -duration must be"},
		{exitCode(130), 130, ""},
		{errors.New("go build: failed"), 1, "loadtest load: go build: failed"},
	}
	for _, tt := range tests {
		var out strings.Builder
		if got := exitStatus(&out, "load", tt.err); got != tt.want || !strings.HasPrefix(out.String(), tt.wantSaid) || (tt.wantSaid == "") != (out.Len() == 0) {
			t.Errorf("exitStatus(%v) = %d, said %q; want %d, saying %q", tt.err, got, out.String(), tt.want, tt.wantSaid)
		}
	}
}
