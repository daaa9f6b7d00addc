package redisconn

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/redistest"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

func TestKeyPart(t *testing.T) {
	long := strings.Repeat("x", 129)
	for _, tt := range []struct{ in, want string }{
		{"VI606404158946574336", "VI606404158946574336"},
		{"a:b", "a%3Ab"},
		{"50%", "50%25"},
		{"%3A", "%253A"},
		{"{tag}", "%7Btag%7D"},
		{"", ""},
		{strings.Repeat("x", 128), strings.Repeat("x", 128)},
		{long, "%h" + sha256Hex(long)},
		{strings.Repeat(":", 43), "%h" + sha256Hex(strings.Repeat("%3A", 43))},
	} {
		if got := KeyPart(tt.in); got != tt.want {
			t.Errorf("KeyPart(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestOpenRejectsBadURLWithoutEchoingIt(t *testing.T) {
	for _, u := range []string{"http://user:hunter2@host:6379", "redis://user:hunter2@host:notaport/0", "redis://:hunter2@host/abc"} {
		_, err := Open(u, Options{})
		if err == nil {
			t.Errorf("Open(%q): err = nil; want an error", u)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q): error %q shows the password", u, err)
		}
	}
}

// A Redis that goes away is reported once, however many commands fail, and
// its return once.
func TestAvailabilityIsLoggedOncePerChange(t *testing.T) {
	srv := redistest.StartServer(t)
	var logs videotest.SyncBuffer
	conn, err := Open(srv.URL(), Options{ProbeEvery: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if !conn.Up() {
		t.Fatal("Up() = false with Redis running")
	}

	srv.Stop()
	for range 10 {
		conn.Fail(errors.New("connection refused"))
	}
	if conn.Up() {
		t.Error("Up() = true after Fail")
	}
	srv.Start()
	deadline := time.Now().Add(20 * time.Second)
	for !conn.Up() {
		if time.Now().After(deadline) {
			t.Fatal("Redis never reported available again")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := logs.Count("redis unavailable, using local limiter and cache"); got != 1 {
		t.Errorf("unavailable logged %d times; want 1\n%s", got, logs.String())
	}
	if got := logs.Count("redis available again"); got != 1 {
		t.Errorf("available again logged %d times; want 1\n%s", got, logs.String())
	}
}

// A Redis missing at start does not stop the service: the Conn starts
// unavailable and says so.
func TestOpenWithRedisDown(t *testing.T) {
	srv := redistest.StartServer(t)
	srv.Stop()
	var logs videotest.SyncBuffer
	conn, err := Open(srv.URL(), Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("Open with Redis down: %v; want no error", err)
	}
	defer conn.Close()
	if conn.Up() {
		t.Error("Up() = true with Redis down")
	}
	if got := logs.Count("level=WARN msg=\"redis unavailable"); got != 1 {
		t.Errorf("WARN logged %d times; want 1\n%s", got, logs.String())
	}
}

func TestKey(t *testing.T) {
	c := &Conn{prefix: "p"}
	if got, want := c.Key("v1", "video", "acct", "u", "n"), "p:v1:video:acct:u:n"; got != want {
		t.Errorf("Key = %q; want %q", got, want)
	}
}
