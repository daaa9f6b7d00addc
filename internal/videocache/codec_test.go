package videocache

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/memories"
)

// fullVideo sets every field of memories.Video to a non-zero value, through
// reflection, so that a field added to the type without a place in the
// codec fails the round trip.
func fullVideo(t *testing.T) *memories.Video {
	t.Helper()
	v := &memories.Video{}
	rv := reflect.ValueOf(v).Elem()
	when := time.Date(2025, 8, 1, 8, 33, 37, 992_000_000, time.UTC)
	for i := range rv.NumField() {
		f := rv.Field(i)
		switch p := f.Addr().Interface().(type) {
		case *string:
			*p = "s" + rv.Type().Field(i).Name
		case *bool:
			*p = true
		case *memories.Status:
			*p = memories.StatusFailed
		case **string:
			s := "p" + rv.Type().Field(i).Name
			*p = &s
		case **int:
			n := 10 + i
			*p = &n
		case **int64:
			n := int64(5_000_000_014)
			*p = &n
		case **float64:
			x := -33.8688 + float64(i)
			*p = &x
		case **time.Time:
			w := when.Add(time.Duration(i) * time.Hour)
			*p = &w
		case *[]string:
			*p = []string{"a", "api"}
		default:
			t.Fatalf("memories.Video.%s has type %s, which this test cannot fill: extend it and the codec",
				rv.Type().Field(i).Name, f.Type())
		}
	}
	return v
}

func TestCodecRoundTrip(t *testing.T) {
	full := fullVideo(t)
	listed := *full
	listed.Detailed = false
	listed.ResolutionLabel, listed.FPS, listed.Width, listed.Height = nil, nil, nil, nil
	fresh := time.UnixMilli(time.Now().Add(time.Minute).UnixMilli())
	detail := fresh.Add(time.Hour)
	for _, tt := range []struct {
		name string
		e    localEntry
	}{
		{"not found", localEntry{}},
		{"every field", localEntry{v: full}},
		{"list answer keeps Detailed false", localEntry{v: &listed}},
		{"minimal", localEntry{v: &memories.Video{VideoNo: "VI1", Status: memories.StatusUnparse}}},
		{"minimal detailed", localEntry{v: &memories.Video{VideoNo: "VI1", Status: memories.StatusUnparse, Detailed: true}}},
		{"no tags differs from empty tags", localEntry{v: &memories.Video{VideoNo: "VI2", Status: memories.StatusParse, Tags: []string{}}}},
		{"unicode", localEntry{v: &memories.Video{VideoNo: "VI3", VideoName: new("東京の夜 🌃 café"), Status: memories.StatusParse}}},
		{"detail kept past the list fields", localEntry{v: full, fresh: fresh, detail: detail}},
		{"detail kept with the list fields", localEntry{v: full, detail: detail}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encode(tt.e)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decode(b)
			if err != nil {
				t.Fatalf("decode %s: %v", b, err)
			}
			if !reflect.DeepEqual(got, tt.e) {
				t.Errorf("round trip of %s:\n got %+v\nwant %+v", b, got, tt.e)
			}
		})
	}
}

// Times come back in UTC whatever zone they were written in.
func TestCodecTimesInUTC(t *testing.T) {
	when := time.Date(2025, 8, 1, 10, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	b, err := encode(localEntry{v: &memories.Video{VideoNo: "VI1", Status: memories.StatusParse, CreateTime: &when}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.v; got.CreateTime.Location() != time.UTC || !got.CreateTime.Equal(when) {
		t.Errorf("CreateTime = %v; want %v in UTC", got.CreateTime, when.UTC())
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "{", "[1,2]", `"text"`} {
		if _, err := decode([]byte(in)); err == nil {
			t.Errorf("decode(%q): err = nil; want an error", in)
		}
	}
}

// The Redis script that keeps complete answers tells them by their first
// bytes.
func TestCompleteAnswersStartWithTheirMark(t *testing.T) {
	for _, tt := range []struct {
		v    *memories.Video
		want bool
	}{
		{&memories.Video{VideoNo: "VI1", Detailed: true}, true},
		{fullVideo(t), fullVideo(t).Detailed},
		{&memories.Video{VideoNo: "VI1"}, false},
		{nil, false},
	} {
		b, err := encode(localEntry{v: tt.v, fresh: time.Now(), detail: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.HasPrefix(string(b), completePrefix); got != tt.want {
			t.Errorf("encode(%+v) = %s: marked complete %v; want %v", tt.v, b, got, tt.want)
		}
	}
}
