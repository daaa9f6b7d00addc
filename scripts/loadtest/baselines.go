package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// apolloProcess is the running Apollo Server baseline.
type apolloProcess struct {
	*child
	url string
}

// startApollo runs dir's server.mjs with NODE_ENV=production on a free
// loopback port against the upstream at baseURL, and waits for its
// "listening" line.
func startApollo(ctx context.Context, dir, baseURL string) (*apolloProcess, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("node", "server.mjs")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "NODE_ENV=production", "HOST=127.0.0.1", "PORT=" + strconv.Itoa(port),
		"MEMORIES_BASE_URL=" + baseURL, "MEMORIES_API_KEY=" + loadKey}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	up := make(chan struct{}, 1)
	c, err := startChild(cmd, func() { _ = cmd.Process.Signal(syscall.SIGTERM) }, 10*time.Second, func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				select {
				case up <- struct{}{}:
				default:
				}
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("start Apollo: %w", err)
	}
	if _, err := awaitReady(ctx, c, up, "Apollo"); err != nil {
		return nil, err
	}
	return &apolloProcess{child: c, url: fmt.Sprintf("http://127.0.0.1:%d/", port)}, nil
}

// floorServer is a running build of the bare gqlgen server
// (shared/bench/gqlgen-floor): as it is for vs-floor and abuse, with
// featuresFloorServer for vs-floor -features, or with callFloorResolvers
// for vs-apollo.
type floorServer struct {
	*child
	url string // its /query
}

// startFloor builds the bare gqlgen server in dir into tmp, with files
// (paths relative to dir) in place of its own, runs it on a free loopback
// port with env (plus PATH, HOST and PORT), its log discarded, and waits
// until it accepts connections. name tells the builds apart in tmp.
func startFloor(ctx context.Context, dir, tmp, name string, files map[string][]byte, env ...string) (*floorServer, error) {
	src := dir
	if len(files) > 0 {
		src = filepath.Join(tmp, name+"-src")
		if err := copyWritable(src, dir); err != nil {
			return nil, err
		}
		for path, text := range files {
			if err := os.WriteFile(filepath.Join(src, filepath.FromSlash(path)), text, 0o644); err != nil {
				return nil, err
			}
		}
	}
	bin := filepath.Join(tmp, name)
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build %s from %s: %v\n%s", name, dir, err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOST=127.0.0.1", "PORT=" + strconv.Itoa(port)}, env...)
	// It keeps nothing that needs a clean exit.
	c, err := startChild(cmd, func() { _ = cmd.Process.Kill() }, 10*time.Second, func() {})
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	f := &floorServer{child: c, url: "http://" + addr + "/query"}
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return f, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			f.stop()
			return nil, errors.Join(fmt.Errorf("%s did not listen on %s within 30s", name, addr), ctx.Err())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// copyWritable copies the directory src to dst with modes the build can
// write over (the shared directory is read-only, and a copy keeps modes).
func copyWritable(dst, src string) error {
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return filepath.WalkDir(dst, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		return os.Chmod(path, mode)
	})
}

// freePort is a loopback port free at the moment.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
