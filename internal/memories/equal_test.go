package memories

import (
	"reflect"
	"testing"
	"time"
)

// fullVideo returns a video with every field set, each pointer to a value
// of its own.
func fullVideo() *Video {
	str := func(s string) *string { return &s }
	num := func(n int) *int { return &n }
	flt := func(f float64) *float64 { return &f }
	size := int64(3284512)
	created := time.UnixMilli(1700000000000).UTC()
	taken := time.UnixMilli(1690000000000).UTC()
	return &Video{
		VideoNo: "VI1", VideoName: str("a"), Duration: num(12), Size: &size, Status: StatusParse, RawStatus: "PARSE",
		Cause: str("none"), CreateTime: &created, ResolutionLabel: str("1080p"), FPS: num(30), Width: num(1920),
		Height: num(1080), DatetimeTaken: &taken, CameraModel: str("X"), Latitude: flt(1.5), Longitude: flt(2.5),
		Tags: []string{"a", "b"}, Detailed: true,
	}
}

func TestVideoEqual(t *testing.T) {
	a, b := fullVideo(), fullVideo()
	if !a.Equal(b) {
		t.Fatal("two videos built alike: got not equal; want equal")
	}
	inBerlin := b.CreateTime.In(time.FixedZone("CET", 3600))
	b.CreateTime = &inBerlin
	if !a.Equal(b) {
		t.Error("the same instant in another zone: got not equal; want equal")
	}
	if !(*Video)(nil).Equal(nil) || a.Equal(nil) || (*Video)(nil).Equal(a) {
		t.Error("nil: want equal only to nil")
	}

	// Every field, changed alone, makes the videos differ: a field added to
	// Video and not to Equal fails here.
	typ := reflect.TypeOf(Video{})
	for i := range typ.NumField() {
		f := typ.Field(i)
		t.Run(f.Name, func(t *testing.T) {
			for _, change := range []string{"other value", "nil or zero"} {
				b := fullVideo()
				field := reflect.ValueOf(b).Elem().Field(i)
				switch {
				case change == "nil or zero":
					field.Set(reflect.Zero(f.Type))
				case f.Type.Kind() == reflect.Pointer:
					v := reflect.New(f.Type.Elem())
					switch e := field.Elem().Interface().(type) {
					case string:
						v.Elem().SetString(e + "x")
					case int:
						v.Elem().SetInt(int64(e) + 1)
					case int64:
						v.Elem().SetInt(e + 1)
					case float64:
						v.Elem().SetFloat(e + 1)
					case time.Time:
						v.Elem().Set(reflect.ValueOf(e.Add(time.Millisecond)))
					default:
						t.Fatalf("field of type %v: teach this test to change it", f.Type)
					}
					field.Set(v)
				case f.Type.Kind() == reflect.String:
					field.SetString(field.String() + "x")
				case f.Type.Kind() == reflect.Bool:
					field.SetBool(!field.Bool())
				case f.Type.Kind() == reflect.Slice:
					field.Set(reflect.ValueOf([]string{"a", "c"}))
				default:
					t.Fatalf("field of kind %v: teach this test to change it", f.Type.Kind())
				}
				if got := a.Equal(b); got {
					t.Errorf("%s changed (%s): got equal; want not equal", f.Name, change)
				}
			}
		})
	}

	empty, absent := fullVideo(), fullVideo()
	empty.Tags, absent.Tags = []string{}, nil
	if empty.Equal(absent) {
		t.Error("tags [] and tags absent: got equal; want not equal (the schema tells them apart)")
	}
}
