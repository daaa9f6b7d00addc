// Package cost meters what one GraphQL operation costs upstream: the
// memories.ai calls it made, by endpoint, the videos it took from the
// cache or from calls that other operations were making, and the time its
// calls waited for the rate budget. The server reports it to the client in
// every response (extensions.cost), so that a web developer can tune a
// query, and a test can assert on it.
//
// A Meter travels in the operation's context: the loader puts it there,
// the cache and the upstream calls add to it.
package cost

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"
)

// Meter counts one operation's cost. Its methods are safe for concurrent
// use and do nothing on a nil Meter, so that code below the loader needs
// no check.
type Meter struct {
	getMetadata, listVideos atomic.Int64
	cached, shared, fetched atomic.Int64
	waited                  atomic.Int64 // nanoseconds
}

// The endpoints a Meter counts calls of, as the upstream package names
// them.
const (
	GetMetadata = "get_metadata"
	ListVideos  = "list_videos"
)

// Call counts one upstream request to endpoint; a retry is a request too.
func (m *Meter) Call(endpoint string) {
	if m == nil {
		return
	}
	switch endpoint {
	case GetMetadata:
		m.getMetadata.Add(1)
	case ListVideos:
		m.listVideos.Add(1)
	}
}

// Wait adds d to the time the operation's calls waited for budget.
func (m *Meter) Wait(d time.Duration) {
	if m == nil || d <= 0 {
		return
	}
	m.waited.Add(int64(d))
}

// Videos counts n videos answered from the cache ("hit"), from a call of
// another operation ("coalesced") or by this operation's calls ("miss"),
// as the cache names its results.
func (m *Meter) Videos(result string, n int) {
	if m == nil || n <= 0 {
		return
	}
	switch result {
	case "hit":
		m.cached.Add(int64(n))
	case "coalesced":
		m.shared.Add(int64(n))
	case "miss":
		m.fetched.Add(int64(n))
	}
}

// Report is what a Meter has counted, as the response shows it.
type Report struct {
	Calls           Calls  `json:"calls"`
	Videos          Videos `json:"videos"`
	RateLimitWaitMs int64  `json:"rateLimitWaitMs"`
}

// Calls are the upstream requests, by endpoint.
type Calls struct {
	GetMetadata int64 `json:"getMetadata"`
	ListVideos  int64 `json:"listVideos"`
}

// Videos are the distinct videos looked up, by how each was answered.
type Videos struct {
	Cached  int64 `json:"cached"`  // kept by the cache
	Shared  int64 `json:"shared"`  // by a call another operation (or replica) was making
	Fetched int64 `json:"fetched"` // by this operation's calls
}

// Report returns what m has counted so far.
func (m *Meter) Report() Report {
	if m == nil {
		return Report{}
	}
	return Report{
		Calls:           Calls{GetMetadata: m.getMetadata.Load(), ListVideos: m.listVideos.Load()},
		Videos:          Videos{Cached: m.cached.Load(), Shared: m.shared.Load(), Fetched: m.fetched.Load()},
		RateLimitWaitMs: time.Duration(m.waited.Load()).Milliseconds(),
	}
}

// MarshalJSON writes r as its JSON tags say.
func (r Report) MarshalJSON() ([]byte, error) {
	return r.AppendJSON(make([]byte, 0, 128)), nil
}

// AppendJSON appends r's JSON to b, without reflection: every response
// carries one, on the path of every cache hit, and the HTTP transports
// write it with the data as it is (see gqlhttp).
func (r Report) AppendJSON(b []byte) []byte {
	b = append(b, `{"calls":{"getMetadata":`...)
	b = strconv.AppendInt(b, r.Calls.GetMetadata, 10)
	b = append(b, `,"listVideos":`...)
	b = strconv.AppendInt(b, r.Calls.ListVideos, 10)
	b = append(b, `},"videos":{"cached":`...)
	b = strconv.AppendInt(b, r.Videos.Cached, 10)
	b = append(b, `,"shared":`...)
	b = strconv.AppendInt(b, r.Videos.Shared, 10)
	b = append(b, `,"fetched":`...)
	b = strconv.AppendInt(b, r.Videos.Fetched, 10)
	b = append(b, `},"rateLimitWaitMs":`...)
	b = strconv.AppendInt(b, r.RateLimitWaitMs, 10)
	return append(b, '}')
}

type ctxKey struct{}

// NewContext returns ctx carrying a new Meter, and the Meter.
func NewContext(ctx context.Context) (context.Context, *Meter) {
	m := &Meter{}
	return context.WithValue(ctx, ctxKey{}, m), m
}

// From returns the Meter ctx carries, or nil.
func From(ctx context.Context) *Meter {
	m, _ := ctx.Value(ctxKey{}).(*Meter)
	return m
}
