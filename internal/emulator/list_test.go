package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// listBody renders a list call's JSON body.
func listBody(t *testing.T, fields map[string]any) string {
	t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatalf("marshal %v: %v", fields, err)
	}
	return string(b)
}

// nosBody is the body of a list call for video numbers in unique_id
// "default" with the default page and size.
func nosBody(t *testing.T, nos ...string) string {
	t.Helper()
	return listBody(t, map[string]any{"video_nos": nos})
}

// listRequest sends method to the list endpoint with body and, unless auth
// is noAuth, that Authorization header value.
func (c *client) listRequest(ctx context.Context, method, auth, body string) (response, error) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, c.base+emulator.ListPath, strings.NewReader(body))
	if err != nil {
		c.t.Fatalf("NewRequest: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != noAuth {
		req.Header.Set("Authorization", auth)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(res.Body); err != nil {
		return response{}, err
	}
	return response{status: res.StatusCode, header: res.Header, body: buf.Bytes()}, nil
}

// list sends a POST that must get an HTTP answer.
func (c *client) list(auth, body string) response {
	c.t.Helper()
	res, err := c.listRequest(context.Background(), http.MethodPost, auth, body)
	if err != nil {
		c.t.Fatalf("POST %s: %v", body, err)
	}
	return res
}

// listData is the data of a list answer; numbers are kept raw so that
// their spelling can be checked.
type listData struct {
	CurrentPage json.RawMessage              `json:"current_page"`
	PageSize    json.RawMessage              `json:"page_size"`
	TotalCount  json.RawMessage              `json:"total_count"`
	Videos      []map[string]json.RawMessage `json:"videos"`
}

// listPage sends a list call that must be answered 0000 and returns its data.
func (c *client) listPage(auth, body string) listData {
	c.t.Helper()
	res := c.list(auth, body)
	env := decodeEnvelope(c.t, res)
	wantFound(c.t, res, env)
	var d listData
	if err := json.Unmarshal(env.Data, &d); err != nil {
		c.t.Fatalf("decode data %s: %v", env.Data, err)
	}
	if d.Videos == nil {
		c.t.Errorf("videos = null in %s; want an array", env.Data)
	}
	return d
}

// numbers returns the page's current_page, page_size and total_count.
func (d listData) numbers(t *testing.T) (page, size, total int) {
	t.Helper()
	atoi := func(raw json.RawMessage) int {
		n, err := strconv.Atoi(string(raw))
		if err != nil {
			t.Fatalf("number %s: %v", raw, err)
		}
		return n
	}
	return atoi(d.CurrentPage), atoi(d.PageSize), atoi(d.TotalCount)
}

// nos returns the video numbers of the page's items, in answer order.
func (d listData) nos(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, v := range d.Videos {
		var no string
		if err := json.Unmarshal(v["video_no"], &no); err != nil {
			t.Fatalf("video_no of %v: %v", v, err)
		}
		out = append(out, no)
	}
	return out
}

// names returns the sorted video_names of the page's items.
func (d listData) names(t *testing.T) []string {
	t.Helper()
	out := []string{}
	for _, v := range d.Videos {
		var name string
		if err := json.Unmarshal(v["video_name"], &name); err != nil {
			t.Fatalf("video_name of %v: %v", v, err)
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// detailOnly are the get_metadata fields list items lack.
var detailOnly = []string{"resolution_label", "fps", "width", "height"}

func TestListSamplesMatchMetadata(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{})
	c := newClient(t, s.URL(), true)

	for _, v := range emulator.Samples() {
		no, err := v.VideoNo()
		if err != nil {
			t.Fatal(err)
		}
		t.Run(no, func(t *testing.T) {
			res, env := c.getEnvelope("key", "video_no="+no+"&unique_id="+v.UniqueID)
			var meta map[string]json.RawMessage
			if err := json.Unmarshal([]byte(wantFound(t, res, env)), &meta); err != nil {
				t.Fatalf("decode metadata: %v", err)
			}
			d := c.listPage("key", listBody(t, map[string]any{"unique_id": v.UniqueID, "video_nos": []string{no}}))
			if len(d.Videos) != 1 {
				t.Fatalf("got %d items; want 1", len(d.Videos))
			}
			item := d.Videos[0]

			for field, want := range meta {
				got, ok := item[field]
				switch {
				case slices.Contains(detailOnly, field):
					if ok {
						t.Errorf("%s = %s; want it absent from list items", field, got)
					}
				case !ok:
					t.Errorf("%s absent; want %s as get_metadata sends it", field, want)
				case !bytes.Equal(got, want):
					t.Errorf("%s = %s; want %s as get_metadata sends it", field, got, want)
				}
			}
			for field, got := range item {
				if _, ok := meta[field]; ok {
					continue
				}
				switch field {
				case "bucket":
					if string(got) != `"mavi-resource"` {
						t.Errorf("bucket = %s; want \"mavi-resource\"", got)
					}
				case "blob":
					if want := `"` + no + `.mp4"`; string(got) != want {
						t.Errorf("blob = %s; want %s", got, want)
					}
				case "video_url":
					var u string
					if err := json.Unmarshal(got, &u); err != nil || !strings.HasPrefix(u, "https://") {
						t.Errorf("video_url = %s; want an https URL", got)
					}
				default:
					t.Errorf("extra field %s = %s; want only bucket, blob and video_url added", field, got)
				}
			}
			for _, field := range []string{"bucket", "blob"} {
				if _, ok := item[field]; !ok {
					t.Errorf("%s absent; want it in every item", field)
				}
			}
			_, hasURL := item["video_url"]
			if parsed := string(meta["status"]) == `"PARSE"`; hasURL != parsed {
				t.Errorf("video_url present = %v; want %v for status %s", hasURL, parsed, meta["status"])
			}
		})
	}
}

func TestListItemsKeepStoredSpelling(t *testing.T) {
	t.Parallel()
	odd := `{ "video_no" : "VI100000000000000001",
	  "size": "5000000014", "duration": 12.0, "fps": 30, "tags": null, "note": "<b>&</b>", "latitude": 1e1 }`
	s := start(t, emulator.Options{Videos: []emulator.Video{{Data: []byte(odd)}}})
	c := newClient(t, s.URL(), true)

	d := c.listPage("key", nosBody(t, "VI100000000000000001"))
	if len(d.Videos) != 1 {
		t.Fatalf("got %d items; want 1", len(d.Videos))
	}
	want := map[string]string{
		"video_no": `"VI100000000000000001"`, "size": `"5000000014"`, "duration": `12.0`, "tags": `null`,
		"note": `"<b>&</b>"`, "latitude": `1e1`, "bucket": `"mavi-resource"`, "blob": `"VI100000000000000001.mp4"`,
	}
	got := map[string]string{}
	for k, v := range d.Videos[0] {
		got[k] = string(v)
	}
	if !maps.Equal(got, want) {
		t.Errorf("item = %v; want %v", got, want)
	}
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	var vs, request []string
	var videos []emulator.Video
	for i := range 8 {
		no := fmt.Sprintf("VI2000000000000000%02d", i)
		request = append(request, no)
		videos = append(videos, video("", no, "v"+strconv.Itoa(i)))
	}
	vs = slices.Clone(request)
	// Other videos in the scope, not asked for, and unknown numbers.
	videos = append(videos, video("", "VI300000000000000001", "not asked"))
	request = append(request, "VI999999999999999998", "VI999999999999999999")
	s := start(t, emulator.Options{Videos: videos, ListPageCap: 3})
	c := newClient(t, s.URL(), true)

	readAll := func(req []string) []string {
		var all []string
		for page := 1; page <= 4; page++ {
			d := c.listPage("key", listBody(t, map[string]any{"page": page, "size": 200, "unique_id": "default", "video_nos": req}))
			gotPage, gotSize, gotTotal := d.numbers(t)
			wantLen := []int{3, 3, 2, 0}[page-1]
			if gotPage != page || gotSize != 3 || gotTotal != 8 || len(d.Videos) != wantLen {
				t.Errorf("page %d: current_page, page_size, total_count, items = %d, %d, %d, %d; want %d, 3, 8, %d",
					page, gotPage, gotSize, gotTotal, len(d.Videos), page, wantLen)
			}
			all = append(all, d.nos(t)...)
		}
		return all
	}
	first := readAll(request)
	if got, want := slices.Sorted(slices.Values(first)), vs; !slices.Equal(got, want) {
		t.Errorf("pages cover %v; want each of %v exactly once", got, want)
	}
	if slices.Equal(first, vs) {
		t.Errorf("order %v; want it to differ from the request's", first)
	}
	if again := readAll(request); !slices.Equal(again, first) {
		t.Errorf("second read order %v; want %v again", again, first)
	}
	reversed := slices.Clone(request)
	slices.Reverse(reversed)
	if got := readAll(reversed); !slices.Equal(got, first) {
		t.Errorf("order for the reversed request %v; want %v (independent of the request)", got, first)
	}

	// A size below the cap is honoured.
	d := c.listPage("key", listBody(t, map[string]any{"size": 2, "video_nos": request}))
	if _, size, total := d.numbers(t); size != 2 || total != 8 || len(d.Videos) != 2 {
		t.Errorf("size 2: page_size, total_count, items = %d, %d, %d; want 2, 8, 2", size, total, len(d.Videos))
	}
	// A page far beyond the end is empty, not an error.
	d = c.listPage("key", listBody(t, map[string]any{"page": 1 << 40, "video_nos": request}))
	if len(d.Videos) != 0 {
		t.Errorf("page 2^40: %d items; want 0", len(d.Videos))
	}
}

func TestListDefaultPageCap(t *testing.T) {
	t.Parallel()
	var videos []emulator.Video
	for i := range emulator.DefaultListPageCap + 5 {
		videos = append(videos, video("", fmt.Sprintf("VI4%017d", i), "v"))
	}
	s := start(t, emulator.Options{Videos: videos})
	c := newClient(t, s.URL(), true)

	d := c.listPage("key", `{}`)
	if _, size, total := d.numbers(t); size != emulator.DefaultListPageCap || total != len(videos) || len(d.Videos) != size {
		t.Errorf("page_size, total_count, items = %d, %d, %d; want %d, %d, %d",
			size, total, len(d.Videos), emulator.DefaultListPageCap, len(videos), emulator.DefaultListPageCap)
	}
}

func TestListMatching(t *testing.T) {
	t.Parallel()
	const a, b, cNo, dNo = "VI500000000000000001", "VI500000000000000002", "VI500000000000000003", "VI500000000000000004"
	s := start(t, emulator.Options{
		Videos: []emulator.Video{
			video("", a, "a shared"),
			video("default", b, "b shared"),
			video("other", a, "a other"),
			video("other", cNo, "c other"),
		},
		AccountVideos: map[string][]emulator.Video{
			"acct": {video("", a, "a acct"), video("", dNo, "d acct")},
		},
	})
	c := newClient(t, s.URL(), true)

	tests := []struct {
		name string
		key  string
		body map[string]any
		want []string
	}{
		{"unknown numbers absent", "k", map[string]any{"video_nos": []string{a, "VI599999999999999999", b}}, []string{"a shared", "b shared"}},
		{"only unknown numbers", "k", map[string]any{"video_nos": []string{"VI599999999999999999"}}, []string{}},
		{"default scope excludes other", "k", map[string]any{"unique_id": "default", "video_nos": []string{a, b, cNo}}, []string{"a shared", "b shared"}},
		{"other scope", "k", map[string]any{"unique_id": "other", "video_nos": []string{a, b, cNo}}, []string{"a other", "c other"}},
		{"unknown scope", "k", map[string]any{"unique_id": "nobody", "video_nos": []string{a, b, cNo}}, []string{}},
		{"account videos win", "acct", map[string]any{"video_nos": []string{a, b, dNo}}, []string{"a acct", "b shared", "d acct"}},
		{"account videos are private", "k", map[string]any{"video_nos": []string{dNo}}, []string{}},
		{"account videos keep their scope", "acct", map[string]any{"unique_id": "other", "video_nos": []string{a, dNo}}, []string{"a other"}},
		{"video_no", "k", map[string]any{"video_no": a}, []string{"a shared"}},
		{"video_no unknown", "k", map[string]any{"video_no": "VI599999999999999999"}, []string{}},
		{"video_no and video_nos", "k", map[string]any{"video_no": b, "video_nos": []string{a, b}}, []string{"b shared"}},
		{"duplicates once", "k", map[string]any{"video_nos": []string{a, a, a}}, []string{"a shared"}},
		{"whole default scope", "k", map[string]any{}, []string{"a shared", "b shared"}},
		{"whole scope with account", "acct", map[string]any{}, []string{"a acct", "b shared", "d acct"}},
		{"whole other scope", "k", map[string]any{"unique_id": "other"}, []string{"a other", "c other"}},
		{"empty video_nos is no filter", "k", map[string]any{"video_nos": []string{}}, []string{"a shared", "b shared"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := c.listPage(tt.key, listBody(t, tt.body))
			if got := d.names(t); !slices.Equal(got, tt.want) {
				t.Errorf("names = %v; want %v", got, tt.want)
			}
			if _, _, total := d.numbers(t); total != len(tt.want) {
				t.Errorf("total_count = %d; want %d", total, len(tt.want))
			}
		})
	}
}

func TestListRateLimitIsSeparate(t *testing.T) {
	t.Parallel()
	opts := emulator.Options{RateLimit: slowRate, Burst: 2, ListRateLimit: slowRate, ListBurst: 3}
	listOK := func(c *client) string {
		res := c.list("key", nosBody(t, vendorNo))
		return decodeEnvelope(t, res).Code
	}
	metaOK := func(c *client) string {
		_, env := c.getEnvelope("key", "video_no="+vendorNo)
		return env.Code
	}

	t.Run("list first", func(t *testing.T) {
		t.Parallel()
		s := start(t, opts)
		c := newClient(t, s.URL(), true)
		for i, want := range []string{"0000", "0000", "0000", "0429"} {
			if got := listOK(c); got != want {
				t.Errorf("list call %d: code = %q; want %q", i+1, got, want)
			}
		}
		for i, want := range []string{"0000", "0000", "0429"} {
			if got := metaOK(c); got != want {
				t.Errorf("get_metadata call %d after the list budget: code = %q; want %q", i+1, got, want)
			}
		}
		st := s.Stats()
		if st.List.RateLimited != 1 || st.List.Served != 3 || st.RateLimited != 1 || st.Served != 2 {
			t.Errorf("List.RateLimited, List.Served, RateLimited, Served = %d, %d, %d, %d; want 1, 3, 1, 2",
				st.List.RateLimited, st.List.Served, st.RateLimited, st.Served)
		}
	})
	t.Run("get_metadata first", func(t *testing.T) {
		t.Parallel()
		s := start(t, opts)
		c := newClient(t, s.URL(), true)
		for i, want := range []string{"0000", "0000", "0429"} {
			if got := metaOK(c); got != want {
				t.Errorf("get_metadata call %d: code = %q; want %q", i+1, got, want)
			}
		}
		for i, want := range []string{"0000", "0000", "0000", "0429"} {
			if got := listOK(c); got != want {
				t.Errorf("list call %d after the get_metadata budget: code = %q; want %q", i+1, got, want)
			}
		}
	})
	t.Run("per key", func(t *testing.T) {
		t.Parallel()
		s := start(t, emulator.Options{ListRateLimit: slowRate})
		c := newClient(t, s.URL(), true)
		for i, tc := range []struct{ key, want string }{{"k1", "0000"}, {"k1", "0429"}, {"k2", "0000"}} {
			if got := decodeEnvelope(t, c.list(tc.key, `{}`)).Code; got != tc.want {
				t.Errorf("call %d with %s: code = %q; want %q", i+1, tc.key, got, tc.want)
			}
		}
	})
	t.Run("status and Retry-After", func(t *testing.T) {
		t.Parallel()
		s := start(t, emulator.Options{ListRateLimit: slowRate, RateLimitStatus: 429, RetryAfterHeader: true})
		c := newClient(t, s.URL(), true)
		c.listPage("key", `{}`)
		res := c.list("key", `{}`)
		wantError(t, res, decodeEnvelope(t, res), 429, "0429", "Request has exceeded the limit.")
		if secs, err := strconv.Atoi(res.header.Get("Retry-After")); err != nil || secs < 1 || secs > 20 {
			t.Errorf("Retry-After = %q; want whole seconds in [1, 20]", res.header.Get("Retry-After"))
		}
	})
}

func TestListFaults(t *testing.T) {
	t.Parallel()
	const other = "VI606417322871980032"
	tests := []struct {
		name  string
		fault emulator.Fault
		// check gets the faulted answer and the answer the same call gets
		// once the fault is gone.
		check func(t *testing.T, res response, normal []byte)
	}{
		{"http error", emulator.Fault{Kind: emulator.FaultHTTPError}, func(t *testing.T, res response, _ []byte) {
			if res.status != 500 || string(res.body) != "<html>Internal Server Error</html>" {
				t.Errorf("status, body = %d, %q; want 500, the small HTML page", res.status, res.body)
			}
		}},
		{"malformed", emulator.Fault{Kind: emulator.FaultMalformed}, func(t *testing.T, res response, _ []byte) {
			prefix := `{"code":"0000","msg":"success","data":{"current_page":1,"page_size":100,"total_count":2,"videos":[{"video_no":"` + vendorNo + `"`
			if res.status != 200 || !strings.HasPrefix(string(res.body), prefix) || json.Valid(res.body) {
				t.Errorf("status, body = %d, %q; want 200 and invalid JSON starting %s", res.status, res.body, prefix)
			}
			if got := res.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q; want application/json", got)
			}
		}},
		{"truncated", emulator.Fault{Kind: emulator.FaultTruncated}, func(t *testing.T, res response, normal []byte) {
			if want := normal[:len(normal)/2]; res.status != 200 || !bytes.Equal(res.body, want) {
				t.Errorf("status, body = %d, %q; want 200, %q", res.status, res.body, want)
			}
			if json.Valid(res.body) {
				t.Errorf("truncated body is valid JSON; want it cut")
			}
		}},
		{"code", emulator.Fault{Kind: emulator.FaultCode, Code: "0402", Msg: "insufficient balance"}, func(t *testing.T, res response, _ []byte) {
			wantError(t, res, decodeEnvelope(t, res), 200, "0402", "insufficient balance")
		}},
		{"code default", emulator.Fault{Kind: emulator.FaultCode}, func(t *testing.T, res response, _ []byte) {
			wantError(t, res, decodeEnvelope(t, res), 200, "0001", "network abnormal")
		}},
		{"wrong content type", emulator.Fault{Kind: emulator.FaultWrongContentType}, func(t *testing.T, res response, _ []byte) {
			if got := res.header.Get("Content-Type"); res.status != 200 || !strings.HasPrefix(got, "text/html") || json.Valid(res.body) {
				t.Errorf("status, Content-Type, body = %d, %q, %q; want 200, text/html, not JSON", res.status, got, res.body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, emulator.Options{ListFaults: map[string]emulator.Fault{vendorNo: tt.fault}})
			c := newClient(t, s.URL(), true)
			faulted := c.list("key", nosBody(t, other, vendorNo))

			// Calls without the video, and get_metadata for it, are not affected.
			if d := c.listPage("key", nosBody(t, other)); len(d.Videos) != 1 {
				t.Errorf("call without the faulted video: %d items; want 1", len(d.Videos))
			}
			res, env := c.getEnvelope("key", "video_no="+vendorNo)
			if got := wantFound(t, res, env); got != vendorData {
				t.Errorf("get_metadata data = %s; want %s", got, vendorData)
			}
			if got := s.Stats(); got.List.Faulted != 1 || got.List.Served != 1 || got.Faulted != 0 {
				t.Errorf("List.Faulted, List.Served, Faulted = %d, %d, %d; want 1, 1, 0", got.List.Faulted, got.List.Served, got.Faulted)
			}

			s.SetListFault(vendorNo, emulator.Fault{})
			normal := c.list("key", nosBody(t, other, vendorNo))
			if !json.Valid(normal.body) {
				t.Fatalf("answer after removing the fault: %q; want JSON", normal.body)
			}
			tt.check(t, faulted, normal.body)
		})
	}
}

func TestListFaultResetAndHang(t *testing.T) {
	t.Parallel()
	t.Run("reset", func(t *testing.T) {
		t.Parallel()
		s := start(t, emulator.Options{ListFaults: map[string]emulator.Fault{vendorNo: {Kind: emulator.FaultReset}}})
		c := newClient(t, s.URL(), false)
		if res, err := c.listRequest(context.Background(), http.MethodPost, "key", nosBody(t, vendorNo)); err == nil {
			t.Errorf("got HTTP %d %q; want a connection error", res.status, res.body)
		}
		c.listPage("key", nosBody(t, "VI606417322871980032"))
	})
	t.Run("hang", func(t *testing.T) {
		t.Parallel()
		s := start(t, emulator.Options{})
		s.SetListFault(vendorNo, emulator.Fault{Kind: emulator.FaultHang})
		c := newClient(t, s.URL(), false)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, err := c.listRequest(ctx, http.MethodPost, "key", listBody(t, map[string]any{"video_no": vendorNo})); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v; want context.DeadlineExceeded", err)
		}
		c.listPage("key", nosBody(t, "VI606417322871980032"))
		if got := s.Stats().List.Faulted; got != 1 {
			t.Errorf("List.Faulted = %d; want 1", got)
		}
	})
}

func TestListFaultTimesAndOrder(t *testing.T) {
	t.Parallel()
	const a, b = "VI606417322871980032", "VI606421908815474688"
	s := start(t, emulator.Options{ListFaults: map[string]emulator.Fault{
		a: {Kind: emulator.FaultCode, Code: "0403", Msg: "a", Times: 1},
		b: {Kind: emulator.FaultCode, Code: "0402", Msg: "b", Times: 2},
	}})
	c := newClient(t, s.URL(), true)

	// The first faulted video in request order decides, and only its
	// Times counts down.
	for i, want := range []string{"0402", "0402", "0403", "0000", "0000"} {
		if got := decodeEnvelope(t, c.list("key", nosBody(t, vendorNo, b, a))).Code; got != want {
			t.Errorf("call %d: code = %q; want %q", i+1, got, want)
		}
	}
	if got := s.Stats().List; got.Faulted != 3 || got.Served != 2 {
		t.Errorf("List.Faulted, List.Served = %d, %d; want 3, 2", got.Faulted, got.Served)
	}

	// ClearFaults clears list faults too.
	s.SetListFault(a, emulator.Fault{Kind: emulator.FaultCode})
	s.SetFault(a, emulator.Fault{Kind: emulator.FaultCode})
	s.ClearFaults()
	c.listPage("key", nosBody(t, a))
	res, env := c.getEnvelope("key", "video_no="+a)
	wantFound(t, res, env)
}

func TestListFaultsAfterChecks(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{Keys: []string{"good"}, ListFaults: map[string]emulator.Fault{vendorNo: {Kind: emulator.FaultHTTPError}}})
	c := newClient(t, s.URL(), true)

	res := c.list("bad", nosBody(t, vendorNo))
	wantError(t, res, decodeEnvelope(t, res), 200, "9009", "invalid api key")
	res = c.list("good", listBody(t, map[string]any{"page": 0, "video_nos": []string{vendorNo}}))
	wantError(t, res, decodeEnvelope(t, res), 200, "0003", "page")
	if got := s.Stats().List.Faulted; got != 0 {
		t.Errorf("List.Faulted = %d; want 0 (auth and parameter errors come first)", got)
	}
}

func TestSetListFaultPanicsOnInvalidFault(t *testing.T) {
	t.Parallel()
	s := emulator.New(emulator.Options{})
	for _, f := range []emulator.Fault{{Kind: 42}, {Kind: emulator.FaultCode, Status: 7}, {Kind: emulator.FaultCode, Times: -1}} {
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("SetListFault(%+v) did not panic; want a panic", f)
				}
			}()
			s.SetListFault(vendorNo, f)
		})
	}
}

func TestListDisabled(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{ListDisabled: true, Keys: []string{"key"}})
	c := newClient(t, s.URL(), true)

	wantDisabled := func(auth string) {
		t.Helper()
		res := c.list(auth, nosBody(t, vendorNo))
		wantError(t, res, decodeEnvelope(t, res), 404, "0404", "Not Found")
	}
	wantDisabled("key")
	wantDisabled(noAuth) // before auth
	wantDisabled("wrong")
	// get_metadata is not affected.
	res, env := c.getEnvelope("key", "video_no="+vendorNo)
	wantFound(t, res, env)

	s.SetListDisabled(false)
	if d := c.listPage("key", nosBody(t, vendorNo)); len(d.Videos) != 1 {
		t.Errorf("enabled again: %d items; want 1", len(d.Videos))
	}
	s.SetListDisabled(true)
	wantDisabled("key")

	if got := s.Stats().List; got.Disabled != 4 || got.Requests != 5 || got.Served != 1 || got.Unauthorized != 0 {
		t.Errorf("List.Disabled, Requests, Served, Unauthorized = %d, %d, %d, %d; want 4, 5, 1, 0",
			got.Disabled, got.Requests, got.Served, got.Unauthorized)
	}
}

func TestListCounters(t *testing.T) {
	t.Parallel()
	const a, b = "VI606417322871980032", "VI606421908815474688"
	s := start(t, emulator.Options{Keys: []string{"k1", "k2"}})
	c := newClient(t, s.URL(), true)

	// Served: the first names a twice (counted once in ByVideo, twice in
	// VideosAsked), the third names nothing.
	c.listPage("k1", nosBody(t, a, b, a))
	c.listPage("k2", listBody(t, map[string]any{"video_no": a}))
	c.listPage("k2", `{}`)
	// Unauthorized.
	c.list(noAuth, nosBody(t, a))
	c.list("k3", nosBody(t, b))
	// Invalid: a bad size, a body that names nothing readable, a GET.
	c.list("k1", listBody(t, map[string]any{"size": 0, "video_nos": []string{b}}))
	c.list("k1", `{"video_nos":`)
	if _, err := c.listRequest(context.Background(), http.MethodGet, "k1", ""); err != nil {
		t.Fatal(err)
	}
	res, env := c.getEnvelope("k1", "video_no="+a) // get_metadata: not a list request
	wantFound(t, res, env)

	got := s.Stats()
	want := emulator.ListStats{
		Requests: 8, Served: 3, Unauthorized: 2, Invalid: 3, VideosAsked: 7,
		ByVideo:   map[string]int64{a: 3, b: 3},
		ByKeyHash: map[string]int64{emulator.KeyHash("k1"): 4, emulator.KeyHash("k2"): 2, emulator.KeyHash("k3"): 1},
	}
	if got.List.Requests != want.Requests || got.List.Served != want.Served || got.List.Unauthorized != want.Unauthorized ||
		got.List.Invalid != want.Invalid || got.List.VideosAsked != want.VideosAsked || got.List.RateLimited != 0 ||
		got.List.Faulted != 0 || got.List.Disabled != 0 {
		t.Errorf("List = %+v; want %+v", got.List, want)
	}
	if !maps.Equal(got.List.ByVideo, want.ByVideo) {
		t.Errorf("List.ByVideo = %v; want %v", got.List.ByVideo, want.ByVideo)
	}
	if !maps.Equal(got.List.ByKeyHash, want.ByKeyHash) {
		t.Errorf("List.ByKeyHash = %v; want %v", got.List.ByKeyHash, want.ByKeyHash)
	}
	if got.Requests != 1 || got.Served != 1 || got.ByVideo[a] != 1 || got.ByVideo[b] != 0 {
		t.Errorf("get_metadata Requests, Served, ByVideo = %d, %d, %v; want 1, 1, map[%s:1]", got.Requests, got.Served, got.ByVideo, a)
	}
	if got, want := s.ListRequestsFor(a), int64(3); got != want {
		t.Errorf("ListRequestsFor(a) = %d; want %d", got, want)
	}
	if got, want := s.RequestsFor(a), int64(1); got != want {
		t.Errorf("RequestsFor(a) = %d; want %d", got, want)
	}
	if got := s.MaxListServedInWindow(time.Hour); got != 3 {
		t.Errorf("MaxListServedInWindow(1h) = %d; want 3", got)
	}
	if got := s.MaxServedInWindow(time.Hour); got != 1 {
		t.Errorf("MaxServedInWindow(1h) = %d; want 1", got)
	}
	if got := s.MaxListServedInWindow(0); got != 0 {
		t.Errorf("MaxListServedInWindow(0) = %d; want 0", got)
	}

	// Snapshots are deep copies.
	got.List.ByVideo[a] = 100
	got.List.ByKeyHash["x"] = 1
	if again := s.Stats().List; again.ByVideo[a] != 3 || len(again.ByKeyHash) != 3 {
		t.Errorf("after changing a snapshot: ByVideo[a], len(ByKeyHash) = %d, %d; want 3, 3", again.ByVideo[a], len(again.ByKeyHash))
	}

	s.ResetCounters()
	after := s.Stats()
	if after.List.Requests != 0 || len(after.List.ByVideo) != 0 || len(after.List.ByKeyHash) != 0 || after.Requests != 0 ||
		s.MaxListServedInWindow(time.Hour) != 0 || s.ListRequestsFor(a) != 0 {
		t.Errorf("after ResetCounters: List = %+v, Requests = %d; want all zero", after.List, after.Requests)
	}
}

func TestListNumbersAsStrings(t *testing.T) {
	t.Parallel()
	const legacy = "VI606470125566271488"
	s := start(t, emulator.Options{ListNumbersAsStrings: true, ListPageCap: 5})
	c := newClient(t, s.URL(), true)

	d := c.listPage("key", nosBody(t, vendorNo, legacy))
	if string(d.CurrentPage) != `"1"` || string(d.PageSize) != `"5"` || string(d.TotalCount) != `"2"` {
		t.Errorf("current_page, page_size, total_count = %s, %s, %s; want \"1\", \"5\", \"2\"", d.CurrentPage, d.PageSize, d.TotalCount)
	}
	want := map[string]map[string]string{
		vendorNo: {
			"duration": `"12"`, "size": `"3284512"`, "create_time": `"1754037217992"`, "datetime_taken": `"1729388400000"`,
			"latitude": `"39.9042"`, "longitude": `"116.4074"`, "video_name": `"182082-867762198_tiny"`,
			"tags": `["holiday","beijing","api"]`, "status": `"PARSE"`,
		},
		// Already strings in the stored data: sent as stored.
		legacy: {"duration": `"95"`, "size": `"20971520"`, "create_time": `"1690000000000"`, "cause": `"null"`},
	}
	for _, item := range d.Videos {
		var no string
		if err := json.Unmarshal(item["video_no"], &no); err != nil {
			t.Fatal(err)
		}
		for field, w := range want[no] {
			if got := string(item[field]); got != w {
				t.Errorf("%s: %s = %s; want %s", no, field, got, w)
			}
		}
	}
	if len(d.Videos) != 2 {
		t.Errorf("got %d items; want 2", len(d.Videos))
	}
}

func TestListRequestErrors(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{Keys: []string{"key"}})
	c := newClient(t, s.URL(), true)

	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		t.Run(method, func(t *testing.T) {
			res, err := c.listRequest(context.Background(), method, "key", `{}`)
			if err != nil {
				t.Fatalf("%s: %v", method, err)
			}
			wantError(t, res, decodeEnvelope(t, res), 405, "0003", "not allowed")
			if got := res.header.Get("Allow"); got != "POST" {
				t.Errorf("Allow = %q; want POST", got)
			}
		})
	}

	tests := []struct {
		name, auth, body string
		status           int
		code, msg        string
	}{
		{"no key", noAuth, `{}`, 401, "0401", "Unauthorized"},
		{"empty key", "", `{}`, 401, "0401", "Unauthorized"},
		{"unknown key", "other", `{}`, 200, "9009", "invalid api key"},
		{"broken JSON", "key", `{"page":`, 200, "0003", "invalid request body"},
		{"array body", "key", `[1]`, 200, "0003", "invalid request body"},
		{"trailing data", "key", `{} {}`, 200, "0003", "invalid request body"},
		{"page as string", "key", `{"page":"1"}`, 200, "0003", "invalid request body"},
		{"fractional size", "key", `{"size":1.5}`, 200, "0003", "invalid request body"},
		{"video_nos not a list", "key", `{"video_nos":"VI1"}`, 200, "0003", "invalid request body"},
		{"page zero", "key", `{"page":0}`, 200, "0003", "page must be greater than 0"},
		{"page negative", "key", `{"page":-3}`, 200, "0003", "page must be greater than 0"},
		{"size zero", "key", `{"size":0}`, 200, "0003", "size must be greater than 0"},
		{"size negative", "key", `{"size":-1}`, 200, "0003", "size must be greater than 0"},
		{"empty unique_id", "key", `{"unique_id":""}`, 200, "0003", "unique_id must not be empty"},
		{"blank unique_id", "key", `{"unique_id":"  "}`, 200, "0003", "unique_id must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := c.list(tt.auth, tt.body)
			wantError(t, res, decodeEnvelope(t, res), tt.status, tt.code, tt.msg)
		})
	}

	// Absent, null and empty bodies take the defaults.
	defaultScope := 0
	for _, v := range emulator.Samples() {
		if v.UniqueID == "default" {
			defaultScope++
		}
	}
	for _, body := range []string{``, `{}`, `null`, `{"page":null,"size":null,"unique_id":null,"video_nos":null}`} {
		t.Run("defaults "+body, func(t *testing.T) {
			d := c.listPage("key", body)
			wantSize := min(200, emulator.DefaultListPageCap)
			if page, size, total := d.numbers(t); page != 1 || size != wantSize || total != defaultScope {
				t.Errorf("current_page, page_size, total_count = %d, %d, %d; want 1, %d, %d", page, size, total, wantSize, defaultScope)
			}
		})
	}
	wantInvalid := int64(3) // the methods
	for _, tt := range tests {
		if tt.code == "0003" {
			wantInvalid++
		}
	}
	if got := s.Stats().List.Invalid; got != wantInvalid {
		t.Errorf("List.Invalid = %d; want %d", got, wantInvalid)
	}
}

func TestListHandlerInProcess(t *testing.T) {
	t.Parallel()
	s := emulator.New(emulator.Options{})
	t.Cleanup(func() { _ = s.Close() })

	req := httptest.NewRequest(http.MethodPost, emulator.ListPath, strings.NewReader(nosBody(t, vendorNo)))
	req.Header.Set("Authorization", "key")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	res := response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	wantFound(t, res, decodeEnvelope(t, res))
	if want := `"blob":"` + vendorNo + `.mp4"`; !strings.Contains(string(res.body), want) {
		t.Errorf("body = %s; want it to contain %s", res.body, want)
	}
}

// The library filters, ANDed with each other and with video_nos: status
// and video_name match any video, the metadata filters only videos whose
// parsing has finished; latitude and longitude match within about 20 km.
func TestListFilters(t *testing.T) {
	t.Parallel()
	raw := func(data string) emulator.Video { return emulator.Video{Data: json.RawMessage(data)} }
	s := start(t, emulator.Options{Videos: []emulator.Video{
		// Beijing, a Canon, tagged, taken 2024-10-20.
		raw(`{"video_no":"VI700000000000000001","video_name":"beijing","status":"PARSE","camera_model":"Canon EOS 5D",` +
			`"tags":["holiday","api"],"datetime_taken":1729388400000,"latitude":39.9042,"longitude":116.4074}`),
		// 15 km from it, numbers spelled as strings, taken earlier.
		raw(`{"video_no":"VI700000000000000002","video_name":"near","status":"PARSE","camera_model":"GoPro",` +
			`"tags":["api"],"datetime_taken":"1700000000000","latitude":"40.0390","longitude":"116.4074"}`),
		// The same metadata, but not parsed yet: the metadata filters skip it.
		raw(`{"video_no":"VI700000000000000003","video_name":"beijing","status":"UNPARSE","camera_model":"Canon EOS 5D",` +
			`"tags":["holiday"],"datetime_taken":1729388400000,"latitude":39.9042,"longitude":116.4074}`),
		raw(`{"video_no":"VI700000000000000004","video_name":"failed","status":"FAILED"}`),
	}})
	c := newClient(t, s.URL(), true)
	for _, tt := range []struct {
		name string
		body map[string]any
		want []string
	}{
		{"no filter", map[string]any{}, []string{"beijing", "near", "beijing", "failed"}},
		{"status", map[string]any{"status": "FAILED"}, []string{"failed"}},
		{"status UNPARSE", map[string]any{"status": "UNPARSE"}, []string{"beijing"}},
		{"video_name, any status", map[string]any{"video_name": "beijing"}, []string{"beijing", "beijing"}},
		{"camera_model, parsed only", map[string]any{"camera_model": "Canon EOS 5D"}, []string{"beijing"}},
		{"tag", map[string]any{"tag": "api"}, []string{"beijing", "near"}},
		{"tag, parsed only", map[string]any{"tag": "holiday"}, []string{"beijing"}},
		{"taken at or after", map[string]any{"datetime_taken": 1729388400000}, []string{"beijing"}},
		{"taken after both", map[string]any{"datetime_taken": 1600000000000}, []string{"beijing", "near"}},
		{"near, 15 km in", map[string]any{"latitude": 39.9042, "longitude": 116.4074}, []string{"beijing", "near"}},
		{"near, 30 km out", map[string]any{"latitude": 39.6342, "longitude": 116.4074}, []string{}},
		{"latitude alone matches nothing", map[string]any{"latitude": 39.9042}, []string{}},
		{"ANDed", map[string]any{"tag": "api", "camera_model": "GoPro"}, []string{"near"}},
		{"ANDed with video_nos", map[string]any{"tag": "api", "video_nos": []string{"VI700000000000000001", "VI700000000000000004"}}, []string{"beijing"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := c.listPage("k", listBody(t, tt.body))
			got := d.names(t)
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("names = %v; want %v", got, want)
			}
			if _, _, total := d.numbers(t); total != len(tt.want) {
				t.Errorf("total_count = %d; want %d", total, len(tt.want))
			}
		})
	}
}
