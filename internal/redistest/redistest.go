// Package redistest gives tests a Redis: the machine's (REDIS_URL) with a key
// prefix of their own, a private redis-server they may stop and restart, or
// a Redis Cluster of redis-servers, shared by the test binary's tests or
// private to one.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// URL returns REDIS_URL after checking that Redis answers. Without it the
// test is skipped, except under CI=true, where it fails: CI runs a Redis,
// and a missing one must not pass as skipped tests.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("REDIS_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("REDIS_URL is not set; CI must run the Redis tests")
		}
		t.Skip("REDIS_URL is not set")
	}
	if err := ping(u); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis at REDIS_URL: %v", err)
		}
		t.Skipf("redis at REDIS_URL does not answer: %v", err)
	}
	return u
}

func ping(rawURL string) error {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return fmt.Errorf("parse REDIS_URL: %v", err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// Prefix returns a key prefix no other test uses, and deletes the keys under
// it when the test ends, so that parallel packages and reruns never see each
// other's keys. rawURL is a single Redis's or a Cluster's.
func Prefix(t testing.TB, rawURL string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "mgqltest-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		c, err := newClient(rawURL)
		if err != nil {
			return
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		keys, _ := scan(ctx, c, prefix+":*")
		for _, k := range keys {
			c.Del(ctx, k)
		}
	})
	return prefix
}

// Keys returns the keys under prefix, of a single Redis or of every node
// of a Cluster.
func Keys(t testing.TB, rawURL, prefix string) []string {
	t.Helper()
	c, err := newClient(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	keys, err := scan(ctx, c, prefix+":*")
	if err != nil {
		t.Fatalf("scan %s: %v", prefix, err)
	}
	return keys
}

// Server is a private redis-server, for tests that stop Redis: the shared
// one at REDIS_URL serves other tests.
type Server struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
}

// StartServer starts redis-server on a free port, without persistence. It
// is skipped like URL when the binary is missing, and stopped when the test
// ends.
func StartServer(t testing.TB) *Server {
	t.Helper()
	needServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{t: t, port: port}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// URL returns the server's redis:// URL.
func (s *Server) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }

// Redis returns the server as a Redis.
func (s *Server) Redis() Redis { return Redis{URL: s.URL()} }

// Start starts the server on its port and waits until it answers.
func (s *Server) Start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--loglevel", "warning")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := ping(s.URL())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on port %d does not answer: %v", s.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server at once, as a crash would, and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Proxy forwards TCP connections to the Redis at rawURL, so that a test can
// cut one client off Redis while others keep it. The returned URL is
// rawURL's with the proxy's address; cut closes the proxy and every
// connection through it, for good.
func Proxy(t testing.TB, rawURL string) (proxyURL string, cut func()) {
	t.Helper()
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		if conns == nil {
			return false // cut
		}
		conns = append(conns, c)
		return true
	}
	conns = []net.Conn{}
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", opts.Addr)
			if err != nil {
				client.Close()
				continue
			}
			if !track(client) || !track(server) {
				client.Close()
				server.Close()
				return
			}
			go func() { _, _ = io.Copy(server, client); server.Close() }()
			go func() { _, _ = io.Copy(client, server); client.Close() }()
		}
	}()
	var once sync.Once
	cut = func() {
		once.Do(func() {
			ln.Close()
			mu.Lock()
			defer mu.Unlock()
			for _, c := range conns {
				c.Close()
			}
			conns = nil
		})
	}
	t.Cleanup(cut)
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = ln.Addr().String()
	return u.String(), cut
}
