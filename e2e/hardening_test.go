package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/eventually"
	"github.com/memories-facade/memories-graphql/internal/hostile"
)

// A 2001-alias query (one over MAX_VIDEOS_PER_QUERY), a 3000-alias query
// (over MAX_SELECTIONS too) and a 12-deep query are refused before any
// upstream call; GraphiQL's own introspection query is not. The schema has no
// recursion outside introspection, where gqlparser's own rule already caps
// nesting, so MAX_QUERY_DEPTH is shown biting with a low setting.
func TestQueryLimits(t *testing.T) {
	h := setup(t, emulator.Options{}, fast)
	shallow := setup(t, emulator.Options{}, with(fast, "MAX_QUERY_DEPTH", "3"))

	aliases := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, " a%d: video(videoNo: \"VI%d\") { videoNo }", i, i%7)
		}
		return b.String() + " }"
	}

	deep := `{ video(videoNo: "` + vendorExample + `") { videoNo } __schema { types { fields { type { fields { type { fields { type { fields { type { fields { name } } } } } } } } } } } }`

	tests := []struct {
		name     string
		h        *harness
		query    string
		wantCode string
	}{
		{"2001 aliases", h, aliases(2001), "BAD_USER_INPUT"},
		{"3000 aliases", h, aliases(3000), "QUERY_TOO_COMPLEX"},
		{"depth 12", h, deep, "GRAPHQL_VALIDATION_FAILED"},
		{"GraphiQL introspection", h, hostile.Introspection, ""},
		{"depth 4 over a limit of 3", shallow, `{ video(videoNo: "` + vendorExample + `") { captureMetadata { location { latitude } } } }`, "DEPTH_LIMIT_EXCEEDED"},
		{"depth 3 within a limit of 3", shallow, `{ __typename video(videoNo: "VI0") { captureMetadata { tags } } }`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h
			before := h.emu.Stats().Requests
			resp := h.query(t, tt.query, nil)
			switch {
			case tt.wantCode == "" && len(resp.Errors) > 0:
				t.Errorf("errors = %+v; want none", resp.Errors)
			case tt.wantCode != "" && (len(resp.Errors) != 1 || resp.Errors[0].Code() != tt.wantCode):
				t.Errorf("errors = %+v; want one %s", resp.Errors, tt.wantCode)
			}
			if got := h.emu.Stats().Requests - before; tt.wantCode != "" && got != 0 {
				t.Errorf("upstream calls = %d; want 0", got)
			}
		})
	}
}

func TestIntrospectionSwitch(t *testing.T) {
	h := setup(t, emulator.Options{}, with(fast, "INTROSPECTION", "false"))
	resp := h.query(t, `{ __schema { queryType { name } } }`, nil)
	if len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, "introspection is disabled") || resp.Errors[0].Code() != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("errors = %+v; want introspection disabled", resp.Errors)
	}
	if resp := h.query(t, `{ video(videoNo: "`+vendorExample+`") { videoName __typename } }`, nil); len(resp.Errors) > 0 {
		t.Errorf("a normal query with introspection off: %+v", resp.Errors)
	}
}

func TestAccessTokens(t *testing.T) {
	const token = "client-token-5be1"
	q := `{ video(videoNo: "` + vendorExample + `") { videoName } }`
	t.Run("fixed key", func(t *testing.T) {
		h := setup(t, emulator.Options{}, with(fast, "ACCESS_TOKENS", "other-token, "+token))
		for _, tt := range []struct {
			name    string
			headers []string
			want    int
		}{
			{"none", nil, 401},
			{"wrong", []string{"X-Access-Token", "nope"}, 401},
			{"header", []string{"X-Access-Token", token}, 200},
			{"bearer", []string{"Authorization", "Bearer " + token}, 200},
		} {
			resp := h.query(t, q, nil, tt.headers...)
			if resp.Status != tt.want {
				t.Errorf("%s: HTTP %d; want %d (%s)", tt.name, resp.Status, tt.want, resp.Raw)
			}
			if tt.want == 401 && (len(resp.Errors) != 1 || resp.Errors[0].Code() != "UNAUTHENTICATED") {
				t.Errorf("%s: errors = %+v; want UNAUTHENTICATED", tt.name, resp.Errors)
			}
			if strings.Contains(resp.Raw, token) {
				t.Errorf("%s: response echoes the token", tt.name)
			}
		}
		if got := h.emu.Stats().Requests; got != 1 {
			t.Errorf("upstream calls = %d; want 1 (refused requests make none; the second allowed one is cached)", got)
		}
	})
	t.Run("pass-through", func(t *testing.T) {
		const key = "sk-pass-7c2d"
		h := setup(t, emulator.Options{Keys: []string{key}}, with(passThrough, "ACCESS_TOKENS", token))
		// Authorization carries the upstream key here, so the token must
		// come in X-Access-Token.
		if resp := h.query(t, q, nil, "Authorization", "Bearer "+token); resp.Status != 401 {
			t.Errorf("token as Bearer in pass-through: HTTP %d; want 401", resp.Status)
		}
		resp := h.query(t, q, nil, "Authorization", key, "X-Access-Token", token)
		if resp.Status != 200 || len(resp.Errors) > 0 {
			t.Errorf("key and token: HTTP %d %s; want data", resp.Status, resp.Raw)
		}
	})
}

func TestCORS(t *testing.T) {
	h := setup(t, emulator.Options{}, with(fast, "CORS_ALLOWED_ORIGINS", "https://app.example.com"))
	for _, tt := range []struct {
		origin string
		want   string
	}{
		{"https://app.example.com", "https://app.example.com"},
		{"https://evil.example.net", ""},
	} {
		req, _ := http.NewRequest(http.MethodOptions, h.url, nil)
		req.Header.Set("Origin", tt.origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type, x-access-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.want {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin = %q; want %q", tt.origin, got, tt.want)
		}
	}
}

func TestMetricsEndpoint(t *testing.T) {
	vs, nos := testVideos(3)
	h := setup(t, emulator.Options{Videos: vs, Faults: map[string]emulator.Fault{nos[2]: {Kind: emulator.FaultHTTPError}}}, fast)
	// Every reference to a video within a request shares its answer, a
	// failure included: the repeated list costs no call.
	q := `query Catalog($nos: [ID!]!, $good: [ID!]!) { videos(videoNos: $nos) { videoNo } again: videos(videoNos: $good) { videoNo } }`
	h.query(t, q, map[string]any{"nos": nos, "good": nos})
	h.query(t, q, map[string]any{"nos": nos[:2], "good": nos[:2]}) // cache hits

	text := h.metrics(t)
	for _, want := range []string{
		`memories_upstream_calls_total{endpoint="get_metadata",outcome="ok"} 2`,
		`memories_upstream_calls_total{endpoint="get_metadata",outcome="upstream_error"} 1`,
		`memories_upstream_call_duration_seconds_count{endpoint="get_metadata",outcome="ok"} 2`,
		`memories_ratelimit_wait_seconds_count{endpoint="get_metadata"} 3`,
		`memories_cache_requests_total{result="hit"} 2`,
		`memories_cache_requests_total{result="miss"} 3`,
		`memories_loader_batch_size_count`,
		`graphql_operations_total{operation="Catalog",outcome="partial"} 1`,
		`graphql_operations_total{operation="Catalog",outcome="ok"} 1`,
		`graphql_operation_duration_seconds_count{outcome="ok"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(text, testKey) || strings.Contains(text, emulator.KeyHash(testKey)[:12]) {
		t.Error("/metrics names the account")
	}
}

// collector is an OTLP/HTTP trace collector that keeps what it receives.
type collector struct {
	url   string
	mu    sync.Mutex
	spans []*tracev1.Span
	raw   bytes.Buffer
}

func startCollector(t *testing.T) *collector {
	t.Helper()
	c := &collector{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Error(err)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		var req coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Errorf("collector: %v", err)
		}
		c.mu.Lock()
		c.raw.Write(b)
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				c.spans = append(c.spans, ss.Spans...)
			}
		}
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

// named returns the spans received with the given name.
func (c *collector) named(name string) []*tracev1.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*tracev1.Span
	for _, s := range c.spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// tracedApp starts the service against emu, exporting its spans to c. Its
// stop function closes the app, which flushes the spans.
func tracedApp(t *testing.T, emu *emulator.Server, c *collector) (url string, stop func()) {
	t.Helper()
	in := startInstance(t, with(fast, "MEMORIES_BASE_URL", emu.URL(), "OTEL_EXPORTER_OTLP_ENDPOINT", c.url), nil)
	return in.url, func() {
		if err := in.close(); err != nil {
			t.Fatal(err)
		}
	}
}

func attr(s *tracev1.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			if _, ok := kv.Value.GetValue().(*commonv1.AnyValue_IntValue); ok {
				return strconv.FormatInt(kv.Value.GetIntValue(), 10)
			}
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

// A span per operation and per upstream call reaches an OTLP/HTTP collector,
// and no span carries the key.
func TestTracesExported(t *testing.T) {
	c := startCollector(t)
	emu := startEmulator(t, emulator.Options{})
	url, stop := tracedApp(t, emu, c)
	postQuery(t, url, `query Traced { video(videoNo: "`+vendorExample+`") { videoNo } }`, nil)
	stop()

	for _, want := range []string{"graphql.query Traced", "videocache.lookup", "memories.get_metadata"} {
		if len(c.named(want)) == 0 {
			t.Errorf("no %q span; want one", want)
		}
	}
	// The call's span says which video and how it went.
	for _, s := range c.named("memories.get_metadata") {
		for key, want := range map[string]string{"memories.video_no": vendorExample, "memories.unique_id": "default", "memories.outcome": "ok"} {
			if got := attr(s, key); got != want {
				t.Errorf("get_metadata span attribute %s = %q; want %q", key, got, want)
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if bytes.Contains(c.raw.Bytes(), []byte(testKey)) {
		t.Error("exported spans contain the API key")
	}
}

// A request that shares another request's upstream call has its lookup span
// link to the lookup that made the call, so its trace shows where its time
// went.
func TestTracesLinkSharedCalls(t *testing.T) {
	c := startCollector(t)
	// A slow upstream, so that the second request joins the first's call
	// even on a loaded machine.
	emu := startEmulator(t, emulator.Options{Latency: 3 * time.Second})
	url, stop := tracedApp(t, emu, c)
	q := `query Shared { video(videoNo: "` + vendorExample + `") { videoNo } }`
	done := make(chan struct{})
	go func() {
		defer close(done)
		postQuery(t, url, q, nil)
	}()
	eventually.True(t, "the first request's upstream call", func() bool { return emu.Stats().Requests == 1 })
	postQuery(t, url, q, nil)
	<-done
	stop()

	if got := emu.Stats().Requests; got != 1 {
		t.Fatalf("upstream calls = %d; want 1 (the second request shares the first's)", got)
	}
	// A lookup span counts how its videos were answered.
	results := map[string]*tracev1.Span{}
	for _, s := range c.named("videocache.lookup") {
		for _, result := range []string{"miss", "coalesced"} {
			if attr(s, "cache."+map[string]string{"miss": "misses", "coalesced": "coalesced"}[result]) == "1" {
				results[result] = s
			}
		}
	}
	miss, shared := results["miss"], results["coalesced"]
	if miss == nil || shared == nil {
		t.Fatalf("lookup spans by result = %v; want a miss and a coalesced one", results)
	}
	if len(shared.Links) != 1 || !bytes.Equal(shared.Links[0].SpanId, miss.SpanId) || !bytes.Equal(shared.Links[0].TraceId, miss.TraceId) {
		t.Errorf("coalesced lookup links = %v; want one link to the miss's span %x", shared.Links, miss.SpanId)
	}
	calls := c.named("memories.get_metadata")
	if len(calls) != 1 || !bytes.Equal(calls[0].TraceId, miss.TraceId) {
		t.Errorf("upstream call spans = %d; want 1, in the trace of the lookup that made it", len(calls))
	}
}
