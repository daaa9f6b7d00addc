package upstream_test

import (
	"context"
	"errors"
	"testing"

	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/upstream"
)

func libraryPage(page, size int) memories.ListRequest {
	return memories.ListRequest{UniqueID: scopeB, Library: true, Page: page, Size: size}
}

// A library page is one list_videos call of the scope, whose page size the
// vendor's cap decides; a 0429 is retried on the list budget.
func TestLibraryPage(t *testing.T) {
	e := setup(t, config{emu: emulator.Options{ListPageCap: 20}})
	first := videoNo(0)
	e.emu.SetListFault(first, emulator.Fault{Kind: emulator.FaultCode, Code: "0429", Msg: "Request has exceeded the limit.", Times: 1})
	var got []string
	for page := 1; page <= 2; page++ {
		p, err := e.caller.LibraryPage(context.Background(), acct, libraryPage(page, 200))
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if p.PageSize != 20 || p.TotalCount != videoCount {
			t.Errorf("page %d: page_size %d, total %d; want 20, %d", page, p.PageSize, p.TotalCount, videoCount)
		}
		for _, v := range p.Videos {
			if v.VideoName == nil || *v.VideoName != name(scopeB, v.VideoNo) {
				t.Errorf("video %s named %v; want the scope %s's", v.VideoNo, v.VideoName, scopeB)
			}
			got = append(got, v.VideoNo)
		}
	}
	if len(got) != videoCount {
		t.Errorf("listed %d videos over 2 pages; want %d", len(got), videoCount)
	}
	if got := e.obs.outcomes("list_videos"); got["ok"] != 2 || got["rate_limited"] != 1 {
		t.Errorf("list_videos outcomes %v; want 2 ok and 1 rate_limited (a 0429 retried)", got)
	}
	if got := e.obs.waitsFor("list_videos"); got != 3 {
		t.Errorf("list budget waits = %d; want one per attempt (3)", got)
	}
	if got := e.obs.waitsFor("get_metadata"); got != 0 {
		t.Errorf("get_metadata budget waits = %d; want 0", got)
	}
}

// An account without list_videos gets KindUnsupported, once from the
// upstream and then at once, with no call, until ProbeAfter; its batches
// meanwhile use get_metadata.
func TestLibraryPageUnsupported(t *testing.T) {
	e := setup(t, config{emu: emulator.Options{ListDisabled: true}, opts: upstream.Options{ProbeAfter: 1 << 40}})
	for i := range 2 {
		_, err := e.caller.LibraryPage(context.Background(), acct, libraryPage(1, 200))
		var me *memories.Error
		if !errors.As(err, &me) || me.Kind != memories.KindUnsupported {
			t.Fatalf("call %d: error %v; want KindUnsupported", i, err)
		}
	}
	if got := e.emu.Stats().List.Disabled; got != 1 {
		t.Errorf("list_videos calls answered 404: %d; want 1 (the second refused without a call)", got)
	}
	rs := refs(scopeA, 0, 3)
	got, errs := e.caller.Videos(context.Background(), acct, rs, false)
	checkAll(t, rs, got, errs, true)
	if st := e.emu.Stats(); st.List.Requests != 1 || st.Requests != 3 {
		t.Errorf("after: %d list_videos, %d get_metadata calls; want 1 and 3 (batches fall back)", st.List.Requests, st.Requests)
	}
}
