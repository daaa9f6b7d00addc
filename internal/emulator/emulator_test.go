package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/eventually"
)

func TestVendorExample(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{})
	c := newClient(t, s.URL(), true)

	for _, auth := range []string{"sk-any", "Bearer sk-any"} {
		res, env := c.getEnvelope(auth, "video_no="+vendorNo+"&unique_id=default")
		if got := wantFound(t, res, env); got != vendorData {
			t.Errorf("data = %s; want the vendor's %s", got, vendorData)
		}
		want := `{"code":"0000","msg":"success","data":` + vendorData + `,"success":true,"failed":false}`
		if got := string(res.body); got != want {
			t.Errorf("body = %s; want %s", got, want)
		}
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{})
	c := newClient(t, s.URL(), true)

	tests := []struct {
		name, query, wantName string
	}{
		{"unique_id defaults to default", "video_no=" + vendorNo, "182082-867762198_tiny"},
		{"explicit default", "video_no=" + vendorNo + "&unique_id=default", "182082-867762198_tiny"},
		{"unknown video", "video_no=VI000000000000000000", "null"},
		{"video of another unique_id", "video_no=" + vendorNo + "&unique_id=team-a", "null"},
		{"team-a video", "video_no=VI606520198374883328&unique_id=team-a", "team-a-onboarding-walkthrough"},
		{"team-a video without unique_id", "video_no=VI606520198374883328", "null"},
		{"unicode name", "video_no=VI606463390001233920", "隅田川花火大会 🎆 2025"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, env := c.getEnvelope("key", tt.query)
			if got := videoName(t, wantFound(t, res, env)); got != tt.wantName {
				t.Errorf("video_name = %s; want %s", got, tt.wantName)
			}
		})
	}
}

func TestAuthorization(t *testing.T) {
	t.Parallel()
	restricted := start(t, emulator.Options{Keys: []string{"k1", "k2"}})
	open := start(t, emulator.Options{})

	tests := []struct {
		name       string
		server     *emulator.Server
		auth       string
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{"no header", restricted, noAuth, 401, "0401", "Unauthorized"},
		{"empty header", restricted, "", 401, "0401", "Unauthorized"},
		{"bearer without key", restricted, "Bearer ", 401, "0401", "Unauthorized"},
		{"no header, any key accepted", open, noAuth, 401, "0401", "Unauthorized"},
		{"unknown key", restricted, "k3", 200, "9009", "invalid api key"},
		{"unknown bearer key", restricted, "Bearer k3", 200, "9009", "invalid api key"},
		{"known key", restricted, "k2", 200, "0000", "success"},
		{"known bearer key", restricted, "Bearer k1", 200, "0000", "success"},
		{"lower-case bearer", restricted, "bearer k1", 200, "0000", "success"},
		{"bearer glued to the key is a key", restricted, "Bearerk1", 200, "9009", "invalid api key"},
		{"any key accepted", open, "whatever", 200, "0000", "success"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.server.URL(), true)
			res, env := c.getEnvelope(tt.auth, "video_no="+vendorNo)
			if tt.wantCode == "0000" {
				if got := wantFound(t, res, env); got != vendorData {
					t.Errorf("data = %s; want %s", got, vendorData)
				}
				return
			}
			wantError(t, res, env, tt.wantStatus, tt.wantCode, tt.wantMsg)
		})
	}
}

func TestParameters(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{})
	c := newClient(t, s.URL(), true)

	tests := []struct {
		name, query, wantMsg string
	}{
		{"no parameters", "", "video_no must not be empty"},
		{"no video_no", "unique_id=default", "video_no must not be empty"},
		{"empty video_no", "video_no=&unique_id=default", "video_no must not be empty"},
		{"blank video_no", "video_no=%20%20", "video_no must not be empty"},
		{"empty unique_id", "video_no=" + vendorNo + "&unique_id=", "unique_id must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, env := c.getEnvelope("key", tt.query)
			wantError(t, res, env, 200, "0003", tt.wantMsg)
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{})
	c := newClient(t, s.URL(), true)

	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		t.Run(method, func(t *testing.T) {
			res, err := c.request(context.Background(), method, "key", "video_no="+vendorNo)
			if err != nil {
				t.Fatalf("%s: %v", method, err)
			}
			wantError(t, res, decodeEnvelope(t, res), 405, "0003", "not allowed")
			if got := res.header.Get("Allow"); got != "GET" {
				t.Errorf("Allow = %q; want GET", got)
			}
		})
	}
}

func TestUnknownPath(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{})
	res, err := http.Get(s.URL() + "/serve/api/v1/get_metadata_typo")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("status = %d; want 404", res.StatusCode)
	}
	if got := s.Stats().Requests; got != 0 {
		t.Errorf("Requests = %d; want 0 (not the endpoint)", got)
	}
}

func TestConfiguredVideosServedByteForByte(t *testing.T) {
	t.Parallel()
	odd := `{ "video_no" : "VI100000000000000001",
	  "size": "5000000014", "duration": 12.0, "tags": null, "note": "<b>&</b>" }`
	s := start(t, emulator.Options{Videos: []emulator.Video{{Data: []byte(odd)}}})
	c := newClient(t, s.URL(), true)

	res, env := c.getEnvelope("key", "video_no=VI100000000000000001")
	if got := wantFound(t, res, env); got != odd {
		t.Errorf("data = %s; want exactly %s", got, odd)
	}
	// Videos replaces the samples entirely.
	res, env = c.getEnvelope("key", "video_no="+vendorNo)
	if got := wantFound(t, res, env); got != "null" {
		t.Errorf("sample data = %s; want null when Videos is set", got)
	}
}

func TestAccountVideos(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{
		Keys: []string{"alice", "bob"},
		AccountVideos: map[string][]emulator.Video{
			"alice": {
				video("", "VI200000000000000001", "alice-private"),
				video("", vendorNo, "alice-override"),
				video("team-a", "VI200000000000000002", "alice-team-a"),
			},
		},
	})
	s.SetVideo("bob", video("", "VI200000000000000003", "bob-added"))
	s.SetVideo("", video("", "VI200000000000000004", "shared-added"))
	s.SetVideo("", video("", "VI200000000000000005", "deleted"))
	s.DeleteVideo("", "", "VI200000000000000005")
	s.SetVideo("bob", video("", "VI200000000000000006", "bob-deleted"))
	s.DeleteVideo("bob", "default", "VI200000000000000006")
	s.DeleteVideo("alice", "", vendorNo) // alice's own: the shared one serves again
	c := newClient(t, s.URL(), true)

	tests := []struct {
		key, query, wantName string
	}{
		{"alice", "video_no=VI200000000000000001", "alice-private"},
		{"bob", "video_no=VI200000000000000001", "null"},
		{"alice", "video_no=" + vendorNo, "182082-867762198_tiny"},
		{"bob", "video_no=" + vendorNo, "182082-867762198_tiny"},
		{"alice", "video_no=VI200000000000000002&unique_id=team-a", "alice-team-a"},
		{"alice", "video_no=VI200000000000000002", "null"},
		{"bob", "video_no=VI200000000000000002&unique_id=team-a", "null"},
		{"bob", "video_no=VI200000000000000003", "bob-added"},
		{"alice", "video_no=VI200000000000000003", "null"},
		{"alice", "video_no=VI200000000000000004", "shared-added"},
		{"bob", "video_no=VI200000000000000004", "shared-added"},
		{"bob", "video_no=VI200000000000000005", "null"},
		{"bob", "video_no=VI200000000000000006", "null"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"/"+tt.query, func(t *testing.T) {
			res, env := c.getEnvelope(tt.key, tt.query)
			if got := videoName(t, wantFound(t, res, env)); got != tt.wantName {
				t.Errorf("video_name = %s; want %s", got, tt.wantName)
			}
		})
	}
}

func TestCounters(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{Keys: []string{"k1"}})
	c := newClient(t, s.URL(), true)

	c.get("k1", "video_no="+vendorNo)            // served, found
	c.get("k1", "video_no=VI000000000000000000") // served, not found
	c.get("nope", "video_no="+vendorNo)          // 9009
	c.get(noAuth, "video_no="+vendorNo)          // 0401
	c.get("k1", "video_no=")                     // 0003
	s.SetFault(vendorNo, emulator.Fault{Kind: emulator.FaultCode, Times: 1})
	c.get("k1", "video_no="+vendorNo) // faulted

	got := s.Stats()
	checks := []struct {
		name      string
		got, want int64
	}{
		{"Requests", got.Requests, 6},
		{"Served", got.Served, 2},
		{"Unauthorized", got.Unauthorized, 2},
		{"Invalid", got.Invalid, 1},
		{"Faulted", got.Faulted, 1},
		{"RateLimited", got.RateLimited, 0},
		{"ByVideo[vendor]", got.ByVideo[vendorNo], 4},
		{"ByVideo[unknown]", got.ByVideo["VI000000000000000000"], 1},
		{"ByKeyHash[k1]", got.ByKeyHash[emulator.KeyHash("k1")], 4},
		{"ByKeyHash[nope]", got.ByKeyHash[emulator.KeyHash("nope")], 1},
		{"RequestsFor(vendor)", s.RequestsFor(vendorNo), 4},
		{"RequestsFor(never)", s.RequestsFor("VI999999999999999999"), 0},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %d; want %d", ch.name, ch.got, ch.want)
		}
	}
	for k := range got.ByKeyHash {
		if k == "k1" || k == "nope" || len(k) != 64 {
			t.Errorf("ByKeyHash key %q; want a hex SHA-256, never the raw key", k)
		}
	}
	if got := s.MaxServedInWindow(time.Hour); got != 2 {
		t.Errorf("MaxServedInWindow(1h) = %d; want 2", got)
	}

	// The snapshot is a copy.
	got.ByVideo[vendorNo] = 100
	if n := s.RequestsFor(vendorNo); n != 4 {
		t.Errorf("RequestsFor after changing a snapshot = %d; want 4", n)
	}

	s.ResetCounters()
	after := s.Stats()
	if after.Requests != 0 || after.Served != 0 || len(after.ByVideo) != 0 || len(after.ByKeyHash) != 0 {
		t.Errorf("Stats after ResetCounters = %+v; want zero", after)
	}
	if got := s.MaxServedInWindow(time.Hour); got != 0 {
		t.Errorf("MaxServedInWindow after ResetCounters = %d; want 0", got)
	}
}

func TestMaxServedInWindow(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{})
	c := newClient(t, s.URL(), true)
	for range 5 {
		c.get("key", "video_no="+vendorNo)
	}
	tests := []struct {
		window time.Duration
		want   int
	}{
		{0, 0},
		{-time.Second, 0},
		{time.Hour, 5},
	}
	for _, tt := range tests {
		if got := s.MaxServedInWindow(tt.window); got != tt.want {
			t.Errorf("MaxServedInWindow(%v) = %d; want %d", tt.window, got, tt.want)
		}
	}
	if got := s.MaxServedInWindow(time.Nanosecond); got < 1 || got > 5 {
		t.Errorf("MaxServedInWindow(1ns) = %d; want between 1 and 5", got)
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{Latency: 150 * time.Millisecond})
	c := newClient(t, s.URL(), true)

	begin := time.Now()
	c.get("key", "video_no="+vendorNo)
	if got := time.Since(begin); got < 150*time.Millisecond {
		t.Errorf("answer after %v; want at least the 150ms latency", got)
	}

	// A client that gives up stops the wait; the answer is not written.
	s.SetLatency(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.request(ctx, http.MethodGet, "key", "video_no="+vendorNo); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("request with a 100ms deadline: got %v; want context.DeadlineExceeded", err)
	}

	s.SetLatency(0)
	begin = time.Now()
	c.get("key", "video_no="+vendorNo)
	if got := time.Since(begin); got > 10*time.Second {
		t.Errorf("answer after %v with latency removed; want it prompt", got)
	}
}

func TestLatencyReleasedByClose(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{Latency: time.Hour})
	c := newClient(t, s.URL(), false)

	errc := make(chan error, 1)
	go func() {
		_, err := c.request(context.Background(), http.MethodGet, "key", "video_no="+vendorNo)
		errc <- err
	}()
	eventually.True(t, "the request to arrive", func() bool { return s.Stats().Requests == 1 })
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Errorf("request released by Close: got an answer; want a dropped connection")
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("request still waiting 10s after Close")
	}
}

func TestHandlerInProcess(t *testing.T) {
	t.Parallel()
	s := emulator.New(emulator.Options{})
	t.Cleanup(func() { _ = s.Close() })
	if got := s.URL(); got != "" {
		t.Errorf("URL of a server made with New = %q; want \"\"", got)
	}

	req := httptest.NewRequest(http.MethodGet, emulator.MetadataPath+"?video_no="+vendorNo, nil)
	req.Header.Set("Authorization", "key")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	res := response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	if got := wantFound(t, res, decodeEnvelope(t, res)); got != vendorData {
		t.Errorf("data = %s; want %s", got, vendorData)
	}
}

func TestNewPanicsOnInvalidOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts emulator.Options
	}{
		{"video without video_no", emulator.Options{Videos: []emulator.Video{{Data: []byte(`{"video_name":"x"}`)}}}},
		{"numeric video_no", emulator.Options{Videos: []emulator.Video{{Data: []byte(`{"video_no":12}`)}}}},
		{"invalid JSON", emulator.Options{Videos: []emulator.Video{{Data: []byte(`{"video_no":`)}}}},
		{"array data", emulator.Options{Videos: []emulator.Video{{Data: []byte(`["VI1"]`)}}}},
		{"negative rate", emulator.Options{RateLimit: -1}},
		{"negative burst", emulator.Options{Burst: -1}},
		{"bad status", emulator.Options{RateLimitStatus: 42}},
		{"negative latency", emulator.Options{Latency: -time.Second}},
		{"unknown fault kind", emulator.Options{Faults: map[string]emulator.Fault{vendorNo: {Kind: 99}}}},
		{"empty account key", emulator.Options{AccountVideos: map[string][]emulator.Video{"": nil}}},
		{"negative list page cap", emulator.Options{ListPageCap: -1}},
		{"negative list rate", emulator.Options{ListRateLimit: -1}},
		{"NaN list rate", emulator.Options{ListRateLimit: math.NaN()}},
		{"negative list burst", emulator.Options{ListBurst: -1}},
		{"unknown list fault kind", emulator.Options{ListFaults: map[string]emulator.Fault{vendorNo: {Kind: 99}}}},
		{"list fault without video", emulator.Options{ListFaults: map[string]emulator.Fault{"": {Kind: emulator.FaultCode}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("New did not panic; want a panic for invalid options")
				}
			}()
			emulator.New(tt.opts)
		})
		t.Run(tt.name+"/Start", func(t *testing.T) {
			s, err := emulator.Start(tt.opts)
			if err == nil {
				s.Close()
				t.Fatalf("Start: got nil error; want one for invalid options")
			}
			if !strings.Contains(err.Error(), "invalid options") {
				t.Errorf("Start error = %v; want it to mention invalid options", err)
			}
		})
	}
}

func TestSetVideoPanicsOnInvalidData(t *testing.T) {
	t.Parallel()
	s := emulator.New(emulator.Options{})
	defer func() {
		if recover() == nil {
			t.Errorf("SetVideo did not panic; want a panic for data without video_no")
		}
	}()
	s.SetVideo("", emulator.Video{Data: []byte(`{}`)})
}

func TestStartListenError(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{})
	addr := strings.TrimPrefix(s.URL(), "http://")
	if _, err := emulator.Start(emulator.Options{Addr: addr}); err == nil {
		t.Errorf("Start on a busy address %s: got nil error; want one", addr)
	}
}

// A video with a Then is served as Data until After has passed since it was
// first asked for, by either call, and as Then afterwards.
func TestVideoThatChanges(t *testing.T) {
	t.Parallel()
	const no = "VI606531877412306944"
	const after = 300 * time.Millisecond
	s := start(t, emulator.Options{Videos: []emulator.Video{{
		Data:  json.RawMessage(`{"video_no":"` + no + `","video_name":"before","status":"UNPARSE"}`),
		Then:  json.RawMessage(`{"video_no":"` + no + `","video_name":"after","status":"PARSE"}`),
		After: emulator.Duration(after),
	}}})
	c := newClient(t, s.URL(), true)
	name := func() string {
		res, env := c.getEnvelope("key", "video_no="+no)
		return videoName(t, wantFound(t, res, env))
	}
	start := time.Now()
	if got := name(); got != "before" && time.Since(start) < after {
		t.Fatalf("first look: video_name %s; want before", got)
	}
	time.Sleep(after + 50*time.Millisecond)
	if got := name(); got != "after" {
		t.Errorf("after %v: video_name %s; want after", after, got)
	}

	// A Then must name the same video.
	if _, err := emulator.Start(emulator.Options{Videos: []emulator.Video{{
		Data: json.RawMessage(`{"video_no":"VI1"}`), Then: json.RawMessage(`{"video_no":"VI2"}`),
	}}}); err == nil {
		t.Error("Start with a Then of another video_no: nil error; want one")
	}
}
