package graph_test

import (
	"bytes"
	"context"
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
)

// testKey is the API key of the account the test server puts in every
// request's context (unless noAccount).
const testKey = "test-key"

// fetchCall is one call the loader made to the fake video source.
type fetchCall struct {
	refs   []memories.VideoRef
	detail bool
	acct   string // the account's ID
}

// fakeFetcher is the video source behind the loader. It records every
// call; a video it is not told about exists, named "uniqueId/videoNo" so
// that answers show which reference was fetched, with the detail fields
// only when fetched in detail (as get_metadata, not list_videos).
type fakeFetcher struct {
	videos map[string]*memories.Video // by videoNo; a nil value is "not found"
	errs   map[string]error           // by videoNo

	mu    sync.Mutex
	calls []fetchCall
}

func (f *fakeFetcher) Videos(_ context.Context, acct account.Account, refs []memories.VideoRef, detail bool) ([]*memories.Video, []error) {
	f.mu.Lock()
	f.calls = append(f.calls, fetchCall{refs: slices.Clone(refs), detail: detail, acct: acct.ID()})
	f.mu.Unlock()
	out := make([]*memories.Video, len(refs))
	var errs []error
	for i, ref := range refs {
		if err, ok := f.errs[ref.VideoNo]; ok {
			if errs == nil {
				errs = make([]error, len(refs))
			}
			errs[i] = err
			continue
		}
		if v, ok := f.videos[ref.VideoNo]; ok {
			if v != nil {
				c := *v
				out[i] = &c
			}
			continue
		}
		if strings.HasPrefix(ref.VideoNo, "missing") || strings.HasPrefix(ref.VideoNo, "VI0000") {
			continue
		}
		out[i] = defaultVideo(ref, detail)
	}
	return out, errs
}

func defaultVideo(ref memories.VideoRef, detail bool) *memories.Video {
	v := &memories.Video{
		VideoNo:   ref.VideoNo,
		VideoName: ptr(ref.UniqueID + "/" + ref.VideoNo),
		Status:    memories.StatusParse,
		RawStatus: "PARSE",
	}
	if detail {
		v.ResolutionLabel, v.FPS, v.Width, v.Height = ptr("1080P"), ptr(30), ptr(1920), ptr(1080)
		v.Detailed = true
	}
	return v
}

// Calls returns the calls so far, list calls first, each call's refs sorted.
func (f *fakeFetcher) Calls() []fetchCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]fetchCall, len(f.calls))
	for i, c := range f.calls {
		c.refs = slices.Clone(c.refs)
		slices.SortFunc(c.refs, compareRefs)
		out[i] = c
	}
	slices.SortStableFunc(out, func(a, b fetchCall) int {
		switch {
		case a.detail == b.detail:
			return 0
		case !a.detail:
			return -1
		default:
			return 1
		}
	})
	return out
}

// Stats returns the number of calls and of references fetched so far.
func (f *fakeFetcher) Stats() (calls, refs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		refs += len(c.refs)
	}
	return len(f.calls), refs
}

func compareRefs(a, b memories.VideoRef) int {
	if c := strings.Compare(a.UniqueID, b.UniqueID); c != 0 {
		return c
	}
	return strings.Compare(a.VideoNo, b.VideoNo)
}

// describeCalls prints calls as e.g. `list[default/V1 team/V2] detail[default/V3]`.
func describeCalls(calls []fetchCall) string {
	parts := make([]string, len(calls))
	for i, c := range calls {
		refs := make([]string, len(c.refs))
		for j, r := range c.refs {
			refs[j] = r.UniqueID + "/" + r.VideoNo
		}
		kind := "list"
		if c.detail {
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
	fake    *fakeFetcher
	handler http.Handler
	client  *client.Client
	log     *lockedBuffer
	ops     *recorder

	noLoader bool // leave the loader out of requests' contexts

	mu     sync.Mutex
	status int // of the last answer
}

func newServer(t testing.TB, o options, fake *fakeFetcher) *testServer {
	t.Helper()
	if fake == nil {
		fake = &fakeFetcher{}
	}
	s := &testServer{fake: fake, log: &lockedBuffer{}, ops: &recorder{}}
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

	acct, ok := account.New(testKey)
	if !ok {
		t.Fatal("account.New refused the test key")
	}
	if o.noAccount {
		acct = account.Account{}
	}
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w = &statusWriter{ResponseWriter: w, s: s}
		if s.noLoader {
			gql.ServeHTTP(w, r)
			return
		}
		ctx, end := loader.NewContext(r.Context(), 10*time.Second, s.fake, acct, !o.noAccount, nil)
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

// gqlError is one error of an answer.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) code() string {
	c, _ := e.Extensions["code"].(string)
	return c
}

func (e gqlError) path() string {
	parts := make([]string, len(e.Path))
	for i, p := range e.Path {
		parts[i] = fmt.Sprint(p)
	}
	return strings.Join(parts, ".")
}

// answer is what the server answered an operation.
type answer struct {
	status int
	data   any // nil when data is absent or null
	errors []gqlError
	calls  []fetchCall // the fetches the operation made
}

// post sends an operation with its variables (nil for none).
func (s *testServer) post(t testing.TB, query string, vars map[string]any) answer {
	t.Helper()
	s.fake.mu.Lock()
	s.fake.calls = nil
	s.fake.mu.Unlock()
	var opts []client.Option
	for k, v := range vars {
		opts = append(opts, client.Var(k, v))
	}
	resp, err := s.client.RawPost(query, opts...)
	if err != nil {
		t.Fatalf("post %s: %v", query, err)
	}
	a := answer{data: resp.Data, calls: s.fake.Calls()}
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
		out[i] = e.path() + ":" + e.code()
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

// lockedBuffer is the log of the error presenter.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func ptr[T any](v T) *T { return &v }

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
