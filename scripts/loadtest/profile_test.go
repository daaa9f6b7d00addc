package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The profile mode's build of our server serves a CPU profile where it
// says, and two such profiles merge into one that go tool pprof reads:
// what the mode writes to -out.
func TestProfiledServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server")
	}
	ctx := t.Context()
	root, err := moduleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	bin, err := buildProfiled(ctx, root, tmp)
	if err != nil {
		t.Fatal(err)
	}
	o := &options{logLevel: "info"}
	addrFile := filepath.Join(tmp, "pprof-addr")
	srv, err := o.startServer(ctx, bin, map[string]string{pprofAddrEnv: addrFile}, "") // the sandbox upstream
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()

	cpu := filepath.Join(tmp, "cpu.pprof")
	fctx, cancel := context.WithTimeout(ctx, time.Minute) // a server without the profiler says nothing
	defer cancel()
	if err := fetchProfile(fctx, addrFile, cpu, 0, time.Second); err != nil {
		t.Fatalf("fetchProfile: %v", err)
	}
	merged := filepath.Join(tmp, "merged.pprof")
	if err := mergeProfiles(ctx, merged, cpu, cpu); err != nil {
		t.Fatalf("mergeProfiles: %v", err)
	}
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-raw", merged).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof -raw: %v\n%s", err, out)
	}
	// Two profiles of one second each, of the profiled binary.
	for _, want := range []string{"PeriodType: cpu nanoseconds", "Duration: 2", filepath.Base(bin)} {
		if !strings.Contains(string(out), want) {
			t.Errorf("merged profile lacks %q:\n%.2000s", want, out)
		}
	}
	if err := o.loggedErrors(); err != nil {
		t.Error(err)
	}
}
