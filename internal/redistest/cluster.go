package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Redis a test runs against: a single one or a Redis Cluster,
// whose URL then names its seed addresses (addr= parameters), as
// REDIS_URL does with REDIS_CLUSTER=on.
type Redis struct {
	URL     string
	Cluster bool
}

// Name is "single" or "cluster", the name of a subtest of Each.
func (r Redis) Name() string {
	if r.Cluster {
		return "cluster"
	}
	return "single"
}

// Each runs f as two subtests: against the machine's Redis (REDIS_URL, see
// URL) and against the test binary's Redis Cluster (SharedCluster), so that
// what holds on one Redis is shown to hold on a cluster too.
func Each(t *testing.T, f func(t *testing.T, r Redis)) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err == nil {
		// The cluster takes over two seconds to serve: it starts while the
		// first test runs on the single Redis.
		go shared.once.Do(startShared)
	}
	t.Run("single", func(t *testing.T) { f(t, Redis{URL: URL(t)}) })
	t.Run("cluster", func(t *testing.T) { f(t, SharedCluster(t).Redis()) })
}

// Cluster is a Redis Cluster of three primaries (no replicas) on loopback
// ports, each a redis-server without persistence.
type Cluster struct {
	dir      string
	nodes    []*clusterNode
	watchdog *exec.Cmd
	lifeline *os.File // the watchdog kills the nodes when this closes
}

type clusterNode struct {
	port, bus int
	id        string
	cmd       *exec.Cmd
}

func (n *clusterNode) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port)) }

func (n *clusterNode) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: n.addr(), DisableIdentity: true})
}

var shared struct {
	once sync.Once
	c    *Cluster
	err  error
}

// SharedCluster returns the Redis Cluster of the test binary, started by
// the first test that asks for it (about a second) and stopped when the
// binary exits, however it exits. Tests share it as they share REDIS_URL:
// each under a key prefix of its own (Prefix). It is skipped like
// StartServer when redis-server is missing, and fails under CI=true.
func SharedCluster(t testing.TB) *Cluster {
	t.Helper()
	needServer(t)
	shared.once.Do(startShared)
	if shared.err != nil {
		t.Fatalf("start a Redis Cluster: %v", shared.err)
	}
	return shared.c
}

func startShared() { shared.c, shared.err = startCluster(3) }

// StartCluster starts a Redis Cluster of the test's own, for tests that
// move its slots or stop its nodes; it is stopped when the test ends.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	needServer(t)
	c, err := startCluster(3)
	if err != nil {
		t.Fatalf("start a Redis Cluster: %v", err)
	}
	t.Cleanup(c.stop)
	return c
}

func needServer(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed")
		}
		t.Skip("redis-server is not installed")
	}
}

// URL returns the cluster's URL: the first node's address, the others as
// addr= parameters.
func (c *Cluster) URL() string {
	u := "redis://" + c.nodes[0].addr()
	for i, n := range c.nodes[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + n.addr()
	}
	return u
}

// Redis returns the cluster as a Redis for Each and the like.
func (c *Cluster) Redis() Redis { return Redis{URL: c.URL(), Cluster: true} }

// Addrs returns the address of each node: at the start, the first serves
// the first third of the slots, and so on.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.addr()
	}
	return out
}

// startCluster starts n primaries, gives each a third of the slots, and
// waits until every node serves every slot. It uses redis-server alone:
// CLUSTER ADDSLOTSRANGE, SET-CONFIG-EPOCH and MEET do what
// redis-cli --cluster create does, without its waits.
func startCluster(n int) (c *Cluster, err error) {
	dir, err := os.MkdirTemp("", "redistest-cluster-")
	if err != nil {
		return nil, err
	}
	c = &Cluster{dir: dir}
	defer func() {
		if err != nil {
			c.stop()
		}
	}()
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	if err := c.startWatchdog(); err != nil {
		return nil, err
	}
	for i := range n {
		node := &clusterNode{port: ports[2*i], bus: ports[2*i+1]}
		c.nodes = append(c.nodes, node)
		if err := c.startNode(node); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const slots = 16384
	for i, node := range c.nodes {
		cl := node.client()
		err := waitFor(ctx, func() error { return cl.Ping(ctx).Err() })
		if err == nil {
			lo, hi := i*slots/n, (i+1)*slots/n-1
			err = cl.Do(ctx, "cluster", "addslotsrange", lo, hi).Err()
		}
		if err == nil {
			err = cl.Do(ctx, "cluster", "set-config-epoch", i+1).Err()
		}
		if err == nil {
			node.id, err = cl.ClusterMyID(ctx).Result()
		}
		cl.Close()
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", node.addr(), err)
		}
	}
	// Each meets every other at once, rather than learn of the others by
	// gossip (a second more). A node that starts serves no sooner than 2s
	// after it started anyway (Redis's CLUSTER_WRITABLE_DELAY).
	for i, node := range c.nodes {
		cl := node.client()
		for _, other := range c.nodes[:i] {
			if err := cl.Do(ctx, "cluster", "meet", "127.0.0.1", other.port, other.bus).Err(); err != nil {
				cl.Close()
				return nil, fmt.Errorf("node %s: cluster meet: %w", node.addr(), err)
			}
		}
		cl.Close()
	}
	if err := c.waitConsistent(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// startWatchdog starts a shell that reads the nodes' process ids and, once
// its standard input closes, kills them and removes their directory: when
// the test binary exits, even killed, the nodes go with it.
func (c *Cluster) startWatchdog() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	c.watchdog = exec.Command("sh", "-c", `pids=; while read p; do pids="$pids $p"; done; kill -9 $pids 2>/dev/null; rm -rf "$0"`, c.dir)
	c.watchdog.Stdin = r
	err = c.watchdog.Start()
	r.Close()
	if err != nil {
		w.Close()
		c.watchdog = nil
		return fmt.Errorf("start the watchdog: %w", err)
	}
	c.lifeline = w
	return nil
}

// startNode starts node's redis-server, with the cluster configuration it
// had if it ran before.
func (c *Cluster) startNode(node *clusterNode) error {
	node.cmd = exec.Command("redis-server",
		"--port", strconv.Itoa(node.port), "--cluster-port", strconv.Itoa(node.bus), "--bind", "127.0.0.1",
		"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(c.dir, fmt.Sprintf("nodes-%d.conf", node.port)),
		// Generous: on a loaded machine a node slow to answer the others'
		// pings must not be voted down.
		"--cluster-node-timeout", "5000",
		"--dir", c.dir, "--save", "", "--appendonly", "no", "--loglevel", "warning")
	if err := node.cmd.Start(); err != nil {
		node.cmd = nil
		return fmt.Errorf("start redis-server: %w", err)
	}
	if _, err := fmt.Fprintln(c.lifeline, node.cmd.Process.Pid); err != nil {
		return fmt.Errorf("tell the watchdog: %w", err)
	}
	return nil
}

// StopNode kills the node at addr at once, as a crash would.
func (c *Cluster) StopNode(t testing.TB, addr string) {
	t.Helper()
	n := c.node(t, addr)
	if n.cmd != nil {
		_ = n.cmd.Process.Kill()
		_ = n.cmd.Wait()
		n.cmd = nil
	}
}

// StartNode starts the node at addr again, which rejoins the cluster with
// the slots it had (and none of its keys), and waits until the cluster
// serves every slot again.
func (c *Cluster) StartNode(t testing.TB, addr string) {
	t.Helper()
	if err := c.startNode(c.node(t, addr)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.waitConsistent(ctx); err != nil {
		t.Fatalf("the cluster after restarting %s: %v", addr, err)
	}
}

func (c *Cluster) node(t testing.TB, addr string) *clusterNode {
	t.Helper()
	for _, n := range c.nodes {
		if n.addr() == addr {
			return n
		}
	}
	t.Fatalf("no node at %s", addr)
	return nil
}

// waitConsistent waits until every node says the cluster is ok and knows
// every node, and every node names the same owner for each slot.
func (c *Cluster) waitConsistent(ctx context.Context) error {
	return waitFor(ctx, func() error {
		var first string
		for _, node := range c.nodes {
			cl := node.client()
			info, err := cl.ClusterInfo(ctx).Result()
			if err == nil && (!strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", len(c.nodes)))) {
				err = fmt.Errorf("%s: not ready", node.addr())
			}
			var owners string
			if err == nil {
				owners, err = slotOwners(ctx, cl)
			}
			cl.Close()
			if err != nil {
				return err
			}
			if first == "" {
				first = owners
			} else if owners != first {
				return fmt.Errorf("nodes disagree on the slots: %s and %s", first, owners)
			}
		}
		return nil
	})
}

// slotOwners describes CLUSTER SLOTS as a node sees it, in a form to
// compare.
func slotOwners(ctx context.Context, cl *redis.Client) (string, error) {
	slots, err := cl.ClusterSlots(ctx).Result()
	if err != nil {
		return "", err
	}
	parts := make([]string, 0, len(slots))
	for _, s := range slots {
		parts = append(parts, fmt.Sprintf("%d-%d@%s", s.Start, s.End, s.Nodes[0].Addr))
	}
	return strings.Join(parts, ","), nil // CLUSTER SLOTS answers in slot order
}

func waitFor(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// stop kills the nodes and removes their directory.
func (c *Cluster) stop() {
	for _, n := range c.nodes {
		if n.cmd != nil {
			_ = n.cmd.Process.Kill()
			_ = n.cmd.Wait()
			n.cmd = nil
		}
	}
	if c.lifeline != nil {
		c.lifeline.Close()
	}
	if c.watchdog != nil {
		_ = c.watchdog.Wait()
	}
	_ = os.RemoveAll(c.dir)
}

// Slot returns the hash slot of key, as the cluster computes it.
func (c *Cluster) Slot(t testing.TB, key string) int {
	t.Helper()
	cl := c.nodes[0].client()
	defer cl.Close()
	slot, err := cl.ClusterKeySlot(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("CLUSTER KEYSLOT: %v", err)
	}
	return int(slot)
}

// Owner returns the address of the node that serves slot.
func (c *Cluster) Owner(t testing.TB, slot int) string {
	t.Helper()
	n, err := c.owner(context.Background(), slot)
	if err != nil {
		t.Fatal(err)
	}
	return n.addr()
}

func (c *Cluster) owner(ctx context.Context, slot int) (*clusterNode, error) {
	cl := c.nodes[0].client()
	defer cl.Close()
	slots, err := cl.ClusterSlots(ctx).Result()
	if err != nil {
		return nil, err
	}
	for _, s := range slots {
		if slot >= s.Start && slot <= s.End {
			for _, n := range c.nodes {
				if n.addr() == s.Nodes[0].Addr {
					return n, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("no node serves slot %d", slot)
}

// MoveSlot moves slot, keys and all, to the next node, as an operator
// resharding the cluster does: the slot is marked migrating and importing,
// its keys migrate in batches, with pause between the steps (so that
// clients meet ASK redirections and TRYAGAIN refusals), and every node is
// told the new owner. It returns the new owner's address.
func (c *Cluster) MoveSlot(t testing.TB, slot int, pause time.Duration) string {
	t.Helper()
	to, finish := c.BeginMove(t, slot)
	time.Sleep(pause)
	finish(pause)
	return to
}

// BeginMove starts moving slot to the next node: it marks the slot
// migrating on its owner and importing on the next node, whose address it
// returns. finish migrates the slot's keys, pause between batches, and
// hands the slot over.
func (c *Cluster) BeginMove(t testing.TB, slot int) (to string, finish func(pause time.Duration)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	from, err := c.owner(ctx, slot)
	if err != nil {
		t.Fatal(err)
	}
	var dst *clusterNode
	for i, n := range c.nodes {
		if n == from {
			dst = c.nodes[(i+1)%len(c.nodes)]
		}
	}
	if err := c.beginMove(ctx, slot, from, dst); err != nil {
		t.Fatalf("move slot %d: %v", slot, err)
	}
	return dst.addr(), func(pause time.Duration) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.finishMove(ctx, slot, from, dst, pause); err != nil {
			t.Fatalf("move slot %d: %v", slot, err)
		}
	}
}

func (c *Cluster) beginMove(ctx context.Context, slot int, from, to *clusterNode) error {
	src, dst := from.client(), to.client()
	defer src.Close()
	defer dst.Close()
	if err := dst.Do(ctx, "cluster", "setslot", slot, "importing", from.id).Err(); err != nil {
		return fmt.Errorf("importing: %w", err)
	}
	if err := src.Do(ctx, "cluster", "setslot", slot, "migrating", to.id).Err(); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	return nil
}

func (c *Cluster) finishMove(ctx context.Context, slot int, from, to *clusterNode, pause time.Duration) error {
	src := from.client()
	defer src.Close()
	for {
		keys, err := src.ClusterGetKeysInSlot(ctx, slot, 2).Result()
		if err != nil {
			return fmt.Errorf("getkeysinslot: %w", err)
		}
		if len(keys) == 0 {
			break
		}
		args := []any{"migrate", "127.0.0.1", to.port, "", 0, 5000, "replace", "keys"}
		for _, k := range keys {
			args = append(args, k)
		}
		if err := src.Do(ctx, args...).Err(); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("migrate: %w", err)
		}
		sleep(ctx, pause)
	}
	for _, n := range append([]*clusterNode{to, from}, c.nodes...) {
		cl := n.client()
		err := cl.Do(ctx, "cluster", "setslot", slot, "node", to.id).Err()
		cl.Close()
		if err != nil {
			return fmt.Errorf("setslot node on %s: %w", n.addr(), err)
		}
	}
	return c.waitConsistent(ctx)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// newClient returns a client of the Redis at rawURL: a cluster client when
// the URL names several addresses, as a Cluster's does.
func newClient(rawURL string) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse Redis URL: %v", err)
	}
	if len(u.Query()["addr"]) == 0 {
		opts, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("parse Redis URL: %v", err)
		}
		return redis.NewClient(opts), nil
	}
	opts, err := redis.ParseClusterURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse Redis Cluster URL: %v", err)
	}
	opts.DisableRoutingPolicies = true
	return redis.NewClusterClient(opts), nil
}

// scan returns the keys matching pattern, on every primary of a cluster.
func scan(ctx context.Context, c redis.UniversalClient, pattern string) ([]string, error) {
	one := func(ctx context.Context, c redis.Cmdable) ([]string, error) {
		var keys []string
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		return keys, iter.Err()
	}
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		return one(ctx, c)
	}
	var mu sync.Mutex
	var keys []string
	err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		k, err := one(ctx, node)
		mu.Lock()
		keys = append(keys, k...)
		mu.Unlock()
		return err
	})
	return keys, err
}

// WantCrossSlot fails t unless err is a cluster's refusal of a command whose
// keys span several slots.
func WantCrossSlot(t testing.TB, err error) {
	t.Helper()
	if err == nil || !strings.HasPrefix(err.Error(), "CROSSSLOT") {
		t.Errorf("err = %v; want CROSSSLOT", err)
	}
}

// ShardSubscribers returns the clients subscribed to the sharded channel
// ch on the node at addr.
func (c *Cluster) ShardSubscribers(t testing.TB, addr, ch string) int {
	t.Helper()
	cl := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	defer cl.Close()
	n, err := cl.PubSubShardNumSub(context.Background(), ch).Result()
	if err != nil {
		t.Fatalf("PUBSUB SHARDNUMSUB on %s: %v", addr, err)
	}
	return int(n[ch])
}
