package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// profileUsage introduces the profile mode.
const profileUsage = `usage: loadtest profile [flags]

Writes a CPU profile of our server under the load mode's mixed queries, for
go tool pprof (or go build -pgo): it builds our server with a profiler
added (pprof-server.go.txt, through go build -overlay; the server serves
none of its own), runs the load mode against it twice, with the
cross-request cache on and then off, profiles each run but for its first
and last 5 s, and merges the two profiles into -out. Each run is checked as
the load mode checks it: a wrong answer or an ERROR record fails the mode
and leaves -out as it was.

`

// profileFlags are the profile mode's flags.
func profileFlags() *modeFlags {
	f := newModeFlags("profile", profileUsage)
	f.durationFlag(40*time.Second, "each of the two runs; the profile covers all but its first 5 s and last 5 s")
	f.check(func() error {
		if f.o.duration < 20*time.Second {
			return fmt.Errorf("-duration must be at least 20s, got %v", f.o.duration)
		}
		return nil
	})
	f.concurrencyFlag("concurrent clients, each sending one request at a time")
	f.o.maxRequests = 10_000_000
	f.o.logLevel = "info" // as in production: one record per request
	f.upstreamFlags(5*time.Millisecond, "upstream calls per second the emulator allows, and the server's MEMORIES_RATE_LIMIT")
	f.videosFlag("distinct videos the emulator serves")
	f.StringVar(&f.o.profileOut, "out", "cpu.pprof", "where to write the merged profile")
	return f
}

// pprofServer is the file the profile mode adds to our server's main package.
//
//go:embed pprof-server.go.txt
var pprofServer []byte

// pprofAddrEnv names the file where the profiled server writes the address
// of its profiler.
const pprofAddrEnv = "LOADTEST_PPROF_ADDR_FILE"

// profile is the profile mode (see profileUsage). It builds its own
// server: the one runMode would build has no profiler.
func profile(ctx context.Context, o *options, _, tmp string) error {
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	bin, err := buildProfiled(ctx, root, tmp)
	if err != nil {
		return err
	}
	var profiles []string
	for _, cache := range []bool{true, false} {
		p, err := profileLoad(ctx, o, bin, tmp, cache)
		if err != nil {
			return err
		}
		profiles = append(profiles, p)
	}
	if err := mergeProfiles(ctx, o.profileOut, profiles...); err != nil {
		return err
	}
	fmt.Printf("\nwrote %s, the merged CPU profile of the two runs (cache on, cache off): go tool pprof -top %[1]s\n", o.profileOut)
	return nil
}

// buildProfiled builds this module's server with pprofServer added to its
// main package, into tmp.
func buildProfiled(ctx context.Context, root, tmp string) (string, error) {
	src := filepath.Join(tmp, "pprof-server.go")
	if err := os.WriteFile(src, pprofServer, 0o600); err != nil {
		return "", err
	}
	overlay, err := json.Marshal(map[string]map[string]string{
		"Replace": {filepath.Join(root, "zz_loadtest_pprof.go"): src},
	})
	if err != nil {
		return "", err
	}
	overlayPath := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlayPath, overlay, 0o600); err != nil {
		return "", err
	}
	bin := filepath.Join(tmp, "memories-graphql-profiled")
	if err := goBuild(ctx, root, bin, "-overlay", overlayPath); err != nil {
		return "", err
	}
	return bin, nil
}

// profileLoad runs the load mode against bin, the cache on or off, and
// returns the path of the CPU profile taken during it.
func profileLoad(ctx context.Context, o *options, bin, tmp string, cache bool) (string, error) {
	addrFile := filepath.Join(tmp, "pprof-addr-cache-"+strconv.FormatBool(cache))
	path := filepath.Join(tmp, "cpu-cache-"+strconv.FormatBool(cache)+".pprof")
	run := *o
	run.cache = cache
	run.serverEnv = map[string]string{pprofAddrEnv: addrFile} // the mode has no -server-env

	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	profiled := make(chan error, 1)
	go func() { profiled <- fetchProfile(pctx, addrFile, path, 5*time.Second, o.duration-10*time.Second) }()
	fmt.Printf("== the load mode, cache %s, profiled\n", map[bool]string{true: "on", false: "off"}[cache])
	err := load(ctx, &run, bin, tmp)
	o.servers = run.servers // for the ERROR check at the end of the mode
	if err != nil {
		return "", err
	}
	if err := <-profiled; err != nil {
		return "", fmt.Errorf("profile of the run with the cache %v: %w", cache, err)
	}
	return path, nil
}

// fetchProfile waits for the server to write its profiler's address to
// addrFile, lets the load warm up for warmUp, and saves a CPU profile of
// length (whole seconds) to path.
func fetchProfile(ctx context.Context, addrFile, path string, warmUp, length time.Duration) error {
	var addr []byte
	for {
		var err error
		if addr, err = os.ReadFile(addrFile); err == nil {
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.New("the server never said where its profiler listens")
		case <-time.After(50 * time.Millisecond):
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(warmUp):
	}
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(length.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("%s: %s: %s", url, resp.Status, body)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// mergeProfiles writes the merge of profiles to out, with go tool pprof,
// through a file beside out renamed into place: a failed merge leaves out
// as it was.
func mergeProfiles(ctx context.Context, out string, profiles ...string) error {
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // after a rename, nothing
	cmd := exec.CommandContext(ctx, "go", append([]string{"tool", "pprof", "-proto"}, profiles...)...)
	cmd.Stdout = f
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("go tool pprof -proto: %w\n%s", err, stderr.Bytes())
	}
	return os.Rename(tmp, out)
}
