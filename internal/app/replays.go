package app

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/memories-facade/memories-graphql/graph"
	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/metrics"
	"github.com/memories-facade/memories-graphql/internal/responsecache"
	"github.com/memories-facade/memories-graphql/internal/videocache"
)

// replays gives POST /query the answers of queries asked again
// (internal/responsecache), recording a replayed answer as the operation
// it answers: in graphql_operations_total, and its videos as cache hits.
type replays struct {
	cache   *responsecache.Cache
	metrics *metrics.Metrics
}

// replayState is what one request's replay needs: its account, and what its
// execution, if it runs, reads from the video cache.
type replayState struct {
	account string
	reads   videocache.Reads
}

type replayKey struct{}

// start returns ctx ready for a request of acct: a replay looks up its
// answers, an execution records its reads.
func (p *replays) start(ctx context.Context, acct account.Account) context.Context {
	st := &replayState{account: acct.ID()}
	return videocache.WithReads(context.WithValue(ctx, replayKey{}, st), &st.reads)
}

// Replay implements gqlhttp.Replays.
func (p *replays) Replay(ctx context.Context, body []byte) ([]byte, bool) {
	st, ok := ctx.Value(replayKey{}).(*replayState)
	if !ok {
		return nil, false
	}
	start := time.Now()
	a, ok := p.cache.Get(ctx, st.account, body)
	if !ok {
		return nil, false
	}
	p.metrics.CacheResult("hit", a.Videos)
	p.metrics.Operation(a.Operation, "ok", time.Since(start))
	return a.Body, true
}

// Keep implements gqlhttp.Replays: only answers built from the video
// cache's look-ups alone (graph.Replayable) are kept.
func (p *replays) Keep(ctx context.Context, body []byte, oc *graphql.OperationContext, answer []byte) {
	st, ok := ctx.Value(replayKey{}).(*replayState)
	if !ok || !graph.Replayable(oc) {
		return
	}
	p.cache.Set(st.account, body, responsecache.Answer{Body: answer, Operation: graph.OperationName(oc)}, &st.reads)
}
