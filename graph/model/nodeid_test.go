package model_test

import (
	"strings"
	"testing"

	"github.com/memories-facade/memories-graphql/graph/model"
	"github.com/memories-facade/memories-graphql/internal/memories"
)

func TestVideoIDRoundTrip(t *testing.T) {
	for _, ref := range []memories.VideoRef{
		{UniqueID: "default", VideoNo: "VI606404158946574336"},
		{UniqueID: "team-a", VideoNo: "VI1"},
		{UniqueID: "a:b\x00c", VideoNo: "x:y"},
		{UniqueID: strings.Repeat("u", 256), VideoNo: strings.Repeat("n", 256)},
	} {
		id := model.VideoID(ref)
		got, err := model.ParseVideoID(id)
		if err != nil || got != ref {
			t.Errorf("ParseVideoID(VideoID(%q)) = %q, %v", ref, got, err)
		}
		if strings.Contains(id, ref.VideoNo) && len(ref.VideoNo) > 4 {
			t.Errorf("id %q shows the video number in clear", id)
		}
	}
	a := model.VideoID(memories.VideoRef{UniqueID: "ab", VideoNo: "c"})
	b := model.VideoID(memories.VideoRef{UniqueID: "a", VideoNo: "bc"})
	if a == b {
		t.Errorf("two videos share the id %q", a)
	}
}

// An id that is not one this service issued is refused. (An id is not
// signed: one changed into another well-formed id names another video,
// which answers null if it does not exist, as any unknown video does.)
func TestParseVideoIDRefuses(t *testing.T) {
	good := model.VideoID(memories.VideoRef{UniqueID: "default", VideoNo: "VI1"})
	for _, id := range []string{
		"", "abc", "VI606404158946574336", good + "=", good[:len(good)-2],
		"VXNlcjox",                // base64 of "User:1", another service's id
		"Vgc",                     // no uniqueId nor video number
		"VgdkZWZhdWx0",            // a uniqueId, no video number
		strings.Repeat("V", 2000), // too long
		"Wgdk" + good[4:],         // another version
	} {
		if ref, err := model.ParseVideoID(id); err != model.ErrBadID {
			t.Errorf("ParseVideoID(%q) = %q, %v; want ErrBadID", id, ref, err)
		}
	}
}
