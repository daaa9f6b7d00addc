package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/app"
)

// addrLine finds the port in the "listening" log line of the server binary,
// text or JSON: a separate process can report it no other way.
var addrLine = regexp.MustCompile(`(?:msg=listening addr=|"msg":"listening","addr":")[^\s"]*:(\d+)`)

// waitForPort reads log lines from r until the listening line, then keeps
// draining r so the server never blocks on its log.
func waitForPort(t *testing.T, r io.Reader) string {
	t.Helper()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		sent := false
		for sc.Scan() {
			if m := addrLine.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case port, ok := <-found:
		if !ok {
			t.Fatal("server exited before listening")
		}
		return port
	case <-time.After(60 * time.Second):
		t.Fatal("server did not log its listen address within 60s")
	}
	return ""
}

// `go run .` with no configuration starts the sandbox and answers the
// vendor's example video exactly. This builds and runs the real binary with
// an empty environment, as on a fresh machine.
func TestSandboxBinaryAnswersVendorExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "memories-graphql")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, "-host", "127.0.0.1", "-port", "0")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // no MEMORIES_* at all
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	port := waitForPort(t, io.TeeReader(stderr, &logs))

	url := fmt.Sprintf("http://127.0.0.1:%s/query", port)
	resp := postQuery(t, url, `query($no: ID!) { video(videoNo: $no) { `+allFields+` } }`, map[string]any{"no": vendorExample})
	if len(resp.Errors) > 0 {
		t.Fatalf("errors: %+v", resp.Errors)
	}
	assertJSONEqual(t, "video", resp.Data["video"], vendorExampleJSON)

	if got := strings.Count(logs.String(), "sandbox mode"); got != 1 {
		t.Errorf("log lines saying sandbox mode = %d; want 1\n%s", got, logs.String())
	}
}

// runningServer is run itself, in-process, until stop or the test's end.
type runningServer struct {
	base    string // http://127.0.0.1:PORT
	cancel  context.CancelFunc
	done    chan error
	drained chan struct{} // closed when everything run logged has been read
	log     logBuffer
}

// startRun starts run with args and env, and waits for it to listen: run
// reports its address.
func startRun(t *testing.T, args []string, env map[string]string) *runningServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &runningServer{cancel: cancel, done: make(chan error, 1), drained: make(chan struct{})}
	pr, pw := io.Pipe()
	addr := make(chan net.Addr, 1)
	go func() {
		s.done <- run(ctx, args, func(k string) string { return env[k] }, io.Discard, pw, func(a net.Addr) { addr <- a })
		pw.Close()
	}()
	t.Cleanup(func() { _ = s.stop(t) })

	go func() {
		defer close(s.drained)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			_, _ = s.log.Write([]byte(sc.Text() + "\n"))
		}
	}()
	select {
	case a := <-addr:
		// Loopback, whatever interface it listens on.
		s.base = "http://127.0.0.1:" + strconv.Itoa(a.(*net.TCPAddr).Port)
	case <-s.drained:
		t.Fatalf("run ended before listening:\n%s", s.logs())
	case <-time.After(60 * time.Second):
		t.Fatal("run did not listen within 60s")
	}
	return s
}

// logs returns what the server has logged so far.
func (s *runningServer) logs() string { return s.log.String() }

// stop ends run's context, as SIGINT does, and returns what run returned
// once every line it logged has been read.
func (s *runningServer) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err, ok := <-s.done:
		if ok {
			close(s.done)
		}
		<-s.drained
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("run did not return after its context ended")
		return nil
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"malformed env", nil, map[string]string{"MEMORIES_RATE_LIMIT": "fast"}},
		{"zero rate", []string{"-memories-rate-limit", "0"}, nil},
		{"zero burst", nil, map[string]string{"MEMORIES_RATE_BURST": "0"}},
		{"bad timeout", nil, map[string]string{"REQUEST_TIMEOUT": "soon"}},
		{"unknown flag", []string{"-nope"}, nil},
		{"stray argument", []string{"serve"}, nil},
		{"bad log format", nil, map[string]string{"LOG_FORMAT": "xml"}},
		{"bad base URL", nil, map[string]string{"MEMORIES_BASE_URL": "ftp://x"}},
		{"bad OTLP endpoint", nil, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, io.Discard, io.Discard, nil)
			if err == nil {
				t.Errorf("run(%v, %v) = nil; want an error", tt.args, tt.env)
			}
		})
	}
}

func TestConfigFlagBeatsEnv(t *testing.T) {
	env := map[string]string{"PORT": "9000", "MEMORIES_RATE_LIMIT": "7", "REQUEST_TIMEOUT": "3s"}
	cfg, err := app.ParseConfig([]string{"-port", "9001"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 9001 || cfg.RateLimit != 7 || cfg.RequestTimeout != 3*time.Second || cfg.RateBurst != 5 || cfg.MaxVideos != 2000 || cfg.MaxDetail != 100 || !cfg.Batch || cfg.ListBatchSize != 200 {
		t.Errorf("cfg = %+v; want port 9001 (flag), rate 7 and timeout 3s (env), burst 5, max videos 2000, max detail videos 100, batching on, batch size 200 (defaults)", cfg)
	}
}
