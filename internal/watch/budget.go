package watch

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Budget is the watch's share of each account's two upstream budgets, so
// that polling never takes more than that share from queries: a poll that
// does not fit is put off to the next interval. The upstream calls still
// wait on the account's whole budget as every call does; this only keeps
// the watch to its part of it.
type Budget struct {
	list, detail rateSpec
	replicas     func() int // nil: this replica alone

	mu       sync.Mutex
	limiters map[budgetKey]*rate.Limiter
}

type rateSpec struct {
	perSecond float64
	burst     int
}

type budgetKey struct {
	account string
	detail  bool
}

// NewBudget returns share (0 to 1] of an account's list_videos budget
// (listRate calls/s, listBurst at once) and get_metadata budget.
func NewBudget(share, listRate float64, listBurst int, metaRate float64, metaBurst int) *Budget {
	spec := func(r float64, b int) rateSpec {
		return rateSpec{perSecond: share * r, burst: max(1, int(share*float64(b)))}
	}
	return &Budget{list: spec(listRate, listBurst), detail: spec(metaRate, metaBurst), limiters: map[budgetKey]*rate.Limiter{}}
}

// Among makes b one replica's part of the share: 1/replicas() of it, as
// many replicas as poll the account's watched videos between them (each
// its part of them) at the time of each poll. It returns b.
func (b *Budget) Among(replicas func() int) *Budget {
	b.replicas = replicas
	return b
}

// part is spec's rate divided among the replicas polling now (each keeps
// the burst: one poll of its part of the videos fits it).
func (b *Budget) part(spec rateSpec) rateSpec {
	if b.replicas != nil {
		spec.perSecond /= float64(max(1, b.replicas()))
	}
	return spec
}

// allow takes n calls from the account's share if they fit now. A poll of
// more calls than the share's burst takes the burst: it is one poll, and
// the rate over time still holds.
func (b *Budget) allow(account string, detail bool, n int) bool {
	k := budgetKey{account, detail}
	spec := b.list
	if detail {
		spec = b.detail
	}
	spec = b.part(spec)
	b.mu.Lock()
	l := b.limiters[k]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(spec.perSecond), spec.burst)
		b.limiters[k] = l
	} else if l.Limit() != rate.Limit(spec.perSecond) || l.Burst() != spec.burst {
		// Replicas came or went: the part follows.
		l.SetLimit(rate.Limit(spec.perSecond))
		l.SetBurst(spec.burst)
	}
	b.mu.Unlock()
	return l.AllowN(time.Now(), min(n, spec.burst))
}
