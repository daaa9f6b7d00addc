package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/hostile"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

// maxRefusalBytes bounds the answer to any request the server refuses.
const maxRefusalBytes = 64 << 10

// checkRefused checks the answer to p: refused as a whole (no data), within
// maxRefusalBytes, every error coded, at most 101 of them (100 and the
// one that stopped validation), the last one p.Code and p.Limit.
func checkRefused(t *testing.T, p hostile.Payload, resp response) {
	t.Helper()
	if len(resp.Raw) > maxRefusalBytes {
		t.Errorf("answer of %d bytes; want at most %d", len(resp.Raw), maxRefusalBytes)
	}
	if resp.Data != nil {
		t.Errorf("answer has data; want a refusal\n%.300s", resp.Raw)
	}
	if n := len(resp.Errors); n == 0 || n > 101 {
		t.Fatalf("%d errors; want 1 to 101\n%.300s", n, resp.Raw)
	}
	for _, e := range resp.Errors {
		if e.Code() == "" {
			t.Errorf("error %q has no extensions.code", e.Message)
		}
	}
	last := resp.Errors[len(resp.Errors)-1]
	if got := last.Code(); got != p.Code {
		t.Errorf("last error %q: code %q; want %q", last.Message, got, p.Code)
	}
	if got, _ := last.Extensions["limit"].(string); got != p.Limit {
		t.Errorf("last error %q: limit %q; want %q", last.Message, got, p.Limit)
	}
	if p.Limit != "" {
		if _, ok := last.Extensions["max"].(float64); !ok {
			t.Errorf("last error %q: extensions.max %v; want the limit's value", last.Message, last.Extensions["max"])
		}
	}
}

// TestHostileRequests sends each of hostile's refused requests through the
// real server, over POST, over GET when it fits in a URL, and as a
// persisted query: each is refused with its code, in a small answer,
// before any upstream call, and the server still answers a normal query
// afterwards.
func TestHostileRequests(t *testing.T) {
	h := setup(t, emulator.Options{}, fast)
	normal := `{ video(videoNo: "` + vendorExample + `") { videoNo status } }`
	for _, p := range hostile.Refused() {
		t.Run(p.Name, func(t *testing.T) {
			before := h.emu.Stats().Requests
			checkRefused(t, p, postBody(t, h.url, mustJSON(p.Body())))

			if len(p.Query) < 200_000 { // Go's server takes a request line of up to 1 MB
				v := url.Values{"query": {p.Query}}
				if p.OperationName != "" {
					v.Set("operationName", p.OperationName)
				}
				checkRefused(t, p, getQuery(t, h.url+"?"+v.Encode()))
			}

			sum := sha256.Sum256([]byte(p.Query))
			apq := p.Body()
			apq["extensions"] = map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
			checkRefused(t, p, postBody(t, h.url, mustJSON(apq)))

			if got := h.emu.Stats().Requests - before; got != 0 {
				t.Errorf("upstream calls = %d; want 0", got)
			}
			if resp := h.query(t, normal, nil); len(resp.Errors) > 0 || resp.Data["video"] == nil {
				t.Errorf("normal query afterwards: %s", resp.Raw)
			}
		})
	}

	// Each refusal is counted by its reason.
	m := h.metrics(t)
	for _, reason := range []string{"selections", "directives", "variables", "operations", "tokens", "executed_fields", "name_length", "value_nesting", "validation", "input", "introspection_fields"} {
		if !regexp.MustCompile(`graphql_requests_refused_total\{reason="` + reason + `"\} [1-9]`).MatchString(m) {
			t.Errorf("/metrics has no refusal for %q", reason)
		}
	}
}

// TestLargestRequests sends the largest requests this service promises to
// serve (at MAX_VIDEOS_PER_QUERY and MAX_DETAIL_VIDEOS_PER_QUERY's
// defaults) through the real server: each is answered with data and no
// error.
func TestLargestRequests(t *testing.T) {
	h := setup(t, emulator.Options{}, fast)
	var ids []string
	for _, v := range emulator.Samples() {
		no, err := v.VideoNo()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, no)
	}
	for _, p := range hostile.Largest(2000, 100, ids) {
		t.Run(p.Name, func(t *testing.T) {
			resp := postBody(t, h.url, mustJSON(p.Body()))
			if len(resp.Errors) > 0 || resp.Data == nil {
				t.Errorf("got %d errors, first %+v; want data and no errors", len(resp.Errors), resp.Errors)
			}
		})
	}
}

// TestHostileRequestsMemory holds the worst refused requests to a bound
// on memory, with a wide margin: the process's peak resident set
// (VmHWM, reset before) grows by less than 256 MB while they are sent,
// and each allocates less than 32 MB, the client's side included. Before
// the limits, one of them took the process from 60 MB to 2 GB.
func TestHostileRequestsMemory(t *testing.T) {
	h := setup(t, emulator.Options{}, fast)
	bodies := map[string][]byte{}
	for _, p := range hostile.Refused() {
		bodies[p.Name] = mustJSON(p.Body())
	}
	runtime.GC()
	resetPeakRSS(t)
	start := peakRSS(t)
	for name, body := range bodies {
		before := allocatedBytes()
		resp := postBody(t, h.url, body)
		if got := allocatedBytes() - before; got > 32<<20 {
			t.Errorf("%s: %d MB allocated; want under 32", name, got>>20)
		}
		if resp.Data != nil {
			t.Errorf("%s: answered with data", name)
		}
	}
	// The kernel counts resident pages per thread and sums them lazily, so
	// two readings may be a little out of order.
	if end := peakRSS(t); end > start+256<<20 {
		t.Errorf("peak RSS grew by %d MB; want under 256", (end-start)>>20)
	}
}

// allocatedBytes is the process's heap allocations so far.
func allocatedBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// resetPeakRSS resets the process's VmHWM (Linux: clear_refs 5).
func resetPeakRSS(t *testing.T) {
	t.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("reset VmHWM: %v", err)
	}
}

// peakRSS reads the process's VmHWM in bytes.
func peakRSS(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmHWM in /proc/self/status")
	}
	kb, _ := strconv.ParseUint(string(m[1]), 10, 64)
	return kb << 10
}

// TestTrickledBodies sends bodies that arrive a byte at a time, with and
// without a Content-Length, through the real server: each is cut off at
// BODY_READ_TIMEOUT with 408 and a closed connection, and the server
// answers the next request.
func TestTrickledBodies(t *testing.T) {
	h := setup(t, emulator.Options{}, with(fast, "BODY_READ_TIMEOUT", "500ms"))
	body := `{"query":"{ __typename }"}`
	addr := strings.TrimPrefix(h.origin, "http://")
	for _, tt := range []struct {
		name, header string
		chunk        func(b byte) string
	}{
		{"content length", fmt.Sprintf("Content-Length: %d\r\n", len(body)), func(b byte) string { return string(b) }},
		{"chunked", "Transfer-Encoding: chunked\r\n", func(b byte) string { return "1\r\n" + string(b) + "\r\n" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s\r\n", tt.header)
			done := make(chan struct{})
			defer close(done)
			go func() { // the whole body would take 25 s
				for i := 0; i < len(body); i++ {
					select {
					case <-done:
						return
					case <-time.After(time.Second):
					}
					if _, err := io.WriteString(conn, tt.chunk(body[i])); err != nil {
						return
					}
				}
			}()
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
				t.Errorf("HTTP %d, close %v: %s; want 408 and the connection closed", resp.StatusCode, resp.Close, raw)
			}
		})
	}
	if resp := h.query(t, `{ __typename }`, nil); len(resp.Errors) > 0 {
		t.Errorf("next request: %s", resp.Raw)
	}
}

// The hostile documents are refused over the streams too, as over POST:
// as a subscription's error over WebSocket (the connection stays up), and
// as the only event of an event stream; no upstream call.
func TestHostileRequestsOverStreams(t *testing.T) {
	h := setup(t, emulator.Options{}, live)
	c, _ := wsConnect(t, h.url, nil)
	for i, p := range hostile.Refused() {
		if p.OperationName != "" {
			continue // the streams' clients here send no operation name
		}
		check := func(transport string, evs []liveEvent) {
			t.Helper()
			var last videotest.GQLError
			n := 0
			for _, ev := range evs {
				n += len(ev.Errors)
				if len(ev.Errors) > 0 {
					last = ev.Errors[len(ev.Errors)-1]
				}
			}
			if n == 0 || last.Code() != p.Code || (p.Limit != "" && last.Extensions["limit"] != p.Limit) {
				t.Errorf("%s over %s: last error %+v; want %s %s", p.Name, transport, last, p.Code, p.Limit)
			}
		}
		check("WebSocket", untilComplete(t, c.subscribe(fmt.Sprint(i), p.Query, p.Variables), 20*time.Second))
		check("SSE", untilComplete(t, sseSubscribe(t, h.url, p.Query, p.Variables), 20*time.Second))
	}
	if got := h.emu.Stats().Requests + h.emu.Stats().List.Requests; got != 0 {
		t.Errorf("upstream calls = %d; want 0", got)
	}
}
