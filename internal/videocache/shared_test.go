package videocache

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/redisconn"
	"github.com/memories-facade/memories-graphql/internal/redistest"
)

func openConn(t *testing.T, rawURL string, opts redisconn.Options) *redisconn.Conn {
	t.Helper()
	conn, err := redisconn.Open(rawURL, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// What one replica keeps, another finds; keys are per account, and a
// unique id or video number with ':' cannot reach another key.
func TestSharedStoreAcrossReplicas(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	one := NewShared(openConn(t, url, redisconn.Options{Prefix: prefix}), newLocal(t))
	two := NewShared(openConn(t, url, redisconn.Options{Prefix: prefix}), newLocal(t))
	ctx := context.Background()

	a, b := mustAccount(t, "sk-secret-alpha"), mustAccount(t, "sk-secret-bravo")
	video := fullVideo(t)
	one.Set(ctx, Key{a.ID(), "default", "VI1"}, video, time.Minute)
	one.Set(ctx, Key{a.ID(), "x", "VI2"}, nil, time.Minute)
	one.Set(ctx, Key{a.ID(), "a:b", "c"}, &memories.Video{VideoNo: "c", Status: memories.StatusParse}, time.Minute)
	long := strings.Repeat("VI", 500)
	one.Set(ctx, Key{a.ID(), "default", long + "1"}, nil, time.Minute)

	for _, tt := range []struct {
		name   string
		k      Key
		want   *memories.Video
		wantOK bool
	}{
		{"kept video", Key{a.ID(), "default", "VI1"}, video, true},
		{"kept not found", Key{a.ID(), "x", "VI2"}, nil, true},
		{"other account", Key{b.ID(), "default", "VI1"}, nil, false},
		{"other unique id", Key{a.ID(), "other", "VI1"}, nil, false},
		{"colon cannot alias", Key{a.ID(), "a", "b:c"}, nil, false},
		{"colon key itself", Key{a.ID(), "a:b", "c"}, &memories.Video{VideoNo: "c", Status: memories.StatusParse}, true},
		{"long video no", Key{a.ID(), "default", long + "1"}, nil, true},
		{"other long video no", Key{a.ID(), "default", long + "2"}, nil, false},
	} {
		got, ok := two.Get(ctx, tt.k)
		if ok != tt.wantOK || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Get = %+v, %v; want %+v, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}

	keys := redistest.Keys(t, url, prefix)
	if got, want := len(keys), 4; got != want {
		t.Errorf("keys = %q; want %d", keys, want)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix+":v1:video:"+a.ID()+":") {
			t.Errorf("key %q; want it under the account's namespace", k)
		}
		if len(k) > 300 {
			t.Errorf("key %q is %d bytes; want long parts hashed", k, len(k))
		}
		if strings.Contains(k, "sk-secret") {
			t.Errorf("key %q contains the API key", k)
		}
	}
	ttl := two.conn.Client().PTTL(ctx, one.key(Key{a.ID(), "default", "VI1"})).Val()
	if ttl <= 0 || ttl > time.Minute {
		t.Errorf("expiry = %v; want the TTL given (1m) as the key's expiry", ttl)
	}
}

// While Redis is down the local store serves, warmed by earlier writes.
func TestSharedStoreFallsBackToLocal(t *testing.T) {
	srv := redistest.StartServer(t)
	conn := openConn(t, srv.URL(), redisconn.Options{ProbeEvery: 20 * time.Millisecond})
	s := NewShared(conn, newLocal(t))
	ctx := context.Background()
	acct := mustAccount(t, "sk-a")
	before := Key{acct.ID(), "default", "before"}
	during := Key{acct.ID(), "default", "during"}
	v := &memories.Video{VideoNo: "before", Status: memories.StatusParse}
	s.Set(ctx, before, v, time.Minute)

	srv.Stop()
	if got, ok := s.Get(ctx, before); !ok || got != v {
		t.Errorf("Redis down: Get(before) = %+v, %v; want the locally kept video", got, ok)
	}
	if conn.Up() {
		t.Errorf("conn.Up() = true after a failed command; want false")
	}
	s.Set(ctx, during, nil, time.Minute)
	if _, ok := s.Get(ctx, during); !ok {
		t.Errorf("Redis down: Get(during) missed; want the locally kept answer")
	}

	srv.Start()
	waitUntil(t, "redis available again", conn.Up)
	// The restarted Redis is empty, and now serves again.
	if _, ok := s.Get(ctx, before); ok {
		t.Errorf("Redis back: Get(before) hit; want Redis's miss")
	}
	s.Set(ctx, before, v, time.Minute)
	if got, ok := s.Get(ctx, before); !ok || got.VideoNo != "before" {
		t.Errorf("Redis back: Get(before) = %+v, %v; want the video", got, ok)
	}
}
