package memories_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/memories"
)

// vendorListExample is the list_videos answer the vendor's pages describe:
// their example item plus a second one, and the storage fields get_metadata
// lacks.
const vendorListExample = `{
    "code": "0000",
    "msg": "success",
    "data": {
        "current_page": 1,
        "page_size": 200,
        "total_count": 2,
        "videos": [
            {"video_no": "VI606404158946574336", "video_name": "182082-867762198_tiny", "duration": 12,
             "size": 3284512, "status": "PARSE", "create_time": 1754037217992, "datetime_taken": 1729388400000,
             "camera_model": "Canon EOS 5D", "latitude": 39.9042, "longitude": 116.4074, "tags": ["holiday", "beijing", "api"],
             "bucket": "mavi-resource", "blob": "VI606404158946574336.mp4"},
            {"video_no": "VI606402870447996928", "video_name": "clip", "status": "UNPARSE", "create_time": 1754037000000,
             "video_url": "https://cdn.example/VI606402870447996928.mp4"}
        ]
    },
    "success": true,
    "failed": false
}`

// vendorListPage is exactly what vendorListExample describes.
func vendorListPage() *memories.ListPage {
	first := vendorVideo()
	first.ResolutionLabel, first.FPS, first.Width, first.Height = nil, nil, nil, nil
	first.Detailed = false
	return &memories.ListPage{
		Videos: []*memories.Video{first, {
			VideoNo:    "VI606402870447996928",
			VideoName:  new("clip"),
			Status:     memories.StatusUnparse,
			RawStatus:  "UNPARSE",
			CreateTime: millis(1754037000000),
		}},
		Page: 1, PageSize: 200, TotalCount: 2,
	}
}

// item returns the list item decoded from {"video_no":no, ...}: Detailed false.
func item(no string, edit func(v *memories.Video)) *memories.Video {
	v := &memories.Video{VideoNo: no, Status: memories.StatusUnparse}
	if edit != nil {
		edit(v)
	}
	return v
}

// items returns the list items decoded from bare {"video_no":...} objects.
func items(nos ...string) []*memories.Video {
	out := make([]*memories.Video, 0, len(nos))
	for _, no := range nos {
		out = append(out, item(no, nil))
	}
	return out
}

// listData builds a success envelope around a list data object.
func listData(fields string) string { return ok(`{` + fields + `}`) }

// listCase is one HTTP answer and what ParseListResponse must make of it;
// the embedded parseCase carries the HTTP answer and the expected error. The
// same table seeds FuzzParseListResponse and is replayed over HTTP.
type listCase struct {
	parseCase
	wantPage *memories.ListPage // compared when wantErr is false
	wantText string             // when non-empty, Error() must contain it
}

var listCases = []listCase{
	// Success.
	{parseCase: parseCase{name: "vendor example", status: 200, body: vendorListExample}, wantPage: vendorListPage()},
	{parseCase: parseCase{name: "numbers as strings", status: 200, body: listData(`"current_page":"2","page_size":" 50 ","total_count":"120",` +
		`"videos":[{"video_no":"VI1","duration":"12","size":"5000000014","create_time":"1754037217992","status":"FAILED","cause":"null"}]`)},
		wantPage: &memories.ListPage{Page: 2, PageSize: 50, TotalCount: 120, Videos: []*memories.Video{item("VI1", func(v *memories.Video) {
			v.Duration, v.Size, v.CreateTime = new(12), new(int64(5000000014)), millis(1754037217992)
			v.Status, v.RawStatus = memories.StatusFailed, "FAILED"
		})}}},
	{parseCase: parseCase{name: "whole floats", status: 200, body: listData(`"current_page":1.0,"page_size":2e0,"total_count":"3.0","videos":[{"video_no":"VI1"}]`)},
		wantPage: &memories.ListPage{Page: 1, PageSize: 2, TotalCount: 3, Videos: items("VI1")}},
	{parseCase: parseCase{name: "total_count beyond 2^32", status: 200, body: listData(`"page_size":1,"total_count":5000000014,"videos":[{"video_no":"VI1"}]`)},
		wantPage: &memories.ListPage{PageSize: 1, TotalCount: 5000000014, Videos: items("VI1")}},
	{parseCase: parseCase{name: "unknown fields ignored", status: 200, body: `{"code":"0000","extra":[1],"data":{"folder_id":"x","has_more":true,"videos":[` +
		`{"video_no":"VI1","bucket":"b","blob":"x.mp4","video_url":"https://x/y","summary":{"a":[null]},"new_thing":1e400}]}}`},
		wantPage: &memories.ListPage{PageSize: 1, TotalCount: 1, Videos: items("VI1")}},
	{parseCase: parseCase{name: "order kept as sent", status: 200, body: listData(`"page_size":3,"total_count":3,"videos":[{"video_no":"VI3"},{"video_no":"VI1"},{"video_no":"VI2"}]`)},
		wantPage: &memories.ListPage{PageSize: 3, TotalCount: 3, Videos: items("VI3", "VI1", "VI2")}},
	{parseCase: parseCase{name: "duplicates kept as sent", status: 200, body: listData(`"videos":[{"video_no":"VI1"},{"video_no":"VI1"}]`)},
		wantPage: &memories.ListPage{PageSize: 2, TotalCount: 2, Videos: items("VI1", "VI1")}},
	{parseCase: parseCase{name: "detailed fields kept but not Detailed", status: 200, body: listData(`"videos":[{"video_no":"VI1","resolution_label":"720P","fps":"30"}]`)},
		wantPage: &memories.ListPage{PageSize: 1, TotalCount: 1, Videos: []*memories.Video{item("VI1", func(v *memories.Video) {
			v.ResolutionLabel, v.FPS = new("720P"), new(30)
		})}}},
	{parseCase: parseCase{name: "data null", status: 200, body: ok(`null`)}, wantPage: &memories.ListPage{Videos: []*memories.Video{}}},
	{parseCase: parseCase{name: "data absent", status: 200, body: `{"code":"0000","msg":"success"}`}, wantPage: &memories.ListPage{Videos: []*memories.Video{}}},
	{parseCase: parseCase{name: "videos null", status: 200, body: listData(`"current_page":1,"page_size":200,"total_count":0,"videos":null`)},
		wantPage: &memories.ListPage{Page: 1, PageSize: 200, Videos: []*memories.Video{}}},
	{parseCase: parseCase{name: "videos absent", status: 200, body: listData(`"current_page":1`)},
		wantPage: &memories.ListPage{Page: 1, Videos: []*memories.Video{}}},
	{parseCase: parseCase{name: "videos empty", status: 200, body: listData(`"current_page":3,"page_size":200,"total_count":"0","videos":[]`)},
		wantPage: &memories.ListPage{Page: 3, PageSize: 200, Videos: []*memories.Video{}}},
	{parseCase: parseCase{name: "numeric code 0", status: 200, body: `{"code":0,"data":{"videos":[{"video_no":"VI1"}]}}`},
		wantPage: &memories.ListPage{PageSize: 1, TotalCount: 1, Videos: items("VI1")}},
	{parseCase: parseCase{name: "http 201 and bom", status: 201, body: "\xef\xbb\xbf" + listData(`"videos":[{"video_no":"VI1"}]`)},
		wantPage: &memories.ListPage{PageSize: 1, TotalCount: 1, Videos: items("VI1")}},

	// Paging fields the upstream left out or got wrong.
	{parseCase: parseCase{name: "page_size missing reads as length", status: 200, body: listData(`"current_page":1,"total_count":9,"videos":[{"video_no":"VI1"},{"video_no":"VI2"}]`)},
		wantPage: &memories.ListPage{Page: 1, PageSize: 2, TotalCount: 9, Videos: items("VI1", "VI2")}},
	{parseCase: parseCase{name: "page_size zero reads as length", status: 200, body: listData(`"page_size":0,"total_count":9,"videos":[{"video_no":"VI1"}]`)},
		wantPage: &memories.ListPage{PageSize: 1, TotalCount: 9, Videos: items("VI1")}},
	{parseCase: parseCase{name: "page_size null-ish reads as length", status: 200, body: listData(`"page_size":"null","total_count":"","videos":[{"video_no":"VI1"}]`)},
		wantPage: &memories.ListPage{PageSize: 1, TotalCount: 1, Videos: items("VI1")}},
	{parseCase: parseCase{name: "page_size smaller than asked", status: 200, body: listData(`"current_page":1,"page_size":100,"total_count":250,"videos":[{"video_no":"VI1"}]`)},
		wantPage: &memories.ListPage{Page: 1, PageSize: 100, TotalCount: 250, Videos: items("VI1")}},
	{parseCase: parseCase{name: "total_count missing reads as length", status: 200, body: listData(`"page_size":200,"videos":[{"video_no":"VI1"},{"video_no":"VI2"}]`)},
		wantPage: &memories.ListPage{PageSize: 200, TotalCount: 2, Videos: items("VI1", "VI2")}},
	{parseCase: parseCase{name: "page_size below length raised", status: 200, body: listData(`"page_size":1,"total_count":5,"videos":[{"video_no":"VI1"},{"video_no":"VI2"}]`)},
		wantPage: &memories.ListPage{PageSize: 2, TotalCount: 5, Videos: items("VI1", "VI2")}},
	{parseCase: parseCase{name: "total_count below length raised", status: 200, body: listData(`"total_count":0,"videos":[{"video_no":"VI1"},{"video_no":"VI2"}]`)},
		wantPage: &memories.ListPage{PageSize: 2, TotalCount: 2, Videos: items("VI1", "VI2")}},

	// Malformed pages: one bad item fails them all.
	{parseCase: parseCase{name: "item string", status: 200, body: listData(`"videos":[{"video_no":"VI1"},"VI2"]`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
		wantText: "malformed item 1"},
	{parseCase: parseCase{name: "item null", status: 200, body: listData(`"videos":[null]`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
		wantText: "malformed item 0"},
	{parseCase: parseCase{name: "item array", status: 200, body: listData(`"videos":[[{"video_no":"VI1"}]]`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
		wantText: "malformed"},
	{parseCase: parseCase{name: "item without video_no", status: 200, body: listData(`"videos":[{"video_no":"VI1"},{"video_name":"x"}]`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
		wantText: "video_no"},
	{parseCase: parseCase{name: "item blank video_no", status: 200, body: listData(`"videos":[{"video_no":" "}]`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
		wantText: "video_no"},
	{parseCase: parseCase{name: "item size abc", status: 200, body: listData(`"videos":[{"video_no":"VI1","size":"abc"}]`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
		wantText: "malformed field size"},
	{parseCase: parseCase{name: "item tags string", status: 200, body: listData(`"videos":[{"video_no":"VI1","tags":"a,b"}]`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
		wantText: "malformed field tags"},
	{parseCase: parseCase{name: "videos object", status: 200, body: listData(`"videos":{"video_no":"VI1"}`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
		wantText: "malformed field videos"},
	{parseCase: parseCase{name: "videos string", status: 200, body: listData(`"videos":"VI1"`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"}},
	{parseCase: parseCase{name: "data array", status: 200, body: ok(`[{"video_no":"VI1"}]`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
		wantText: "malformed field data"},
	{parseCase: parseCase{name: "data string", status: 200, body: ok(`"x"`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"}},
	{parseCase: parseCase{name: "current_page word", status: 200, body: listData(`"current_page":"one","videos":[]`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
		wantText: "current_page"},
	{parseCase: parseCase{name: "page_size fraction", status: 200, body: listData(`"page_size":1.5,"videos":[]`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
		wantText: "page_size"},
	{parseCase: parseCase{name: "total_count negative", status: 200, body: listData(`"total_count":-1,"videos":[]`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"},
		wantText: "negative"},
	{parseCase: parseCase{name: "total_count object", status: 200, body: listData(`"total_count":{},"videos":[]`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"}},

	// Malformed bodies.
	{parseCase: parseCase{name: "empty body", status: 200, body: ``, wantErr: true, wantKind: memories.KindUpstream}, wantText: "malformed"},
	{parseCase: parseCase{name: "html body", status: 200, body: `<html>oops</html>`, wantErr: true, wantKind: memories.KindUpstream}, wantText: "malformed"},
	{parseCase: parseCase{name: "truncated", status: 200, body: vendorListExample[:len(vendorListExample)/2], wantErr: true, wantKind: memories.KindUpstream},
		wantText: "malformed"},
	{parseCase: parseCase{name: "trailing garbage", status: 200, body: listData(`"videos":[]`) + `]`, wantErr: true, wantKind: memories.KindUpstream}},
	{parseCase: parseCase{name: "code missing", status: 200, body: `{"data":{"videos":[]}}`, wantErr: true, wantKind: memories.KindUpstream}},

	// Vendor codes and HTTP statuses shared with get_metadata.
	{parseCase: parseCase{name: "0429 rate limited", status: 200, body: fail("0429", "request has exceeded the limit"), wantErr: true,
		wantKind: memories.KindRateLimited, wantCode: "0429", wantMsg: "request has exceeded the limit", wantRetry: true}},
	{parseCase: parseCase{name: "0429 with retry-after", status: 200, retryAfter: "2", body: fail("0429", "request is too busy"), wantErr: true,
		wantKind: memories.KindRateLimited, wantCode: "0429", wantRetry: true, wantAfter: 2 * time.Second}},
	{parseCase: parseCase{name: "http 429 retry-after date", status: 429, retryAfter: "+30s", body: fail("0429", "x"), wantErr: true,
		wantKind: memories.KindRateLimited, wantCode: "0429", wantRetry: true, afterRange: [2]time.Duration{28 * time.Second, 31 * time.Second}}},
	{parseCase: parseCase{name: "0401", status: 200, body: fail("0401", "unauthorized"), wantErr: true, wantKind: memories.KindUnauthenticated, wantCode: "0401"}},
	{parseCase: parseCase{name: "9009", status: 200, body: fail("9009", "invalid api key"), wantErr: true, wantKind: memories.KindUnauthenticated, wantCode: "9009"}},
	{parseCase: parseCase{name: "0403", status: 200, body: fail("0403", "account disabled"), wantErr: true, wantKind: memories.KindForbidden, wantCode: "0403"}},
	{parseCase: parseCase{name: "0402", status: 200, body: fail("0402", "insufficient points"), wantErr: true, wantKind: memories.KindQuotaExceeded, wantCode: "0402"}},
	{parseCase: parseCase{name: "0003 bad value", status: 200, body: fail("0003", "size must be greater than 0"), wantErr: true, wantKind: memories.KindBadRequest, wantCode: "0003"}},
	{parseCase: parseCase{name: "0001 failed", status: 200, body: fail("0001", "operation failed"), wantErr: true,
		wantKind: memories.KindBadRequest, wantCode: "0001", wantRetry: true}},
	{parseCase: parseCase{name: "0001 network", status: 200, body: fail("0001", "network abnormal"), wantErr: true,
		wantKind: memories.KindUpstream, wantCode: "0001", wantRetry: true}},
	{parseCase: parseCase{name: "unknown code", status: 200, body: fail("7777", "?"), wantErr: true, wantKind: memories.KindUpstream, wantCode: "7777"}},
	{parseCase: parseCase{name: "http 500", status: 500, body: listData(`"videos":[]`), wantErr: true, wantKind: memories.KindUpstream, wantCode: "0000"}},
	{parseCase: parseCase{name: "http 503 unknown parameter", status: 503, body: fail("0003", "unknown parameter video_nos"), wantErr: true,
		wantKind: memories.KindUpstream, wantCode: "0003"}},
	{parseCase: parseCase{name: "http 401", status: 401, body: ``, wantErr: true, wantKind: memories.KindUnauthenticated}},
	{parseCase: parseCase{name: "http 403", status: 403, body: ``, wantErr: true, wantKind: memories.KindForbidden}},
	{parseCase: parseCase{name: "http 400 plain", status: 400, body: `bad request`, wantErr: true, wantKind: memories.KindUpstream}},

	// Not offered to this account.
	{parseCase: parseCase{name: "http 404 html", status: 404, body: `<html>404 page not found</html>`, wantErr: true, wantKind: memories.KindUnsupported}},
	{parseCase: parseCase{name: "http 404 success body", status: 404, body: listData(`"videos":[]`), wantErr: true, wantKind: memories.KindUnsupported, wantCode: "0000"}},
	{parseCase: parseCase{name: "http 404 code 0429", status: 404, body: fail("0429", "x"), wantErr: true, wantKind: memories.KindUnsupported, wantCode: "0429"}},
	{parseCase: parseCase{name: "http 405 empty", status: 405, body: ``, wantErr: true, wantKind: memories.KindUnsupported}},
	{parseCase: parseCase{name: "0003 unknown parameter", status: 200, body: fail("0003", "Unknown parameter: video_nos"), wantErr: true,
		wantKind: memories.KindUnsupported, wantCode: "0003"}},
	{parseCase: parseCase{name: "0001 api not supported", status: 200, body: fail("0001", "API not supported for this account"), wantErr: true,
		wantKind: memories.KindUnsupported, wantCode: "0001"}}, // not retryable, though 0001
	{parseCase: parseCase{name: "http 400 0003 unrecognized field", status: 400, body: fail("0003", `Unrecognized field \"video_nos\"`), wantErr: true,
		wantKind: memories.KindUnsupported, wantCode: "0003"}},
}

func TestParseListResponse(t *testing.T) {
	for _, tc := range listCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := memories.ParseListResponse(tc.status, tc.header(), []byte(tc.body))
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("ParseListResponse: got error %v; want none", err)
				}
				checkPage(t, got, tc.wantPage)
				return
			}
			if got != nil {
				t.Errorf("ParseListResponse: got page %s alongside an error; want nil", dumpPage(got))
			}
			checkError(t, err, tc.parseCase)
			if tc.wantText != "" && !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("Error(): got %q; want it to contain %q", err, tc.wantText)
			}
		})
	}
}

// TestUnsupportedRule pins the list_videos "not offered" rule down, one
// clause at a time, and checks get_metadata ignores it.
func TestUnsupportedRule(t *testing.T) {
	tests := []struct {
		status    int
		code, msg string
		want      memories.Kind // for list_videos
	}{
		// HTTP 404 and 405, whatever the body.
		{404, "", "", memories.KindUnsupported},
		{405, "", "", memories.KindUnsupported},
		{404, "0402", "no points", memories.KindUnsupported},
		{410, "", "", memories.KindUpstream},
		// A negation word and a subject, under 0003 or 0001, any case.
		{200, "0003", "unknown parameter: video_nos", memories.KindUnsupported},
		{200, "0003", "UNSUPPORTED PARAM video_nos", memories.KindUnsupported},
		{200, "0003", "parameter video_nos is not supported", memories.KindUnsupported},
		{200, "0003", `Unrecognized field \"video_nos\"`, memories.KindUnsupported},
		{200, "0003", "no such argument: size", memories.KindUnsupported},
		{200, "0001", "api path not found", memories.KindUnsupported},
		{200, "0001", "this interface does not exist", memories.KindUnsupported},
		{200, "0001", "Request method 'POST' not supported", memories.KindUnsupported},
		{200, "0001", "feature not supported on your plan", memories.KindUnsupported},
		{400, "0003", "unknown field video_nos", memories.KindUnsupported},
		// A negation word alone, or a subject alone, is not enough.
		{200, "0003", "unknown error", memories.KindBadRequest},
		{200, "0003", "not supported", memories.KindBadRequest},
		{200, "0003", "video not found", memories.KindBadRequest},
		{200, "0003", "parameter size must be greater than 0", memories.KindBadRequest},
		{200, "0001", "operation failed", memories.KindBadRequest},
		// About the key, not the call.
		{200, "0003", "api key not found", memories.KindBadRequest},
		{200, "0001", "unknown token", memories.KindBadRequest},
		// A network 0001 stays a transient upstream fault.
		{200, "0001", "network abnormal: api not found", memories.KindUpstream},
		// Other codes keep their meaning whatever msg says.
		{200, "0402", "unsupported api", memories.KindQuotaExceeded},
		{200, "0401", "unknown api", memories.KindUnauthenticated},
		{200, "1234", "unknown parameter", memories.KindUpstream},
		// HTTP 5xx decides first.
		{502, "0003", "unknown parameter", memories.KindUpstream},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%d %s %s", tt.status, tt.code, tt.msg)
		t.Run(name, func(t *testing.T) {
			body := ``
			if tt.code != "" {
				body = fail(tt.code, tt.msg)
			}
			_, err := memories.ParseListResponse(tt.status, nil, []byte(body))
			if got := kindOf(t, err); got != tt.want {
				t.Errorf("ParseListResponse: got kind %v; want %v (err %v)", got, tt.want, err)
			}
			if tt.want == memories.KindUnsupported {
				var e *memories.Error
				if errors.As(err, &e) && e.Retryable() {
					t.Errorf("Retryable: got true; want false for KindUnsupported")
				}
			}
			// get_metadata never answers KindUnsupported.
			_, err = memories.ParseResponse(tt.status, nil, []byte(body))
			if got := kindOf(t, err); got == memories.KindUnsupported {
				t.Errorf("ParseResponse: got KindUnsupported; want get_metadata's classification (err %v)", err)
			}
		})
	}
}

// kindOf returns err's Kind, failing the test unless err is an *Error.
func kindOf(t *testing.T, err error) memories.Kind {
	t.Helper()
	var e *memories.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v (%T); want *memories.Error", err, err)
	}
	return e.Kind
}

// checkPage compares pages, following pointers in failure output.
func checkPage(t *testing.T, got, want *memories.ListPage) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("page:\ngot  %s\nwant %s", dumpPage(got), dumpPage(want))
	}
	for i, v := range got.Videos {
		if v.Detailed {
			t.Errorf("Videos[%d].Detailed: got true; want false", i)
		}
	}
}

func dumpPage(p *memories.ListPage) string {
	if p == nil {
		return "<nil>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "{Page=%d PageSize=%d TotalCount=%d Videos(nil=%v)=[", p.Page, p.PageSize, p.TotalCount, p.Videos == nil)
	for _, v := range p.Videos {
		b.WriteString("\n  {" + dump(v) + "}")
	}
	b.WriteString("]}")
	return b.String()
}
