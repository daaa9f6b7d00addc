package graph_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/memories-facade/memories-graphql/graph"
	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/loader"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

// testKey is the API key of the account the test server puts in every
// request's context (unless noAccount).
const testKey = "test-key"

// sortedCalls sorts calls (a copy, from Calls) list calls first and each
// call's refs, so that an operation's fetches read the same whatever order
// its fields ran in.
func sortedCalls(calls []videotest.Call) []videotest.Call {
	for i := range calls {
		slices.SortFunc(calls[i].Refs, compareRefs)
	}
	slices.SortStableFunc(calls, func(a, b videotest.Call) int {
		switch {
		case a.Detail == b.Detail:
			return 0
		case !a.Detail:
			return -1
		default:
			return 1
		}
	})
	return calls
}

func compareRefs(a, b memories.VideoRef) int {
	if c := strings.Compare(a.UniqueID, b.UniqueID); c != 0 {
		return c
	}
	return strings.Compare(a.VideoNo, b.VideoNo)
}

// describeCalls prints calls as e.g. `list[default/V1 team/V2] detail[default/V3]`.
func describeCalls(calls []videotest.Call) string {
	parts := make([]string, len(calls))
	for i, c := range calls {
		refs := make([]string, len(c.Refs))
		for j, r := range c.Refs {
			refs[j] = r.UniqueID + "/" + r.VideoNo
		}
		kind := "list"
		if c.Detail {
			kind = "detail"
		}
		parts[i] = kind + "[" + strings.Join(refs, " ") + "]"
	}
	return strings.Join(parts, " ")
}

// options are the server's settings that graph/ reads.
type options struct {
	max, maxDetail, maxDepth int
	introspection            bool
	noAccount                bool          // requests carry no API key
	docLimits                *graph.Limits // nil: graph.DefaultLimits(max)
}

func (o options) limits() graph.Limits {
	if o.docLimits != nil {
		return *o.docLimits
	}
	return graph.DefaultLimits(o.max)
}

var defaults = options{max: 5, maxDetail: 2, maxDepth: 10}

// testServer is the GraphQL handler as internal/app's routes builds it, with
// the transport the gqlgen client speaks, behind a middleware that installs
// what internal/app installs: a per-request loader for the account, over
// the fake.
type testServer struct {
	fake    *videotest.Fetcher
	handler http.Handler
	client  *client.Client
	log     *videotest.SyncBuffer
	ops     *recorder

	noLoader bool // leave the loader out of requests' contexts

	mu     sync.Mutex
	status int // of the last answer
}

func newServer(t testing.TB, o options, fake *videotest.Fetcher) *testServer {
	t.Helper()
	if fake == nil {
		fake = &videotest.Fetcher{}
	}
	s := &testServer{fake: fake, log: &videotest.SyncBuffer{}, ops: &recorder{}}
	logger := slog.New(slog.NewTextHandler(s.log, nil))

	gql := graph.NewServer(graph.Options{
		Transports:     []graphql.Transport{transport.POST{}},
		QueryCacheSize: 100,
		Introspection:  o.introspection,
		Limits:         o.limits(),
		MaxDepth:       o.maxDepth,
		MaxVideos:      o.max,
		MaxDetail:      o.maxDetail,
		Recorder:       s.ops,
		Tracer:         noop.NewTracerProvider().Tracer("test"),
		Logger:         logger,
	})

	acct := videotest.Account(t, testKey)
	if o.noAccount {
		acct = account.Account{}
	}
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w = &statusWriter{ResponseWriter: w, s: s}
		if s.noLoader {
			gql.ServeHTTP(w, r)
			return
		}
		ctx, end := loader.NewContext(r.Context(), 10*time.Second, s.fake, acct, nil)
		defer end()
		gql.ServeHTTP(w, r.WithContext(ctx))
	})
	s.client = client.New(s.handler)
	return s
}

// statusWriter records the status of an answer and passes on 200, so
// that gqlgen's client hands back the body of refused operations too
// (transport.POST answers validation errors with 422).
type statusWriter struct {
	http.ResponseWriter
	s     *testServer
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	w.s.mu.Lock()
	w.s.status = code
	w.s.mu.Unlock()
	w.ResponseWriter.WriteHeader(http.StatusOK)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// answer is what the server answered an operation.
type answer struct {
	status int
	data   any // nil when data is absent or null
	errors []videotest.GQLError
	calls  []videotest.Call // the fetches the operation made, sortedCalls
}

// post sends an operation with its variables (nil for none).
func (s *testServer) post(t testing.TB, query string, vars map[string]any) answer {
	t.Helper()
	s.fake.Reset()
	var opts []client.Option
	for k, v := range vars {
		opts = append(opts, client.Var(k, v))
	}
	resp, err := s.client.RawPost(query, opts...)
	if err != nil {
		t.Fatalf("post %s: %v", query, err)
	}
	a := answer{data: resp.Data, calls: sortedCalls(s.fake.Calls())}
	s.mu.Lock()
	a.status = s.status
	s.mu.Unlock()
	if len(resp.Errors) > 0 && string(resp.Errors) != "null" {
		if err := json.Unmarshal(resp.Errors, &a.errors); err != nil {
			t.Fatalf("errors %s: %v", resp.Errors, err)
		}
	}
	return a
}

// errorSummary lists errors as "path:code", sorted.
func (a answer) errorSummary() []string {
	out := make([]string, len(a.errors))
	for i, e := range a.errors {
		out[i] = e.PathString() + ":" + e.Code()
	}
	slices.Sort(out)
	return out
}

func (a answer) String() string {
	data, _ := json.Marshal(a.data)
	errs, _ := json.Marshal(a.errors)
	return fmt.Sprintf("status %d data %s errors %s calls %s", a.status, data, errs, describeCalls(a.calls))
}

// sameJSON reports whether got (decoded JSON) equals the JSON text want.
func sameJSON(t testing.TB, got any, want string) bool {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want JSON %s: %v", want, err)
	}
	// Round-trip got, so both sides have the same number types.
	raw, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("marshal got: %v", err)
	}
	var g any
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatalf("unmarshal got: %v", err)
	}
	return reflect.DeepEqual(g, w)
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// recorder is the OperationMetrics recorder: it keeps the outcomes.
type recorder struct {
	mu       sync.Mutex
	outcomes []string
	refused  []string
}

func (r *recorder) Operation(_, outcome string, _ time.Duration) {
	r.mu.Lock()
	r.outcomes = append(r.outcomes, outcome)
	r.mu.Unlock()
}

func (r *recorder) Refused(reason string) {
	r.mu.Lock()
	r.refused = append(r.refused, reason)
	r.mu.Unlock()
}

func (r *recorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.outcomes) == 0 {
		return ""
	}
	return r.outcomes[len(r.outcomes)-1]
}

// ids returns n JSON-able ids prefix0 … prefix(n-1).
func ids(n int, prefix string) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// aliases returns n aliased video fields a0 … a(n-1) of videos V0 … selecting sel.
func aliases(n int, sel string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " a%d: video(videoNo: \"V%d\") { %s }", i, i, sel)
	}
	return b.String()
}
