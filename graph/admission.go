package graph

import (
	"context"
	"net/http"
	"runtime"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// heavyDocumentBytes is the size from which a document not yet in the
// query cache waits for one of admission's slots before it is parsed and
// validated. Below it the work is too small to matter (a few hundred
// microseconds at most); the operations a web app sends are smaller still.
const heavyDocumentBytes = 16 << 10

// admission is what every transport sees as the executor. It lets at most
// half the cores (at least one) parse and validate large new documents at
// once, so that a stream of the largest documents the limits allow leaves
// the rest of the cores to everyone else, and it ends a validation that
// stopped early (abortedValidation) with that validation's errors.
type admission struct {
	cache graphql.Cache[*ast.QueryDocument]
	slots chan struct{}
}

func newAdmission(cache graphql.Cache[*ast.QueryDocument]) *admission {
	return &admission{cache: cache, slots: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))}
}

// transport returns t with admission in front of its executor.
func (a *admission) transport(t graphql.Transport) graphql.Transport {
	return admittedTransport{Transport: t, a: a}
}

type admittedTransport struct {
	graphql.Transport
	a *admission
}

func (t admittedTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	t.Transport.Do(w, r, admittedExecutor{GraphExecutor: exec, a: t.a})
}

type admittedExecutor struct {
	graphql.GraphExecutor
	a *admission
}

// CreateOperationContext parses, validates and checks an operation,
// waiting for a slot first when the document is large and new.
func (e admittedExecutor) CreateOperationContext(ctx context.Context, params *graphql.RawParams) (oc *graphql.OperationContext, errs gqlerror.List) {
	if len(params.Query) >= heavyDocumentBytes {
		if _, ok := e.a.cache.Get(ctx, params.Query); !ok {
			select {
			case e.a.slots <- struct{}{}:
				defer func() { <-e.a.slots }()
			case <-ctx.Done():
				err := gqlerror.Errorf("the request ended while waiting its turn to validate a large document")
				err.Extensions = map[string]any{"code": CodeRequestTimeout}
				return refusedOperation(params), gqlerror.List{err}
			}
		}
	}
	defer func() {
		if r := recover(); r != nil {
			aborted, ok := r.(abortedValidation)
			if !ok {
				panic(r)
			}
			oc, errs = refusedOperation(params), aborted.errs
		}
	}()
	return e.GraphExecutor.CreateOperationContext(ctx, params)
}

// refusedOperation is the operation context of a document refused before
// the executor made one: what the request said, for the response
// interceptors.
func refusedOperation(params *graphql.RawParams) *graphql.OperationContext {
	return &graphql.OperationContext{
		RawQuery:      params.Query,
		Variables:     params.Variables,
		OperationName: params.OperationName,
		Extensions:    params.Extensions,
		Headers:       params.Headers,
		Stats:         graphql.Stats{OperationStart: graphql.Now()},
	}
}
