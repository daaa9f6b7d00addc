package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	coderws "github.com/coder/websocket"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

const watchUsage = `usage: loadtest watch [flags]

Measures watchVideos on our server in front of the emulator, whose videos
stay UNPARSE: for S subscribers (over WebSocket, 10 a connection) watching
the same V videos, the upstream calls per interval, against the calls of
each client polling get_metadata on its own; the memory of an idle
subscription over WebSocket and over SSE; and, with 1,000 subscribers, the
time from the poll's answer that carries a change to each subscriber's
event.

`

func watchFlags() *modeFlags {
	f := newModeFlags("watch", watchUsage)
	f.serverBinFlag()
	f.DurationVar(&f.o.interval, "interval", time.Second, "the server's WATCH_INTERVAL")
	f.IntVar(&f.o.intervals, "intervals", 10, "intervals each count of calls lasts")
	checkAtLeast(f, "intervals", &f.o.intervals, 2)
	return f
}

// watch is the watch mode.
func watch(ctx context.Context, o *options, bin, _ string) error {
	fmt.Printf("watchVideos, WATCH_INTERVAL=%v, %d intervals per count\n\n", o.interval, o.intervals)
	fmt.Println("| subscribers S | videos V | list_videos calls per interval | each client polling: get_metadata calls per interval |")
	fmt.Println("|---:|---:|---:|---:|")
	for _, v := range []int{10, 50, 200} {
		for _, s := range []int{1, 100, 1000} {
			perInterval, err := watchCalls(ctx, o, bin, s, v)
			if err != nil {
				return fmt.Errorf("S=%d V=%d: %w", s, v, err)
			}
			fmt.Printf("| %d | %d | %.2f | %d |\n", s, v, perInterval, s*v)
		}
	}
	fmt.Println()
	for _, transport := range []string{"websocket", "sse"} {
		per, err := watchMemory(ctx, o, bin, transport, 1000)
		if err != nil {
			return fmt.Errorf("memory over %s: %w", transport, err)
		}
		fmt.Printf("memory of an idle subscription over %s: %.1f KB (RSS growth over 1000 subscriptions of one video)\n", transport, per/1024)
	}
	lat, err := watchLatency(ctx, o, bin, 1000)
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	p := percentiles(lat)
	fmt.Printf("\nfrom the poll's answer with the change to the event, 1000 subscribers over WebSocket: p50 %v, p90 %v, p99 %v, max %v\n", p[0], p[1], p[2], p[3])
	return nil
}

// stuckVideos are n videos that stay UNPARSE for hours, and their numbers.
func stuckVideos(n int, after time.Duration) ([]emulator.Video, []string) {
	var vs []emulator.Video
	var nos []string
	for i := range n {
		no := fmt.Sprintf("VI8%018d", i)
		nos = append(nos, no)
		vs = append(vs, emulator.Video{
			Data:  json.RawMessage(`{"video_no":"` + no + `","video_name":"processing","status":"UNPARSE"}`),
			Then:  json.RawMessage(`{"video_no":"` + no + `","video_name":"processing","status":"PARSE"}`),
			After: emulator.Duration(after),
		})
	}
	return vs, nos
}

// watchServer starts the emulator (behind handler, if not nil) with vs and
// our server in front of it.
func watchServer(ctx context.Context, o *options, bin string, vs []emulator.Video, wrap func(http.Handler) http.Handler) (*server, *emulator.Server, func(), error) {
	emu := emulator.New(emulator.Options{Keys: []string{loadKey}, Videos: vs, ListPageCap: 200})
	h := emu.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	ts := &http.Server{Handler: h}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, nil, err
	}
	go func() { _ = ts.Serve(ln) }()
	env := map[string]string{
		"MEMORIES_API_KEY": loadKey, "MEMORIES_BASE_URL": "http://" + ln.Addr().String(),
		"MEMORIES_RATE_LIMIT": "10000", "MEMORIES_RATE_BURST": "1000",
		"MEMORIES_LIST_RATE_LIMIT": "10000", "MEMORIES_LIST_RATE_BURST": "1000",
		"WATCH_INTERVAL": o.interval.String(), "LOG_LEVEL": "info",
		"MAX_SUBSCRIPTIONS_PER_ACCOUNT": "100000",
	}
	srv, err := o.startServer(ctx, bin, env, "")
	if err != nil {
		ts.Close()
		return nil, nil, nil, err
	}
	return srv, emu, func() { srv.stop(); ts.Close(); emu.Close() }, nil
}

// wsSubscriber is one graphql-transport-ws connection carrying several
// subscriptions; events counts what it received.
type wsSubscriber struct {
	conn   *coderws.Conn
	events atomic.Int64
}

func dialSubscriber(ctx context.Context, addr string) (*wsSubscriber, error) {
	c, _, err := coderws.Dial(ctx, "ws://"+addr+"/query", &coderws.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(8 << 20)
	if err := c.Write(ctx, coderws.MessageText, []byte(`{"type":"connection_init"}`)); err != nil {
		return nil, err
	}
	if _, _, err := c.Read(ctx); err != nil { // connection_ack
		return nil, err
	}
	return &wsSubscriber{conn: c}, nil
}

func (w *wsSubscriber) subscribe(ctx context.Context, id string, nos []string) error {
	msg, _ := json.Marshal(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{
		"query":     `subscription($nos: [ID!]!) { watchVideos(videoNos: $nos) { videoNo status } }`,
		"variables": map[string]any{"nos": nos},
	}})
	return w.conn.Write(ctx, coderws.MessageText, msg)
}

// read reads until the connection ends, calling onParse with the arrival
// time of each event that carries PARSE.
func (w *wsSubscriber) read(onParse func(time.Time)) {
	for {
		_, raw, err := w.conn.Read(context.Background())
		if err != nil {
			return
		}
		if strings.Contains(string(raw), `"type":"ping"`) {
			_ = w.conn.Write(context.Background(), coderws.MessageText, []byte(`{"type":"pong"}`))
			continue
		}
		w.events.Add(1)
		if onParse != nil && strings.Contains(string(raw), `"PARSE"`) {
			onParse(time.Now())
		}
	}
}

// subscribers opens s subscriptions of nos, 10 a connection, and waits
// until each has its first events.
func subscribers(ctx context.Context, addr string, s int, nos []string, onParse func(time.Time)) ([]*wsSubscriber, error) {
	var subs []*wsSubscriber
	for i := 0; i < s; i += 10 {
		w, err := dialSubscriber(ctx, addr)
		if err != nil {
			return subs, err
		}
		subs = append(subs, w)
		go w.read(onParse)
		for j := i; j < min(i+10, s); j++ {
			if err := w.subscribe(ctx, strconv.Itoa(j), nos); err != nil {
				return subs, err
			}
		}
	}
	want := int64(s * len(nos))
	for deadline := time.Now().Add(60 * time.Second); ; {
		var got int64
		for _, w := range subs {
			got += w.events.Load()
		}
		if got >= want {
			return subs, nil
		}
		if time.Now().After(deadline) {
			return subs, fmt.Errorf("%d of %d first states arrived", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func closeAll(subs []*wsSubscriber) {
	for _, w := range subs {
		w.conn.CloseNow()
	}
}

// watchCalls returns the list_videos calls per interval for s subscribers
// watching v videos.
func watchCalls(ctx context.Context, o *options, bin string, s, v int) (float64, error) {
	vs, nos := stuckVideos(v, 24*time.Hour)
	srv, emu, stop, err := watchServer(ctx, o, bin, vs, nil)
	if err != nil {
		return 0, err
	}
	defer stop()
	subs, err := subscribers(ctx, srv.addr, s, nos, nil)
	defer closeAll(subs)
	if err != nil {
		return 0, err
	}
	before := emu.Stats().List.Requests
	time.Sleep(time.Duration(o.intervals) * o.interval)
	return float64(emu.Stats().List.Requests-before) / float64(o.intervals), nil
}

// watchMemory returns the server's RSS growth per idle subscription of one
// video, over n subscriptions on transport.
func watchMemory(ctx context.Context, o *options, bin, transport string, n int) (float64, error) {
	vs, nos := stuckVideos(1, 24*time.Hour)
	srv, _, stop, err := watchServer(ctx, o, bin, vs, nil)
	if err != nil {
		return 0, err
	}
	defer stop()
	time.Sleep(500 * time.Millisecond)
	before, err := readMem(srv.pid())
	if err != nil {
		return 0, err
	}
	switch transport {
	case "websocket":
		subs, err := subscribers(ctx, srv.addr, n, nos, nil)
		defer closeAll(subs)
		if err != nil {
			return 0, err
		}
	case "sse":
		body, _ := json.Marshal(map[string]any{"query": `subscription($nos: [ID!]!) { watchVideos(videoNos: $nos) { videoNo status } }`, "variables": map[string]any{"nos": nos}})
		client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: n}}
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var wg sync.WaitGroup
		var first sync.WaitGroup
		for range n {
			first.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequestWithContext(sctx, http.MethodPost, "http://"+srv.addr+"/query", strings.NewReader(string(body)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "text/event-stream")
				resp, err := client.Do(req)
				if err != nil {
					first.Done()
					return
				}
				defer resp.Body.Close()
				buf := make([]byte, 4096)
				seen := false
				for {
					k, err := resp.Body.Read(buf)
					if !seen && strings.Contains(string(buf[:k]), "event: next") {
						seen = true
						first.Done()
					}
					if err != nil {
						if !seen {
							first.Done()
						}
						return
					}
				}
			}()
		}
		first.Wait()
		defer wg.Wait()
		defer cancel()
	}
	time.Sleep(time.Second)
	after, err := readMem(srv.pid())
	if err != nil {
		return 0, err
	}
	return float64(after.rss-before.rss) / float64(n), nil
}

// watchLatency returns, for n subscribers of one video, the time from the
// emulator's answer that first carries PARSE to each subscriber's PARSE
// event.
func watchLatency(ctx context.Context, o *options, bin string, n int) ([]time.Duration, error) {
	vs, nos := stuckVideos(1, 3*time.Second)
	var mu sync.Mutex
	var answered time.Time
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cw := &captureWriter{ResponseWriter: w}
			next.ServeHTTP(cw, r)
			if strings.Contains(cw.body.String(), `"PARSE"`) {
				mu.Lock()
				if answered.IsZero() {
					answered = time.Now()
				}
				mu.Unlock()
			}
		})
	}
	srv, _, stop, err := watchServer(ctx, o, bin, vs, wrap)
	if err != nil {
		return nil, err
	}
	defer stop()
	var arrivals []time.Time
	var amu sync.Mutex
	subs, err := subscribers(ctx, srv.addr, n, nos, func(t time.Time) {
		amu.Lock()
		arrivals = append(arrivals, t)
		amu.Unlock()
	})
	defer closeAll(subs)
	if err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		amu.Lock()
		got := len(arrivals)
		amu.Unlock()
		if got >= n {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d subscribers saw the change", got, n)
		}
	}
	mu.Lock()
	t0 := answered
	mu.Unlock()
	var lat []time.Duration
	for _, t := range arrivals {
		lat = append(lat, t.Sub(t0))
	}
	slices.Sort(lat)
	return lat, nil
}

// captureWriter keeps a copy of what it writes.
type captureWriter struct {
	http.ResponseWriter
	body strings.Builder
}

func (c *captureWriter) Write(b []byte) (int, error) {
	c.body.Write(b)
	return c.ResponseWriter.Write(b)
}
