package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	coderws "github.com/coder/websocket"

	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/eventually"
	"github.com/memories-facade/memories-graphql/internal/redistest"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

// liveEvent is one message of a subscription: a next's payload, or its
// end (complete, or an error message that ends it).
type liveEvent struct {
	Data       map[string]json.RawMessage `json:"data"`
	Errors     []videotest.GQLError       `json:"errors"`
	Extensions map[string]json.RawMessage `json:"extensions"`
	Complete   bool                       `json:"-"`
}

// watchedVideo is the part of a watchVideos event the tests read.
type watchedVideo struct {
	VideoNo string  `json:"videoNo"`
	Status  string  `json:"status"`
	Fps     *int    `json:"fps"`
	Cause   *string `json:"cause"`
}

func (e liveEvent) video(t *testing.T) *watchedVideo {
	t.Helper()
	raw := e.Data["watchVideos"]
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var v watchedVideo
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("watchVideos %s: %v", raw, err)
	}
	return &v
}

// sseSubscribe sends a subscription as an event stream (graphql-sse,
// distinct connections) and delivers its events until it completes; the
// channel closes with the stream. headers are name, value pairs.
func sseSubscribe(t *testing.T, url, query string, vars map[string]any, headers ...string) <-chan liveEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(mustJSON(map[string]any{"query": query, "variables": vars})))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("SSE subscribe: %v", err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		t.Fatalf("SSE subscribe: HTTP %d, Content-Type %q", resp.StatusCode, ct)
	}
	out := make(chan liveEvent, 64)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		var event, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event:"):
				event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			case strings.HasPrefix(line, "data:"):
				data += strings.TrimSpace(strings.TrimPrefix(line, "data:"))
			case line == "" && event != "":
				ev := liveEvent{Complete: event == "complete"}
				if event == "next" {
					_ = json.Unmarshal([]byte(data), &ev)
				}
				out <- ev
				event, data = "", ""
			}
		}
	}()
	return out
}

// wsClient is one graphql-transport-ws connection.
type wsClient struct {
	t    *testing.T
	conn *coderws.Conn
	mu   sync.Mutex // guards subs: subscribe and read both make channels
	subs map[string]chan liveEvent
	done chan struct{}
	// closed is the close code and reason the server ended with.
	closeStatus coderws.StatusCode
}

// wsConnect opens a graphql-transport-ws connection to the server at
// origin and sends payload in connection_init; it returns once acked, or
// with the close status when the server refuses.
func wsConnect(t *testing.T, url string, payload map[string]any, headers ...string) (*wsClient, coderws.StatusCode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	conn, _, err := coderws.Dial(ctx, strings.Replace(url, "http", "ws", 1), &coderws.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: h})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	conn.SetReadLimit(4 << 20)
	c := &wsClient{t: t, conn: conn, subs: map[string]chan liveEvent{}, done: make(chan struct{})}
	t.Cleanup(func() { conn.CloseNow(); <-c.done })
	if err := c.send(ctx, map[string]any{"type": "connection_init", "payload": payload}); err != nil {
		t.Fatalf("connection_init: %v", err)
	}
	var ack struct{ Type string }
	_, raw, err := conn.Read(ctx)
	if err != nil {
		close(c.done)
		return nil, coderws.CloseStatus(err)
	}
	if json.Unmarshal(raw, &ack); ack.Type != "connection_ack" {
		t.Fatalf("got %s; want connection_ack", raw)
	}
	go c.read()
	return c, -1
}

func (c *wsClient) send(ctx context.Context, msg map[string]any) error {
	return c.conn.Write(ctx, coderws.MessageText, mustJSON(msg))
}

// read hands each message to its subscription, until the connection ends.
func (c *wsClient) read() {
	defer close(c.done)
	defer func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, ch := range c.subs {
			close(ch)
		}
	}()
	for {
		_, raw, err := c.conn.Read(context.Background())
		if err != nil {
			c.closeStatus = coderws.CloseStatus(err)
			return
		}
		var msg struct {
			Type    string          `json:"type"`
			ID      string          `json:"id"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(raw, &msg); err != nil {
			continue
		}
		if msg.Type == "ping" {
			_ = c.send(context.Background(), map[string]any{"type": "pong"})
			continue
		}
		ch := c.sub(msg.ID)
		switch msg.Type {
		case "next":
			var ev liveEvent
			_ = json.Unmarshal(msg.Payload, &ev)
			ch <- ev
		case "error":
			var errs []videotest.GQLError
			_ = json.Unmarshal(msg.Payload, &errs)
			ch <- liveEvent{Errors: errs, Complete: true}
		case "complete":
			ch <- liveEvent{Complete: true}
		}
	}
}

// sub returns the channel of subscription id. Only read calls it once
// the connection is up; subscribe makes it first.
func (c *wsClient) sub(id string) chan liveEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.subs[id]
	if !ok {
		ch = make(chan liveEvent, 256)
		c.subs[id] = ch
	}
	return ch
}

// subscribe starts a subscription with id.
func (c *wsClient) subscribe(id, query string, vars map[string]any) <-chan liveEvent {
	c.t.Helper()
	ch := c.sub(id)
	if err := c.send(context.Background(), map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}}); err != nil {
		c.t.Fatalf("subscribe: %v", err)
	}
	return ch
}

// untilComplete reads ch until its subscription completes, and returns the
// events before that; it fails t after timeout.
func untilComplete(t *testing.T, ch <-chan liveEvent, timeout time.Duration) []liveEvent {
	t.Helper()
	var evs []liveEvent
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream closed before completing, after %d events", len(evs))
			}
			if ev.Complete {
				if len(ev.Errors) > 0 {
					evs = append(evs, ev)
				}
				return evs
			}
			evs = append(evs, ev)
		case <-deadline:
			t.Fatalf("no completion within %v; %d events so far", timeout, len(evs))
		}
	}
}

// processingVideos are n videos that are UNPARSE until after, then PARSE.
func processingVideos(n int, after time.Duration) ([]emulator.Video, []string) {
	var vs []emulator.Video
	var nos []string
	for i := range n {
		no := fmt.Sprintf("VI9%018d", i)
		nos = append(nos, no)
		vs = append(vs, emulator.Video{
			Data:  json.RawMessage(`{"video_no":"` + no + `","video_name":"processing","status":"UNPARSE"}`),
			Then:  json.RawMessage(`{"video_no":"` + no + `","video_name":"processing","status":"PARSE","fps":30,"width":1280,"height":720,"resolution_label":"720P"}`),
			After: emulator.Duration(after),
		})
	}
	return vs, nos
}

// live is a server whose watch polls every 100 ms.
var live = with(fastList, "WATCH_INTERVAL", "100ms")

const watchQuery = `subscription($nos: [ID!]!) { watchVideos(videoNos: $nos) { videoNo status fps } }`

// checkWatch checks the events of a watch of nos (processing videos, and
// the unknown VI000…0): every video's UNPARSE state, then its PARSE state
// with the detail field asked, the unknown one as NOT_FOUND once.
func checkWatch(t *testing.T, evs []liveEvent, nos []string) {
	t.Helper()
	seen := map[string][]string{}
	for _, ev := range evs {
		if v := ev.video(t); v != nil {
			seen[v.VideoNo] = append(seen[v.VideoNo], v.Status)
			if v.Status == "PARSE" && (v.Fps == nil || *v.Fps != 30) {
				t.Errorf("%s PARSE without its fps: %+v", v.VideoNo, v)
			}
			continue
		}
		if len(ev.Errors) != 1 || ev.Errors[0].Code() != "NOT_FOUND" || ev.Errors[0].Extensions["videoNo"] != "VI000000000000000000" {
			t.Errorf("event without a video: %+v; want NOT_FOUND for VI000000000000000000", ev.Errors)
		}
		seen["VI000000000000000000"] = append(seen["VI000000000000000000"], "NOT_FOUND")
	}
	for _, no := range nos {
		if got := strings.Join(seen[no], ","); got != "UNPARSE,PARSE" {
			t.Errorf("%s: states %s; want UNPARSE,PARSE", no, got)
		}
	}
	if got := strings.Join(seen["VI000000000000000000"], ","); got != "NOT_FOUND" {
		t.Errorf("unknown video: %s; want NOT_FOUND once", got)
	}
}

// A subscriber watching videos that are processing gets their first state,
// then the change to PARSE, then completion, over each transport.
func TestWatchOverEachTransport(t *testing.T) {
	vs, nos := processingVideos(3, 400*time.Millisecond)
	h := setup(t, emulator.Options{Videos: vs}, live)
	vars := map[string]any{"nos": append(append([]string(nil), nos...), "VI000000000000000000")}

	t.Run("sse", func(t *testing.T) {
		checkWatch(t, untilComplete(t, sseSubscribe(t, h.url, watchQuery, vars), 20*time.Second), nos)
	})
	t.Run("websocket", func(t *testing.T) {
		vs, nos := processingVideos(3, 400*time.Millisecond)
		h := setup(t, emulator.Options{Videos: vs}, live)
		c, _ := wsConnect(t, h.url, nil)
		vars := map[string]any{"nos": append(append([]string(nil), nos...), "VI000000000000000000")}
		checkWatch(t, untilComplete(t, c.subscribe("1", watchQuery, vars), 20*time.Second), nos)
	})
	t.Run("plain POST refuses it", func(t *testing.T) {
		resp := postQuery(t, h.url, watchQuery, vars)
		if resp.Status != http.StatusBadRequest || len(resp.Errors) != 1 || resp.Errors[0].Code() != "BAD_REQUEST" {
			t.Errorf("HTTP %d %s; want 400 BAD_REQUEST", resp.Status, resp.Raw)
		}
	})
}

// However many subscribers watch the same videos, the upstream sees the
// polls of one: one list_videos call per interval.
func TestWatchIsPolledOnceForEveryone(t *testing.T) {
	vs, nos := processingVideos(50, time.Hour)
	h := setup(t, emulator.Options{Videos: vs}, with(fastList, "WATCH_INTERVAL", "200ms"))
	const conns, perConn = 10, 10
	var chans []<-chan liveEvent
	for i := range conns {
		c, _ := wsConnect(t, h.url, nil)
		for j := range perConn {
			chans = append(chans, c.subscribe(fmt.Sprint(i*perConn+j), `subscription($nos: [ID!]!) { watchVideos(videoNos: $nos) { videoNo status } }`, map[string]any{"nos": nos}))
		}
	}
	// Each of the 100 subscribers gets the first state of all 50 videos.
	for i, ch := range chans {
		for j := 0; j < len(nos); j++ {
			select {
			case ev := <-ch:
				if ev.video(t) == nil {
					t.Fatalf("subscriber %d: %+v; want a video", i, ev)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("subscriber %d has %d of 50 first states", i, j)
			}
		}
	}
	before := h.emu.Stats().List.Requests
	time.Sleep(2 * time.Second) // 10 intervals
	polls := h.emu.Stats().List.Requests - before
	if polls < 5 || polls > 12 {
		t.Errorf("%d list_videos calls in 10 intervals for 100 subscribers of 50 videos; want about 10", polls)
	}
	if n := h.emu.Stats().Requests; n != 0 {
		t.Errorf("%d get_metadata calls; want none (no detail field selected)", n)
	}
}

// A watch of one video polls it through list_videos too, the budget its
// share is counted in, although a query for one video alone would take
// get_metadata's budget while it is there.
func TestWatchOfOneVideoPollsListVideos(t *testing.T) {
	vs, nos := processingVideos(1, time.Hour)
	h := setup(t, emulator.Options{Videos: vs}, with(fastList, "WATCH_INTERVAL", "200ms"))
	ch := sseSubscribe(t, h.url, `subscription($nos: [ID!]!) { watchVideos(videoNos: $nos) { videoNo status } }`, map[string]any{"nos": nos})
	select {
	case ev := <-ch:
		if ev.video(t) == nil {
			t.Fatalf("first event %+v; want the video", ev)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no first event")
	}
	eventually.True(t, "three polls", func() bool { st := h.emu.Stats(); return st.List.Requests+st.Requests >= 3 })
	if st := h.emu.Stats(); st.Requests != 0 {
		t.Errorf("%d get_metadata and %d list_videos calls; want list_videos calls only: the watch's polls are counted in that budget", st.Requests, st.List.Requests)
	}
}

// In pass-through mode a WebSocket's key comes in connection_init; with
// access tokens, so does the token, and a connection without one is closed
// with 4403.
func TestWatchOverWebSocketCredentials(t *testing.T) {
	vs, nos := processingVideos(1, 200*time.Millisecond)
	const clientKey = "sk-client"
	h := setup(t, emulator.Options{Videos: vs, Keys: []string{clientKey}}, with(passThrough, "WATCH_INTERVAL", "100ms", "ACCESS_TOKENS", "tok"))

	if _, status := wsConnect(t, h.url, map[string]any{"Authorization": clientKey}); status != 4403 {
		t.Errorf("without a token: close %d; want 4403", status)
	}
	c, status := wsConnect(t, h.url, map[string]any{"Authorization": clientKey, "X-Access-Token": "tok"})
	if c == nil {
		t.Fatalf("with a token: closed %d", status)
	}
	evs := untilComplete(t, c.subscribe("1", watchQuery, map[string]any{"nos": nos}), 20*time.Second)
	if len(evs) == 0 || evs[len(evs)-1].video(t) == nil || evs[len(evs)-1].video(t).Status != "PARSE" {
		t.Errorf("events %+v; want the video through to PARSE", evs)
	}

	// A key in the upgrade request's headers does as well, and no key at
	// all gets UNAUTHENTICATED.
	c, _ = wsConnect(t, h.url, map[string]any{"X-Access-Token": "tok"})
	evs = untilComplete(t, c.subscribe("2", watchQuery, map[string]any{"nos": nos}), 20*time.Second)
	if len(evs) != 1 || len(evs[0].Errors) != 1 || evs[0].Errors[0].Code() != "UNAUTHENTICATED" {
		t.Errorf("without a key: %+v; want one UNAUTHENTICATED error", evs)
	}
}

// A subscription open as the server shuts down gets SHUTTING_DOWN and
// completes.
func TestWatchEndsOnShutdown(t *testing.T) {
	vs, nos := processingVideos(1, time.Hour)
	h := setup(t, emulator.Options{Videos: vs}, live)
	ch := sseSubscribe(t, h.url, watchQuery, map[string]any{"nos": nos})
	if ev := <-ch; ev.video(t) == nil {
		t.Fatalf("first event %+v; want the video", ev)
	}
	h.drain()
	evs := untilComplete(t, ch, 10*time.Second)
	if len(evs) != 1 || len(evs[0].Errors) != 1 || evs[0].Errors[0].Code() != "SHUTTING_DOWN" {
		t.Errorf("events after drain %+v; want one SHUTTING_DOWN error", evs)
	}
}

// liveResult is what e2e/live/run.mjs prints.
type liveResult struct {
	Events    []liveEvent `json:"events"`
	Completed bool        `json:"completed"`
	Error     *struct {
		CloseCode int    `json:"closeCode"`
		Reason    string `json:"reason"`
		Message   string `json:"message"`
	} `json:"error"`
}

// The protocols' reference clients, graphql-ws and graphql-sse, watch
// videos through to completion; graphql-ws reports the close code of a
// connection refused for its access token.
func TestWatchWithReferenceClients(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node")
	}
	node, script := nodeHarness(t, "live", "graphql-ws", "runs the graphql-ws and graphql-sse clients")
	for _, transport := range []string{"ws", "sse"} {
		t.Run(transport, func(t *testing.T) {
			vs, nos := processingVideos(3, 400*time.Millisecond)
			h := setup(t, emulator.Options{Videos: vs}, live)
			var res liveResult
			runNode(t, node, script, []string{string(mustJSON(map[string]any{
				"url": h.url, "transport": transport, "query": watchQuery,
				"variables": map[string]any{"nos": append(append([]string(nil), nos...), "VI000000000000000000")},
			}))}, nil, &res)
			if !res.Completed || res.Error != nil {
				t.Fatalf("completed %v, error %+v; want completed", res.Completed, res.Error)
			}
			checkWatch(t, res.Events, nos)
		})
	}
	t.Run("ws without its access token", func(t *testing.T) {
		vs, nos := processingVideos(1, time.Hour)
		h := setup(t, emulator.Options{Videos: vs}, with(live, "ACCESS_TOKENS", "tok"))
		var res liveResult
		runNode(t, node, script, []string{string(mustJSON(map[string]any{
			"url": h.url, "transport": "ws", "query": watchQuery, "variables": map[string]any{"nos": nos},
		}))}, nil, &res)
		if res.Completed || res.Error == nil || res.Error.CloseCode != 4403 {
			t.Errorf("got %+v; want the connection closed with 4403", res)
		}
	})
}

// wsRaw opens a graphql-transport-ws connection and sends raw messages,
// returning the close status the server ends it with.
func wsRaw(t *testing.T, url string, msgs ...string) coderws.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, _, err := coderws.Dial(ctx, strings.Replace(url, "http", "ws", 1), &coderws.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.CloseNow()
	for _, m := range msgs {
		if err := conn.Write(ctx, coderws.MessageText, []byte(m)); err != nil {
			break
		}
	}
	for {
		if _, _, err := conn.Read(ctx); err != nil {
			return coderws.CloseStatus(err)
		}
	}
}

// Bad input over each transport gets the protocol's answer, and a watch
// on another connection goes on undisturbed.
func TestLiveBadInput(t *testing.T) {
	vs, nos := processingVideos(1, 2*time.Second)
	h := setup(t, emulator.Options{Videos: vs}, with(live, "MAX_SUBSCRIPTIONS_PER_ACCOUNT", "3", "MAX_VIDEOS_PER_QUERY", "5"))
	c, _ := wsConnect(t, h.url, nil)
	watching := c.subscribe("w", watchQuery, map[string]any{"nos": nos})

	const init = `{"type":"connection_init"}`
	for _, tt := range []struct {
		name string
		msgs []string
		want coderws.StatusCode
	}{
		{"not JSON", []string{init, `{"type":`}, 4400},
		{"an unknown message type", []string{init, `{"type":"start","id":"1"}`}, 4400},
		{"subscribe before connection_ack", []string{`{"type":"subscribe","id":"1","payload":{"query":"{ __typename }"}}`}, 4401},
		{"a second connection_init", []string{init, init}, 4429},
		{"a reused id", []string{init, `{"type":"subscribe","id":"1","payload":{"query":"subscription($n: [ID!]!) { watchVideos(videoNos: $n) { videoNo } }","variables":{"n":["VI1"]}}}`,
			`{"type":"subscribe","id":"1","payload":{"query":"subscription($n: [ID!]!) { watchVideos(videoNos: $n) { videoNo } }","variables":{"n":["VI1"]}}}`}, 4409},
	} {
		t.Run("websocket: "+tt.name, func(t *testing.T) {
			if got := wsRaw(t, h.url, tt.msgs...); got != tt.want {
				t.Errorf("closed with %d; want %d", got, tt.want)
			}
		})
	}

	t.Run("sse: a body that is not JSON", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, h.url, strings.NewReader(`{"query":`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("HTTP %d; want 400", resp.StatusCode)
		}
	})
	t.Run("sse: more videos than MAX_VIDEOS_PER_QUERY", func(t *testing.T) {
		evs := untilComplete(t, sseSubscribe(t, h.url, watchQuery, map[string]any{"nos": []string{"a", "b", "c", "d", "e", "f"}}), 10*time.Second)
		if len(evs) != 1 || len(evs[0].Errors) != 1 || evs[0].Errors[0].Code() != "BAD_USER_INPUT" {
			t.Errorf("events %+v; want one BAD_USER_INPUT", evs)
		}
	})
	t.Run("more subscriptions than MAX_SUBSCRIPTIONS_PER_ACCOUNT", func(t *testing.T) {
		// The watch above is one; two more fit, the fourth does not.
		a := c.subscribe("a", watchQuery, map[string]any{"nos": nos})
		b := c.subscribe("b", watchQuery, map[string]any{"nos": nos})
		for _, ch := range []<-chan liveEvent{a, b} {
			if ev := <-ch; ev.video(t) == nil {
				t.Fatalf("subscription within the limit: %+v", ev)
			}
		}
		evs := untilComplete(t, c.subscribe("d", watchQuery, map[string]any{"nos": nos}), 10*time.Second)
		if len(evs) != 1 || len(evs[0].Errors) != 1 || evs[0].Errors[0].Code() != "TOO_MANY_SUBSCRIPTIONS" {
			t.Errorf("fourth subscription: %+v; want TOO_MANY_SUBSCRIPTIONS", evs)
		}
	})

	// The watch on the first connection went on through all of it.
	evs := untilComplete(t, watching, 20*time.Second)
	if last := evs[len(evs)-1].video(t); last == nil || last.Status != "PARSE" {
		t.Errorf("the undisturbed watch: %+v; want it through to PARSE", evs)
	}
}

// watchPolls reads how many list polls of watched videos in reports.
func watchPolls(t *testing.T, in *instance) int {
	t.Helper()
	return int(in.metric(t, `memories_watch_polls_total{call="list"} `))
}

// subscribeAll starts n subscriptions of the watch of nos on in, over
// WebSocket connections of 10 each.
func subscribeAll(t *testing.T, in *instance, n int, nos []string) []<-chan liveEvent {
	t.Helper()
	var chans []<-chan liveEvent
	var c *wsClient
	for i := range n {
		if i%10 == 0 {
			c, _ = wsConnect(t, in.url, nil)
		}
		chans = append(chans, c.subscribe(fmt.Sprint(i), `subscription($nos: [ID!]!) { watchVideos(videoNos: $nos) { videoNo status } }`, map[string]any{"nos": nos}))
	}
	return chans
}

// awaitStatus reads ch until each of nos has had status, and fails t after
// timeout.
func awaitStatus(t *testing.T, ch <-chan liveEvent, nos []string, status string, timeout time.Duration) {
	t.Helper()
	left := map[string]bool{}
	for _, no := range nos {
		left[no] = true
	}
	deadline := time.After(timeout)
	for len(left) > 0 {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended with %d videos not %s", len(left), status)
			}
			if v := ev.video(t); v != nil && v.Status == status {
				delete(left, v.VideoNo)
			}
		case <-deadline:
			t.Fatalf("%d videos not %s within %v", len(left), status, timeout)
		}
	}
}

// 100 subscribers over 2 replicas on one Redis watch the same 50 videos:
// the upstream sees the polls of one watcher, and every subscriber, on
// either replica, sees the change.
func TestWatchSharedAcrossReplicas(t *testing.T) {
	vs, nos := processingVideos(50, 6*time.Second)
	r := setupReplicas(t, 2, emulator.Options{Videos: vs}, withRedis(t, with(fastList, "WATCH_INTERVAL", "300ms")))
	var chans []<-chan liveEvent
	for _, in := range r.servers {
		chans = append(chans, subscribeAll(t, in, 50, nos)...)
	}
	for _, ch := range chans {
		awaitStatus(t, ch, nos, "UNPARSE", 20*time.Second)
	}
	before := r.emu.Stats().List.Requests
	time.Sleep(3 * time.Second) // 10 intervals
	polls := r.emu.Stats().List.Requests - before
	if polls < 5 || polls > 14 {
		t.Errorf("%d list_videos calls in 10 intervals for 100 subscribers on 2 replicas; want about 10, one replica's", polls)
	}
	for _, ch := range chans {
		awaitStatus(t, ch, nos, "PARSE", 20*time.Second)
	}
}

// The replica that polls is killed: the other takes its polls over within
// a few intervals, and its subscribers see the change.
func TestWatchTakeover(t *testing.T) {
	vs, nos := processingVideos(3, 4*time.Second)
	r := setupReplicas(t, 2, emulator.Options{Videos: vs}, withRedis(t, with(fastList, "WATCH_INTERVAL", "300ms")))
	a := subscribeAll(t, r.servers[0], 1, nos)[0]
	b := subscribeAll(t, r.servers[1], 1, nos)[0]
	awaitStatus(t, a, nos, "UNPARSE", 10*time.Second)
	awaitStatus(t, b, nos, "UNPARSE", 10*time.Second)
	time.Sleep(time.Second)
	holder, survivor, survivorCh := 0, 1, b
	if watchPolls(t, r.servers[1]) > watchPolls(t, r.servers[0]) {
		holder, survivor, survivorCh = 1, 0, a
	}
	_ = r.servers[holder].close()
	before := watchPolls(t, r.servers[survivor])
	eventually.True(t, "the survivor to poll", func() bool { return watchPolls(t, r.servers[survivor]) > before })
	awaitStatus(t, survivorCh, nos, "PARSE", 15*time.Second)
}

// Redis stops during a watch: each replica polls for its own subscribers,
// who keep getting changes, and sharing resumes when Redis is back.
func TestWatchWithoutRedis(t *testing.T) {
	redis := redistest.StartServer(t)
	vs, nos := processingVideos(4, 5*time.Second)
	vs[2].After = emulator.Duration(time.Hour)        // still processing when Redis is back
	vs[3].After = emulator.Duration(16 * time.Second) // done once sharing has resumed
	env := with(fastList, "WATCH_INTERVAL", "300ms", "REDIS_URL", redis.URL(), "REDIS_KEY_PREFIX", "watch-test", "REDIS_TIMEOUT", "200ms")
	r := setupReplicas(t, 2, emulator.Options{Videos: vs}, env)
	a := subscribeAll(t, r.servers[0], 1, nos)[0]
	b := subscribeAll(t, r.servers[1], 1, nos)[0]
	awaitStatus(t, a, nos, "UNPARSE", 10*time.Second)
	awaitStatus(t, b, nos, "UNPARSE", 10*time.Second)
	redis.Stop()
	// Both replicas poll now: each one's count grows.
	p0, p1 := watchPolls(t, r.servers[0]), watchPolls(t, r.servers[1])
	eventually.True(t, "both replicas to poll for themselves", func() bool {
		return watchPolls(t, r.servers[0]) > p0+2 && watchPolls(t, r.servers[1]) > p1+2
	})
	awaitStatus(t, a, nos[:2], "PARSE", 15*time.Second)
	awaitStatus(t, b, nos[:2], "PARSE", 15*time.Second)

	// With Redis back, the video still processing is polled by one
	// replica again: in 10 intervals, about 10 polls between the two.
	redis.Start()
	eventually.True(t, "sharing to resume", func() bool {
		p0, p1 := watchPolls(t, r.servers[0]), watchPolls(t, r.servers[1])
		time.Sleep(3 * time.Second)
		return watchPolls(t, r.servers[0])-p0+watchPolls(t, r.servers[1])-p1 <= 14
	})
	// And the other replica hears the polls again: both subscribers see
	// the last change.
	awaitStatus(t, a, nos[3:], "PARSE", 20*time.Second)
	awaitStatus(t, b, nos[3:], "PARSE", 20*time.Second)
}

// Through the real server, a WebSocket that never subscribes is closed
// after WEBSOCKET_IDLE_TIMEOUT with 1000.
func TestWebsocketIdleTimeout(t *testing.T) {
	h := setup(t, emulator.Options{}, with(live, "WEBSOCKET_IDLE_TIMEOUT", "500ms"))
	if got := wsRaw(t, h.url, `{"type":"connection_init"}`); got != coderws.StatusNormalClosure {
		t.Errorf("closed with %d; want %d", got, coderws.StatusNormalClosure)
	}
}
