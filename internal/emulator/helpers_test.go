package emulator_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// vendorNo is the video of the vendor page's example.
const vendorNo = "VI606404158946574336"

// vendorData is the vendor page's example data object, compacted.
const vendorData = `{"video_no":"VI606404158946574336","video_name":"182082-867762198_tiny","duration":12,"size":3284512,"status":"PARSE","create_time":1754037217992,"resolution_label":"720P","fps":30,"width":1280,"height":720,"datetime_taken":1729388400000,"camera_model":"Canon EOS 5D","latitude":39.9042,"longitude":116.4074,"tags":["holiday","beijing","api"]}`

// noAuth asks the client helpers to send no Authorization header at all.
const noAuth = "<no Authorization header>"

// start starts an emulator for the test and closes it when the test ends.
func start(t *testing.T, opts emulator.Options) *emulator.Server {
	t.Helper()
	s, err := emulator.Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// client talks to one emulator over real HTTP.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

// newClient returns a client for base with its own connection pool. With
// keepAlive false every request uses a fresh connection, which keeps Go's
// transport from silently retrying a GET whose reused connection was reset.
func newClient(t *testing.T, base string, keepAlive bool) *client {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: !keepAlive}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{t: t, base: base, hc: &http.Client{Transport: tr, Timeout: 20 * time.Second}}
}

// response is a raw HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// envelope is the vendor's response envelope, with data kept raw.
type envelope struct {
	Code    string          `json:"code"`
	Msg     string          `json:"msg"`
	Data    json.RawMessage `json:"data"`
	Success bool            `json:"success"`
	Failed  bool            `json:"failed"`
}

// request sends method to the endpoint with the raw query string and, unless
// auth is noAuth, that Authorization header value.
func (c *client) request(ctx context.Context, method, auth, query string) (response, error) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, c.base+emulator.MetadataPath+"?"+query, nil)
	if err != nil {
		c.t.Fatalf("NewRequest: %v", err)
	}
	if auth != noAuth {
		req.Header.Set("Authorization", auth)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: res.StatusCode, header: res.Header, body: body}, nil
}

// get sends a GET that must get an HTTP answer.
func (c *client) get(auth, query string) response {
	c.t.Helper()
	res, err := c.request(context.Background(), http.MethodGet, auth, query)
	if err != nil {
		c.t.Fatalf("GET ?%s: %v", query, err)
	}
	return res
}

// getEnvelope sends a GET that must be answered with a JSON envelope.
func (c *client) getEnvelope(auth, query string) (response, envelope) {
	c.t.Helper()
	res := c.get(auth, query)
	return res, decodeEnvelope(c.t, res)
}

// decodeEnvelope checks that res is a JSON envelope and decodes it.
func decodeEnvelope(t *testing.T, res response) envelope {
	t.Helper()
	if got := res.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q; want application/json", got)
	}
	var env envelope
	if err := json.Unmarshal(res.body, &env); err != nil {
		t.Fatalf("decode %q: %v", res.body, err)
	}
	return env
}

// wantError checks an error envelope.
func wantError(t *testing.T, res response, env envelope, status int, code, msgPart string) {
	t.Helper()
	if res.status != status {
		t.Errorf("HTTP status = %d; want %d", res.status, status)
	}
	if env.Code != code {
		t.Errorf("code = %q; want %q", env.Code, code)
	}
	if !strings.Contains(env.Msg, msgPart) {
		t.Errorf("msg = %q; want it to contain %q", env.Msg, msgPart)
	}
	if string(env.Data) != "null" || env.Success || !env.Failed {
		t.Errorf("data, success, failed = %s, %v, %v; want null, false, true", env.Data, env.Success, env.Failed)
	}
}

// wantFound checks a 0000 answer and returns its raw data.
func wantFound(t *testing.T, res response, env envelope) string {
	t.Helper()
	if res.status != http.StatusOK || env.Code != "0000" || env.Msg != "success" || !env.Success || env.Failed {
		t.Errorf("status, code, msg, success, failed = %d, %q, %q, %v, %v; want 200, \"0000\", \"success\", true, false",
			res.status, env.Code, env.Msg, env.Success, env.Failed)
	}
	return string(env.Data)
}

// videoName returns data's video_name, or "null" for null data.
func videoName(t *testing.T, data string) string {
	t.Helper()
	if data == "null" {
		return "null"
	}
	var v struct {
		Name string `json:"video_name"`
	}
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		t.Fatalf("decode data %s: %v", data, err)
	}
	return v.Name
}

// video builds a Video from its number and name.
func video(uniqueID, no, name string) emulator.Video {
	data, err := json.Marshal(map[string]any{"video_no": no, "video_name": name, "status": "PARSE"})
	if err != nil {
		panic(err)
	}
	return emulator.Video{UniqueID: uniqueID, Data: data}
}
