package memories_test

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/memories"
)

// vendorExample is the response example from the vendor's page, verbatim.
const vendorExample = `{
    "code": "0000",
    "msg": "success",
    "data": {
        "video_no": "VI606404158946574336",
        "video_name": "182082-867762198_tiny",
        "duration": 12,
        "size": 3284512,
        "status": "PARSE",
        "create_time": 1754037217992,
        "resolution_label": "720P",
        "fps": 30,
        "width": 1280,
        "height": 720,
        "datetime_taken": 1729388400000,
        "camera_model": "Canon EOS 5D",
        "latitude": 39.9042,
        "longitude": 116.4074,
        "tags": ["holiday", "beijing", "api"]
    },
    "success": true,
    "failed": false
}`

func millis(ms int64) *time.Time { return new(time.UnixMilli(ms).UTC()) }

// vendorVideo is exactly what vendorExample describes.
func vendorVideo() *memories.Video {
	return &memories.Video{
		VideoNo:         "VI606404158946574336",
		VideoName:       new("182082-867762198_tiny"),
		Duration:        new(12),
		Size:            new(int64(3284512)),
		Status:          memories.StatusParse,
		RawStatus:       "PARSE",
		CreateTime:      new(time.Date(2025, 8, 1, 8, 33, 37, 992_000_000, time.UTC)),
		ResolutionLabel: new("720P"),
		FPS:             new(30),
		Width:           new(1280),
		Height:          new(720),
		DatetimeTaken:   new(time.Date(2024, 10, 20, 1, 40, 0, 0, time.UTC)),
		CameraModel:     new("Canon EOS 5D"),
		Latitude:        new(39.9042),
		Longitude:       new(116.4074),
		Tags:            []string{"holiday", "beijing", "api"},
		Detailed:        true,
	}
}

// ok wraps a data object in a success envelope.
func ok(data string) string {
	return `{"code":"0000","msg":"success","data":` + data + `,"success":true,"failed":false}`
}

// fail builds a failure envelope.
func fail(code, msg string) string {
	return `{"code":"` + code + `","msg":"` + msg + `","data":null,"success":false,"failed":true}`
}

// minimal returns the Video decoded from {"video_no":"VI1", ...extra}.
func minimal(edit func(v *memories.Video)) *memories.Video {
	v := &memories.Video{VideoNo: "VI1", Status: memories.StatusUnparse, Detailed: true}
	if edit != nil {
		edit(v)
	}
	return v
}

// parseCase is one HTTP answer and what ParseResponse must make of it. The
// same table seeds FuzzParseResponse.
type parseCase struct {
	name       string
	status     int
	retryAfter string
	body       string

	want       *memories.Video // compared when wantErr is false
	wantErr    bool
	wantKind   memories.Kind
	wantCode   string
	wantMsg    string // compared when non-empty
	wantRetry  bool   // Retryable()
	wantAfter  time.Duration
	afterRange [2]time.Duration // when non-zero, RetryAfter must fall inside
}

var parseCases = []parseCase{
	// Success and not found.
	{name: "vendor example", status: 200, body: vendorExample, want: vendorVideo()},
	{name: "not found data null", status: 200, body: `{"code":"0000","msg":"success","data":null,"success":true,"failed":false}`},
	{name: "not found data absent", status: 200, body: `{"code":"0000","msg":"success"}`},
	{name: "numeric code 0 with data", status: 200, body: `{"code":0,"data":{"video_no":"VI1"}}`, want: minimal(nil)},
	{name: "numeric code 0 not found", status: 200, body: `{"code":0,"data":null}`},
	{name: "http 201 treated as success", status: 201, body: ok(`{"video_no":"VI1"}`), want: minimal(nil)},
	{name: "utf8 bom tolerated", status: 200, body: "\xef\xbb\xbf" + ok(`{"video_no":"VI1"}`), want: minimal(nil)},
	{name: "unknown fields ignored", status: 200, body: ok(`{"video_no":"VI1","extra":{"a":[1,2]},"summary":"x"}`), want: minimal(nil)},
	{name: "numeric video_no", status: 200, body: ok(`{"video_no":123}`), want: minimal(func(v *memories.Video) { v.VideoNo = "123" })},

	// Exact sizes and numeric coercion.
	{name: "size above 2^32 exact", status: 200, body: ok(`{"video_no":"VI1","size":5000000014}`),
		want: minimal(func(v *memories.Video) { v.Size = new(int64(5000000014)) })},
	{name: "size max int64 exact", status: 200, body: ok(`{"video_no":"VI1","size":9223372036854775807}`),
		want: minimal(func(v *memories.Video) { v.Size = new(int64(9223372036854775807)) })},
	{name: "size numeric string padded", status: 200, body: ok(`{"video_no":"VI1","size":" 3284512 "}`),
		want: minimal(func(v *memories.Video) { v.Size = new(int64(3284512)) })},
	{name: "size string above 2^32", status: 200, body: ok(`{"video_no":"VI1","size":"5000000014"}`),
		want: minimal(func(v *memories.Video) { v.Size = new(int64(5000000014)) })},
	{name: "size whole float", status: 200, body: ok(`{"video_no":"VI1","size":5000000014.0}`),
		want: minimal(func(v *memories.Video) { v.Size = new(int64(5000000014)) })},
	{name: "size exponent", status: 200, body: ok(`{"video_no":"VI1","size":5.000000014e9}`),
		want: minimal(func(v *memories.Video) { v.Size = new(int64(5000000014)) })},
	{name: "duration 12.0", status: 200, body: ok(`{"video_no":"VI1","duration":12.0}`),
		want: minimal(func(v *memories.Video) { v.Duration = new(12) })},
	{name: "duration string", status: 200, body: ok(`{"video_no":"VI1","duration":"12"}`),
		want: minimal(func(v *memories.Video) { v.Duration = new(12) })},
	{name: "duration string 12.0", status: 200, body: ok(`{"video_no":"VI1","duration":"12.0"}`),
		want: minimal(func(v *memories.Video) { v.Duration = new(12) })},
	{name: "fps width height strings", status: 200, body: ok(`{"video_no":"VI1","fps":"30","width":"1280","height":" 720"}`),
		want: minimal(func(v *memories.Video) { v.FPS, v.Width, v.Height = new(30), new(1280), new(720) })},
	{name: "times as strings", status: 200, body: ok(`{"video_no":"VI1","create_time":"1754037217992","datetime_taken":"1729388400000"}`),
		want: minimal(func(v *memories.Video) { v.CreateTime, v.DatetimeTaken = millis(1754037217992), millis(1729388400000) })},
	{name: "null-ish numbers are nil", status: 200, body: ok(`{"video_no":"VI1","duration":null,"size":"","width":"null","height":"  ","create_time":"NULL","latitude":null,"longitude":""}`),
		want: minimal(nil)},
	{name: "coordinates as strings", status: 200, body: ok(`{"video_no":"VI1","latitude":"39.9042","longitude":" -116.4074 "}`),
		want: minimal(func(v *memories.Video) { v.Latitude, v.Longitude = new(39.9042), new(-116.4074) })},

	// Cause.
	{name: "cause string null", status: 200, body: ok(`{"video_no":"VI1","status":"FAILED","cause":"null"}`),
		want: minimal(func(v *memories.Video) { v.Status, v.RawStatus = memories.StatusFailed, "FAILED" })},
	{name: "cause empty", status: 200, body: ok(`{"video_no":"VI1","cause":""}`), want: minimal(nil)},
	{name: "cause json null", status: 200, body: ok(`{"video_no":"VI1","cause":null}`), want: minimal(nil)},
	{name: "cause kept", status: 200, body: ok(`{"video_no":"VI1","status":"FAILED","cause":"decode error"}`),
		want: minimal(func(v *memories.Video) {
			v.Status, v.RawStatus, v.Cause = memories.StatusFailed, "FAILED", new("decode error")
		})},

	// Status spellings.
	{name: "status PARSE", status: 200, body: ok(`{"video_no":"VI1","status":"PARSE"}`),
		want: minimal(func(v *memories.Video) { v.Status, v.RawStatus = memories.StatusParse, "PARSE" })},
	{name: "status parse lowercase padded", status: 200, body: ok(`{"video_no":"VI1","status":" parse "}`),
		want: minimal(func(v *memories.Video) { v.Status, v.RawStatus = memories.StatusParse, " parse " })},
	{name: "status UNPARSE", status: 200, body: ok(`{"video_no":"VI1","status":"UNPARSE"}`),
		want: minimal(func(v *memories.Video) { v.Status, v.RawStatus = memories.StatusUnparse, "UNPARSE" })},
	{name: "status FAILED", status: 200, body: ok(`{"video_no":"VI1","status":"FAILED"}`),
		want: minimal(func(v *memories.Video) { v.Status, v.RawStatus = memories.StatusFailed, "FAILED" })},
	{name: "status FAIL", status: 200, body: ok(`{"video_no":"VI1","status":"FAIL"}`),
		want: minimal(func(v *memories.Video) { v.Status, v.RawStatus = memories.StatusFailed, "FAIL" })},
	{name: "status PARSE_ERROR", status: 200, body: ok(`{"video_no":"VI1","status":"PARSE_ERROR"}`),
		want: minimal(func(v *memories.Video) { v.Status, v.RawStatus = memories.StatusFailed, "PARSE_ERROR" })},
	{name: "status error lowercase", status: 200, body: ok(`{"video_no":"VI1","status":"error"}`),
		want: minimal(func(v *memories.Video) { v.Status, v.RawStatus = memories.StatusFailed, "error" })},
	{name: "status unknown", status: 200, body: ok(`{"video_no":"VI1","status":"PARSING"}`),
		want: minimal(func(v *memories.Video) { v.Status, v.RawStatus = memories.StatusUnparse, "PARSING" })},
	{name: "status empty", status: 200, body: ok(`{"video_no":"VI1","status":""}`), want: minimal(nil)},

	// Tags.
	{name: "tags null", status: 200, body: ok(`{"video_no":"VI1","tags":null}`), want: minimal(nil)},
	{name: "tags empty", status: 200, body: ok(`{"video_no":"VI1","tags":[]}`),
		want: minimal(func(v *memories.Video) { v.Tags = []string{} })},
	{name: "tags mixed", status: 200, body: ok(`{"video_no":"VI1","tags":["a",1,true,null,{"k": "v"},2.50]}`),
		want: minimal(func(v *memories.Video) { v.Tags = []string{"a", "1", "true", `{"k":"v"}`, "2.50"} })},

	// Malformed fields.
	{name: "size abc", status: 200, body: ok(`{"video_no":"VI1","size":"abc"}`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
	{name: "size fraction", status: 200, body: ok(`{"video_no":"VI1","size":1.5}`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
	{name: "size beyond int64", status: 200, body: ok(`{"video_no":"VI1","size":9223372036854775808}`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
	{name: "size huge exponent", status: 200, body: ok(`{"video_no":"VI1","size":1e999999999}`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
	{name: "width object", status: 200, body: ok(`{"video_no":"VI1","width":{}}`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
	{name: "duration bool", status: 200, body: ok(`{"video_no":"VI1","duration":true}`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
	{name: "fps fractional string", status: 200, body: ok(`{"video_no":"VI1","fps":"29.97"}`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
	{name: "latitude word", status: 200, body: ok(`{"video_no":"VI1","latitude":"north"}`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
	{name: "latitude NaN string", status: 200, body: ok(`{"video_no":"VI1","latitude":"NaN"}`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
	{name: "tags string", status: 200, body: ok(`{"video_no":"VI1","tags":"a,b"}`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
	{name: "video_name object", status: 200, body: ok(`{"video_no":"VI1","video_name":{}}`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
	{name: "video_no missing", status: 200, body: ok(`{"video_name":"x"}`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
	{name: "video_no empty", status: 200, body: ok(`{"video_no":"  "}`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
	{name: "data string", status: 200, body: ok(`"VI1"`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
	{name: "data array", status: 200, body: ok(`[]`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},

	// Malformed and truncated bodies.
	{name: "empty body", status: 200, body: ``, wantErr: true, wantKind: memories.KindUpstream},
	{name: "html body", status: 200, body: `<html><body>Bad Gateway</body></html>`, wantErr: true, wantKind: memories.KindUpstream},
	{name: "truncated", status: 200, body: vendorExample[:len(vendorExample)/2], wantErr: true, wantKind: memories.KindUpstream},
	{name: "truncated after data", status: 200, body: `{"code":"0000","data":{"video_no":"VI1"}`, wantErr: true, wantKind: memories.KindUpstream},
	{name: "json null", status: 200, body: `null`, wantErr: true, wantKind: memories.KindUpstream},
	{name: "json array", status: 200, body: `[{"code":"0000"}]`, wantErr: true, wantKind: memories.KindUpstream},
	{name: "json string", status: 200, body: `"0000"`, wantErr: true, wantKind: memories.KindUpstream},
	{name: "trailing garbage", status: 200, body: ok(`{"video_no":"VI1"}`) + `}`, wantErr: true, wantKind: memories.KindUpstream},
	{name: "code object", status: 200, body: `{"code":{},"data":null}`, wantErr: true, wantKind: memories.KindUpstream},
	{name: "code missing", status: 200, body: `{"msg":"ok","data":{"video_no":"VI1"}}`, wantErr: true, wantKind: memories.KindUpstream},

	// Vendor codes under HTTP 200.
	{name: "0429 rate limited", status: 200, body: fail("0429", "request has exceeded the limit"), wantErr: true,
		wantKind: memories.KindRateLimited, wantCode: "0429", wantMsg: "request has exceeded the limit", wantRetry: true},
	{name: "numeric 429 code", status: 200, body: `{"code":429,"msg":"limit"}`, wantErr: true,
		wantKind: memories.KindRateLimited, wantCode: "0429", wantRetry: true},
	{name: "0401 unauthenticated", status: 200, body: fail("0401", "unauthorized"), wantErr: true, wantKind: memories.KindUnauthenticated, wantCode: "0401"},
	{name: "9009 invalid key", status: 200, body: fail("9009", "invalid api key"), wantErr: true, wantKind: memories.KindUnauthenticated, wantCode: "9009"},
	{name: "0403 forbidden", status: 200, body: fail("0403", "account disabled"), wantErr: true, wantKind: memories.KindForbidden, wantCode: "0403"},
	{name: "0402 quota", status: 200, body: fail("0402", "insufficient points"), wantErr: true, wantKind: memories.KindQuotaExceeded, wantCode: "0402"},
	{name: "0003 bad request", status: 200, body: fail("0003", "video_no must not be empty"), wantErr: true, wantKind: memories.KindBadRequest, wantCode: "0003"},
	{name: "0001 bad request", status: 200, body: fail("0001", "operation failed"), wantErr: true,
		wantKind: memories.KindBadRequest, wantCode: "0001", wantRetry: true},
	{name: "0001 network abnormal", status: 200, body: fail("0001", "Network abnormal, please retry"), wantErr: true,
		wantKind: memories.KindUpstream, wantCode: "0001", wantRetry: true},
	{name: "unknown code", status: 200, body: fail("1234", "something"), wantErr: true, wantKind: memories.KindUpstream, wantCode: "1234"},
	{name: "code padded", status: 200, body: fail(" 0402 ", ""), wantErr: true, wantKind: memories.KindQuotaExceeded, wantCode: "0402"},

	// HTTP statuses.
	{name: "http 500 success body", status: 500, body: vendorExample, wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
	{name: "http 502 html", status: 502, body: `<html>bad gateway</html>`, wantErr: true, wantKind: memories.KindUpstream},
	{name: "http 503 code 0429", status: 503, body: fail("0429", "busy"), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0429"},
	{name: "http 503 retry-after", status: 503, retryAfter: "120", body: ``, wantErr: true, wantKind: memories.KindUpstream, wantAfter: 120 * time.Second},
	{name: "http 429 empty", status: 429, body: ``, wantErr: true, wantKind: memories.KindRateLimited, wantRetry: true},
	{name: "http 429 code 0429", status: 429, body: fail("0429", "slow down"), wantErr: true, wantKind: memories.KindRateLimited, wantCode: "0429", wantRetry: true},
	{name: "http 429 other code", status: 429, body: fail("0402", "x"), wantErr: true, wantKind: memories.KindRateLimited, wantCode: "0402", wantRetry: true},
	{name: "http 400 code 0429", status: 400, body: fail("0429", "x"), wantErr: true, wantKind: memories.KindRateLimited, wantCode: "0429", wantRetry: true},
	{name: "http 401", status: 401, body: `Unauthorized`, wantErr: true, wantKind: memories.KindUnauthenticated},
	{name: "http 401 envelope", status: 401, body: fail("9009", "bad key"), wantErr: true, wantKind: memories.KindUnauthenticated, wantCode: "9009"},
	{name: "http 403", status: 403, body: ``, wantErr: true, wantKind: memories.KindForbidden},
	{name: "http 400 code 0003", status: 400, body: fail("0003", "bad param"), wantErr: true, wantKind: memories.KindBadRequest, wantCode: "0003"},
	{name: "http 400 code 0402", status: 400, body: fail("0402", "no points"), wantErr: true, wantKind: memories.KindQuotaExceeded, wantCode: "0402"},
	{name: "http 400 plain", status: 400, body: `bad request`, wantErr: true, wantKind: memories.KindUpstream},
	{name: "http 404 html", status: 404, body: `<html>404</html>`, wantErr: true, wantKind: memories.KindUpstream},
	{name: "http 404 code 0000", status: 404, body: ok(`{"video_no":"VI1"}`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
	{name: "http 302", status: 302, body: ``, wantErr: true, wantKind: memories.KindUpstream},
	{name: "http 100", status: 100, body: ``, wantErr: true, wantKind: memories.KindUpstream},

	// Retry-After.
	{name: "retry-after seconds", status: 429, retryAfter: "7", wantErr: true, wantKind: memories.KindRateLimited, wantRetry: true, wantAfter: 7 * time.Second},
	{name: "retry-after seconds on code", status: 200, retryAfter: " 3 ", body: fail("0429", "x"), wantErr: true,
		wantKind: memories.KindRateLimited, wantCode: "0429", wantRetry: true, wantAfter: 3 * time.Second},
	{name: "retry-after http-date", status: 429, retryAfter: "+30s", wantErr: true, wantKind: memories.KindRateLimited, wantRetry: true,
		afterRange: [2]time.Duration{28 * time.Second, 31 * time.Second}},
	{name: "retry-after past date", status: 429, retryAfter: "Wed, 21 Oct 2015 07:28:00 GMT", wantErr: true, wantKind: memories.KindRateLimited, wantRetry: true},
	{name: "retry-after garbage", status: 429, retryAfter: "soon", wantErr: true, wantKind: memories.KindRateLimited, wantRetry: true},
	{name: "retry-after negative", status: 429, retryAfter: "-5", wantErr: true, wantKind: memories.KindRateLimited, wantRetry: true},
	{name: "retry-after huge", status: 429, retryAfter: "99999999999999999", wantErr: true, wantKind: memories.KindRateLimited, wantRetry: true,
		wantAfter: time.Duration(1<<63 - 1)},
	{name: "retry-after on quota", status: 200, retryAfter: "60", body: fail("0402", "x"), wantErr: true,
		wantKind: memories.KindQuotaExceeded, wantCode: "0402", wantAfter: time.Minute},
}

// header builds the response header for c; "+30s" stands for an HTTP-date
// 30 seconds from now, which a static table cannot hold.
func (c parseCase) header() http.Header {
	h := http.Header{}
	switch {
	case c.retryAfter == "+30s":
		h.Set("Retry-After", time.Now().Add(30*time.Second).UTC().Format(http.TimeFormat))
	case c.retryAfter != "":
		h.Set("Retry-After", c.retryAfter)
	}
	return h
}

func TestParseResponse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := memories.ParseResponse(tc.status, tc.header(), []byte(tc.body))
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("ParseResponse: got error %v; want none", err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("ParseResponse:\ngot  %s\nwant %s", dump(got), dump(tc.want))
				}
				return
			}
			if got != nil {
				t.Errorf("ParseResponse: got video %s alongside an error; want nil", dump(got))
			}
			checkError(t, err, tc)
		})
	}
}

// checkError asserts err is an *Error matching tc.
func checkError(t *testing.T, err error, tc parseCase) {
	t.Helper()
	var e *memories.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v (%T); want *memories.Error", err, err)
	}
	if got, want := e.Kind, tc.wantKind; got != want {
		t.Errorf("Kind: got %v; want %v (err %q)", got, want, err)
	}
	if got, want := e.Code, tc.wantCode; got != want {
		t.Errorf("Code: got %q; want %q", got, want)
	}
	if tc.wantMsg != "" {
		if got, want := e.Message, tc.wantMsg; got != want {
			t.Errorf("Message: got %q; want %q", got, want)
		}
	}
	if got, want := e.Retryable(), tc.wantRetry; got != want {
		t.Errorf("Retryable: got %v; want %v", got, want)
	}
	if tc.afterRange != [2]time.Duration{} {
		if got := e.RetryAfter; got < tc.afterRange[0] || got > tc.afterRange[1] {
			t.Errorf("RetryAfter: got %v; want within %v", got, tc.afterRange)
		}
	} else if got, want := e.RetryAfter, tc.wantAfter; got != want {
		t.Errorf("RetryAfter: got %v; want %v", got, want)
	}
	if tc.status != 0 {
		if got, want := e.HTTPStatus, tc.status; got != want {
			t.Errorf("HTTPStatus: got %d; want %d", got, want)
		}
	}
	if s := err.Error(); !strings.HasPrefix(s, "memories: ") || strings.Contains(s, "://") {
		t.Errorf("Error(): got %q; want a \"memories: \" prefix and no URL", s)
	}
}

// dump prints a Video with its pointers followed, for readable failures.
func dump(v *memories.Video) string {
	if v == nil {
		return "<nil>"
	}
	var b strings.Builder
	rv := reflect.ValueOf(*v)
	for i := 0; i < rv.NumField(); i++ {
		f := rv.Field(i)
		switch {
		case (f.Kind() == reflect.Pointer || f.Kind() == reflect.Slice) && f.IsNil():
			fmt.Fprintf(&b, "%s=nil ", rv.Type().Field(i).Name)
		case f.Kind() == reflect.Pointer:
			fmt.Fprintf(&b, "%s=%#v ", rv.Type().Field(i).Name, f.Elem().Interface())
		default:
			fmt.Fprintf(&b, "%s=%#v ", rv.Type().Field(i).Name, f.Interface())
		}
	}
	return b.String()
}
