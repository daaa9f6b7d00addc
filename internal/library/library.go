// Package library lists an account's videos a page at a time, through the
// vendor's filters, for the library connection: any window of the listing
// (an offset and a count) is mapped onto the vendor's pages, whose size it
// learns from the answers, and the pages it fetched serve again for a few
// seconds, so that paging through a library costs about one call per
// vendor page. Every listed video is kept in the video cache as a list
// answer.
//
// It sits between the GraphQL layer (graph) and the upstream calls
// (upstream), beside the video cache (videocache), which keeps what it
// lists.
package library

import (
	"context"
	"encoding/binary"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/cost"
	"github.com/memories-facade/memories-graphql/internal/detach"
	"github.com/memories-facade/memories-graphql/internal/memories"
)

// Upstream asks list_videos for one page of a library.
type Upstream interface {
	LibraryPage(ctx context.Context, acct account.Account, req memories.ListRequest) (*memories.ListPage, error)
}

// Keeper keeps listed videos as list answers and returns them completed
// by the detail fields it holds (videocache.Cache.Listed).
type Keeper interface {
	Listed(ctx context.Context, acct account.Account, uniqueID string, videos []*memories.Video) []*memories.Video
}

// Listing is what a library connection lists: one scope's videos through a
// filter.
type Listing struct {
	UniqueID string // "" is "default"
	Filter   memories.ListFilter
}

// Page is a window of a listing.
type Page struct {
	Videos []*memories.Video // from Offset on, in the vendor's order
	Offset int
	// Total is the matches over all pages, as the vendor counts them.
	Total int64
	// More reports videos after the last of Videos.
	More bool
}

// Options tune a Lister; the zero value takes the defaults.
type Options struct {
	// PageSize is the page size asked of the vendor (default 200, its
	// documented default). A vendor that caps pages lower says so in its
	// answers, and the account's pages are asked at that size afterwards.
	PageSize int
	// PageTTL is how long a fetched vendor page serves again (default
	// 10s): long enough for a client to ask for the next window, short
	// enough that a new upload shows soon.
	PageTTL time.Duration
	// MaxPages bounds the vendor pages kept (default 128: up to 25,600
	// videos, about 10 MB). One account fetches at most 50 pages in a
	// PageTTL at the vendor's 5 calls/s; past the bound, the oldest-kept
	// pages go first and cost a call if asked again.
	MaxPages int
}

// Lister lists libraries. It is safe for concurrent use and shared by all
// requests of the process.
type Lister struct {
	up       Upstream
	keep     Keeper
	size     int
	ttl      time.Duration
	maxPages int
	group    singleflight.Group

	mu    sync.Mutex
	pages map[string]keptPage
	sizes map[string]int // account ID -> the vendor's page size, once it differed from size
}

// vendorPage is one vendor page, as kept.
type vendorPage struct {
	videos []*memories.Video
	size   int // the page size the vendor used
	total  int64
}

type keptPage struct {
	page  *vendorPage
	until time.Time
}

// maxSizes bounds the accounts whose page size is remembered.
const maxSizes = 4096

// New returns a Lister that lists through up and keeps what it lists in
// keep.
func New(up Upstream, keep Keeper, opts Options) *Lister {
	l := &Lister{up: up, keep: keep, size: opts.PageSize, ttl: opts.PageTTL, maxPages: opts.MaxPages,
		pages: map[string]keptPage{}, sizes: map[string]int{}}
	if l.size <= 0 {
		l.size = 200
	}
	if l.ttl <= 0 {
		l.ttl = 10 * time.Second
	}
	if l.maxPages <= 0 {
		l.maxPages = 128
	}
	return l
}

// Page returns at most first videos of q's listing for acct, from offset
// on, fetching the vendor pages that hold them: usually one, two when the
// window spans a page boundary, none when they were fetched moments ago.
// first 0 asks for the total alone (one page, the one at offset). Errors
// are the upstream's (*memories.Error), or ctx's.
func (l *Lister) Page(ctx context.Context, acct account.Account, q Listing, offset, first int) (*Page, error) {
	out := &Page{Offset: offset}
	size := l.pageSize(acct)
	pos, exhausted := offset, false
	for tries := 0; ; tries++ {
		no := pos/size + 1
		vp, how, err := l.vendorPage(ctx, acct, q, no, size)
		if err != nil {
			return nil, err
		}
		if vp.size != size {
			// The vendor pages otherwise than asked: its pages hold other
			// offsets than those computed. Page 1 starts at 0 all the same,
			// but it may end before pos.
			l.learn(acct, vp.size)
			size = vp.size
			if (no > 1 || pos >= size) && tries < 2 {
				continue
			}
		}
		out.Total = vp.total
		from := pos - (no-1)*size
		if from < 0 || from >= len(vp.videos) {
			exhausted = true
			break
		}
		take := vp.videos[from:min(len(vp.videos), from+first-len(out.Videos))]
		out.Videos = append(out.Videos, take...)
		cost.From(ctx).Videos(how, len(take))
		pos += len(take)
		if len(out.Videos) >= first || len(vp.videos) < size || int64(pos) >= vp.total {
			break
		}
	}
	out.More = !exhausted && int64(pos) < out.Total
	return out, nil
}

// vendorPage returns page no of q at size: a page kept from moments ago,
// or the answer of a call that this and any concurrent look-up of the
// same page share. how is the cost meter's word for it: "hit",
// "coalesced" or "miss".
func (l *Lister) vendorPage(ctx context.Context, acct account.Account, q Listing, no, size int) (_ *vendorPage, how string, _ error) {
	key := pageKey(acct, q, no, size)
	if p := l.kept(key); p != nil {
		return p, "hit", nil
	}
	owner := false
	ch := l.group.DoChan(key, func() (any, error) {
		owner = true
		// The call serves every look-up that joins it: none's leaving
		// cancels it, and it ends by the deadline of the one that made it.
		fctx := detach.New(ctx)
		defer fctx.Cancel()
		lp, err := l.up.LibraryPage(fctx, acct, memories.ListRequest{
			UniqueID: q.UniqueID, Library: true, Filter: q.Filter, Page: no, Size: size,
		})
		if err != nil {
			return nil, err
		}
		p := &vendorPage{videos: l.keep.Listed(fctx, acct, q.UniqueID, lp.Videos), size: lp.PageSize, total: lp.TotalCount}
		if p.size <= 0 {
			p.size = size // a vendor that does not say pages as asked
		}
		l.store(key, p)
		if p.size != size && no == 1 {
			// Page 1 is the same page at any size: the look-ups that ask
			// at the size learnt find it too.
			l.store(pageKey(acct, q, no, p.size), p)
		}
		return p, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, "", r.Err
		}
		how = "coalesced"
		if owner {
			how = "miss"
		}
		return r.Val.(*vendorPage), how, nil
	case <-ctx.Done():
		if ctx.Err() == context.DeadlineExceeded {
			return nil, "", &memories.Error{Kind: memories.KindTimeout, Err: ctx.Err()}
		}
		return nil, "", ctx.Err()
	}
}

// pageKey names a vendor page of one account's listing.
func pageKey(acct account.Account, q Listing, no, size int) string {
	b := append([]byte(acct.ID()), 0)
	b = q.canonical(b)
	b = binary.AppendUvarint(b, uint64(no))
	b = binary.AppendUvarint(b, uint64(size))
	return string(b)
}

func (l *Lister) kept(key string) *vendorPage {
	l.mu.Lock()
	defer l.mu.Unlock()
	k, ok := l.pages[key]
	if !ok {
		return nil
	}
	if time.Now().After(k.until) {
		delete(l.pages, key)
		return nil
	}
	return k.page
}

func (l *Lister) store(key string, p *vendorPage) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pages) >= l.maxPages {
		for k, kp := range l.pages {
			if now.After(kp.until) {
				delete(l.pages, k)
			}
		}
		for len(l.pages) >= l.maxPages {
			oldest, first := "", true
			for k, kp := range l.pages {
				if first || kp.until.Before(l.pages[oldest].until) {
					oldest, first = k, false
				}
			}
			delete(l.pages, oldest)
		}
	}
	l.pages[key] = keptPage{page: p, until: now.Add(l.ttl)}
}

// pageSize is the page size to ask for acct's pages.
func (l *Lister) pageSize(acct account.Account) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n, ok := l.sizes[acct.ID()]; ok {
		return n
	}
	return l.size
}

// learn remembers the vendor's page size for acct.
func (l *Lister) learn(acct account.Account, size int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.sizes) >= maxSizes {
		clear(l.sizes)
	}
	if size == l.size {
		delete(l.sizes, acct.ID())
		return
	}
	l.sizes[acct.ID()] = size
}
