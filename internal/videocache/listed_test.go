package videocache

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

// A listing keeps its videos as list answers on every replica, completes
// those whose detail fields are kept while it shows them parsed, and
// replaces a complete answer it shows untrue.
func TestCacheListed(t *testing.T) {
	listed := func(name string, status memories.Status) *memories.Video {
		v := withoutDetail(parsedVideo(name, 30))
		v.Status = status
		return v
	}
	for _, tt := range []struct {
		name       string
		keptBefore bool            // VI1 read in full before the listing
		listed     *memories.Video // VI1 as the listing shows it
		want       *memories.Video // what the listing returns, and look-ups serve
		wantDetail bool            // a detail look-up afterwards costs no call
	}{
		{"new video", false, listed("renamed", memories.StatusParse), listed("renamed", memories.StatusParse), false},
		{"kept, still parsed", true, listed("renamed", memories.StatusParse),
			withDetail(listed("renamed", memories.StatusParse), parsedVideo("first", 30)), true},
		{"kept, failed since", true, listed("renamed", memories.StatusFailed), listed("renamed", memories.StatusFailed), false},
	} {
		for _, shared := range []bool{false, true} {
			t.Run(tt.name+map[bool]string{false: " (local)", true: " (Redis)"}[shared], func(t *testing.T) {
				acct := videotest.Account(t, "sk-a")
				src := &changing{v: parsedVideo("first", 30)}
				up := src.fetcher()
				first, second := twoCaches(t, shared, up, TTLs{Parse: time.Hour, Failed: time.Hour, NotFound: time.Hour, Detail: 24 * time.Hour})
				if tt.keptBefore {
					if _, err := one(context.Background(), first, acct, "VI1", true); err != nil {
						t.Fatal(err)
					}
				}
				got := first.Listed(context.Background(), acct, memories.DefaultUniqueID, []*memories.Video{tt.listed})
				if !reflect.DeepEqual(got[0], tt.want) {
					t.Errorf("Listed returned %s; want %s", show(got[0]), show(tt.want))
				}
				up.Reset()
				src.set(nil) // a look-up that calls would now find nothing
				v, err := one(context.Background(), second, acct, "VI1", false)
				if err != nil || !reflect.DeepEqual(v, tt.want) {
					t.Errorf("list look-up on the other replica: %s, %v; want %s", show(v), err, show(tt.want))
				}
				if n := up.CallCount(); n != 0 {
					t.Errorf("list look-up made %d calls; want 0", n)
				}
				if _, err := one(context.Background(), second, acct, "VI1", true); err != nil {
					t.Fatal(err)
				}
				if calls := up.CallCount(); (calls == 0) != tt.wantDetail {
					t.Errorf("detail look-up made %d calls; want none: %v", calls, tt.wantDetail)
				}
			})
		}
	}
}
