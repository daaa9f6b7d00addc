package main

import (
	"fmt"
	"strings"
	"testing"
)

// libraryPages pages through the videos of vs at idx as the server would,
// first a page: cursors are positions, totalCount is total.
func libraryPages(vs videoSet, idx []int, first, total int) []*libraryPage {
	var pages []*libraryPage
	for from := 0; from == 0 || from < len(idx); from += first {
		pg := &libraryPage{TotalCount: total}
		for i := from; i < min(from+first, len(idx)); i++ {
			pg.Edges = append(pg.Edges, libraryEdge{Cursor: fmt.Sprint(i),
				Node: libraryNode{VideoNo: vs.nos[idx[i]], VideoName: fmt.Sprintf("load-clip-%d", idx[i]), Status: "PARSE"}})
		}
		if n := len(pg.Edges); n > 0 {
			pg.PageInfo.StartCursor, pg.PageInfo.EndCursor = &pg.Edges[0].Cursor, &pg.Edges[n-1].Cursor
		}
		pg.PageInfo.HasPreviousPage = from > 0
		pg.PageInfo.HasNextPage = from+first < len(idx)
		pages = append(pages, pg)
	}
	return pages
}

// The pager's check passes a listing that shows every video once, as many
// as totalCount, and names what is wrong otherwise.
func TestLibraryPagerCheck(t *testing.T) {
	vs := makeVideos(10)
	want := map[string]string{}
	for i, no := range vs.nos {
		want[no] = fmt.Sprintf("load-clip-%d", i)
	}
	all := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	tests := []struct {
		name  string
		idx   []int
		total int
		want  string // in the check's answer; "" for none
	}{
		{"whole", all, 10, ""},
		{"a duplicate", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 0}, 10, "1 videos seen more than once"},
		{"one missing", all[:9], 10, "1 videos never seen"},
		{"totalCount off", all, 11, "10 videos seen, totalCount 11 to 11, library 10"},
	}
	for _, tt := range tests {
		p := newLibraryPager("", 4)
		for _, pg := range libraryPages(vs, tt.idx, 4, tt.total) {
			if !p.more() {
				t.Fatalf("%s: done before the last page", tt.name)
			}
			p.note(pg)
		}
		got := p.check(want)
		if p.more() || (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: more %v, check %q; want done, %q", tt.name, p.more(), got, tt.want)
		}
	}
}
