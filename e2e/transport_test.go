package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

func TestGETQuery(t *testing.T) {
	h := setup(t, emulator.Options{}, fast)
	q := url.Values{"query": {`{ video(videoNo: "` + vendorExample + `") { videoName } }`}}
	res := httpGet(t, h.url+"?"+q.Encode())
	var got struct {
		Data       json.RawMessage `json:"data"`
		Extensions map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(res.body), &got); err != nil {
		t.Fatalf("GET /query = %s: %v", res.body, err)
	}
	if want := `{"video":{"videoName":"182082-867762198_tiny"}}`; string(got.Data) != want {
		t.Errorf("GET /query data = %s; want %s", got.Data, want)
	}
	if _, ok := got.Extensions["cost"]; !ok || len(got.Extensions) != 1 {
		t.Errorf("GET /query extensions = %v; want cost alone", got.Extensions)
	}
}

// Answers depend on the caller's key: no HTTP cache may keep them, whatever
// the method, the outcome or the mode.
func TestQueryAnswersAreNotStored(t *testing.T) {
	h := setup(t, emulator.Options{}, fast)
	pass := setup(t, emulator.Options{}, passThrough)
	q := `{ video(videoNo: "` + vendorExample + `") { videoName } }`
	for _, tt := range []struct {
		name   string
		header func() http.Header
	}{
		{"GET", func() http.Header { return httpGet(t, h.url+"?"+url.Values{"query": {q}}.Encode()).Header }},
		{"POST", func() http.Header { return h.query(t, q, nil).Header }},
		{"POST without a key in pass-through", func() http.Header { return pass.query(t, q, nil).Header }},
		{"bad request", func() http.Header { return postBody(t, h.url, []byte("{")).Header }},
	} {
		if got, want := tt.header().Get("Cache-Control"), "no-store"; got != want {
			t.Errorf("%s: Cache-Control = %q; want %q", tt.name, got, want)
		}
	}
}

func TestAutomaticPersistedQueries(t *testing.T) {
	h := setup(t, emulator.Options{}, fast)
	query := `{ video(videoNo: "` + vendorExample + `") { videoName } }`
	sum := sha256.Sum256([]byte(query))
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}

	post := func(withQuery bool) response {
		body := map[string]any{"extensions": ext}
		if withQuery {
			body["query"] = query
		}
		return postBody(t, h.url, mustJSON(body))
	}
	if r := post(false); len(r.Errors) != 1 || r.Errors[0].Code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Errorf("hash only, unknown: %s; want PERSISTED_QUERY_NOT_FOUND", r.Raw)
	}
	if r := post(true); len(r.Errors) != 0 {
		t.Errorf("hash with query: %s; want data", r.Raw)
	}
	if r := post(false); len(r.Errors) != 0 || string(r.Data["video"]) != `{"videoName":"182082-867762198_tiny"}` {
		t.Errorf("hash only, known: %s; want data", r.Raw)
	}
}

// Every type, field, argument and enum value of the schema has a
// description: they are the docs in GraphiQL.
func TestSchemaIsDocumented(t *testing.T) {
	h := setup(t, emulator.Options{}, fast)
	resp := h.query(t, `{ __schema { types { name kind description
		fields { name description args { name description } }
		enumValues { name description } } } }`, nil)
	if len(resp.Errors) > 0 {
		t.Fatalf("errors: %+v", resp.Errors)
	}
	var schema struct {
		Types []struct {
			Name, Kind, Description string
			Fields                  []struct {
				Name, Description string
				Args              []struct{ Name, Description string }
			}
			EnumValues []struct{ Name, Description string }
		}
	}
	if err := json.Unmarshal(resp.Data["__schema"], &schema); err != nil {
		t.Fatal(err)
	}
	// Built-in scalars, and the federation machinery gqlgen generates.
	builtin := map[string]bool{"String": true, "Int": true, "Float": true, "Boolean": true, "ID": true,
		"Entity": true, "FieldSet": true, "link__Import": true, "link__Purpose": true,
		"VideoByVideoNosInput": true, "VideoByVideoNoAndUniqueIDsInput": true}
	checked := 0
	for _, ty := range schema.Types {
		if builtin[ty.Name] || strings.HasPrefix(ty.Name, "_") || strings.HasPrefix(ty.Name, "federation__") {
			continue
		}
		checked++
		if ty.Description == "" {
			t.Errorf("type %s has no description", ty.Name)
		}
		for _, f := range ty.Fields {
			if strings.HasPrefix(f.Name, "_") {
				continue // _entities and _service come from the federation spec
			}
			if f.Description == "" {
				t.Errorf("field %s.%s has no description", ty.Name, f.Name)
			}
			for _, a := range f.Args {
				if a.Description == "" {
					t.Errorf("argument %s.%s(%s) has no description", ty.Name, f.Name, a.Name)
				}
			}
		}
		for _, v := range ty.EnumValues {
			if v.Description == "" {
				t.Errorf("enum value %s.%s has no description", ty.Name, v.Name)
			}
		}
	}
	if checked < 7 {
		t.Errorf("checked %d schema types; want at least 7 (Query, Video, CaptureMetadata, GeoPoint, VideoStatus, DateTime, Int64)", checked)
	}
}

// A query whose Accept lists text/event-stream after the JSON types, as
// urql sends every query, is answered as JSON, not as an event stream;
// one that prefers the stream gets it.
func TestAcceptListingEventStreamLast(t *testing.T) {
	h := setup(t, emulator.Options{}, fast)
	body := mustJSON(map[string]any{"query": `{ video(videoNo: "VI606404158946574336") { videoNo } }`})
	for _, tt := range []struct {
		accept, want string
	}{
		{"application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed", "application/graphql-response+json"},
		{"text/event-stream", "text/event-stream"},
	} {
		resp, raw, err := post(context.Background(), h.url, body, "Accept", tt.accept)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, tt.want) {
			t.Errorf("Accept %q: Content-Type %q; want %s", tt.accept, got, tt.want)
		}
		if !strings.Contains(string(raw), "VI606404158946574336") {
			t.Errorf("Accept %q: %s; want the video", tt.accept, raw)
		}
	}
	if got := h.metric(t, `graphql_streams_opened_total{transport="sse"}`); got != 1 {
		t.Errorf("event streams opened = %v; want 1, the one that asked for it", got)
	}
}
