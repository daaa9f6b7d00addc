package redisconn

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/memories-facade/memories-graphql/internal/eventually"
	"github.com/memories-facade/memories-graphql/internal/redistest"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

// A cluster's seeds are the URL's host and each addr= parameter, as
// go-redis reads them, or a comma-separated list of hosts; the password
// goes with them, and database 0 is the only one.
func TestParseClusterURL(t *testing.T) {
	for _, tt := range []struct {
		url      string
		addrs    []string
		password string
		tls      bool
	}{
		{"redis://h1:7000?addr=h2:7001&addr=h3:7002", []string{"h1:7000", "h2:7001", "h3:7002"}, "", false},
		{"redis://:hunter2@h1:7000,h2:7001,h3:7002/0", []string{"h1:7000", "h2:7001", "h3:7002"}, "hunter2", false},
		{"rediss://user:hunter2@h1:7000,h2:7001?dial_timeout=3s", []string{"h1:7000", "h2:7001"}, "hunter2", true},
		{"redis://config-endpoint:6379/", []string{"config-endpoint:6379"}, "", false},
		{"redis://h1,h2:7001", []string{"h1:6379", "h2:7001"}, "", false},
	} {
		o, err := parseClusterURL(tt.url)
		if err != nil {
			t.Errorf("parseClusterURL(%q): %v", tt.url, err)
			continue
		}
		if !reflect.DeepEqual(o.Addrs, tt.addrs) || o.Password != tt.password || (o.TLSConfig != nil) != tt.tls {
			t.Errorf("parseClusterURL(%q) = addrs %q, password %q, TLS %v; want %q, %q, %v", tt.url, o.Addrs, o.Password, o.TLSConfig != nil, tt.addrs, tt.password, tt.tls)
		}
	}
}

// A URL a Conn cannot use fails Open with a message that says why, and
// never shows the password.
func TestOpenRejectsURLsOfTheOtherKind(t *testing.T) {
	for _, tt := range []struct {
		url     string
		cluster bool
		want    string
	}{
		{"redis://:hunter2@h1:7000,h2:7001", false, "REDIS_CLUSTER=on"},
		{"redis://:hunter2@h1:7000?addr=h2:7001", false, "REDIS_CLUSTER=on"},
		{"redis://:hunter2@h1:7000,h2:7001/3", true, "database 0 only"},
		{"redis://:hunter2@h1:7000?addr=nohost", true, "addr"},
		{"redis://:hunter2@h1:7000?db=3", true, "unexpected option"},
		{"unix://:hunter2@/tmp/redis.sock", true, "scheme"},
	} {
		_, err := Open(tt.url, Options{Cluster: tt.cluster})
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q, cluster %v): err = %v; want one that says %q without the password", tt.url, tt.cluster, err, tt.want)
		}
	}
	if _, err := Open("redis://127.0.0.1:1", Options{Prefix: "a{b}"}); err == nil || !strings.Contains(err.Error(), "REDIS_KEY_PREFIX") {
		t.Errorf("Open with braces in the prefix: err = %v; want REDIS_KEY_PREFIX refused", err)
	}
}

// An account's tag puts its keys in one slot, whatever the account id.
func TestTag(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"ab12", "{ab12}"},
		{"a}b{c", "{a%7Db%7Bc}"},
	} {
		if got := Tag(tt.in); got != tt.want {
			t.Errorf("Tag(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// A Conn to a cluster, through either form of its URL, answers, and
// routes each key to its slot's primary.
func TestOpenCluster(t *testing.T) {
	cluster := redistest.SharedCluster(t)
	prefix := redistest.Prefix(t, cluster.URL())
	addrs := cluster.Addrs()
	for _, u := range []string{cluster.URL(), "redis://" + strings.Join(addrs, ",") + "/0"} {
		var logs videotest.SyncBuffer
		c, err := Open(u, Options{Prefix: prefix, Cluster: true, Timeout: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatalf("Open(%q): %v", u, err)
		}
		defer c.Close()
		if !c.Up() || !c.Cluster() {
			t.Fatalf("Open(%q): Up %v, Cluster %v; want both\n%s", u, c.Up(), c.Cluster(), logs.String())
		}
		if _, ok := c.Client().(*redis.ClusterClient); !ok {
			t.Errorf("Client() is a %T; want a *redis.ClusterClient", c.Client())
		}
		if got := logs.String(); !strings.Contains(got, "cluster_seeds=") {
			t.Errorf("logs %q; want the cluster's seeds", got)
		}
		ctx := context.Background()
		slots := map[int]bool{}
		for _, acct := range []string{"a", "b", "c", "d", "e", "f"} {
			tag := Tag(acct)
			one, two := c.Key("v1", "x", tag, "1"), c.Key("v1", "y", tag, "2")
			if s1, s2 := cluster.Slot(t, one), cluster.Slot(t, two); s1 != s2 {
				t.Errorf("%s and %s in slots %d and %d; want one", one, two, s1, s2)
			}
			slots[cluster.Slot(t, one)] = true
			if err := c.Client().MSet(ctx, one, acct, two, acct).Err(); err != nil {
				t.Errorf("MSET of one account's keys: %v", err)
			}
		}
		if len(slots) < 2 {
			t.Errorf("six accounts in %d slots; want them spread", len(slots))
		}
	}
}

// A primary that goes away makes a cluster unavailable, which is logged
// once; the probe finds it available again only once that primary is back
// and the cluster serves every slot.
func TestClusterAvailability(t *testing.T) {
	cluster := redistest.StartCluster(t)
	var logs videotest.SyncBuffer
	c, err := Open(cluster.URL(), Options{Cluster: true, ProbeEvery: 20 * time.Millisecond, Timeout: time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Up() {
		t.Fatal("Up() = false with the cluster running")
	}
	ctx := context.Background()
	// A key on the node that goes away.
	down := cluster.Addrs()[1]
	var key string
	for i := 0; key == ""; i++ {
		k := c.Key(Tag(string(rune('a'+i%26))+strings.Repeat("x", i/26)), "k")
		if cluster.Owner(t, cluster.Slot(t, k)) == down {
			key = k
		}
	}
	cluster.StopNode(t, down)
	err = c.Client().Set(ctx, key, "v", 0).Err()
	if err == nil {
		t.Fatalf("SET on a stopped primary's slot: nil error")
	}
	c.Fail(err)
	time.Sleep(200 * time.Millisecond) // ten probes
	if c.Up() {
		t.Fatal("Up() = true with a primary down")
	}
	cluster.StartNode(t, down)
	eventually.True(t, "the cluster to be available again", c.Up)
	if err := c.Client().Set(ctx, key, "v", 0).Err(); err != nil {
		t.Errorf("SET after the primary came back: %v", err)
	}
	if got := logs.Count("redis unavailable, using local limiter and cache"); got != 1 {
		t.Errorf("unavailable logged %d times; want 1\n%s", got, logs.String())
	}
	if got := logs.Count("redis available again"); got != 1 {
		t.Errorf("available again logged %d times; want 1\n%s", got, logs.String())
	}
}

// A command refused because its slot is moving (TRYAGAIN) leaves the
// cluster available: it is counted, and logged once however many there are.
func TestSlotMovingLeavesClusterAvailable(t *testing.T) {
	cluster := redistest.SharedCluster(t)
	var logs videotest.SyncBuffer
	c, err := Open(cluster.URL(), Options{Prefix: redistest.Prefix(t, cluster.URL()), Cluster: true, Timeout: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	tag := Tag("moving")
	kept, missing := c.Key(tag, "kept"), c.Key(tag, "missing")
	if err := c.Client().Set(ctx, kept, "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	slot := cluster.Slot(t, kept)
	to, finish := cluster.BeginMove(t, slot)
	for range 3 {
		err := c.Client().MGet(ctx, kept, missing).Err()
		if !redis.IsTryAgainError(err) {
			finish(0)
			t.Fatalf("MGET of a moved key and one still to move: err %v; want TRYAGAIN", err)
		}
		c.Fail(err)
	}
	if !c.Up() || c.SlotMoving() != 3 {
		t.Errorf("after 3 TRYAGAIN: Up %v, SlotMoving %d; want true, 3", c.Up(), c.SlotMoving())
	}
	if got := logs.Count("a slot is moving between nodes"); got != 1 {
		t.Errorf("logged the move %d times; want 1\n%s", got, logs.String())
	}
	finish(0)
	if got := cluster.Owner(t, slot); got != to {
		t.Errorf("slot %d on %s; want %s", slot, got, to)
	}
	if vals, err := c.Client().MGet(ctx, kept, missing).Result(); err != nil || vals[0] != "v" {
		t.Errorf("MGET after the move: %v, %v; want [v <nil>]", vals, err)
	}
}
