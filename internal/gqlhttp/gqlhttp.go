// Package gqlhttp is gqlgen's GET and POST transports made to follow the
// GraphQL-over-HTTP specification
// (https://graphql.github.io/graphql-over-http/draft/) where gqlgen does not,
// and where gqlgen has no option for it:
//
//   - a request that is not well-formed (a body that is not a JSON object
//     of the right shape, no query, variables or extensions that are not
//     maps) is answered 400, whatever the media type;
//   - a well-formed request that fails before execution (parse, validation,
//     variable coercion, or one of the server's own operation checks) is a
//     request error: 200 with application/json, 400 with
//     application/graphql-response+json, where gqlgen answers 422 and 400 only
//     to parse and validation failures;
//   - a request error has no data entry (GraphQL spec, "Response": if an
//     error was raised before execution begins, the data entry should not be
//     present), where gqlgen sends "data": null;
//   - a mutation over GET is 405 with Allow: POST, where gqlgen sends 406;
//   - POST without Content-Type application/json is 415, and a method other
//     than GET, POST or OPTIONS is 405 (see Unsupported), where gqlgen's
//     handler answers 400;
//   - a subscription over plain GET or POST is 400: it needs a stream, an
//     event stream (SSE, gqlgen's transport with its body read as POST
//     reads it) or a WebSocket.
//
// The response media type follows the request's Accept header, with
// q-values: application/graphql-response+json when the client prefers it,
// application/json otherwise, and when Accept is absent, a wildcard or names
// neither. Every error still goes through the executor's DispatchError, so
// the server's error presenter and response interceptors see it as they did.
//
// It sits between the chi router (internal/app) and gqlgen's executor.
package gqlhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"mime"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"

	"github.com/memories-facade/memories-graphql/internal/bodyread"
)

// The two response media types of the specification.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// negotiate returns the response media type for an Accept header: the
// supported type with the highest q-value, the first listed on a tie;
// application/json when the header is empty, names neither type or only
// wildcards (the specification's default for clients that do not say).
func negotiate(accept string) string { return preferred(accept) }

// contentTypes are the Content-Type values of the answers' media types,
// set as they are (setContentType): net/http never changes a header's
// values, and Add would append to a copy, since each is full.
var contentTypes = map[string][]string{
	mediaJSON:            {mediaJSON},
	mediaGraphQLResponse: {mediaGraphQLResponse},
}

// setContentType sets w's Content-Type to media, for one of the answers'
// media types without Header.Set's canonical key and new slice: every
// answer sets it.
func setContentType(w http.ResponseWriter, media string) {
	if v, ok := contentTypes[media]; ok {
		w.Header()["Content-Type"] = v
		return
	}
	w.Header().Set("Content-Type", media)
}

// mediaMultipart is incremental delivery's media type (Multipart).
const mediaMultipart = "multipart/mixed"

// mediaEventStream is server-sent events' media type (SSE).
const mediaEventStream = "text/event-stream"

// preferred is negotiate, with the streams of offers (mediaMultipart,
// mediaEventStream) among the candidates: the type of the highest q, the
// first listed of equal q.
func preferred(accept string, offers ...string) string {
	best, bestQ := mediaJSON, 0.0
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(s, 64); err != nil || q < 0 || q > 1 {
				continue
			}
		}
		var candidate string
		switch mediaType {
		case mediaJSON, "application/*", "*/*":
			candidate = mediaJSON
		case mediaGraphQLResponse:
			candidate = mediaGraphQLResponse
		case mediaMultipart, mediaEventStream:
			if !slices.Contains(offers, mediaType) {
				continue
			}
			candidate = mediaType
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = candidate, q
		}
	}
	return best
}

// requestErrorStatus is the status of a request error (an error before
// execution, so no data) of a well-formed request: application/json SHOULD
// use 200, application/graphql-response+json MUST use 4xx and SHOULD use 400
// for parse, validation and variable coercion failures.
func requestErrorStatus(media string) int {
	if media == mediaGraphQLResponse {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// errorResponse is a response without a data entry.
type errorResponse struct {
	Errors     gqlerror.List  `json:"errors"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

// writeError answers errs, as a request error with no data, through the
// executor (so that the error presenter gives them their codes).
func writeError(ctx context.Context, w http.ResponseWriter, exec graphql.GraphExecutor, status int, errs ...*gqlerror.Error) {
	var out errorResponse
	if resp := exec.DispatchError(ctx, errs); resp != nil {
		out = errorResponse{Errors: resp.Errors, Extensions: resp.Extensions}
	}
	if len(out.Errors) == 0 {
		out.Errors = errs // an interceptor dropped them; the client still needs one
	}
	b, err := json.Marshal(out)
	if err != nil {
		b = []byte(`{"errors":[{"message":"internal error"}]}`)
		status = http.StatusInternalServerError
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeResponse answers an executed operation, which has a data entry.
// writeResponse writes resp and returns what it wrote (nil if resp could
// not be encoded, and an error was written instead).
func writeResponse(w http.ResponseWriter, resp *graphql.Response) []byte {
	if onlyData(resp) {
		// The executor's data is JSON already: written as it is, not
		// checked and copied again by encoding/json, and so are the
		// extensions that write their own JSON.
		b := make([]byte, 0, len(`{"data":,"extensions":{}}`)+len(resp.Data)+160)
		b = append(append(b, `{"data":`...), resp.Data...)
		if len(resp.Extensions) > 0 {
			b = append(b, `,"extensions":{`...)
			add := func(k string, v any) {
				if b[len(b)-1] != '{' {
					b = append(b, ',')
				}
				b = append(append(append(b, '"'), k...), `":`...)
				b = v.(jsonAppender).AppendJSON(b)
			}
			if len(resp.Extensions) == 1 {
				for k, v := range resp.Extensions {
					add(k, v)
				}
			} else {
				// In encoding/json's order.
				for _, k := range slices.Sorted(maps.Keys(resp.Extensions)) {
					add(k, resp.Extensions[k])
				}
			}
			b = append(b, '}')
		}
		b = append(b, '}')
		_, _ = w.Write(b)
		return b
	}
	b, err := json.Marshal(resp)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"errors":[{"message":"internal error"}]}`))
		return nil
	}
	_, _ = w.Write(b)
	return b
}

// onlyData reports whether resp is data and nothing else, but extensions
// that write their own JSON under plain names: no errors or incremental
// delivery fields.
func onlyData(resp *graphql.Response) bool {
	if len(resp.Data) == 0 || len(resp.Errors) != 0 || resp.Label != "" || resp.Path != nil || resp.HasNext != nil {
		return false
	}
	for k, v := range resp.Extensions {
		if _, ok := v.(jsonAppender); !ok || !plainName(k) {
			return false
		}
	}
	return true
}

// jsonAppender is an extension's value that appends its own JSON, such
// as cost.Report.
type jsonAppender interface {
	AppendJSON(b []byte) []byte
}

// plainName reports whether name needs no escaping in JSON.
func plainName(name string) bool {
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return name != ""
}

// execute runs a well-formed request: request errors with the media type's
// status and no data, an executed operation with 200 and its data.
// allow, when not nil, refuses operations it returns false for with 405
// once the operation is known (a persisted query's text is only known then).
//
// keep, if not nil, is offered the answer of a query that answered whole
// and without errors.
func execute(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, media string, raw *graphql.RawParams, allow func(ast.Operation) bool, keep func(context.Context, *graphql.OperationContext, []byte)) {
	ctx := r.Context()
	opCtx, errs := exec.CreateOperationContext(ctx, raw)
	if errs != nil {
		writeError(graphql.WithOperationContext(ctx, opCtx), w, exec, requestErrorStatus(media), errs...)
		return
	}
	if allow != nil && !allow(opCtx.Operation.Operation) {
		w.Header().Set("Allow", http.MethodPost)
		writeError(graphql.WithOperationContext(ctx, opCtx), w, exec, http.StatusMethodNotAllowed,
			gqlerror.Errorf("GET requests may only run query operations; send a %s with POST", opCtx.Operation.Operation))
		return
	}
	if opCtx.Operation.Operation == ast.Subscription {
		writeError(graphql.WithOperationContext(ctx, opCtx), w, exec, http.StatusBadRequest,
			gqlerror.Errorf("a subscription needs a stream: send it with Accept: text/event-stream, or over a WebSocket (graphql-transport-ws)"))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	resp := responses(ctx)
	if resp == nil {
		writeNoAnswer(ctx, w, exec, media)
		return
	}
	b := writeResponse(w, resp)
	if keep != nil && b != nil && opCtx.Operation.Operation == ast.Query &&
		len(resp.Errors) == 0 && resp.HasNext == nil && resp.Label == "" && len(resp.Path) == 0 {
		keep(ctx, opCtx, b)
	}
}

// writeNoAnswer answers an operation the executor gave no response for. It
// gives none once the request's context has ended, the client gone: that
// is said in the terms of a request that ended while it waited, for the
// log, the metrics and any client still reading. Anything else is a bug.
func writeNoAnswer(ctx context.Context, w http.ResponseWriter, exec graphql.GraphExecutor, media string) {
	if ctx.Err() != nil {
		writeError(ctx, w, exec, requestErrorStatus(media), &gqlerror.Error{
			Message:    "the request ended before its answer was ready",
			Extensions: map[string]any{"code": "REQUEST_TIMEOUT"},
		})
		return
	}
	writeError(ctx, w, exec, http.StatusInternalServerError, &gqlerror.Error{
		Message:    "internal error: the operation gave no answer",
		Extensions: map[string]any{"code": "INTERNAL_SERVER_ERROR"},
	})
}

// Replays keeps answers to give them again, without executing their
// queries, while what they were built from holds (see
// internal/responsecache).
type Replays interface {
	// Replay returns the kept answer to body, if it still holds.
	Replay(ctx context.Context, body []byte) ([]byte, bool)
	// Keep offers answer, what body's query answered: whole, without
	// errors. It decides whether the answer may be given again.
	Keep(ctx context.Context, body []byte, oc *graphql.OperationContext, answer []byte)
}

// badRequest answers a request that is not well-formed.
func badRequest(ctx context.Context, w http.ResponseWriter, exec graphql.GraphExecutor, status int, format string, args ...any) {
	writeError(ctx, w, exec, status, gqlerror.Errorf(format, args...))
}

// POST is the application/json POST transport.
type POST struct {
	// BodyTimeout, if positive, bounds reading the body: a body still
	// arriving after it is answered 408 and its connection closed. It
	// bounds nothing after the body is read.
	BodyTimeout time.Duration
	// Replays, if not nil, answers a body it holds an answer to, and is
	// offered the answers of the queries that run.
	Replays Replays
}

var _ graphql.Transport = POST{}

// Supports reports a POST with Content-Type application/json.
func (POST) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" || r.Method != http.MethodPost {
		return false
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mediaType == mediaJSON
}

// postBody is a GraphQL-over-HTTP request body; pointers tell an absent or
// null parameter from an empty one. The maps are decoded on their own
// (decodeJSON), so that the query, most of a large body, is copied once.
type postBody struct {
	Query         *string         `json:"query"`
	OperationName *string         `json:"operationName"`
	Variables     json.RawMessage `json:"variables"`
	Extensions    json.RawMessage `json:"extensions"`
}

// Do answers one POST.
func (t POST) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	media := negotiate(r.Header.Get("Accept"))
	setContentType(w, media)
	start := graphql.Now()

	body, err := t.readBody(w, r)
	if err != nil {
		t.refuseBody(w, r, exec, err)
		return
	}
	if t.Replays != nil {
		if answer, ok := t.Replays.Replay(ctx, body); ok {
			_, _ = w.Write(answer)
			return
		}
	}
	var p postBody
	raw := &graphql.RawParams{Headers: r.Header}
	if err := json.Unmarshal(body, &p); err != nil {
		badRequest(ctx, w, exec, http.StatusBadRequest, "json request body could not be decoded: %v", err)
		return
	}
	for _, m := range []struct {
		name string
		raw  json.RawMessage
		dst  *map[string]any
	}{{"variables", p.Variables, &raw.Variables}, {"extensions", p.Extensions, &raw.Extensions}} {
		if m.raw == nil {
			continue
		}
		if err := decodeJSON(m.raw, m.dst); err != nil {
			badRequest(ctx, w, exec, http.StatusBadRequest, "json request body could not be decoded: %s: %v", m.name, err)
			return
		}
	}
	if p.Query == nil && !persisted(raw.Extensions) {
		badRequest(ctx, w, exec, http.StatusBadRequest, "the request has no query")
		return
	}
	raw.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	if p.Query != nil {
		raw.Query = *p.Query
	}
	if p.OperationName != nil {
		raw.OperationName = *p.OperationName
	}
	var keep func(context.Context, *graphql.OperationContext, []byte)
	if t.Replays != nil {
		keep = func(ctx context.Context, oc *graphql.OperationContext, answer []byte) {
			t.Replays.Keep(ctx, body, oc, answer)
		}
	}
	execute(w, r, exec, media, raw, nil, keep)
}

// refuseBody answers a request whose body could not be read: too large,
// too slow (and its connection closed), or cut off.
func (t POST) refuseBody(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, err error) {
	ctx := r.Context()
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		badRequest(ctx, w, exec, http.StatusRequestEntityTooLarge, "request body exceeds %d bytes", tooLarge.Limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		w.Header().Set("Connection", "close")
		writeError(ctx, w, exec, http.StatusRequestTimeout,
			&gqlerror.Error{Message: fmt.Sprintf("the request body did not arrive within %v", t.BodyTimeout), Extensions: map[string]any{"code": "REQUEST_TIMEOUT"}})
	default:
		badRequest(ctx, w, exec, http.StatusBadRequest, "could not read the request body: %v", err)
	}
}

// SSE is gqlgen's server-sent events transport (the graphql-sse
// protocol's distinct connections mode: a POST with Accept:
// text/event-stream, answered with event: next and event: complete), with
// its body read as POST reads it: within BodyTimeout.
type SSE struct {
	BodyTimeout time.Duration
	// KeepAlive is the time between two comment lines that keep an idle
	// stream open through proxies; 0 sends none.
	KeepAlive time.Duration
}

var _ graphql.Transport = SSE{}

// Supports reports a POST of JSON, or a GET, that prefers
// text/event-stream (PrefersEventStream). GET carries the parameters in the
// URL's query string, as graphql-sse's GET form and gateways (Hive Gateway)
// send them.
func (t SSE) Supports(r *http.Request) bool {
	if !PrefersEventStream(r) {
		return false
	}
	return transport.SSE{}.Supports(r) || (r.Method == http.MethodGet && r.Header.Get("Upgrade") == "")
}

// PrefersEventStream reports a request whose Accept prefers
// text/event-stream to JSON and multipart/mixed: of the highest q, listed
// first. graphql-sse and gateways send it alone; urql lists it after the
// JSON types with every query, which wants a JSON answer, and alone (with
// multipart/mixed after it) with a subscription.
func PrefersEventStream(r *http.Request) bool {
	return preferred(r.Header.Get("Accept"), mediaEventStream, mediaMultipart) == mediaEventStream
}

// Do answers one event stream.
func (t SSE) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if r.Method == http.MethodGet {
		t.get(w, r, exec)
		return
	}
	if (POST{BodyTimeout: t.BodyTimeout}).rereadable(w, r, exec) {
		transport.SSE{KeepAlivePingInterval: t.KeepAlive}.Do(w, r, exec)
	}
}

// rereadable reads r's body as Do reads it and puts it back for one of
// gqlgen's transports to read again; it answers a body that cannot be read
// or is not JSON itself, as Do would (gqlgen would log the body), and
// reports whether r goes on.
func (t POST) rereadable(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) bool {
	body, err := t.readBody(w, r)
	if err != nil {
		w.Header().Set("Content-Type", mediaJSON)
		t.refuseBody(w, r, exec, err)
		return false
	}
	var p postBody
	if err := json.Unmarshal(body, &p); err != nil {
		w.Header().Set("Content-Type", mediaJSON)
		badRequest(r.Context(), w, exec, http.StatusBadRequest, "json request body could not be decoded: %v", err)
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return true
}

// get answers an event stream asked for by GET: its parameters, read as
// GET reads them, become the JSON body gqlgen's transport reads, as a POST
// would send them. A mutation is refused as GET refuses it.
func (t SSE) get(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	w.Header().Set("Content-Type", mediaJSON)
	raw, err := urlParams(r)
	if err != nil {
		badRequest(ctx, w, exec, http.StatusBadRequest, "%v", err)
		return
	}
	if op, ok := operationType(raw.Query, raw.OperationName); ok && op == ast.Mutation {
		w.Header().Set("Allow", http.MethodPost)
		badRequest(ctx, w, exec, http.StatusMethodNotAllowed, "GET requests may not run mutations; send it with POST")
		return
	}
	b, err := json.Marshal(struct {
		Query         string         `json:"query"`
		OperationName string         `json:"operationName,omitempty"`
		Variables     map[string]any `json:"variables,omitempty"`
		Extensions    map[string]any `json:"extensions,omitempty"`
	}{raw.Query, raw.OperationName, raw.Variables, raw.Extensions})
	if err != nil {
		badRequest(ctx, w, exec, http.StatusBadRequest, "the request could not be read: %v", err)
		return
	}
	post := r.Clone(ctx)
	post.Method = http.MethodPost
	post.Header.Set("Content-Type", mediaJSON)
	post.Body = io.NopCloser(bytes.NewReader(b))
	post.ContentLength = int64(len(b))
	w.Header().Del("Content-Type")
	transport.SSE{KeepAlivePingInterval: t.KeepAlive}.Do(w, post, exec)
}

// Multipart is gqlgen's multipart/mixed transport, which sends a query's
// @defer parts as they resolve (incremental delivery, deferSpec=20220824,
// as Apollo Client and GraphiQL read it): a POST of JSON whose Accept names
// multipart/mixed. Its body is read as POST reads it (BodyTimeout, 413,
// 408), and a body that is not JSON is refused before gqlgen logs it.
type Multipart struct {
	BodyTimeout time.Duration
	// Gather is how long parts that resolve together are gathered into one
	// before they are written; gqlgen's default of 1 ms wakes the request
	// a thousand times a second while it waits.
	Gather time.Duration
}

var _ graphql.Transport = Multipart{}

// Supports reports a POST of JSON whose Accept prefers multipart/mixed:
// listed first among the types of equal q, as Apollo Client and GraphiQL
// send it with a query that has @defer. A client that lists it after JSON
// (Hive Gateway sends every query so) is answered by POST.
func (Multipart) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == "" && transport.MultipartMixed{}.Supports(r) &&
		preferred(r.Header.Get("Accept"), mediaMultipart) == mediaMultipart
}

// Incremental marks Multipart as delivering deferred parts (see
// graph.IncrementalTransport).
func (Multipart) Incremental() {}

// Do answers one query, in parts.
func (t Multipart) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if (POST{BodyTimeout: t.BodyTimeout}).rereadable(w, r, exec) {
		transport.MultipartMixed{Boundary: "-", DeliveryTimeout: t.Gather}.Do(w, r, exec)
	}
}

// readBody reads r's body within BodyTimeout.
func (t POST) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if t.BodyTimeout <= 0 {
		return readAll(r)
	}
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(t.BodyTimeout)); err != nil {
		return readAll(r) // a writer without deadlines, as in tests
	}
	body, err := readAll(r)
	// The deadline bounds the body, not the rest of the exchange. Over
	// HTTP/1 net/http lifts it once the body is read to its end (to watch
	// for the client leaving), so only the other cases lift it here.
	if r.ProtoMajor != 1 || err != nil {
		_ = rc.SetReadDeadline(time.Time{})
	}
	return body, err
}

// readAll reads r's body, its buffer sized by its Content-Length up to
// 64 KiB (bodyread). The body's limit is MaxBytesReader's, set by /query.
func readAll(r *http.Request) ([]byte, error) {
	body, _, err := bodyread.Read(r.Body, r.ContentLength, 64<<10, math.MaxInt64)
	return body, err
}

// GET is the GET transport: query, operationName, variables and extensions
// in the URL's query string; query operations only.
type GET struct{}

var _ graphql.Transport = GET{}

// Supports reports a GET that is not a protocol upgrade.
func (GET) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == "" && r.Method == http.MethodGet
}

// Do answers one GET.
func (GET) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	media := negotiate(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", media)
	start := graphql.Now()

	raw, err := urlParams(r)
	if err != nil {
		badRequest(ctx, w, exec, http.StatusBadRequest, "%v", err)
		return
	}
	raw.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	// A mutation over GET is refused before it is validated: the
	// specification wants 405 whatever else is wrong with it. Text whose
	// operation cannot be told is left to the executor, which reports it.
	if op, ok := operationType(raw.Query, raw.OperationName); ok && op != ast.Query {
		w.Header().Set("Allow", http.MethodPost)
		badRequest(ctx, w, exec, http.StatusMethodNotAllowed,
			"GET requests may only run query operations; send a %s with POST", op)
		return
	}
	execute(w, r, exec, media, raw, func(op ast.Operation) bool { return op == ast.Query }, nil)
}

// urlParams reads a GET's parameters from its URL's query string: query,
// operationName, and variables and extensions as JSON objects. Its error
// says why the request is not well-formed (a 400).
func urlParams(r *http.Request) (*graphql.RawParams, error) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("the URL's query string could not be decoded: %w", err)
	}
	raw := &graphql.RawParams{
		Query:         values.Get("query"),
		OperationName: values.Get("operationName"),
		Headers:       r.Header,
	}
	for _, m := range []struct {
		name string
		dst  *map[string]any
	}{{"variables", &raw.Variables}, {"extensions", &raw.Extensions}} {
		if s := values.Get(m.name); s != "" {
			if err := decodeJSON([]byte(s), m.dst); err != nil {
				return nil, fmt.Errorf("%s could not be decoded: %w", m.name, err)
			}
		}
	}
	if !values.Has("query") && !persisted(raw.Extensions) {
		return nil, errors.New("the request has no query")
	}
	return raw, nil
}

// operationType returns the type of the operation named name in query (the
// only one when name is empty), reading the definitions' headers token by
// token: no syntax tree, whatever the document's size. It reports false
// when the document does not say, or is not well-formed.
func operationType(query, name string) (ast.Operation, bool) {
	lex := lexer.New(&ast.Source{Input: query})
	var (
		depth   int           // braces, brackets and parentheses open
		header  bool          // in a definition, before its selection set
		op      ast.Operation // the operation of this header; "" for a fragment
		named   bool          // this header's name has been read
		afterAt bool          // the name next is a directive's
		count   int
		found   ast.Operation // the operation named name
		only    ast.Operation // the last operation seen
	)
	for {
		tok, err := lex.ReadToken()
		if err != nil {
			return "", false
		}
		switch tok.Kind {
		case lexer.EOF:
			if depth != 0 {
				return "", false
			}
			if name == "" && count == 1 {
				return only, true
			}
			if name == "" {
				return "", false
			}
			return found, found != ""
		case lexer.Comment:
			continue
		case lexer.BraceL:
			if depth == 0 && !header { // a query in its short form
				count++
				only = ast.Query
			}
			if depth == 0 {
				header = false
			}
			depth++
		case lexer.BracketL, lexer.ParenL:
			depth++
		case lexer.BraceR, lexer.BracketR, lexer.ParenR:
			if depth--; depth < 0 {
				return "", false
			}
		case lexer.At:
			afterAt = true
			continue
		case lexer.Name:
			if depth > 0 || afterAt {
				break
			}
			switch v := tok.Value; {
			case !header && (v == "query" || v == "mutation" || v == "subscription"):
				header, op, named = true, ast.Operation(v), false
				count++
				only = op
			case !header && v == "fragment":
				header, op, named = true, "", false
			case header && op != "" && !named:
				named = true
				if v == name {
					found = op
				}
			}
		}
		afterAt = false
	}
}

// Unsupported answers what no other transport takes, and must be added
// last: 415 to a POST whose Content-Type is not application/json, 405 to a
// method other than GET, POST and OPTIONS, and 400 (as gqlgen's handler
// does) to the rest, such as a protocol upgrade.
type Unsupported struct{}

var _ graphql.Transport = Unsupported{}

// Supports reports every request.
func (Unsupported) Supports(*http.Request) bool { return true }

// Do refuses the request.
func (Unsupported) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	w.Header().Set("Content-Type", negotiate(r.Header.Get("Accept")))
	switch {
	case r.Header.Get("Upgrade") != "":
		badRequest(ctx, w, exec, http.StatusBadRequest, "transport not supported")
	case r.Method == http.MethodPost:
		badRequest(ctx, w, exec, http.StatusUnsupportedMediaType,
			"POST requests must have Content-Type application/json, not %q", r.Header.Get("Content-Type"))
	case r.Method != http.MethodGet && r.Method != http.MethodOptions:
		w.Header().Set("Allow", "GET, POST, OPTIONS")
		badRequest(ctx, w, exec, http.StatusMethodNotAllowed, "method %s is not allowed; use GET or POST", r.Method)
	default:
		badRequest(ctx, w, exec, http.StatusBadRequest, "transport not supported")
	}
}

// persisted reports an automatic persisted query, which may come without
// its text.
func persisted(extensions map[string]any) bool {
	_, ok := extensions["persistedQuery"]
	return ok
}

// decodeJSON decodes one JSON value, numbers as json.Number (as gqlgen
// does, so that Int64 variables keep their precision), and refuses
// anything after it.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}
