package graph

import (
	"context"
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
	oc.Doc, oc.Operation = withoutDefer(oc.Doc, oc.Operation)
	return nil
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
