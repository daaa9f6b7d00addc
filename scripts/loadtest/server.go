package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// loadKey is the API key the server uses and the emulator accepts.
const loadKey = "load-test-key"

// upstreamBurst is the burst the emulator allows and the server assumes: a
// tenth of a second at the rate.
func upstreamBurst(o *options) int { return max(1, int(o.upstreamRate/10)) }

// upstreamEnv is the server's environment for the emulator at baseURL: the
// load test's key, -upstream-rate on both endpoints (the server's limiter
// out of the way when the emulator is unlimited), text logs at
// -server-log-level.
func upstreamEnv(o *options, baseURL string) map[string]string {
	rate, burst := strconv.FormatFloat(o.upstreamRate, 'f', -1, 64), strconv.Itoa(upstreamBurst(o))
	if o.upstreamRate == 0 {
		rate, burst = "1000000000", "1000000"
	}
	return map[string]string{
		"MEMORIES_BASE_URL":   baseURL,
		"MEMORIES_API_KEY":    loadKey,
		"MEMORIES_RATE_LIMIT": rate,
		"MEMORIES_RATE_BURST": burst,
		// list_videos has a budget of its own: the same, out of the way.
		"MEMORIES_LIST_RATE_LIMIT": rate,
		"MEMORIES_LIST_RATE_BURST": burst,
		"LOG_FORMAT":               "text",
		"LOG_LEVEL":                o.logLevel,
	}
}

// cacheOff turns the server's cross-request cache off in env: every
// CACHE_TTL_* 0, so no answer is kept (fetches in flight are still shared).
func cacheOff(env map[string]string) {
	for _, k := range []string{"CACHE_TTL_PARSE", "CACHE_TTL_FAILED", "CACHE_TTL_UNPARSE", "CACHE_TTL_NOT_FOUND", "CACHE_TTL_DETAIL"} {
		env[k] = "0"
	}
}

// buildServer builds this module's server into dir.
func buildServer(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "memories-graphql")
	if err := goBuild(ctx, root, bin); err != nil {
		return "", err
	}
	return bin, nil
}

// goBuild builds the main package at root into bin, with flags added to go
// build's.
func goBuild(ctx context.Context, root, bin string, flags ...string) error {
	args := append(append([]string{"build"}, flags...), "-o", bin, ".")
	build := exec.CommandContext(ctx, "go", args...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// moduleRoot is the directory of this module's go.mod, where server.go is.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run loadtest inside the module (go run ./scripts/loadtest from the repository)")
	}
	return filepath.Dir(gomod), nil
}

// serverHasCache reports whether the server has the cross-request cache
// settings, by its -h output.
func serverHasCache(ctx context.Context, bin string) bool {
	out, _ := exec.CommandContext(ctx, bin, "-h").CombinedOutput()
	return bytes.Contains(out, []byte("cache-ttl-parse"))
}

// server is the running server process.
type server struct {
	*child
	addr   string
	errors *errorLines // the ERROR records of its log
}

// errorLines counts the ERROR records of a log as it passes it on to w.
// Our server logs at ERROR only for its own bugs (a resolver's panic, an
// error nothing classified), which the answers alone need not show: a
// client that has gone, as every load generator's connections at the end of
// a run, never sees its answer.
type errorLines struct {
	w    io.Writer
	n    atomic.Int64
	tail []byte // the end of what was written, which a mark may continue
}

// errorMarks are an ERROR record's level in LOG_FORMAT=text and json.
var errorMarks = [][]byte{[]byte("level=ERROR"), []byte(`"level":"ERROR"`)}

func (e *errorLines) Write(p []byte) (int, error) {
	// The tail is the previous write's last bytes, too short to hold a
	// whole mark: a mark that ends in p is counted once.
	buf := append(e.tail, p...)
	for _, m := range errorMarks {
		e.n.Add(int64(bytes.Count(buf, m) - bytes.Count(e.tail, m)))
	}
	keep := min(len(buf), len(errorMarks[1])-1)
	e.tail = append(buf[:0], buf[len(buf)-keep:]...)
	return e.w.Write(p)
}

// listening finds the address in the server's "listening" log line.
var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

// loopbackRedis refuses a Redis URL whose host is not a loopback address:
// the load test stays on this machine.
func loopbackRedis(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("-redis-url: %w", err)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-redis-url: %q is not a loopback address", u.Hostname())
	}
	return nil
}

// startServer starts bin listening on a free loopback port with exactly env
// and o's -server-env (plus PATH) and waits for its "listening" line.
func (o *options) startServer(ctx context.Context, bin string, env map[string]string, logPath string) (*server, error) {
	cmd := exec.Command(bin, "-host", "127.0.0.1", "-port", "0")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range o.serverEnv {
		cmd.Env = append(cmd.Env, k+"="+v) // the later one wins
	}
	var logf io.Writer = io.Discard
	if logPath != "" {
		f, err := os.Create(logPath)
		if err != nil {
			return nil, err
		}
		logf = f
	}
	logw := &errorLines{w: logf}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	addr := make(chan string, 1)
	// It drains its queries and exits on an interrupt, within 30s.
	c, err := startChild(cmd, func() { _ = cmd.Process.Signal(os.Interrupt) }, 30*time.Second, func() {
		// Keep reading to the end, so the server never blocks on its log.
		// Lines are matched until the "listening" one; the rest of the log
		// is copied as it comes, without a regexp per request line.
		br := bufio.NewReaderSize(stderr, 64<<10)
		for {
			line, err := br.ReadBytes('\n')
			logw.Write(line)
			if m := listening.FindSubmatch(line); m != nil {
				addr <- string(m[1])
				break
			}
			if err != nil {
				break
			}
		}
		_, _ = io.Copy(logw, br)
		if c, ok := logf.(io.Closer); ok {
			c.Close()
		}
	})
	if err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	a, err := awaitReady(ctx, c, addr, "the server (see -server-log)")
	if err != nil {
		return nil, err
	}
	srv := &server{child: c, addr: a, errors: logw}
	o.servers = append(o.servers, srv)
	return srv, nil
}

// loggedErrors returns an error if a server of o's logged ERROR records,
// once every one has stopped and its log has been read to the end.
func (o *options) loggedErrors() error {
	var n int64
	for _, s := range o.servers {
		s.stop()
		n += s.errors.n.Load()
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("our server logged %d ERROR records, each a bug of its own; run again with -server-log FILE to read them", n)
}
