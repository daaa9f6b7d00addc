package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// Apollo Client 4 pages through a whole library with relayStylePagination
// (e2e/live/library.mjs): fetchMore with each page's endCursor until
// hasNextPage is false. The connection it merges in its cache holds every
// video of the scope once, in the order the library lists them, and the
// consecutive pages reuse the vendor pages the server keeps for a few
// seconds: about one list_videos call per vendor page.
func TestLibraryWithApolloClient(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node")
	}
	node, run := nodeHarness(t, "live", "@apollo/client", "runs Apollo Client")
	const (
		n       = 45 // videos of the scope listed
		pageCap = 20 // the vendor's largest page
		first   = 7  // Apollo's page
	)
	vs, nos := detailVideos("5", n)
	for i := range 5 { // another scope's videos, which the listing leaves out
		vs = append(vs, rawVideo("other", fmt.Sprintf(`{"video_no":"VI6%017d","video_name":"other-%d","status":"PARSE"}`, i, i)))
	}
	h := setup(t, emulator.Options{Videos: vs, ListPageCap: pageCap}, fastList)

	var out struct {
		Pages       int      `json:"pages"`
		TotalCount  *int     `json:"totalCount"`
		HasNextPage *bool    `json:"hasNextPage"`
		Nodes       []string `json:"nodes"`
		Observed    []string `json:"observed"`
		Errors      []string `json:"errors"`
	}
	runNode(t, node, filepath.Join(filepath.Dir(run), "library.mjs"), []string{string(mustJSON(map[string]any{
		"url": h.url, "first": first, "uniqueId": "default",
	}))}, nil, &out)
	st := h.emu.Stats()

	// The library's order, read independently: one page of 200 from
	// another server in front of the same emulator, which shares none of
	// the first one's kept pages.
	ref := startInstance(t, with(fastList, "MEMORIES_BASE_URL", h.emu.URL()), nil)
	resp := ref.query(t, `{ videoLibrary(first: 200) { totalCount pageInfo { hasNextPage } nodes { videoNo } } }`, nil)
	if len(resp.Errors) > 0 {
		t.Fatalf("reference listing: errors %+v", resp.Errors)
	}
	listed := decode[*struct {
		TotalCount int
		PageInfo   struct{ HasNextPage bool }
		Nodes      []struct{ VideoNo string }
	}](t, resp.Data["videoLibrary"])
	if listed == nil || listed.TotalCount != n || listed.PageInfo.HasNextPage || len(listed.Nodes) != n {
		t.Fatalf("reference listing = %+v; want all %d videos in one page", listed, n)
	}
	want := make([]string, n)
	for i, v := range listed.Nodes {
		want[i] = v.VideoNo
	}
	if sorted := slices.Sorted(slices.Values(want)); !slices.Equal(sorted, nos) {
		t.Fatalf("reference listing holds %v; want the scope's videos %v, each once", sorted, nos)
	}

	if len(out.Errors) > 0 {
		t.Fatalf("Apollo Client: errors %q", out.Errors)
	}
	if wantPages := (n + first - 1) / first; out.Pages != wantPages {
		t.Errorf("pages = %d; want %d (ceil(%d/%d))", out.Pages, wantPages, n, first)
	}
	if out.TotalCount == nil || *out.TotalCount != n {
		t.Errorf("totalCount = %v; want %d", ptrString(out.TotalCount), n)
	}
	if out.HasNextPage == nil || *out.HasNextPage {
		t.Errorf("hasNextPage at the end = %v; want false", ptrString(out.HasNextPage))
	}
	seen := map[string]int{}
	for _, no := range out.Nodes {
		seen[no]++
	}
	for _, no := range nos {
		if seen[no] != 1 {
			t.Errorf("video %s is in the merged list %d times; want once", no, seen[no])
		}
	}
	if !slices.Equal(out.Nodes, want) {
		t.Errorf("merged list (%d videos) = %v;\nwant the library's order (%d) %v", len(out.Nodes), out.Nodes, n, want)
	}
	if !slices.Equal(out.Observed, out.Nodes) {
		t.Errorf("the watched query's last result holds %v; want the cache's merged list %v", out.Observed, out.Nodes)
	}

	// A page of 200 asked first, answered with 20, teaches the server the
	// vendor's size: one call more than the vendor pages.
	if maxCalls := int64((n+pageCap-1)/pageCap + 1); st.List.Requests > maxCalls {
		t.Errorf("list_videos calls = %d; want at most %d (one per vendor page of %d, and the one that learns the size)", st.List.Requests, maxCalls, pageCap)
	}
	if st.Requests != 0 {
		t.Errorf("get_metadata calls = %d; want 0 (no node selects a detail field)", st.Requests)
	}
	t.Logf("%d GraphQL pages of %d, %d list_videos calls for %d videos at a page cap of %d", out.Pages, first, st.List.Requests, n, pageCap)
}

// ptrString shows a pointer's value, or nil.
func ptrString[T any](p *T) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}
