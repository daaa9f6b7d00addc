// Package metrics exposes the service's Prometheus metrics: upstream calls,
// the rate limiter, the cache, the loader and GraphQL operations. Labels
// never carry an API key or anything derived from one.
//
// It is fed by graph, loader, videocache and upstream, and served at
// /metrics (internal/app).
package metrics

import (
	"maps"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the collectors. Its methods are safe for concurrent use, and
// a nil *Metrics records nothing, so callers need no checks.
type Metrics struct {
	reg *prometheus.Registry

	upstreamCalls     *prometheus.CounterVec
	upstreamLatency   *prometheus.HistogramVec
	limiterWait       *prometheus.HistogramVec
	listUnavailable   prometheus.Counter
	cache             *prometheus.CounterVec
	responseCache     *prometheus.CounterVec
	batchSize         prometheus.Histogram
	operations        *prometheus.CounterVec
	operationDuration *prometheus.HistogramVec
	refused           *prometheus.CounterVec
	streams           *prometheus.GaugeVec
	streamsOpened     *prometheus.CounterVec
	watchPolls        *prometheus.CounterVec
	watchPolled       *prometheus.CounterVec
	watchBudgetWaits  prometheus.Counter
	watchEvents       *prometheus.CounterVec

	names operationNames

	// The children of the vectors that every request records into.
	callSeries      series[[2]string, callSeriesPair]
	waitSeries      series[string, prometheus.Observer]
	cacheSeries     series[string, prometheus.Counter]
	responseSeries  series[string, prometheus.Counter]
	operationSeries series[[2]string, callSeriesPair]
}

// callSeriesPair is a counter and a histogram of the same labels.
type callSeriesPair struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// series keeps the children of a vector by their label values.
// WithLabelValues hashes the values and takes the vector's lock on every
// call, which client_golang's documentation advises against on hot paths;
// here a read takes neither a lock nor an allocation, because the map is
// replaced, never changed. Every key is one of a bounded set (endpoints,
// outcomes, results, the bounded operation names).
type series[K comparable, M any] struct {
	mu sync.Mutex
	m  atomic.Pointer[map[K]M]
}

// get returns the child for k, made by newChild the first time.
func (s *series[K, M]) get(k K, newChild func() M) M {
	if m := s.m.Load(); m != nil {
		if c, ok := (*m)[k]; ok {
			return c
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var old map[K]M
	if m := s.m.Load(); m != nil {
		old = *m
	}
	if c, ok := old[k]; ok {
		return c
	}
	next := make(map[K]M, len(old)+1)
	maps.Copy(next, old)
	c := newChild()
	next[k] = c
	s.m.Store(&next)
	return c
}

// New returns metrics registered on a registry of their own, with the Go
// runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		upstreamCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memories_upstream_calls_total",
			Help: "Calls to memories.ai, by endpoint (get_metadata, list_videos) and outcome.",
		}, []string{"endpoint", "outcome"}),
		upstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "memories_upstream_call_duration_seconds",
			Help:    "Latency of calls to memories.ai, by endpoint and outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"endpoint", "outcome"}),
		limiterWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "memories_ratelimit_wait_seconds",
			Help:    "Time a call waited for the account's rate budget of its endpoint.",
			Buckets: []float64{.001, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint"}),
		listUnavailable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "memories_list_unavailable_total",
			Help: "Times list_videos was found unavailable for an account (HTTP 404/405 or an unknown-call code); the account then uses get_metadata until the next probe.",
		}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memories_cache_requests_total",
			Help: "Video lookups by the cross-request cache, by result: hit, miss (this lookup called the upstream), coalesced (it shared a call in flight, in this replica or, with Redis, another).",
		}, []string{"result"}),
		responseCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graphql_response_cache_total",
			Help: "Answers of the response cache (RESPONSE_CACHE_BYTES), by result: replayed (a kept answer served a query again, unexecuted), changed (a video it read had changed: dropped, and the query executed), kept (a new answer was kept).",
		}, []string{"result"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "memories_loader_batch_size",
			Help:    "Distinct videos per loader batch.",
			Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500},
		}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graphql_operations_total",
			Help: "GraphQL operations, by operation name and outcome (ok, partial, error).",
		}, []string{"operation", "outcome"}),
		operationDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "graphql_operation_duration_seconds",
			Help:    "Duration of GraphQL operations, by outcome.",
			Buckets: prometheus.DefBuckets,
		}, []string{"outcome"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graphql_requests_refused_total",
			Help: "GraphQL requests refused before execution, by reason: a document limit (tokens, selections, fragments, directives, variables, operations, name_length, value_nesting), fragment_expansion, executed_fields, introspection_fields, depth, parse, validation, input, bad_request, timeout.",
		}, []string{"reason"}),
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "graphql_streams_open",
			Help: "Open streams, by transport: websocket (connections) and sse (event streams).",
		}, []string{"transport"}),
		streamsOpened: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graphql_streams_opened_total",
			Help: "Streams opened, by transport: websocket (connections) and sse (event streams).",
		}, []string{"transport"}),
		watchPolls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memories_watch_polls_total",
			Help: "Polls of watched videos, by call: list (their state, through list_videos) or detail (get_metadata, once a video settled).",
		}, []string{"call"}),
		watchPolled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memories_watch_polled_videos_total",
			Help: "Videos asked by polls of watched videos, by call (list or detail).",
		}, []string{"call"}),
		watchBudgetWaits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "memories_watch_budget_waits_total",
			Help: "Polls put off to the next interval because the watch's share of the budget (WATCH_BUDGET_SHARE) had no room.",
		}),
		watchEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memories_watch_events_total",
			Help: "Video states for subscribers, by result: sent (read by the subscription), dropped (replaced by a newer state before a slow subscriber read it).",
		}, []string{"result"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.upstreamCalls, m.upstreamLatency, m.limiterWait, m.listUnavailable, m.cache, m.responseCache, m.batchSize,
		m.operations, m.operationDuration, m.refused,
		m.streams, m.streamsOpened, m.watchPolls, m.watchPolled, m.watchBudgetWaits, m.watchEvents,
	)
	return m
}

// BuildInfo exports memories_build_info, the build this replica runs.
func (m *Metrics) BuildInfo(version, commit, goVersion string) {
	if m == nil {
		return
	}
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "memories_build_info",
		Help: "Always 1; its labels say which build this replica runs: version (as stamped at build), commit (the VCS revision the binary was built from, \"unknown\" without one) and goversion.",
	}, []string{"version", "commit", "goversion"})
	g.WithLabelValues(version, commit, goVersion).Set(1)
	m.reg.MustRegister(g)
}

// WatchRedis exports, for a service sharing its state through Redis, whether
// Redis answers (memories_redis_up, 1 or 0: at 0 this replica limits and
// caches on its own) and how many other replicas have dropped out of it
// lately (memories_replicas_missing: the shared budget leaves their share).
func (m *Metrics) WatchRedis(up func() bool, missing func() int) {
	if m == nil {
		return
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "memories_redis_up",
			Help: "1 while Redis answers and this replica shares the rate limit and cache through it, 0 while it uses its own.",
		}, func() float64 {
			if up() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "memories_replicas_missing",
			Help: "Replicas seen in Redis lately but not now; the shared rate budget leaves their fallback share.",
		}, func() float64 { return float64(missing()) }),
	)
}

// WatchRedisSlotMoves exports the Redis commands refused because their
// slot was moving between the nodes of a Redis Cluster
// (memories_redis_slot_moving_total): each call was served from this
// replica's own state, while Redis stayed available for the other slots.
func (m *Metrics) WatchRedisSlotMoves(refused func() int64) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "memories_redis_slot_moving_total",
		Help: "Redis commands a cluster refused (TRYAGAIN) while their slot moved between nodes; each call used this replica's own limiter or cache instead.",
	}, func() float64 { return float64(refused()) }))
}

// WatchRegistry exports the number of open subscriptions and of watched
// videos.
func (m *Metrics) WatchRegistry(subscriptions, videos func() int) {
	if m == nil {
		return
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "memories_watch_subscriptions",
			Help: "Open watchVideos subscriptions.",
		}, func() float64 { return float64(subscriptions()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "memories_watch_videos",
			Help: "Videos being watched, each polled once whatever its subscribers.",
		}, func() float64 { return float64(videos()) }),
	)
}

// StreamOpened records a stream opening on transport ("websocket" or
// "sse"); the returned func records it closing.
func (m *Metrics) StreamOpened(transport string) (closed func()) {
	if m == nil {
		return func() {}
	}
	m.streamsOpened.WithLabelValues(transport).Inc()
	g := m.streams.WithLabelValues(transport)
	g.Inc()
	return g.Dec
}

// WatchPoll records one poll of watched videos.
func (m *Metrics) WatchPoll(videos int, detail bool) {
	if m == nil {
		return
	}
	call := "list"
	if detail {
		call = "detail"
	}
	m.watchPolls.WithLabelValues(call).Inc()
	m.watchPolled.WithLabelValues(call).Add(float64(videos))
}

// WatchBudgetWait records a poll put off for the budget.
func (m *Metrics) WatchBudgetWait() {
	if m == nil {
		return
	}
	m.watchBudgetWaits.Inc()
}

// WatchEvents records video states sent to subscribers and dropped.
func (m *Metrics) WatchEvents(sent, dropped int) {
	if m == nil {
		return
	}
	if sent > 0 {
		m.watchEvents.WithLabelValues("sent").Add(float64(sent))
	}
	if dropped > 0 {
		m.watchEvents.WithLabelValues("dropped").Add(float64(dropped))
	}
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// UpstreamCall records one upstream call.
func (m *Metrics) UpstreamCall(endpoint, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	c := m.callSeries.get([2]string{endpoint, outcome}, func() callSeriesPair {
		return callSeriesPair{m.upstreamCalls.WithLabelValues(endpoint, outcome), m.upstreamLatency.WithLabelValues(endpoint, outcome)}
	})
	c.count.Inc()
	c.duration.Observe(d.Seconds())
}

// LimiterWait records how long a call waited for its endpoint's budget.
func (m *Metrics) LimiterWait(endpoint string, d time.Duration) {
	if m == nil {
		return
	}
	m.waitSeries.get(endpoint, func() prometheus.Observer { return m.limiterWait.WithLabelValues(endpoint) }).Observe(d.Seconds())
}

// ListUnavailable records that list_videos was found unavailable for an
// account.
func (m *Metrics) ListUnavailable() {
	if m == nil {
		return
	}
	m.listUnavailable.Inc()
}

// CacheResult records n video lookups answered alike: "hit", "miss" or
// "coalesced".
func (m *Metrics) CacheResult(result string, n int) {
	if m == nil {
		return
	}
	m.cacheSeries.get(result, func() prometheus.Counter { return m.cache.WithLabelValues(result) }).Add(float64(n))
}

// ResponseCacheResult records one answer of the response cache: "replayed",
// "changed" or "kept".
func (m *Metrics) ResponseCacheResult(result string) {
	if m == nil {
		return
	}
	m.responseSeries.get(result, func() prometheus.Counter { return m.responseCache.WithLabelValues(result) }).Inc()
}

// LoaderBatch records the number of distinct videos of one loader batch.
func (m *Metrics) LoaderBatch(size int) {
	if m == nil {
		return
	}
	m.batchSize.Observe(float64(size))
}

// Operation records one GraphQL operation.
func (m *Metrics) Operation(name, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	label := m.names.label(name)
	c := m.operationSeries.get([2]string{label, outcome}, func() callSeriesPair {
		return callSeriesPair{m.operations.WithLabelValues(label, outcome), m.operationDuration.WithLabelValues(outcome)}
	})
	c.count.Inc()
	c.duration.Observe(d.Seconds())
}

// Refused records one request refused before execution; reason is one of a
// fixed set (graph's refusalReasons).
func (m *Metrics) Refused(reason string) {
	if m == nil {
		return
	}
	m.refused.WithLabelValues(reason).Inc()
}

// maxOperationNames bounds the operation label: names come from clients, and
// each distinct one is a time series.
const maxOperationNames = 200

var validName = regexp.MustCompile(`^[_A-Za-z][_0-9A-Za-z]{0,63}$`)

// operationNames maps client-chosen operation names to label values,
// keeping the first maxOperationNames and folding the rest into "other".
type operationNames struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (o *operationNames) label(name string) string {
	switch {
	case name == "":
		return "anonymous"
	case !validName.MatchString(name):
		return "other"
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen == nil {
		o.seen = make(map[string]bool)
	}
	if o.seen[name] {
		return name
	}
	if len(o.seen) >= maxOperationNames {
		return "other"
	}
	o.seen[name] = true
	return name
}
