package gqlhttp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/memories-facade/memories-graphql/internal/cost"
)

func TestNegotiate(t *testing.T) {
	for _, tt := range []struct{ accept, want string }{
		{"", mediaJSON},
		{"*/*", mediaJSON},
		{"application/*", mediaJSON},
		{"text/html", mediaJSON},
		{"not a media type", mediaJSON},
		{"application/json", mediaJSON},
		{"application/graphql-response+json", mediaGraphQLResponse},
		{"application/graphql-response+json; charset=utf-8", mediaGraphQLResponse},
		// Apollo Client and graphql-http's client.
		{"application/graphql-response+json,application/json;q=0.9", mediaGraphQLResponse},
		{"application/json, application/graphql-response+json", mediaJSON},
		{"application/json;q=0.5, application/graphql-response+json", mediaGraphQLResponse},
		{"application/graphql-response+json;q=0, application/json;q=0.1", mediaJSON},
		{"text/html, */*;q=0.8", mediaJSON},
		{"application/graphql-response+json;q=nope, application/json;q=0.2", mediaJSON},
		{"multipart/mixed;deferSpec=20220824", mediaJSON}, // not a candidate here
	} {
		if got := negotiate(tt.accept); got != tt.want {
			t.Errorf("negotiate(%q) = %q; want %q", tt.accept, got, tt.want)
		}
	}
}

// newServer is gqlgen's test schema (Query.name, Query.find(id: Int!),
// Mutation.name) behind the transports, with APQ and an error presenter
// that gives every error a code, as the real server's does.
func newServer(t *testing.T) string {
	t.Helper()
	ts := httptest.NewServer(newHandler(t))
	t.Cleanup(ts.Close)
	return ts.URL
}

// newHandler is newServer's handler, which fails t if a resolver or a
// transport panics.
func newHandler(t *testing.T) http.Handler {
	t.Helper()
	srv := testserver.New()
	srv.SetRecoverFunc(func(_ context.Context, p any) error {
		t.Errorf("panic: %v", p)
		return fmt.Errorf("panic: %v", p)
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(SSE{})
	srv.AddTransport(Multipart{Gather: 5 * time.Millisecond})
	srv.AddTransport(GET{})
	srv.AddTransport(POST{})
	srv.AddTransport(Unsupported{})
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	srv.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error {
		e := graphql.DefaultErrorPresenter(ctx, err)
		if _, ok := e.Extensions["code"]; !ok {
			e.Extensions = map[string]any{"code": "BAD_REQUEST"}
		}
		return e
	})
	h := http.Handler(srv)
	mux := http.NewServeMux()
	mux.Handle("/query", h)
	mux.Handle("/small", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64)
		h.ServeHTTP(w, r)
	}))
	return mux
}

type answer struct {
	status int
	header http.Header
	body   map[string]json.RawMessage
	raw    string
}

func do(t *testing.T, method, u, contentType, accept, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if body == "" {
		req.Body = http.NoBody
	} else {
		req.ContentLength = -1 // chunked, so that only MaxBytesReader limits it
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if err := json.Unmarshal([]byte(a.raw), &a.body); err != nil {
		t.Fatalf("%s %s: answer is not a JSON object (HTTP %d): %v\n%s", method, u, resp.StatusCode, err, a.raw)
	}
	return a
}

// check asserts the status and media type of an answer, that it has data
// exactly when wantData, and that every error has a code.
func (a answer) check(t *testing.T, name string, status int, media string, wantData bool) {
	t.Helper()
	if a.status != status {
		t.Errorf("%s: HTTP %d; want %d\n%s", name, a.status, status, a.raw)
	}
	if got := a.header.Get("Content-Type"); got != media {
		t.Errorf("%s: Content-Type %q; want %q", name, got, media)
	}
	if _, has := a.body["data"]; has != wantData {
		t.Errorf("%s: has data = %v; want %v\n%s", name, has, wantData, a.raw)
	}
	if !wantData {
		var errs []gqlerror.Error
		if err := json.Unmarshal(a.body["errors"], &errs); err != nil || len(errs) == 0 {
			t.Errorf("%s: no errors without data\n%s", name, a.raw)
		}
		for _, e := range errs {
			if e.Extensions["code"] == nil {
				t.Errorf("%s: error %q has no code", name, e.Message)
			}
		}
	}
}

func TestPOST(t *testing.T) {
	base := newServer(t)
	u := base + "/query"
	const ct = "application/json"
	for _, tt := range []struct {
		name     string
		body     string
		status   int // with application/json
		statusGR int // with application/graphql-response+json
		data     bool
	}{
		{"query", `{"query":"{ name }"}`, 200, 200, true},
		{"operationName", `{"query":"query A { name } query B { name }","operationName":"B"}`, 200, 200, true},
		{"null parameters", `{"query":"{ name }","operationName":null,"variables":null,"extensions":null}`, 200, 200, true},
		{"variables", `{"query":"query($id: Int!) { find(id: $id) }","variables":{"id":1}}`, 200, 200, true},

		// Well-formed requests that fail before execution.
		{"parse failure", `{"query":"{"}`, 200, 400, false},
		{"empty query", `{"query":""}`, 200, 400, false},
		{"validation failure", `{"query":"{ nope }"}`, 200, 400, false},
		{"unknown operation", `{"query":"query A { name }","operationName":"B"}`, 200, 400, false},
		{"variable coercion failure", `{"query":"query($id: Int!) { find(id: $id) }","variables":{"id":null}}`, 200, 400, false},
		{"persisted query not found", `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"00"}}}`, 200, 400, false},

		// Requests that are not well-formed.
		{"not JSON", `{"query":`, 400, 400, false},
		{"JSON then more", `{"query":"{ name }"} {}`, 400, 400, false},
		{"not an object", `["{ name }"]`, 400, 400, false},
		{"null body", `null`, 400, 400, false},
		{"no query", `{"qeury":"{ name }"}`, 400, 400, false},
		{"null query", `{"query":null}`, 400, 400, false},
		{"query not a string", `{"query":{"a":1}}`, 400, 400, false},
		{"operationName not a string", `{"query":"{ name }","operationName":1}`, 400, 400, false},
		{"variables not a map", `{"query":"{ name }","variables":"{}"}`, 400, 400, false},
		{"extensions not a map", `{"query":"{ name }","extensions":[]}`, 400, 400, false},
	} {
		do(t, http.MethodPost, u, ct, "", tt.body).check(t, tt.name+", no Accept", tt.status, mediaJSON, tt.data)
		do(t, http.MethodPost, u, ct, mediaJSON, tt.body).check(t, tt.name+", application/json", tt.status, mediaJSON, tt.data)
		do(t, http.MethodPost, u, ct, mediaGraphQLResponse, tt.body).check(t, tt.name+", application/graphql-response+json", tt.statusGR, mediaGraphQLResponse, tt.data)
	}

	do(t, http.MethodPost, u, "application/json; charset=utf-8", "", `{"query":"{ name }"}`).check(t, "charset", 200, mediaJSON, true)
	do(t, http.MethodPost, base+"/small", ct, "", `{"query":"{ name }","variables":{"pad":"`+strings.Repeat("x", 100)+`"}}`).
		check(t, "body over the limit", http.StatusRequestEntityTooLarge, mediaJSON, false)
}

// A request whose context ends before the executor answers (the client
// went away) gets a request error with a code, not a panic: gqlgen gives
// no response then.
func TestRequestEndedBeforeAnswer(t *testing.T) {
	h := newHandler(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tt := range []struct {
		name, method, target, body, accept string
		status                             int
	}{
		{"POST", http.MethodPost, "/query", `{"query":"{ name }"}`, mediaJSON, http.StatusOK},
		{"POST, graphql-response", http.MethodPost, "/query", `{"query":"{ name }"}`, mediaGraphQLResponse, http.StatusBadRequest},
		{"GET", http.MethodGet, "/query?query=" + url.QueryEscape("{ name }"), "", mediaJSON, http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequestWithContext(ctx, tt.method, tt.target, strings.NewReader(tt.body))
			if tt.method == http.MethodPost {
				req.Header.Set("Content-Type", "application/json")
			}
			req.Header.Set("Accept", tt.accept)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Errorf("got HTTP %d; want %d\n%s", rec.Code, tt.status, rec.Body)
			}
			var got struct {
				Data   json.RawMessage `json:"data"`
				Errors []gqlerror.Error
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("answer is not JSON: %v\n%s", err, rec.Body)
			}
			if got.Data != nil || len(got.Errors) != 1 || got.Errors[0].Extensions["code"] != "REQUEST_TIMEOUT" {
				t.Errorf("got %s; want no data and one REQUEST_TIMEOUT error", rec.Body)
			}
		})
	}
}

func TestGET(t *testing.T) {
	base := newServer(t)
	get := func(accept string, params ...string) answer {
		t.Helper()
		v := url.Values{}
		for i := 0; i+1 < len(params); i += 2 {
			v.Set(params[i], params[i+1])
		}
		return do(t, http.MethodGet, base+"/query?"+v.Encode(), "", accept, "")
	}
	get("", "query", "{ name }").check(t, "query", 200, mediaJSON, true)
	get(mediaGraphQLResponse, "query", "query($id: Int!) { find(id: $id) }", "variables", `{"id":1}`).
		check(t, "variables", 200, mediaGraphQLResponse, true)
	get("", "query", "{ nope }").check(t, "validation failure", 200, mediaJSON, false)
	get(mediaGraphQLResponse, "query", "{ nope }").check(t, "validation failure", 400, mediaGraphQLResponse, false)
	get("").check(t, "no query", 400, mediaJSON, false)
	get("", "query", "{ name }", "variables", "{").check(t, "variables not JSON", 400, mediaJSON, false)
	get("", "query", "{ name }", "extensions", "[]").check(t, "extensions not a map", 400, mediaJSON, false)

	for _, accept := range []string{"", mediaGraphQLResponse} {
		a := get(accept, "query", "mutation { name }")
		a.check(t, "mutation", http.StatusMethodNotAllowed, negotiate(accept), false)
		if got := a.header.Get("Allow"); got != "POST" {
			t.Errorf("mutation: Allow = %q; want POST", got)
		}
		// The operation named is what counts.
		get(accept, "query", "query A { name } mutation B { name }", "operationName", "B").
			check(t, "named mutation", http.StatusMethodNotAllowed, negotiate(accept), false)
		get(accept, "query", "query A { name } mutation B { name }", "operationName", "A").
			check(t, "named query", 200, negotiate(accept), true)
	}
}

func TestUnsupported(t *testing.T) {
	u := newServer(t) + "/query"
	for _, ct := range []string{"", "text/plain", "application/graphql", "application/x-www-form-urlencoded"} {
		do(t, http.MethodPost, u, ct, "", `{"query":"{ name }"}`).check(t, "POST "+ct, http.StatusUnsupportedMediaType, mediaJSON, false)
	}
	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
		a := do(t, m, u, "application/json", mediaGraphQLResponse, `{"query":"{ name }"}`)
		a.check(t, m, http.StatusMethodNotAllowed, mediaGraphQLResponse, false)
		if got := a.header.Get("Allow"); got != "GET, POST, OPTIONS" {
			t.Errorf("%s: Allow = %q", m, got)
		}
	}
	req, _ := http.NewRequest(http.MethodOptions, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("OPTIONS: HTTP %d; want 200 (gqlgen's Options transport)", resp.StatusCode)
	}
}

// An executed operation's answer is what encoding/json would write, with
// data alone written as the executor made it.
func TestWriteResponse(t *testing.T) {
	hasNext := true
	for _, tt := range []struct {
		name string
		resp *graphql.Response
		want string // exact bytes; "" means: as encoding/json writes it
	}{
		{"data only", &graphql.Response{Data: json.RawMessage(`{"a":"<b>&"}`)}, `{"data":{"a":"<b>&"}}`},
		{"data and errors", &graphql.Response{Data: json.RawMessage(`{"a":null}`),
			Errors: gqlerror.List{{Message: "boom", Path: ast.Path{ast.PathName("a")}}}}, ""},
		{"data and extensions", &graphql.Response{Data: json.RawMessage(`{"a":1}`), Extensions: map[string]any{"x": 1}}, ""},
		{"data and the cost", &graphql.Response{Data: json.RawMessage(`{"a":1}`),
			Extensions: map[string]any{"cost": cost.Report{Calls: cost.Calls{ListVideos: 2}}}}, ""},
		{"data and extensions that append their JSON, sorted", &graphql.Response{Data: json.RawMessage(`{"a":1}`),
			Extensions: map[string]any{"cost": cost.Report{}, "b_2": cost.Report{RateLimitWaitMs: 7}}}, ""},
		{"an extension name to escape", &graphql.Response{Data: json.RawMessage(`{"a":1}`),
			Extensions: map[string]any{`co"st`: cost.Report{}}}, ""},
		{"the cost with another extension", &graphql.Response{Data: json.RawMessage(`{"a":1}`),
			Extensions: map[string]any{"cost": cost.Report{}, "x": 1}}, ""},
		{"null data", &graphql.Response{Data: json.RawMessage(`null`)}, `{"data":null}`},
		{"incremental", &graphql.Response{Data: json.RawMessage(`{"a":1}`), HasNext: &hasNext, Label: "l"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			writeResponse(rec, tt.resp)
			want := tt.want
			if want == "" {
				b, err := json.Marshal(tt.resp)
				if err != nil {
					t.Fatal(err)
				}
				want = string(b)
			}
			if got := rec.Body.String(); got != want {
				t.Errorf("got %s; want %s", got, want)
			}
		})
	}
}

func TestOperationType(t *testing.T) {
	for _, tt := range []struct {
		query, name string
		want        ast.Operation
		ok          bool
	}{
		{"{ a }", "", ast.Query, true},
		{"query { a }", "", ast.Query, true},
		{"mutation { a }", "", ast.Mutation, true},
		{"subscription S { a }", "", ast.Subscription, true},
		{"query A { a } mutation B { b }", "B", ast.Mutation, true},
		{"query A { a } mutation B { b }", "A", ast.Query, true},
		{"query A { a } mutation B { b }", "", "", false},
		{"query A { a } mutation B { b }", "C", "", false},
		{"mutation M($a: In = {x: [1]}) @d(e: {f: query}) { a(x: {mutation: 1}) { query } }", "M", ast.Mutation, true},
		{"fragment query on Query { a } mutation query { a }", "query", ast.Mutation, true},
		{"fragment F on mutation { a } { ...F }", "", ast.Query, true},
		{"query @mutation { a }", "", ast.Query, true},
		{"# mutation M\nquery M { a }", "M", ast.Query, true},
		{`query Q { a(s: "mutation M { a }") }`, "M", "", false},
		{"mutation { a", "", "", false},
		{"mutation { a } }", "", "", false},
		{"mutation { a(s: \"unterminated) }", "", "", false},
		{"", "", "", false},
	} {
		got, ok := operationType(tt.query, tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("operationType(%q, %q) = %q, %v; want %q, %v", tt.query, tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

// TestPOSTBodyTimeout covers BodyTimeout: a body that trickles in, with or
// without a Content-Length, is answered 408 and its connection closed; a
// body that arrives in time is served, even when the operation then runs
// longer than the timeout.
func TestPOSTBodyTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	srv := testserver.New()
	srv.AddTransport(POST{BodyTimeout: timeout})
	slow := atomic.Bool{}
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		if slow.Load() {
			time.Sleep(3 * timeout)
			if err := ctx.Err(); err != nil {
				return &graphql.Response{Errors: gqlerror.List{gqlerror.Errorf("cancelled: %v", err)}}
			}
		}
		return next(ctx)
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	const body = `{"query":"{ name }"}`

	for _, tt := range []struct {
		name   string
		header string
	}{
		{"content length", fmt.Sprintf("Content-Length: %d\r\n", len(body))},
		{"chunked", "Transfer-Encoding: chunked\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ts.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s\r\n", tt.header)
			// One byte at a time, far slower than the timeout allows: the
			// whole body would take 40 × 100 ms.
			stop := make(chan struct{})
			go func() {
				for i := 0; i < 40; i++ {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
					b := []byte{body[i%len(body)]}
					if tt.header[0] == 'T' {
						b = []byte("1\r\n" + string(b) + "\r\n")
					}
					if _, err := conn.Write(b); err != nil {
						return
					}
				}
			}()
			defer close(stop)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Errorf("HTTP %d; want 408\n%s", resp.StatusCode, raw)
			}
			if !resp.Close {
				t.Errorf("connection kept open; want it closed")
			}
			if !strings.Contains(string(raw), `"REQUEST_TIMEOUT"`) {
				t.Errorf("answer %s; want code REQUEST_TIMEOUT", raw)
			}
		})
	}

	t.Run("in time, then slow", func(t *testing.T) {
		slow.Store(true)
		defer slow.Store(false)
		resp, err := http.Post(ts.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), `"data"`) || strings.Contains(string(raw), "cancelled") {
			t.Errorf("HTTP %d %s; want the operation's data", resp.StatusCode, raw)
		}
	})
}

// Multipart takes the requests that prefer multipart/mixed.
func TestMultipartSupports(t *testing.T) {
	for _, tt := range []struct {
		accept string
		want   bool
	}{
		{"multipart/mixed;deferSpec=20220824,application/graphql-response+json,application/json;q=0.9", true}, // Apollo Client
		{"multipart/mixed;deferSpec=20220824, application/json", true},
		{"application/json;q=0.9, multipart/mixed", true},
		{"application/graphql-response+json, application/json, multipart/mixed", false}, // Hive Gateway, every query
		{"*/*, multipart/mixed", false},
		{"multipart/mixed;q=0", false},
		{"application/json", false},
	} {
		r := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(`{}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", tt.accept)
		if got := (Multipart{}).Supports(r); got != tt.want {
			t.Errorf("Supports(Accept: %s) = %v; want %v", tt.accept, got, tt.want)
		}
	}
}

// SSE answers a request that prefers an event stream, not one that only
// lists it after JSON, as urql does with every query.
func TestSSESupports(t *testing.T) {
	for _, tt := range []struct {
		method, accept string
		want           bool
	}{
		{http.MethodPost, "text/event-stream", true},                  // graphql-sse
		{http.MethodGet, "text/event-stream", true},                   // graphql-sse's GET, Hive Gateway
		{http.MethodPost, "text/event-stream, multipart/mixed", true}, // urql, a subscription
		{http.MethodPost, "application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed", false}, // urql, a query
		{http.MethodPost, "application/json;q=0.5, text/event-stream", true},
		{http.MethodPost, "text/event-stream;q=0.1, application/json", false},
		{http.MethodPost, "multipart/mixed, text/event-stream", false},
		{http.MethodPost, "text/event-stream;q=0", false},
		{http.MethodPost, "application/json", false},
		{http.MethodPut, "text/event-stream", false},
	} {
		r := httptest.NewRequest(tt.method, "/query", strings.NewReader(`{}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", tt.accept)
		if got := (SSE{}).Supports(r); got != tt.want {
			t.Errorf("Supports(%s, Accept: %s) = %v; want %v", tt.method, tt.accept, got, tt.want)
		}
	}
}

// Multipart answers a query in parts, and refuses a body it cannot read or
// decode as POST does, with a JSON error and no part.
func TestMultipart(t *testing.T) {
	base := newServer(t)
	const accept = "multipart/mixed;deferSpec=20220824, application/json"
	req, err := http.NewRequest(http.MethodPost, base+"/query", strings.NewReader(`{"query":"{ name }"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got, want := resp.Header.Get("Content-Type"), `multipart/mixed;boundary="-";deferSpec=20220824`; got != want {
		t.Errorf("Content-Type %q; want %q", got, want)
	}
	if want := "---\r\nContent-Type: application/json\r\n\r\n{\"data\":{\"name\":\"test\"}}\r\n-----\r\n"; string(raw) != want {
		t.Errorf("body %q; want %q", raw, want)
	}

	for _, tt := range []struct {
		name, path, body string
		status           int
	}{
		{"not JSON", "/query", `{"query":`, http.StatusBadRequest},
		{"body over the limit", "/small", `{"query":"{ name }","variables":{"pad":"` + strings.Repeat("x", 100) + `"}}`, http.StatusRequestEntityTooLarge},
	} {
		do(t, http.MethodPost, base+tt.path, "application/json", accept, tt.body).check(t, tt.name, tt.status, mediaJSON, false)
	}
}

// SSE takes the GET form too: the parameters in the URL's query string,
// each event as POST's stream sends it; bad parameters and a mutation are
// refused before any stream opens.
func TestSSEGet(t *testing.T) {
	base := newServer(t)
	get := func(params url.Values) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+"/query?"+params.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp, string(raw)
	}
	resp, body := get(url.Values{"query": {"query($id: Int!) { find(id: $id) }"}, "variables": {`{"id":1}`}})
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") || !strings.Contains(body, "event: next") || !strings.Contains(body, "event: complete") {
		t.Errorf("GET stream: HTTP %d %s:\n%s", resp.StatusCode, ct, body)
	}
	for _, tt := range []struct {
		name   string
		params url.Values
		status int
	}{
		{"variables not JSON", url.Values{"query": {"{ name }"}, "variables": {"{"}}, http.StatusBadRequest},
		{"a mutation", url.Values{"query": {"mutation { name }"}}, http.StatusMethodNotAllowed},
	} {
		if resp, body := get(tt.params); resp.StatusCode != tt.status || !strings.Contains(body, `"code"`) {
			t.Errorf("%s: HTTP %d:\n%s; want %d with a coded error", tt.name, resp.StatusCode, body, tt.status)
		}
	}
}

// The Content-Type values setContentType shares stay as they are, whatever
// an answer does with its header afterwards.
func TestSetContentTypeShares(t *testing.T) {
	for _, media := range []string{mediaJSON, mediaGraphQLResponse, "text/plain"} {
		rec := httptest.NewRecorder()
		setContentType(rec, media)
		rec.Header().Add("Content-Type", "x/y")
		if got := rec.Header().Values("Content-Type"); len(got) != 2 || got[0] != media {
			t.Errorf("%s: Content-Type %q; want %q then x/y", media, got, media)
		}
	}
	for media, v := range contentTypes {
		if len(v) != 1 || v[0] != media {
			t.Errorf("contentTypes[%q] = %q; want [%q]", media, v, media)
		}
	}
}
