package graph

import (
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/trace"
)

// Options are what NewServer builds the GraphQL server from.
type Options struct {
	// Transports take requests, in order: the first that supports a
	// request answers it.
	Transports     []graphql.Transport
	QueryCacheSize int // parsed documents kept, and as many persisted queries
	Introspection  bool
	Limits         Limits // of documents, before they are parsed
	MaxDepth       int
	MaxVideos      int // video references per operation
	MaxDetail      int // distinct videos per operation that need get_metadata
	Recorder       OperationRecorder
	Tracer         trace.Tracer // nil: no spans
	Logger         *slog.Logger
	Watch          Watcher // what subscriptions watch through; nil: none
	Library        Lister  // what videoLibrary lists through; nil: none
	Cost           bool    // add extensions.cost to every query's response
}

// NewServer returns the GraphQL server: the schema, its transports, and
// every check an operation passes, in order. Before parsing: the document
// limits. Parsing and validation: gqlparser's, with a linear
// overlapping-fields rule and at most maxValidationErrors errors, large new
// documents a few at a time (admission). After validation: @defer taken
// out unless the transport delivers increments (Incremental), depth, fields
// per selection set and introspection fields (OperationLimits), then the
// video references, which the plan starts fetching (VideoPlan).
func NewServer(o Options) *handler.Server {
	gql := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{Watch: o.Watch, Library: o.Library}}))
	docs := lru.New[*ast.QueryDocument](o.QueryCacheSize)
	adm := newAdmission(docs)
	for _, t := range o.Transports {
		gql.AddTransport(adm.transport(markIncremental(t)))
	}
	gql.SetQueryCache(docs)
	gql.SetValidationRulesFn(validationRules)
	// The checks after validation share one walk of each operation, kept
	// as long as its document is.
	sums := NewSummaries(o.QueryCacheSize)
	// First of the checks after validation: the walk they share reads
	// @defer, which this takes out where it does not apply.
	gql.Use(Incremental{})
	if o.Introspection {
		gql.Use(extension.Introspection{})
	} else {
		gql.Use(NoIntrospection{Summaries: sums})
	}
	// Persisted queries first: the limits check the text they stand for.
	gql.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](o.QueryCacheSize)})
	gql.Use(DocumentLimits{Limits: o.Limits, Cache: docs})
	gql.Use(OperationLimits{Depth: o.MaxDepth, Selections: o.Limits.Selections, Summaries: sums})
	gql.Use(StreamLoader{}) // before the plan, which hands its videos to the loader
	gql.Use(VideoPlan{Max: o.MaxVideos, MaxDetail: o.MaxDetail, Summaries: sums})
	gql.Use(EntityKeys{Summaries: sums})
	gql.Use(EventErrors{})
	gql.Use(OperationMetrics{Recorder: o.Recorder})
	if o.Cost {
		gql.Use(Cost{})
	}
	if o.Tracer != nil {
		gql.Use(Tracing{Tracer: o.Tracer})
	}
	gql.SetErrorPresenter(ErrorPresenter(o.Logger))
	gql.SetRecoverFunc(Recover(o.Logger))
	return gql
}
