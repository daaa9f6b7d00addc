package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

func TestGETQuery(t *testing.T) {
	h := setup(t, emulator.Options{}, fast)
	q := url.Values{"query": {`{ video(videoNo: "` + vendorExample + `") { videoName } }`}}
	resp, err := http.Get(h.url + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if got, want := string(body), `{"data":{"video":{"videoName":"182082-867762198_tiny"}}}`; got != want {
		t.Errorf("GET /query = %s; want %s", got, want)
	}
}

// Answers depend on the caller's key: no HTTP cache may keep them, whatever
// the method, the outcome or the mode.
func TestQueryAnswersAreNotStored(t *testing.T) {
	h := setup(t, emulator.Options{}, fast)
	pass := setup(t, emulator.Options{}, passThrough)
	q := `{ video(videoNo: "` + vendorExample + `") { videoName } }`
	get := func(base string) (*http.Response, error) {
		return http.Get(base + "?" + url.Values{"query": {q}}.Encode())
	}
	body, _ := json.Marshal(map[string]string{"query": q})
	post := func(base string) (*http.Response, error) {
		return http.Post(base, "application/json", strings.NewReader(string(body)))
	}
	for _, tt := range []struct {
		name string
		do   func() (*http.Response, error)
	}{
		{"GET", func() (*http.Response, error) { return get(h.url) }},
		{"POST", func() (*http.Response, error) { return post(h.url) }},
		{"POST without a key in pass-through", func() (*http.Response, error) { return post(pass.url) }},
		{"bad request", func() (*http.Response, error) { return http.Post(h.url, "application/json", strings.NewReader("{")) }},
	} {
		resp, err := tt.do()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		resp.Body.Close()
		if got, want := resp.Header.Get("Cache-Control"), "no-store"; got != want {
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
		b, _ := json.Marshal(body)
		resp, err := http.Post(h.url, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out response
		raw, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
		out.Raw = string(raw)
		return out
	}
	if r := post(false); len(r.Errors) != 1 || r.Errors[0].code() != "PERSISTED_QUERY_NOT_FOUND" {
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
