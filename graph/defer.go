package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/memories-facade/memories-graphql/graph/model"
	"github.com/memories-facade/memories-graphql/internal/loader"
	"github.com/memories-facade/memories-graphql/internal/memories"
)

// @defer holds back the fields only get_metadata returns (resolutionLabel,
// fps, width, height), the slow ones: their resolvers fetch each video's
// detail on its own (loader.LoadAlone), so each video's deferred part is
// sent as its call returns. Other fields under @defer have no resolver and
// come in the initial part, as the spec lets a server choose.

// IncrementalTransport is a transport that delivers a query's deferred
// parts as they resolve (multipart/mixed). On every other transport
// @defer is dropped and the answer comes whole.
type IncrementalTransport interface {
	graphql.Transport
	Incremental()
}

// incrementalKey marks a request's context as taken by an
// IncrementalTransport.
type incrementalKey struct{}

// markIncremental returns t, marking the requests it takes when it
// delivers increments.
func markIncremental(t graphql.Transport) graphql.Transport {
	if _, ok := t.(IncrementalTransport); ok {
		return incrementalTransport{t}
	}
	return t
}

type incrementalTransport struct{ graphql.Transport }

func (t incrementalTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	t.Transport.Do(w, r.WithContext(context.WithValue(r.Context(), incrementalKey{}, true)), exec)
}

// Incremental keeps @defer in a query only where the transport delivers
// increments. Elsewhere it takes the directive out of the operation, so
// that the plan fetches the deferred fields with the rest and the one
// answer is whole; gqlgen would otherwise leave them null and send them in
// parts no one reads. A subscription over multipart/mixed is refused: its
// events need an event stream or a WebSocket.
type Incremental struct{}

var (
	_ graphql.HandlerExtension        = Incremental{}
	_ graphql.OperationContextMutator = Incremental{}
	_ graphql.ResponseInterceptor     = Incremental{}
)

// ExtensionName implements graphql.HandlerExtension.
func (Incremental) ExtensionName() string { return "Incremental" }

// Validate implements graphql.HandlerExtension.
func (Incremental) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (Incremental) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	incremental, _ := ctx.Value(incrementalKey{}).(bool)
	if incremental && oc.Operation.Operation == ast.Subscription {
		return inputError(nil, "a subscription needs a stream: send it with Accept: text/event-stream, or over a WebSocket (graphql-transport-ws)")
	}
	// A document without the word has no @defer: most are left as they are
	// at the cost of one scan.
	if (incremental && oc.Operation.Operation == ast.Query) || !strings.Contains(oc.RawQuery, "defer") {
		return nil
	}
	op := oc.Operation
	if oc.Doc, oc.Operation = withoutDefer(oc.Doc, oc.Operation); oc.Operation != op {
		// A copy for this request: not worth keeping a summary of.
		oc.Stats.SetExtension(rewrittenKey, true)
	}
	return nil
}

// rewrittenKey marks an operation that Incremental copied for its request.
const rewrittenKey = "graph.rewritten"

// InterceptResponse implements graphql.ResponseInterceptor: the first part
// of a deferred answer leaves out the fields it holds back. gqlgen writes
// them as null, which a client cannot tell from a null value: Apollo Client
// would call the first part complete, with no resolution.
func (Incremental) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || resp.Path != nil || resp.HasNext == nil || !*resp.HasNext || !graphql.HasOperationContext(ctx) {
		return resp
	}
	if drop := deferredFields(graphql.GetOperationContext(ctx)); len(drop) > 0 {
		if data, err := dropFields(resp.Data, drop); err == nil {
			resp.Data = data
		}
	}
	return resp
}

// deferredFields returns, by the response key of each root field that
// loads videos, the response keys of the Video fields that field's
// selection defers. They are the only fields gqlgen defers: the others
// under @defer have no resolver, and no Video holds another.
func deferredFields(oc *graphql.OperationContext) map[string]map[string]bool {
	var out map[string]map[string]bool
	for _, root := range graphql.CollectFields(oc, oc.Operation.SelectionSet, queryImplementors) {
		for _, f := range graphql.CollectFields(oc, root.Selections, videoImplementors) {
			if !detailFields[f.Name] || !f.IsDeferred() {
				continue
			}
			if out == nil {
				out = map[string]map[string]bool{}
			}
			if out[root.Alias] == nil {
				out[root.Alias] = map[string]bool{}
			}
			out[root.Alias][f.Alias] = true
		}
	}
	return out
}

// dropFields returns data without the fields drop names: drop[k] are the
// keys to remove from the object at data.k, or from each object of the
// list there. The other bytes are kept as they are, in their order.
func dropFields(data json.RawMessage, drop map[string]map[string]bool) (json.RawMessage, error) {
	return editObject(data, func(key string, v json.RawMessage) (json.RawMessage, bool, error) {
		keys := drop[key]
		if keys == nil {
			return v, true, nil
		}
		without := func(obj json.RawMessage) (json.RawMessage, error) {
			return editObject(obj, func(k string, v json.RawMessage) (json.RawMessage, bool, error) {
				return v, !keys[k], nil
			})
		}
		if len(v) == 0 || v[0] != '[' {
			out, err := without(v)
			return out, true, err
		}
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil {
			return nil, false, err
		}
		var b bytes.Buffer
		b.WriteByte('[')
		for i, item := range items {
			out, err := without(item)
			if err != nil {
				return nil, false, err
			}
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(out)
		}
		b.WriteByte(']')
		return b.Bytes(), true, nil
	})
}

// editObject rewrites the JSON object obj member by member: edit returns
// each member's new value and whether to keep it. Anything but an object
// (null) is returned as it is.
func editObject(obj json.RawMessage, edit func(key string, v json.RawMessage) (json.RawMessage, bool, error)) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return obj, nil
	}
	var b bytes.Buffer
	b.Grow(len(obj))
	b.WriteByte('{')
	n := 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		v, keep, err := edit(key, v)
		if err != nil {
			return nil, err
		}
		if !keep {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		k, _ := json.Marshal(key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// withoutDefer returns a copy of doc and of its operation op with every
// @defer removed. The cached document is shared by other requests, so it
// is copied, not changed; only the selections are new, the rest (schema
// definitions, positions, arguments) is shared.
func withoutDefer(doc *ast.QueryDocument, op *ast.OperationDefinition) (*ast.QueryDocument, *ast.OperationDefinition) {
	c := deferStripper{fragments: make(map[*ast.FragmentDefinition]*ast.FragmentDefinition, len(doc.Fragments))}
	out := &ast.QueryDocument{Position: doc.Position, Comment: doc.Comment}
	for _, f := range doc.Fragments {
		out.Fragments = append(out.Fragments, c.fragment(f))
	}
	newOp := *op
	newOp.SelectionSet = c.set(op.SelectionSet)
	out.Operations = ast.OperationList{&newOp}
	return out, &newOp
}

type deferStripper struct {
	fragments map[*ast.FragmentDefinition]*ast.FragmentDefinition // copies, by original
}

func (c deferStripper) fragment(f *ast.FragmentDefinition) *ast.FragmentDefinition {
	if f == nil {
		return nil
	}
	if cp, ok := c.fragments[f]; ok {
		return cp
	}
	cp := *f
	c.fragments[f] = &cp // before its selections: validation refused cycles, but a map entry costs nothing
	cp.SelectionSet = c.set(f.SelectionSet)
	return &cp
}

func (c deferStripper) set(set ast.SelectionSet) ast.SelectionSet {
	if set == nil {
		return nil
	}
	out := make(ast.SelectionSet, len(set))
	for i, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			cp := *sel
			cp.SelectionSet = c.set(sel.SelectionSet)
			out[i] = &cp
		case *ast.InlineFragment:
			cp := *sel
			cp.Directives = dropDefer(sel.Directives)
			cp.SelectionSet = c.set(sel.SelectionSet)
			out[i] = &cp
		case *ast.FragmentSpread:
			cp := *sel
			cp.Directives = dropDefer(sel.Directives)
			cp.Definition = c.fragment(sel.Definition)
			out[i] = &cp
		default:
			out[i] = sel
		}
	}
	return out
}

func dropDefer(ds ast.DirectiveList) ast.DirectiveList {
	if ds.ForName("defer") == nil {
		return ds
	}
	out := make(ast.DirectiveList, 0, len(ds)-1)
	for _, d := range ds {
		if d.Name != "defer" {
			out = append(out, d)
		}
	}
	return out
}

// videoDetail returns the video whose detail fields obj's field resolver
// answers: obj itself when it has them, else the video fetched in full on
// its own. Of a video's detail fields only the first selected reports a
// failure, so that a video that cannot be fetched costs one error, at its
// first detail field, rather than one per field.
func videoDetail(ctx context.Context, obj *model.Video) (*model.Video, error) {
	if obj.Detailed {
		return obj, nil
	}
	v, err := loader.For(ctx).LoadAlone(ctx, memories.VideoRef{UniqueID: obj.UniqueID, VideoNo: obj.VideoNo})
	if err != nil {
		if !firstDetailField(ctx) {
			return nil, nil
		}
		return nil, err
	}
	if v == nil {
		// Gone since the first part was fetched: its detail is unknown.
		return &model.Video{}, nil
	}
	return newVideo(obj.UniqueID, v), nil
}

// firstDetailField reports whether the field being resolved is the first
// detail field its object's selection collects.
func firstDetailField(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !graphql.HasOperationContext(ctx) {
		return true
	}
	// The field that returned the video: a list's elements have contexts
	// of their own, without a field.
	parent := fc.Parent
	for parent != nil && parent.Field.Field == nil {
		parent = parent.Parent
	}
	if parent == nil {
		return true
	}
	for _, f := range graphql.CollectFields(graphql.GetOperationContext(ctx), parent.Field.Selections, videoImplementors) {
		if detailFields[f.Name] {
			return f.Alias == fc.Field.Alias
		}
	}
	return true
}
