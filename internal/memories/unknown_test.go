package memories_test

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/memories"
)

// The vendor's empty values for what it does not know decode as absent;
// the values that can truly be zero stay.
func TestUnknownIsNull(t *testing.T) {
	for _, tt := range []struct {
		name   string
		fields string // data's fields besides video_no
		want   func(v *memories.Video)
	}{
		{"failed, the vendor's empties",
			`"status":"FAILED","video_name":"","resolution_label":"","fps":0,"width":0,"height":0,"duration":0,"size":0,"create_time":0,"camera_model":" "`,
			func(v *memories.Video) { v.Status, v.RawStatus = memories.StatusFailed, "FAILED" }},
		{"unparsed, zero duration",
			`"status":"UNPARSE","duration":0,"size":52428800`,
			func(v *memories.Video) {
				v.Status, v.RawStatus, v.Size = memories.StatusUnparse, "UNPARSE", new(int64(52428800))
			}},
		{"parsed, a clip under a second keeps its zero duration",
			`"status":"PARSE","duration":0,"fps":0,"width":-1`,
			func(v *memories.Video) { v.Status, v.RawStatus, v.Duration = memories.StatusParse, "PARSE", new(0) }},
		{"parsed, negative duration",
			`"status":"PARSE","duration":-3`,
			func(v *memories.Video) { v.Status, v.RawStatus = memories.StatusParse, "PARSE" }},
		{"null island is no fix",
			`"status":"PARSE","latitude":0,"longitude":0,"datetime_taken":0`,
			func(v *memories.Video) { v.Status, v.RawStatus = memories.StatusParse, "PARSE" }},
		{"the equator and the meridian are places",
			`"status":"PARSE","latitude":0,"longitude":-9.1334`,
			func(v *memories.Video) {
				v.Status, v.RawStatus, v.Latitude, v.Longitude = memories.StatusParse, "PARSE", new(0.0), new(-9.1334)
			}},
		{"real values stay",
			`"status":"PARSE","video_name":"a","resolution_label":"720P","fps":1,"width":1,"height":1,"duration":1,"size":1,"create_time":1`,
			func(v *memories.Video) {
				v.Status, v.RawStatus = memories.StatusParse, "PARSE"
				v.VideoName, v.ResolutionLabel, v.FPS, v.Width, v.Height, v.Duration = new("a"), new("720P"), new(1), new(1), new(1), new(1)
				v.Size, v.CreateTime = new(int64(1)), new(time.UnixMilli(1).UTC())
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := fmt.Sprintf(`{"code":"0000","msg":"success","data":{"video_no":"VI1",%s}}`, tt.fields)
			got, err := memories.ParseResponse(http.StatusOK, nil, []byte(body))
			if err != nil {
				t.Fatal(err)
			}
			want := &memories.Video{VideoNo: "VI1", Detailed: true}
			tt.want(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %s\nwant %s", dump(got), dump(want))
			}
		})
	}
}
