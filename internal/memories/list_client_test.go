package memories_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/memories"
)

const listPath = "/serve/api/v1/list_videos"

// one is a request for a single video.
var one = memories.ListRequest{VideoNos: []string{"VI1"}}

func TestListVideosRequest(t *testing.T) {
	takenAfter := time.UnixMilli(1729388400000).In(time.FixedZone("CEST", 2*3600))
	tests := []struct {
		name     string
		key      string
		req      memories.ListRequest
		wantBody string
		wantAuth string
	}{
		{name: "defaults", key: testKey, req: memories.ListRequest{VideoNos: []string{"VI606404158946574336", "VI606402870447996928"}},
			wantBody: `{"page":1,"size":2,"unique_id":"default","video_nos":["VI606404158946574336","VI606402870447996928"]}`,
			wantAuth: testKey},
		{name: "all fields", key: "Bearer " + testKey, req: memories.ListRequest{UniqueID: "u-1", VideoNos: []string{"VI1", "VI2", "VI3"}, Page: 2, Size: 2},
			wantBody: `{"page":2,"size":2,"unique_id":"u-1","video_nos":["VI1","VI2","VI3"]}`,
			wantAuth: testKey},
		{name: "bearer any case", key: " bEaReR  " + testKey + " ", req: one,
			wantBody: `{"page":1,"size":1,"unique_id":"default","video_nos":["VI1"]}`, wantAuth: testKey},
		{name: "size larger than the batch", key: testKey, req: memories.ListRequest{VideoNos: []string{"VI1"}, Size: 200},
			wantBody: `{"page":1,"size":200,"unique_id":"default","video_nos":["VI1"]}`, wantAuth: testKey},
		{name: "library, no filter", key: testKey, req: memories.ListRequest{Library: true},
			wantBody: `{"page":1,"unique_id":"default"}`, wantAuth: testKey},
		{name: "library, every filter", key: testKey, req: memories.ListRequest{Library: true, UniqueID: "u", Page: 3, Size: 50,
			Filter: memories.ListFilter{Status: memories.StatusParse, VideoName: "n", VideoNo: "VI9", CameraModel: "Canon EOS 5D", Tag: "api",
				TakenAfter: &takenAfter, Near: &memories.GeoPoint{Latitude: 0, Longitude: -0.5}}},
			wantBody: `{"page":3,"size":50,"unique_id":"u","video_no":"VI9","video_name":"n","status":"PARSE","camera_model":"Canon EOS 5D",` +
				`"tag":"api","datetime_taken":1729388400000,"latitude":0,"longitude":-0.5}`, wantAuth: testKey},
		{name: "filter with video_nos", key: testKey, req: memories.ListRequest{VideoNos: []string{"VI1"}, Filter: memories.ListFilter{Status: memories.StatusFailed}},
			wantBody: `{"page":1,"size":1,"unique_id":"default","video_nos":["VI1"],"status":"FAILED"}`, wantAuth: testKey},
		{name: "strings escaped", key: testKey, req: memories.ListRequest{UniqueID: `a"b\c`, VideoNos: []string{"VI 1?x=y#z", "é"}},
			wantBody: `{"page":1,"size":2,"unique_id":"a\"b\\c","video_nos":["VI 1?x=y#z","é"]}`, wantAuth: testKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, _ := setup(t)
			var (
				got     *http.Request
				gotBody string
			)
			mux.HandleFunc(listPath, func(w http.ResponseWriter, r *http.Request) {
				got = r.Clone(context.Background())
				b, _ := io.ReadAll(r.Body)
				gotBody = string(b)
				fmt.Fprint(w, vendorListExample)
			})
			page, err := client.ListVideos(context.Background(), tt.key, tt.req)
			if err != nil {
				t.Fatalf("ListVideos: got error %v; want none", err)
			}
			checkPage(t, page, vendorListPage())
			if got == nil {
				t.Fatal("handler was not called")
			}
			if got.Method != http.MethodPost {
				t.Errorf("method: got %s; want POST", got.Method)
			}
			if got.URL.Path != listPath || got.URL.RawQuery != "" {
				t.Errorf("path: got %q?%q; want %q without query", got.URL.Path, got.URL.RawQuery, listPath)
			}
			if gotBody != tt.wantBody {
				t.Errorf("body:\ngot  %s\nwant %s", gotBody, tt.wantBody)
			}
			for h, want := range map[string]string{
				"Authorization": tt.wantAuth, "Content-Type": "application/json", "Accept": "application/json", "User-Agent": "memories-graphql/1",
			} {
				if g := got.Header.Get(h); g != want {
					t.Errorf("header %s: got %q; want %q", h, g, want)
				}
			}
		})
	}
}

func TestListVideosBasePathPrefix(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	mux.HandleFunc("/proxy"+listPath, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, listData(`"videos":[{"video_no":"VI1"}]`))
	})
	client, err := memories.NewClient(srv.URL + "/proxy/")
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	page, err := client.ListVideos(context.Background(), testKey, one)
	if err != nil || len(page.Videos) != 1 || page.Videos[0].VideoNo != "VI1" {
		t.Fatalf("ListVideos: got %s, %v; want video VI1", dumpPage(page), err)
	}
}

func TestListVideosLocalValidation(t *testing.T) {
	tests := []struct {
		name string
		key  string
		req  memories.ListRequest
		want memories.Kind
	}{
		{"empty key", "", one, memories.KindUnauthenticated},
		{"bearer only", "Bearer ", one, memories.KindUnauthenticated},
		{"key with control characters", testKey + "\r\nX-Injected: 1", one, memories.KindUnauthenticated},
		{"nil video_nos", testKey, memories.ListRequest{}, memories.KindBadRequest},
		{"empty video_nos", testKey, memories.ListRequest{VideoNos: []string{}}, memories.KindBadRequest},
		{"blank video_no", testKey, memories.ListRequest{VideoNos: []string{"VI1", " "}}, memories.KindBadRequest},
		{"empty video_no", testKey, memories.ListRequest{VideoNos: []string{""}}, memories.KindBadRequest},
		{"negative page", testKey, memories.ListRequest{VideoNos: []string{"VI1"}, Page: -1}, memories.KindBadRequest},
		{"negative size", testKey, memories.ListRequest{VideoNos: []string{"VI1"}, Size: -1}, memories.KindBadRequest},
		{"library with video_nos", testKey, memories.ListRequest{Library: true, VideoNos: []string{"VI1"}}, memories.KindBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, serverURL := setup(t)
			var calls atomic.Int32
			mux.HandleFunc(listPath, func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
			page, err := client.ListVideos(context.Background(), tt.key, tt.req)
			var e *memories.Error
			if page != nil || !errors.As(err, &e) || e.Kind != tt.want {
				t.Fatalf("ListVideos: got %s, %v; want *Error of kind %v", dumpPage(page), err, tt.want)
			}
			if got := calls.Load(); got != 0 {
				t.Errorf("upstream calls: got %d; want 0", got)
			}
			checkRedacted(t, err, serverURL)
		})
	}
}

// TestListVideosAnswers replays every ParseListResponse case over real HTTP.
func TestListVideosAnswers(t *testing.T) {
	for _, tc := range listCases {
		t.Run(tc.name, func(t *testing.T) {
			client, mux, serverURL := setup(t)
			mux.HandleFunc(listPath, func(w http.ResponseWriter, r *http.Request) {
				for k, vs := range tc.header() {
					w.Header()[k] = vs
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			got, err := client.ListVideos(context.Background(), testKey, one)
			checkRedacted(t, err, serverURL)
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("ListVideos: got error %v; want none", err)
				}
				want := *tc.wantPage
				if want.Page == 0 {
					want.Page = 1 // the page asked
				}
				checkPage(t, got, &want)
				return
			}
			if got != nil {
				t.Errorf("ListVideos: got page %s alongside an error; want nil", dumpPage(got))
			}
			checkError(t, err, tc.parseCase)
		})
	}
}

func TestListVideosPageNumber(t *testing.T) {
	tests := []struct {
		name     string
		askPage  int
		data     string
		wantPage int
	}{
		{"omitted: the page asked", 3, `"videos":[]`, 3},
		{"omitted, none asked: 1", 0, `"videos":[]`, 1},
		{"null: the page asked", 2, `"current_page":null,"videos":[]`, 2},
		{"sent: the upstream's", 3, `"current_page":"2","videos":[]`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, _ := setup(t)
			mux.HandleFunc(listPath, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, listData(tt.data)) })
			page, err := client.ListVideos(context.Background(), testKey, memories.ListRequest{VideoNos: []string{"VI1"}, Page: tt.askPage})
			if err != nil {
				t.Fatalf("ListVideos: got error %v; want none", err)
			}
			if page.Page != tt.wantPage {
				t.Errorf("Page: got %d; want %d", page.Page, tt.wantPage)
			}
		})
	}
}

func TestListVideosRedactsEchoes(t *testing.T) {
	tests := []struct {
		name string
		kind memories.Kind
		body func(key, where string) string
	}{
		{"in msg", memories.KindUnauthenticated, func(key, where string) string {
			return fmt.Sprintf(`{"code":"9009","msg":%q}`, "invalid key "+key+" at "+where)
		}},
		{"in code", memories.KindUpstream, func(key, where string) string {
			return fmt.Sprintf(`{"code":%q,"msg":"x"}`, key)
		}},
		{"in an unsupported answer", memories.KindUnsupported, func(key, where string) string {
			return fmt.Sprintf(`{"code":"0003","msg":%q}`, "unknown parameter video_nos for "+where)
		}},
		{"in a malformed item", memories.KindUpstream, func(key, where string) string {
			return fmt.Sprintf(`{"code":"0000","data":{"videos":[{"video_no":%q,"size":%q}]}}`, key, key)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, serverURL := setup(t)
			mux.HandleFunc(listPath, func(w http.ResponseWriter, r *http.Request) {
				// A misbehaving upstream that quotes the key and its own URL.
				io.WriteString(w, tt.body(r.Header.Get("Authorization"), serverURL+r.URL.String()))
			})
			_, err := client.ListVideos(context.Background(), testKey, one)
			var e *memories.Error
			if !errors.As(err, &e) || e.Kind != tt.kind {
				t.Fatalf("ListVideos: got %v; want %v", err, tt.kind)
			}
			checkRedacted(t, err, serverURL)
			if strings.Contains(e.Message, testKey) || strings.Contains(e.Code, testKey) {
				t.Errorf("Message %q, Code %q: want the key redacted", e.Message, e.Code)
			}
		})
	}
}

// bigList is a valid list answer of n items, each about 100 bytes.
func bigList(n int) string {
	var b strings.Builder
	b.WriteString(`{"code":"0000","data":{"page_size":` + fmt.Sprint(n) + `,"total_count":` + fmt.Sprint(n) + `,"videos":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"video_no":"VI%018d","video_name":"clip","status":"PARSE","bucket":"mavi-resource","size":3284512}`, i)
	}
	b.WriteString(`]}}`)
	return b.String()
}

func TestListVideosBodyCap(t *testing.T) {
	body := bigList(20)
	tests := []struct {
		name    string
		opts    []memories.Option
		status  int
		wantErr bool
	}{
		{"under cap", []memories.Option{memories.WithMaxListBodyBytes(int64(len(body)) + 1)}, 200, false},
		{"exactly at cap", []memories.Option{memories.WithMaxListBodyBytes(int64(len(body)))}, 200, false},
		{"one byte over", []memories.Option{memories.WithMaxListBodyBytes(int64(len(body)) - 1)}, 200, true},
		{"far over", []memories.Option{memories.WithMaxListBodyBytes(64)}, 200, true},
		{"over on rate limit", []memories.Option{memories.WithMaxListBodyBytes(64)}, 429, true},
		{"non-positive keeps the default", []memories.Option{memories.WithMaxListBodyBytes(0), memories.WithMaxListBodyBytes(-1)}, 200, false},
		{"get_metadata's cap does not apply", []memories.Option{memories.WithMaxBodyBytes(64)}, 200, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, serverURL := setup(t, tt.opts...)
			mux.HandleFunc(listPath, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, body)
			})
			page, err := client.ListVideos(context.Background(), testKey, one)
			checkRedacted(t, err, serverURL)
			if !tt.wantErr {
				if err != nil || len(page.Videos) != 20 {
					t.Fatalf("ListVideos: got %v, %v; want 20 videos", page, err)
				}
				return
			}
			var e *memories.Error
			if !errors.As(err, &e) || e.Kind != memories.KindUpstream || e.HTTPStatus != tt.status {
				t.Fatalf("ListVideos: got %v; want KindUpstream with HTTP %d", err, tt.status)
			}
		})
	}
}

func TestListVideosDefaultBodyCap(t *testing.T) {
	tests := []struct {
		name    string
		size    int // bytes of padding streamed
		wantErr bool
	}{
		{"2 MiB passes (above get_metadata's 1 MiB)", 2 << 20, false},
		{"17 MiB fails", 17 << 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, serverURL := setup(t)
			mux.HandleFunc(listPath, func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, `{"code":"0000","data":{"videos":[{"video_no":"VI1","video_name":"`)
				chunk := strings.Repeat("x", 64<<10)
				for range tt.size / len(chunk) {
					if _, err := io.WriteString(w, chunk); err != nil {
						return
					}
				}
				io.WriteString(w, `"}]}}`)
			})
			page, err := client.ListVideos(context.Background(), testKey, one)
			checkRedacted(t, err, serverURL)
			if !tt.wantErr {
				if err != nil || len(page.Videos) != 1 {
					t.Fatalf("ListVideos: got %v; want one video", err)
				}
				return
			}
			var e *memories.Error
			if !errors.As(err, &e) || e.Kind != memories.KindUpstream {
				t.Fatalf("ListVideos: got %v; want KindUpstream", err)
			}
		})
	}
}

// consumeBody reads the request body before h runs: net/http notices a
// client that went away (and cancels r.Context()) only once the body was
// read, so a hanging handler on a POST would otherwise never return.
func consumeBody(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h(w, r)
	}
}

// TestGetMetadataNotUnsupported: a get_metadata 404 keeps its classification
// even on a server that also serves list_videos.
func TestGetMetadataNotUnsupported(t *testing.T) {
	client, mux, _ := setup(t)
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, fail("0003", "unknown parameter"))
	})
	_, err := client.GetMetadata(context.Background(), testKey, memories.VideoRef{VideoNo: "VI1"})
	if got := kindOf(t, err); got != memories.KindBadRequest {
		t.Errorf("GetMetadata: got kind %v; want %v (err %v)", got, memories.KindBadRequest, err)
	}
	_, err = client.ListVideos(context.Background(), testKey, one)
	if got := kindOf(t, err); got != memories.KindUnsupported {
		t.Errorf("ListVideos on an unregistered path: got kind %v; want %v (err %v)", got, memories.KindUnsupported, err)
	}
}
