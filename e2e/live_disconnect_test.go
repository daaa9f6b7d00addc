package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	coderws "github.com/coder/websocket"

	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/eventually"
	"github.com/memories-facade/memories-graphql/internal/leakcheck"
)

// resetDialer dials TCP and keeps the connections, so that a test can end
// them with a reset (SO_LINGER 0), as a crashed client would.
type resetDialer struct {
	mu    sync.Mutex
	conns []*net.TCPConn
}

func (d *resetDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if tc, ok := c.(*net.TCPConn); ok {
		d.mu.Lock()
		d.conns = append(d.conns, tc)
		d.mu.Unlock()
	}
	return c, err
}

func (d *resetDialer) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		_ = c.SetLinger(0)
		_ = c.Close()
	}
}

// Subscribers that leave, by a TCP reset (a crashed client) or a WebSocket
// close (a tab closed), free everything: their subscriptions and streams
// end, the poll of their videos stops, and no goroutine is left.
func TestWatchSubscribersThatLeave(t *testing.T) {
	leakcheck.Check(t)
	vs, nos := processingVideos(2, time.Hour)
	h := setup(t, emulator.Options{Videos: vs}, with(live, "WATCH_INTERVAL", "200ms"))
	query := mustJSON(map[string]any{"query": watchQuery, "variables": map[string]any{"nos": nos}})
	d := &resetDialer{}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Over SSE: the first event, then a reset.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(query))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for br := bufio.NewReader(resp.Body); ; {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("SSE: %v before the first event", err)
		}
		if strings.HasPrefix(line, "event: next") {
			break
		}
	}

	// Over WebSocket, twice: the first event, then a reset or a close.
	wsWatch := func() *coderws.Conn {
		t.Helper()
		conn, _, err := coderws.Dial(ctx, strings.Replace(h.url, "http", "ws", 1), &coderws.DialOptions{HTTPClient: client, Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{`{"type":"connection_init"}`, `{"type":"subscribe","id":"1","payload":` + string(query) + `}`} {
			if err := conn.Write(ctx, coderws.MessageText, []byte(m)); err != nil {
				t.Fatal(err)
			}
		}
		for {
			_, raw, err := conn.Read(ctx)
			if err != nil {
				t.Fatalf("WebSocket: %v", err)
			}
			var m struct{ Type string }
			_ = json.Unmarshal(raw, &m)
			if m.Type == "next" {
				return conn
			}
		}
	}
	closed := wsWatch()
	reset := wsWatch()
	_ = reset // ended by d.reset below
	if got := h.metric(t, "memories_watch_subscriptions "); got != 3 {
		t.Fatalf("memories_watch_subscriptions = %v; want 3", got)
	}

	_ = closed.Close(coderws.StatusGoingAway, "tab closed")
	d.reset()

	eventually.True(t, "every subscription and stream to end", func() bool {
		return h.metric(t, "memories_watch_subscriptions ") == 0 && h.metric(t, "memories_watch_videos ") == 0 &&
			h.metric(t, "graphql_streams_open{") == 0
	})
	// The poll has stopped: no list call over five intervals, but the one
	// that may have been on its way.
	before := h.emu.Stats().List.Requests
	time.Sleep(time.Second)
	if after := h.emu.Stats().List.Requests; after > before+1 {
		t.Errorf("list_videos calls went on after every subscriber left: %d, then %d", before, after)
	}
}

// A watch does not starve queries: with 20 subscribers polling every
// 100 ms against 2 calls/s, queries for other videos still get their
// calls, no call is refused upstream, and the watch makes at most about
// one poll a second (its share, WATCH_BUDGET_SHARE, is half; it also skips
// a poll when queries are waiting for the budget, which internal/watch's
// TestWatchBudgetShare pins apart).
func TestWatchLeavesQueriesTheirShare(t *testing.T) {
	vs, nos := processingVideos(10, time.Hour)
	others, otherNos := testVideos(6)
	h := setup(t, emulator.Options{Videos: append(vs, others...), RateLimit: 2, Burst: 2, ListRateLimit: 2, ListBurst: 2},
		with(fastList, "WATCH_INTERVAL", "100ms", "MEMORIES_RATE_LIMIT", "2", "MEMORIES_RATE_BURST", "2",
			"MEMORIES_LIST_RATE_LIMIT", "2", "MEMORIES_LIST_RATE_BURST", "2"))
	for range 20 {
		sseSubscribe(t, h.url, watchQuery, map[string]any{"nos": nos})
	}
	eventually.True(t, "the first poll", func() bool { return watchPolls(t, h.instance) >= 1 })

	start, polls := time.Now(), watchPolls(t, h.instance)
	for _, no := range otherNos {
		resp := h.query(t, `query($no: ID!) { video(videoNo: $no) { videoName } }`, map[string]any{"no": no})
		if len(resp.Errors) > 0 || resp.Data["video"] == nil {
			t.Fatalf("query for %s during the watch: %+v", no, resp.Errors)
		}
	}
	elapsed := time.Since(start)
	polls = watchPolls(t, h.instance) - polls

	// Half of 2 calls/s, and the share of the burst.
	if limit := int(elapsed.Seconds()) + 2; polls > limit {
		t.Errorf("%d polls in %v while queries ran; want at most %d (its share)", polls, elapsed.Round(time.Millisecond), limit)
	}
	if st := h.emu.Stats(); st.RateLimited+st.List.RateLimited > 0 {
		t.Errorf("the upstream refused %d calls; want none", st.RateLimited+st.List.RateLimited)
	}
	t.Logf("6 queries in %v beside %d polls", elapsed.Round(time.Millisecond), polls)
}
