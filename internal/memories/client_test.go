package memories_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/memories"
)

const testKey = "sk-test-SECRET-0123456789"

// setup starts an httptest server and a client pointed at it. Tests register
// handlers on mux; the server closes when the test ends.
func setup(t *testing.T, opts ...memories.Option) (client *memories.Client, mux *http.ServeMux, serverURL string) {
	t.Helper()
	mux = http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client, err := memories.NewClient(srv.URL+"/", opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return client, mux, srv.URL
}

// checkRedacted fails if err's text leaks the key or the server URL.
func checkRedacted(t *testing.T, err error, serverURL string) {
	t.Helper()
	if err == nil {
		return
	}
	s := err.Error()
	for _, secret := range []string{testKey, serverURL, strings.TrimPrefix(serverURL, "http://") + "/serve"} {
		if strings.Contains(s, secret) {
			t.Errorf("error %q contains %q", s, secret)
		}
	}
}

const path = "/serve/api/v1/get_metadata"

func TestGetMetadataRequest(t *testing.T) {
	tests := []struct {
		name, key, uniqueID, videoNo string
		wantAuth, wantUniqueID       string
	}{
		{name: "raw key", key: testKey, uniqueID: "default", videoNo: "VI606404158946574336",
			wantAuth: testKey, wantUniqueID: "default"},
		{name: "bearer stripped", key: "Bearer " + testKey, uniqueID: "u-1", videoNo: "VI1",
			wantAuth: testKey, wantUniqueID: "u-1"},
		{name: "bearer any case", key: " bEaReR   " + testKey + " ", uniqueID: "u-1", videoNo: "VI1",
			wantAuth: testKey, wantUniqueID: "u-1"},
		{name: "key merely starting with bearer", key: "bearer" + testKey, uniqueID: "u-1", videoNo: "VI1",
			wantAuth: "bearer" + testKey, wantUniqueID: "u-1"},
		{name: "query escaped", key: testKey, uniqueID: "a b&c=d/é", videoNo: "VI 1?x=y#z",
			wantAuth: testKey, wantUniqueID: "a b&c=d/é"},
		{name: "empty unique id sends default", key: testKey, uniqueID: "", videoNo: "VI1",
			wantAuth: testKey, wantUniqueID: "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, _ := setup(t)
			var got *http.Request
			mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
				got = r.Clone(context.Background())
				fmt.Fprint(w, vendorExample)
			})
			v, err := client.GetMetadata(context.Background(), tt.key, memories.VideoRef{UniqueID: tt.uniqueID, VideoNo: tt.videoNo})
			if err != nil {
				t.Fatalf("GetMetadata: got error %v; want none", err)
			}
			if !reflect.DeepEqual(v, vendorVideo()) {
				t.Errorf("GetMetadata:\ngot  %s\nwant %s", dump(v), dump(vendorVideo()))
			}
			if got == nil {
				t.Fatal("handler was not called")
			}
			if got.Method != http.MethodGet {
				t.Errorf("method: got %s; want GET", got.Method)
			}
			if got.URL.Path != path {
				t.Errorf("path: got %q; want %q", got.URL.Path, path)
			}
			wantQuery := url.Values{"video_no": {tt.videoNo}, "unique_id": {tt.wantUniqueID}}
			if q := got.URL.Query(); !reflect.DeepEqual(q, wantQuery) {
				t.Errorf("query: got %v; want %v", q, wantQuery)
			}
			for h, want := range map[string]string{
				"Authorization": tt.wantAuth, "Accept": "application/json", "User-Agent": "memories-graphql/1",
			} {
				if g := got.Header.Get(h); g != want {
					t.Errorf("header %s: got %q; want %q", h, g, want)
				}
			}
		})
	}
}

func TestGetMetadataBasePathPrefix(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	mux.HandleFunc("/proxy"+path, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, ok(`{"video_no":"VI1"}`))
	})
	client, err := memories.NewClient(srv.URL + "/proxy/")
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	v, err := client.GetMetadata(context.Background(), testKey, memories.VideoRef{UniqueID: "default", VideoNo: "VI1"})
	if err != nil || v == nil || v.VideoNo != "VI1" {
		t.Fatalf("GetMetadata: got %v, %v; want video VI1", v, err)
	}
}

func TestGetMetadataNotFound(t *testing.T) {
	client, mux, _ := setup(t)
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html") // ignored: only the body counts
		fmt.Fprint(w, `{"code":"0000","msg":"success","data":null,"success":true,"failed":false}`)
	})
	v, err := client.GetMetadata(context.Background(), testKey, memories.VideoRef{UniqueID: "default", VideoNo: "VI-missing"})
	if v != nil || err != nil {
		t.Fatalf("GetMetadata: got %v, %v; want nil, nil", v, err)
	}
}

func TestGetMetadataLocalValidation(t *testing.T) {
	tests := []struct {
		name, key, videoNo string
		want               memories.Kind
	}{
		{"empty key", "", "VI1", memories.KindUnauthenticated},
		{"blank key", "   ", "VI1", memories.KindUnauthenticated},
		{"bearer only", "Bearer ", "VI1", memories.KindUnauthenticated},
		{"key with control characters", testKey + "\r\nX-Injected: 1", "VI1", memories.KindUnauthenticated},
		{"empty video_no", testKey, " ", memories.KindBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, serverURL := setup(t)
			var calls atomic.Int32
			mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
			v, err := client.GetMetadata(context.Background(), tt.key, memories.VideoRef{UniqueID: "default", VideoNo: tt.videoNo})
			var e *memories.Error
			if v != nil || !errors.As(err, &e) || e.Kind != tt.want {
				t.Fatalf("GetMetadata: got %v, %v; want *Error of kind %v", v, err, tt.want)
			}
			if got := calls.Load(); got != 0 {
				t.Errorf("upstream calls: got %d; want 0", got)
			}
			checkRedacted(t, err, serverURL)
		})
	}
}

// TestGetMetadataAnswers replays every ParseResponse case over real HTTP.
func TestGetMetadataAnswers(t *testing.T) {
	for _, tc := range parseCases {
		if tc.status < 200 {
			continue // net/http cannot send an informational status as the final answer
		}
		t.Run(tc.name, func(t *testing.T) {
			client, mux, serverURL := setup(t)
			mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
				for k, vs := range tc.header() {
					w.Header()[k] = vs
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			got, err := client.GetMetadata(context.Background(), testKey, memories.VideoRef{UniqueID: "default", VideoNo: "VI1"})
			checkRedacted(t, err, serverURL)
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("GetMetadata: got error %v; want none", err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("GetMetadata:\ngot  %s\nwant %s", dump(got), dump(tc.want))
				}
				return
			}
			if got != nil {
				t.Errorf("GetMetadata: got video %s alongside an error; want nil", dump(got))
			}
			checkError(t, err, tc)
		})
	}
}

func TestGetMetadataRedactsEchoes(t *testing.T) {
	client, mux, serverURL := setup(t)
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		// A misbehaving upstream that quotes the key and its own URL.
		msg := "invalid key " + r.Header.Get("Authorization") + " at " + serverURL + r.URL.String()
		fmt.Fprintf(w, `{"code":"9009","msg":%q}`, msg)
	})
	_, err := client.GetMetadata(context.Background(), testKey, memories.VideoRef{UniqueID: "default", VideoNo: "VI1"})
	var e *memories.Error
	if !errors.As(err, &e) || e.Kind != memories.KindUnauthenticated {
		t.Fatalf("GetMetadata: got %v; want KindUnauthenticated", err)
	}
	checkRedacted(t, err, serverURL)
	if strings.Contains(e.Message, testKey) {
		t.Errorf("Message: got %q; want the key redacted", e.Message)
	}
}

func TestGetMetadataBodyCap(t *testing.T) {
	body := ok(`{"video_no":"VI1","video_name":"` + strings.Repeat("x", 200) + `"}`)
	tests := []struct {
		name    string
		max     int64
		status  int
		wantErr bool
	}{
		{"under cap", int64(len(body)) + 1, 200, false},
		{"exactly at cap", int64(len(body)), 200, false},
		{"one byte over", int64(len(body)) - 1, 200, true},
		{"far over", 64, 200, true},
		{"over on rate limit", 64, 429, true},
	}
	for _, tt := range tests {
		// With a Content-Length the client reads into a buffer of that
		// size; streamed (chunked), it grows one as it reads.
		for _, streamed := range []bool{false, true} {
			name := tt.name
			if streamed {
				name += ", streamed"
			}
			t.Run(name, func(t *testing.T) {
				client, mux, serverURL := setup(t, memories.WithMaxBodyBytes(tt.max))
				mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(tt.status)
					if !streamed {
						io.WriteString(w, body)
						return
					}
					for part := range slices.Chunk([]byte(body), 100) {
						w.Write(part)
						w.(http.Flusher).Flush()
					}
				})
				v, err := client.GetMetadata(context.Background(), testKey, memories.VideoRef{UniqueID: "default", VideoNo: "VI1"})
				checkRedacted(t, err, serverURL)
				if !tt.wantErr {
					if err != nil || v == nil || len(*v.VideoName) != 200 {
						t.Fatalf("GetMetadata: got %v, %v; want the video with its 200-byte name", v, err)
					}
					return
				}
				var e *memories.Error
				if !errors.As(err, &e) || e.Kind != memories.KindUpstream || e.HTTPStatus != tt.status {
					t.Fatalf("GetMetadata: got %v; want KindUpstream with HTTP %d", err, tt.status)
				}
			})
		}
	}
}

func TestGetMetadataDefaultBodyCap(t *testing.T) {
	client, mux, serverURL := setup(t)
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		// Streams 2 MiB; the client must stop reading after 1 MiB.
		io.WriteString(w, `{"code":"0000","data":{"video_no":"VI1","video_name":"`)
		chunk := strings.Repeat("x", 64<<10)
		for range 32 {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
		io.WriteString(w, `"}}`)
	})
	_, err := client.GetMetadata(context.Background(), testKey, memories.VideoRef{UniqueID: "default", VideoNo: "VI1"})
	var e *memories.Error
	if !errors.As(err, &e) || e.Kind != memories.KindUpstream {
		t.Fatalf("GetMetadata: got %v; want KindUpstream", err)
	}
	checkRedacted(t, err, serverURL)
}

// hang blocks until the client goes away, like an upstream that never answers.
func hang(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// hangMidBody sends the status line and half a body, then stalls.
func hangMidBody(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, `{"code":"0000","data":{`)
	w.(http.Flusher).Flush()
	<-r.Context().Done()
}

// call is one of the client's two upstream calls, for the tests that hold
// for both.
type call struct {
	name string // the endpoint
	path string
	op   string // how a cancellation error names the call
	// do makes the call for video VI1 and reports whether it answered
	// something (a video or a page).
	do func(ctx context.Context, c *memories.Client) (answered bool, err error)
}

var calls = []call{
	{"get_metadata", path, "get metadata", func(ctx context.Context, c *memories.Client) (bool, error) {
		v, err := c.GetMetadata(ctx, testKey, memories.VideoRef{UniqueID: "default", VideoNo: "VI1"})
		return v != nil, err
	}},
	{"list_videos", listPath, "list videos", func(ctx context.Context, c *memories.Client) (bool, error) {
		page, err := c.ListVideos(ctx, testKey, one)
		return page != nil, err
	}},
}

func TestCallTimeout(t *testing.T) {
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		callTO   time.Duration
		callerTO time.Duration // 0: no caller deadline
	}{
		{"per-call timeout before headers", hang, 100 * time.Millisecond, 0},
		{"per-call timeout mid-body", hangMidBody, 100 * time.Millisecond, 0},
		{"caller deadline before headers", hang, 10 * time.Second, 100 * time.Millisecond},
		{"caller deadline mid-body", hangMidBody, 10 * time.Second, 100 * time.Millisecond},
	}
	for _, c := range calls {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				client, mux, serverURL := setup(t, memories.WithCallTimeout(tt.callTO))
				mux.HandleFunc(c.path, consumeBody(tt.handler))
				ctx := context.Background()
				if tt.callerTO > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.callerTO)
					defer cancel()
				}
				start := time.Now()
				answered, err := c.do(ctx, client)
				if elapsed := time.Since(start); elapsed > 5*time.Second {
					t.Errorf("%s took %v; want about 100ms", c.name, elapsed)
				}
				var e *memories.Error
				if answered || !errors.As(err, &e) || e.Kind != memories.KindTimeout {
					t.Fatalf("%s: got answered %v, %v; want KindTimeout", c.name, answered, err)
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("errors.Is(err, DeadlineExceeded): got false; want true (err %v)", err)
				}
				if e.Retryable() {
					t.Errorf("Retryable: got true; want false")
				}
				checkRedacted(t, err, serverURL)
			})
		}
	}
}

func TestCallCallerCancel(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		early   bool // cancel before the call
	}{
		{"cancel while waiting for headers", hang, false},
		{"cancel mid-body", hangMidBody, false},
		{"cancelled before the call", hang, true},
	}
	for _, c := range calls {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				client, mux, serverURL := setup(t)
				var upstream atomic.Int32
				mux.HandleFunc(c.path, func(w http.ResponseWriter, r *http.Request) {
					upstream.Add(1)
					consumeBody(tt.handler)(w, r)
				})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if tt.early {
					cancel()
				} else {
					time.AfterFunc(50*time.Millisecond, cancel)
				}
				answered, err := c.do(ctx, client)
				if answered || !errors.Is(err, context.Canceled) {
					t.Fatalf("%s: got answered %v, %v; want an error wrapping context.Canceled", c.name, answered, err)
				}
				var e *memories.Error
				if errors.As(err, &e) {
					t.Errorf("%s: got *memories.Error %v; want a plain cancellation", c.name, e)
				}
				if !strings.Contains(err.Error(), c.op) {
					t.Errorf("error %q: want it to name the call (%q)", err, c.op)
				}
				if tt.early && upstream.Load() != 0 {
					t.Errorf("upstream calls: got %d; want 0", upstream.Load())
				}
				checkRedacted(t, err, serverURL)
			})
		}
	}
}

func TestCallConnectionError(t *testing.T) {
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.NotFoundHandler())
			serverURL := srv.URL
			srv.Close() // nothing listens there any more
			client, err := memories.NewClient(serverURL)
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			answered, err := c.do(context.Background(), client)
			var e *memories.Error
			if answered || !errors.As(err, &e) || e.Kind != memories.KindUpstream {
				t.Fatalf("%s: got answered %v, %v; want KindUpstream", c.name, answered, err)
			}
			if e.HTTPStatus != 0 || e.Err == nil {
				t.Errorf("got HTTPStatus %d, Err %v; want 0 and the cause", e.HTTPStatus, e.Err)
			}
			var ue *url.Error
			if errors.As(err, &ue) {
				t.Errorf("error chain holds *url.Error %v; want it stripped", ue)
			}
			checkRedacted(t, err, serverURL)
		})
	}
}

func TestGetMetadataConnectionDropped(t *testing.T) {
	client, mux, serverURL := setup(t)
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"code":"0000","data":{`)
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	_, err := client.GetMetadata(context.Background(), testKey, memories.VideoRef{UniqueID: "default", VideoNo: "VI1"})
	var e *memories.Error
	if !errors.As(err, &e) || e.Kind != memories.KindUpstream || e.HTTPStatus != 200 {
		t.Fatalf("GetMetadata: got %v; want KindUpstream with HTTP 200", err)
	}
	checkRedacted(t, err, serverURL)
}

func TestGetMetadataConcurrent(t *testing.T) {
	client, mux, _ := setup(t)
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, ok(`{"video_no":`+fmt.Sprintf("%q", r.URL.Query().Get("video_no"))+`}`))
	})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			no := fmt.Sprintf("VI%d", i)
			v, err := client.GetMetadata(context.Background(), testKey, memories.VideoRef{UniqueID: "default", VideoNo: no})
			if err != nil || v == nil || v.VideoNo != no {
				t.Errorf("GetMetadata(%s): got %v, %v; want video %s", no, v, err, no)
			}
		})
	}
	wg.Wait()
}

func TestWithTransport(t *testing.T) {
	var used atomic.Bool
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used.Store(true)
		return http.DefaultTransport.RoundTrip(r)
	})
	client, mux, _ := setup(t, memories.WithTransport(rt), memories.WithTransport(nil))
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, vendorExample) })
	if _, err := client.GetMetadata(context.Background(), testKey, memories.VideoRef{UniqueID: "default", VideoNo: "VI1"}); err != nil {
		t.Fatalf("GetMetadata: %v", err)
	}
	if !used.Load() {
		t.Errorf("custom transport used: got false; want true")
	}
}

// The vendor's API answers in place: a redirect is an upstream error, and
// neither the call nor its key goes on to where it points.
func TestRedirectNotFollowed(t *testing.T) {
	var followed atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
		fmt.Fprint(w, vendorExample)
	}))
	t.Cleanup(elsewhere.Close)
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			client, mux, serverURL := setup(t)
			redirect := func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, elsewhere.URL+r.URL.RequestURI(), status)
			}
			mux.HandleFunc(path, redirect)
			mux.HandleFunc("/serve/api/v1/list_videos", redirect)
			_, err := client.GetMetadata(context.Background(), testKey, memories.VideoRef{VideoNo: "VI1"})
			var e *memories.Error
			if !errors.As(err, &e) || e.Kind != memories.KindUpstream || e.HTTPStatus != status {
				t.Errorf("GetMetadata: got %v; want KindUpstream with HTTP %d", err, status)
			}
			checkRedacted(t, err, serverURL)
			_, err = client.ListVideos(context.Background(), testKey, memories.ListRequest{VideoNos: []string{"VI1"}})
			if !errors.As(err, &e) || e.Kind != memories.KindUpstream || e.HTTPStatus != status {
				t.Errorf("ListVideos: got %v; want KindUpstream with HTTP %d", err, status)
			}
			if got := followed.Load(); got != 0 {
				t.Errorf("calls that followed the redirect: got %d; want 0", got)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNewClient(t *testing.T) {
	tests := []struct {
		base    string
		wantErr bool
	}{
		{"https://api.memories.ai", false},
		{"https://api.memories.ai/", false},
		{"http://127.0.0.1:8080/prefix/", false},
		{"HTTPS://API.MEMORIES.AI", false},
		{"", true},
		{"api.memories.ai", true},
		{"ftp://api.memories.ai", true},
		{"https://", true},
		{"https://:8080", true},
		{"https://api.memories.ai/?x=1", true},
		{"https://api.memories.ai/#frag", true},
		{"https://user:p%zz@host", true},
		{"://nope", true},
	}
	for _, tt := range tests {
		c, err := memories.NewClient(tt.base)
		if gotErr := err != nil; gotErr != tt.wantErr {
			t.Errorf("NewClient(%q): got error %v; want error %v", tt.base, err, tt.wantErr)
		}
		if err == nil && c == nil {
			t.Errorf("NewClient(%q): got nil client and nil error", tt.base)
		}
		if err != nil && strings.Contains(err.Error(), "://") {
			t.Errorf("NewClient(%q): error %q repeats the URL", tt.base, err)
		}
	}
}

// The client keeps one connection across answers: a whole body is read to
// its end, and the rest of one over the cap is drained, so neither closes
// the connection.
func TestConnectionReuse(t *testing.T) {
	body := ok(`{"video_no":"VI1","video_name":"` + strings.Repeat("x", 200) + `"}`)
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("video_no") == "VI2" {
			io.WriteString(w, body+strings.Repeat(" ", 1000)) // over the cap
			return
		}
		io.WriteString(w, body)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	client, err := memories.NewClient(srv.URL+"/", memories.WithMaxBodyBytes(int64(len(body))+10))
	if err != nil {
		t.Fatal(err)
	}
	for i, no := range []string{"VI1", "VI1", "VI2", "VI1", "VI2", "VI1"} {
		_, err := client.GetMetadata(context.Background(), testKey, memories.VideoRef{UniqueID: "default", VideoNo: no})
		if got, want := err != nil, no == "VI2"; got != want {
			t.Fatalf("call %d (%s): error %v; want an error: %v", i, no, err, want)
		}
	}
	if got := conns.Load(); got != 1 {
		t.Errorf("connections = %d; want 1", got)
	}
}
