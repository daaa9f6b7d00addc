package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// callFloorResolvers replaces gqlgen-floor's resolvers in the -vs-apollo
// mode's "gqlgen-floor + call": the same get_metadata call as Apollo's and
// ours, and nothing else.
//
//go:embed callfloor-resolvers.go.txt
var callFloorResolvers []byte

// callFloor is the running "gqlgen-floor + call" server.
type callFloor struct {
	cmd *exec.Cmd
	url string
}

// startCallFloor copies the bare gqlgen server in dir (shared/bench/
// gqlgen-floor) into tmp, puts callFloorResolvers in place of its
// resolvers, builds it and runs it on a free loopback port against the
// upstream at baseURL.
func startCallFloor(ctx context.Context, dir, tmp, baseURL string) (*callFloor, error) {
	src := filepath.Join(tmp, "callfloor-src")
	if err := os.CopyFS(src, os.DirFS(dir)); err != nil {
		return nil, fmt.Errorf("copy %s: %w", dir, err)
	}
	// The copy keeps the source's modes; the shared directory is read-only.
	if err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		return os.Chmod(path, mode)
	}); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(src, "graph", "schema.resolvers.go"), callFloorResolvers, 0o644); err != nil {
		return nil, err
	}
	bin := filepath.Join(tmp, "callfloor")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build gqlgen-floor + call: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin) // its log discarded
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOST=127.0.0.1", "PORT=" + strconv.Itoa(port),
		"MEMORIES_BASE_URL=" + baseURL, "MEMORIES_API_KEY=" + loadKey}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	f := &callFloor{cmd: cmd, url: "http://" + addr + "/query"}
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return f, nil
		}
		if time.Now().After(deadline) {
			f.stop()
			return nil, errors.New("gqlgen-floor + call did not listen within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (f *callFloor) stop() {
	_ = f.cmd.Process.Kill()
	_ = f.cmd.Wait()
}

// callFloorName names the "gqlgen-floor + call" server in the reports.
const callFloorName = "gqlgen-floor + call (get_metadata)"
