package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/playground"
)

// 100 aliases over 10 distinct videos, plus a videos list repeating them, make
// exactly 10 upstream calls.
func TestDeduplicatesWithinAQuery(t *testing.T) {
	vs, nos := testVideos(10)
	h := setup(t, emulator.Options{Videos: vs}, fast)

	var q strings.Builder
	q.WriteString("query {")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&q, " a%d: video(videoNo: %q) { videoNo videoName }", i, nos[i%10])
	}
	q.WriteString(` list: videos(videoNos: $nos) { videoNo size } }`)
	query := strings.Replace(q.String(), "query {", "query($nos: [ID!]!) {", 1)
	repeated := append(append([]string{}, nos...), nos...)

	resp := h.query(t, query, map[string]any{"nos": repeated})
	if len(resp.Errors) > 0 {
		t.Fatalf("errors: %+v", resp.Errors)
	}
	for i := 0; i < 100; i++ {
		v := decodeVideo(t, resp.Data[fmt.Sprintf("a%d", i)])
		if v == nil || v.VideoNo != nos[i%10] || v.VideoName != fmt.Sprintf("clip-%d", i%10) {
			t.Errorf("a%d = %+v; want video %s named clip-%d", i, v, nos[i%10], i%10)
		}
	}
	list := decodeVideos(t, resp.Data["list"])
	if got, want := len(list), len(repeated); got != want {
		t.Fatalf("len(list) = %d; want %d", got, want)
	}
	for i, v := range list {
		if v == nil || v.VideoNo != repeated[i] || v.Size != int64(1000+i%10) {
			t.Errorf("list[%d] = %+v; want %s with size %d", i, v, repeated[i], 1000+i%10)
		}
	}
	st := h.emu.Stats()
	if got, want := st.Requests, int64(10); got != want {
		t.Errorf("upstream calls = %d; want %d", got, want)
	}
	for _, no := range nos {
		if got := st.ByVideo[no]; got != 1 {
			t.Errorf("upstream calls for %s = %d; want 1", no, got)
		}
	}
}

func TestVideosKeepsOrderWithNullForUnknown(t *testing.T) {
	vs, nos := testVideos(3)
	h := setup(t, emulator.Options{Videos: vs}, fast)
	asked := []string{nos[2], "VI000000000000000001", nos[0], nos[2], "VI000000000000000002", nos[1]}
	resp := h.query(t, `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo } }`, map[string]any{"nos": asked})
	if len(resp.Errors) > 0 {
		t.Fatalf("errors: %+v", resp.Errors)
	}
	got := decodeVideos(t, resp.Data["videos"])
	if len(got) != len(asked) {
		t.Fatalf("len(videos) = %d; want %d", len(got), len(asked))
	}
	for i, no := range asked {
		unknown := strings.HasPrefix(no, "VI0000")
		switch {
		case unknown && got[i] != nil:
			t.Errorf("videos[%d] = %+v; want null for unknown %s", i, got[i], no)
		case !unknown && (got[i] == nil || got[i].VideoNo != no):
			t.Errorf("videos[%d] = %+v; want %s", i, got[i], no)
		}
	}
	if got, want := h.emu.Stats().Requests, int64(5); got != want {
		t.Errorf("upstream calls = %d; want %d (distinct ids)", got, want)
	}
}

// The vendor page's example, through the whole stack.
func TestVendorExample(t *testing.T) {
	h := setup(t, emulator.Options{}, fast)
	resp := h.query(t, `query($no: ID!) { video(videoNo: $no) { `+allFields+` } }`, map[string]any{"no": vendorExample})
	if len(resp.Errors) > 0 {
		t.Fatalf("errors: %+v", resp.Errors)
	}
	assertJSONEqual(t, "video", resp.Data["video"], vendorExampleJSON)
}

// Every shape the upstream sends decodes right, including legacy ones.
func TestDecodesEveryShape(t *testing.T) {
	videos := map[string]string{
		"full": `{"video_no":"full","video_name":"f","duration":12,"size":3284512,"status":"PARSE","create_time":1754037217992,
			"resolution_label":"1080P","fps":60,"width":1920,"height":1080,"datetime_taken":1729388400000,"camera_model":"GoPro",
			"latitude":-33.8688,"longitude":151.2093,"tags":["a","api"]}`,
		"noLocation":   `{"video_no":"noLocation","status":"PARSE","camera_model":"iPhone","tags":["api"]}`,
		"latOnly":      `{"video_no":"latOnly","status":"PARSE","latitude":10.5}`,
		"noCapture":    `{"video_no":"noCapture","status":"PARSE","video_name":"plain"}`,
		"tagsOnly":     `{"video_no":"tagsOnly","status":"PARSE","tags":[]}`,
		"unparse":      `{"video_no":"unparse","status":"UNPARSE","video_name":"wait"}`,
		"failed":       `{"video_no":"failed","status":"FAILED","cause":"codec not supported"}`,
		"big":          `{"video_no":"big","status":"PARSE","size":5000000014}`,
		"legacy":       `{"video_no":"legacy","status":"FAIL","duration":"12","size":"5000000014","create_time":"1754037217992","cause":"null"}`,
		"parseError":   `{"video_no":"parseError","status":"PARSE_ERROR"}`,
		"error":        `{"video_no":"error","status":"ERROR"}`,
		"unknown":      `{"video_no":"unknown","status":"TRANSCODING"}`,
		"unicode":      `{"video_no":"unicode","status":"PARSE","video_name":"東京の夜 🌃 café"}`,
		"int64maxSize": `{"video_no":"int64maxSize","status":"PARSE","size":9223372036854775807}`,
	}
	want := map[string]string{
		"full": `{"videoNo":"full","videoName":"f","duration":12,"size":3284512,"status":"PARSE","rawStatus":"PARSE","cause":null,
			"createTime":"2025-08-01T08:33:37.992Z","fps":60,"width":1920,"height":1080,
			"captureMetadata":{"datetimeTaken":"2024-10-20T01:40:00.000Z","cameraModel":"GoPro","location":{"latitude":-33.8688,"longitude":151.2093},"tags":["a","api"]}}`,
		"noLocation": `{"videoNo":"noLocation","videoName":null,"duration":null,"size":null,"status":"PARSE","rawStatus":"PARSE","cause":null,"createTime":null,"fps":null,"width":null,"height":null,
			"captureMetadata":{"datetimeTaken":null,"cameraModel":"iPhone","location":null,"tags":["api"]}}`,
		"latOnly": `{"videoNo":"latOnly","videoName":null,"duration":null,"size":null,"status":"PARSE","rawStatus":"PARSE","cause":null,"createTime":null,"fps":null,"width":null,"height":null,
			"captureMetadata":{"datetimeTaken":null,"cameraModel":null,"location":null,"tags":[]}}`,
		"noCapture": `{"videoNo":"noCapture","videoName":"plain","duration":null,"size":null,"status":"PARSE","rawStatus":"PARSE","cause":null,"createTime":null,"fps":null,"width":null,"height":null,"captureMetadata":null}`,
		"tagsOnly": `{"videoNo":"tagsOnly","videoName":null,"duration":null,"size":null,"status":"PARSE","rawStatus":"PARSE","cause":null,"createTime":null,"fps":null,"width":null,"height":null,
			"captureMetadata":{"datetimeTaken":null,"cameraModel":null,"location":null,"tags":[]}}`,
		"unparse":      `{"videoNo":"unparse","videoName":"wait","duration":null,"size":null,"status":"UNPARSE","rawStatus":"UNPARSE","cause":null,"createTime":null,"fps":null,"width":null,"height":null,"captureMetadata":null}`,
		"failed":       `{"videoNo":"failed","videoName":null,"duration":null,"size":null,"status":"FAILED","rawStatus":"FAILED","cause":"codec not supported","createTime":null,"fps":null,"width":null,"height":null,"captureMetadata":null}`,
		"big":          `{"videoNo":"big","videoName":null,"duration":null,"size":5000000014,"status":"PARSE","rawStatus":"PARSE","cause":null,"createTime":null,"fps":null,"width":null,"height":null,"captureMetadata":null}`,
		"legacy":       `{"videoNo":"legacy","videoName":null,"duration":12,"size":5000000014,"status":"FAILED","rawStatus":"FAIL","cause":null,"createTime":"2025-08-01T08:33:37.992Z","fps":null,"width":null,"height":null,"captureMetadata":null}`,
		"parseError":   `{"videoNo":"parseError","videoName":null,"duration":null,"size":null,"status":"FAILED","rawStatus":"PARSE_ERROR","cause":null,"createTime":null,"fps":null,"width":null,"height":null,"captureMetadata":null}`,
		"error":        `{"videoNo":"error","videoName":null,"duration":null,"size":null,"status":"FAILED","rawStatus":"ERROR","cause":null,"createTime":null,"fps":null,"width":null,"height":null,"captureMetadata":null}`,
		"unknown":      `{"videoNo":"unknown","videoName":null,"duration":null,"size":null,"status":"UNPARSE","rawStatus":"TRANSCODING","cause":null,"createTime":null,"fps":null,"width":null,"height":null,"captureMetadata":null}`,
		"unicode":      `{"videoNo":"unicode","videoName":"東京の夜 🌃 café","duration":null,"size":null,"status":"PARSE","rawStatus":"PARSE","cause":null,"createTime":null,"fps":null,"width":null,"height":null,"captureMetadata":null}`,
		"int64maxSize": `{"videoNo":"int64maxSize","videoName":null,"duration":null,"size":9223372036854775807,"status":"PARSE","rawStatus":"PARSE","cause":null,"createTime":null,"fps":null,"width":null,"height":null,"captureMetadata":null}`,
	}
	var emuVideos []emulator.Video
	for _, data := range videos {
		emuVideos = append(emuVideos, rawVideo("default", data))
	}
	h := setup(t, emulator.Options{Videos: emuVideos}, fast)

	const fields = `videoNo videoName duration size status rawStatus cause createTime fps width height
		captureMetadata { datetimeTaken cameraModel location { latitude longitude } tags }`
	for name := range videos {
		t.Run(name, func(t *testing.T) {
			resp := h.query(t, `query($no: ID!) { video(videoNo: $no) { `+fields+` } }`, map[string]any{"no": name})
			if len(resp.Errors) > 0 {
				t.Fatalf("errors: %+v", resp.Errors)
			}
			assertJSONEqual(t, name, resp.Data["video"], want[name])
		})
	}
}

// Decoding must keep 64-bit sizes exact in the JSON text itself, not only
// after a float64 round trip in the test's own decoder.
func TestSizeStaysExactOnTheWire(t *testing.T) {
	h := setup(t, emulator.Options{Videos: []emulator.Video{rawVideo("default", `{"video_no":"big","status":"PARSE","size":5000000014}`)}}, fast)
	resp := h.query(t, `{ video(videoNo: "big") { size } }`, nil)
	if got, want := string(resp.Data["video"]), `{"size":5000000014}`; got != want {
		t.Errorf("video = %s; want %s", got, want)
	}
}

func TestUniqueIDScopesVideos(t *testing.T) {
	h := setup(t, emulator.Options{Videos: []emulator.Video{
		rawVideo("team-a", `{"video_no":"VI1","video_name":"team a's","status":"PARSE"}`),
		rawVideo("default", `{"video_no":"VI1","video_name":"default's","status":"PARSE"}`),
	}}, fast)
	resp := h.query(t, `{ d: video(videoNo: "VI1") { videoName uniqueId } a: video(videoNo: "VI1", uniqueId: "team-a") { videoName uniqueId } b: video(videoNo: "VI1", uniqueId: "team-b") { videoName } }`, nil)
	assertJSONEqual(t, "d", resp.Data["d"], `{"videoName":"default's","uniqueId":"default"}`)
	assertJSONEqual(t, "a", resp.Data["a"], `{"videoName":"team a's","uniqueId":"team-a"}`)
	assertJSONEqual(t, "b", resp.Data["b"], `null`)
	if got, want := h.emu.Stats().Requests, int64(3); got != want {
		t.Errorf("upstream calls = %d; want %d (uniqueId is part of the key)", got, want)
	}
}

// A video that answers HTTP 500, one that hangs, and the other upstream
// faults each give one error on their own path; the others have data.
func TestUpstreamFaultsArePerVideo(t *testing.T) {
	vs, nos := testVideos(4)
	faults := map[string]emulator.Fault{
		"http500":   {Kind: emulator.FaultHTTPError},
		"hang":      {Kind: emulator.FaultHang},
		"malformed": {Kind: emulator.FaultMalformed},
		"truncated": {Kind: emulator.FaultTruncated},
		"html":      {Kind: emulator.FaultWrongContentType},
		"reset":     {Kind: emulator.FaultReset},
		"disabled":  {Kind: emulator.FaultCode, Code: "0403", Msg: "account disabled"},
		"nopoints":  {Kind: emulator.FaultCode, Code: "0402", Msg: "insufficient points"},
	}
	wantCode := map[string]string{
		"http500": "UPSTREAM_ERROR", "hang": "UPSTREAM_TIMEOUT", "malformed": "UPSTREAM_ERROR",
		"truncated": "UPSTREAM_ERROR", "html": "UPSTREAM_ERROR", "reset": "UPSTREAM_ERROR",
		"disabled": "FORBIDDEN", "nopoints": "FORBIDDEN",
	}
	for no := range faults {
		vs = append(vs, rawVideo("default", fmt.Sprintf(`{"video_no":%q,"status":"PARSE"}`, no)))
	}
	h := setup(t, emulator.Options{Videos: vs, Faults: faults}, with(fast, "MEMORIES_CALL_TIMEOUT", "1s"))

	var q strings.Builder
	q.WriteString("{")
	for no := range faults {
		fmt.Fprintf(&q, " %s: video(videoNo: %q) { videoNo }", no, no)
	}
	for i, no := range nos {
		fmt.Fprintf(&q, " ok%d: video(videoNo: %q) { videoNo }", i, no)
	}
	q.WriteString(" }")
	resp := h.query(t, q.String(), nil)

	if got, want := len(resp.Errors), len(faults); got != want {
		t.Errorf("len(errors) = %d; want %d: %+v", got, want, resp.Errors)
	}
	errs := resp.errorsByPath()
	for no, code := range wantCode {
		e, ok := errs[no]
		if !ok {
			t.Errorf("no error at path %q", no)
			continue
		}
		if e.Code() != code {
			t.Errorf("%s: code = %q; want %q (message %q)", no, e.Code(), code, e.Message)
		}
		if string(resp.Data[no]) != "null" {
			t.Errorf("%s = %s; want null", no, resp.Data[no])
		}
		if strings.Contains(e.Message, "127.0.0.1") || strings.Contains(e.Message, "http") {
			t.Errorf("%s: message %q leaks an upstream address", no, e.Message)
		}
	}
	for i, no := range nos {
		if v := decodeVideo(t, resp.Data[fmt.Sprintf("ok%d", i)]); v == nil || v.VideoNo != no {
			t.Errorf("ok%d = %+v; want %s", i, v, no)
		}
	}
}

// A failure inside a videos list sits at its index; the rest of the list
// answers.
func TestFaultInListIsAtItsIndex(t *testing.T) {
	vs, nos := testVideos(3)
	h := setup(t, emulator.Options{Videos: vs, Faults: map[string]emulator.Fault{nos[1]: {Kind: emulator.FaultHTTPError}}}, fast)
	resp := h.query(t, `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo } }`, map[string]any{"nos": nos})
	if len(resp.Errors) != 1 || resp.Errors[0].PathString() != "videos.1" || resp.Errors[0].Code() != "UPSTREAM_ERROR" {
		t.Fatalf("errors = %+v; want one UPSTREAM_ERROR at videos.1", resp.Errors)
	}
	got := decodeVideos(t, resp.Data["videos"])
	if len(got) != 3 || got[0] == nil || got[1] != nil || got[2] == nil {
		t.Errorf("videos = %s; want [data, null, data]", resp.Data["videos"])
	}
}

// The vendor's 0001 "network abnormal" is retried; a one-off goes unseen.
func TestTransient0001IsRetried(t *testing.T) {
	vs, nos := testVideos(1)
	h := setup(t, emulator.Options{Videos: vs, Faults: map[string]emulator.Fault{
		nos[0]: {Kind: emulator.FaultCode, Code: "0001", Msg: "network abnormal", Times: 1},
	}}, fast)
	resp := h.query(t, `query($no: ID!) { video(videoNo: $no) { videoNo } }`, map[string]any{"no": nos[0]})
	if len(resp.Errors) > 0 {
		t.Fatalf("errors: %+v", resp.Errors)
	}
	if got, want := h.emu.RequestsFor(nos[0]), int64(2); got != want {
		t.Errorf("upstream calls = %d; want %d (one failure, one retry)", got, want)
	}
}

func TestBadInputMakesNoUpstreamCall(t *testing.T) {
	h := setup(t, emulator.Options{}, with(fast, "MAX_VIDEOS_PER_QUERY", "5"))
	tests := []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"empty videoNo", `{ video(videoNo: "") { videoNo } }`, nil},
		{"blank videoNo", `{ video(videoNo: " \t") { videoNo } }`, nil},
		{"blank uniqueId", `{ video(videoNo: "VI1", uniqueId: " ") { videoNo } }`, nil},
		{"empty uniqueId", `{ video(videoNo: "VI1", uniqueId: "") { videoNo } }`, nil},
		{"empty in list", `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo } }`, map[string]any{"nos": []string{"VI1", ""}}},
		{"empty uniqueId on list", `{ videos(videoNos: ["VI1"], uniqueId: "") { videoNo } }`, nil},
		{"list over the limit", `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo } }`, map[string]any{"nos": []string{"1", "2", "3", "4", "5", "6"}}},
		{"aliases over the limit", `{ a: video(videoNo: "1") { videoNo } b: video(videoNo: "2") { videoNo } c: videos(videoNos: ["3", "4", "5", "6"]) { videoNo } }`, nil},
		{"over the limit through a fragment", `{ ...F a: video(videoNo: "9") { videoNo } } fragment F on Query { videos(videoNos: ["1","2","3","4","5"]) { videoNo } }`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.query(t, tt.query, tt.vars)
			if len(resp.Errors) != 1 || resp.Errors[0].Code() != "BAD_USER_INPUT" {
				t.Errorf("errors = %+v; want one BAD_USER_INPUT", resp.Errors)
			}
		})
	}
	if got := h.emu.Stats().Requests; got != 0 {
		t.Errorf("upstream calls = %d; want 0", got)
	}
	// The limit is inclusive: exactly MAX_VIDEOS_PER_QUERY is fine.
	resp := h.query(t, `{ videos(videoNos: ["1","2","3","4","5"]) { videoNo } }`, nil)
	if len(resp.Errors) > 0 {
		t.Errorf("5 videos with a limit of 5: errors %+v; want none", resp.Errors)
	}
}

// Two keys in pass-through mode, queried concurrently, never see each
// other's data; a missing or wrong key is UNAUTHENTICATED and never echoed.
func TestPassThroughKeysAreIsolated(t *testing.T) {
	const keyA, keyB, wrong = "sk-alpha-4f1c", "sk-bravo-93de", "sk-wrong-0000"
	h := setup(t, emulator.Options{
		Keys:   []string{keyA, keyB},
		Videos: []emulator.Video{},
		AccountVideos: map[string][]emulator.Video{
			keyA: {rawVideo("default", `{"video_no":"VI1","video_name":"alpha","status":"PARSE"}`)},
			keyB: {rawVideo("default", `{"video_no":"VI1","video_name":"bravo","status":"PARSE"}`),
				rawVideo("default", `{"video_no":"VI2","video_name":"bravo only","status":"PARSE"}`)},
		},
	}, passThrough)

	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		key, name, other := keyA, "alpha", "null"
		if i%2 == 1 {
			key, name, other = keyB, "bravo", `{"videoName":"bravo only"}`
		}
		auth := key
		if i%4 == 3 {
			auth = "Bearer " + key // a common client habit
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := h.query(t, `{ one: video(videoNo: "VI1") { videoName } two: video(videoNo: "VI2") { videoName } }`, nil, "Authorization", auth)
			if len(resp.Errors) > 0 {
				t.Errorf("key %d: errors %+v", i%2, resp.Errors)
				return
			}
			if got, want := string(resp.Data["one"]), fmt.Sprintf(`{"videoName":%q}`, name); got != want {
				t.Errorf("request %d: one = %s; want %s", i, got, want)
			}
			if got := string(resp.Data["two"]); got != other {
				t.Errorf("request %d: two = %s; want %s", i, got, other)
			}
		}()
	}
	wg.Wait()

	var hint struct{ Authorization string }
	if err := json.Unmarshal([]byte(playground.DefaultHeaders), &hint); err != nil || hint.Authorization == "" {
		t.Fatalf("playground.DefaultHeaders = %s; want an Authorization hint", playground.DefaultHeaders)
	}
	for _, tt := range []struct{ name, auth string }{
		{"missing", ""}, {"wrong", wrong}, {"bearer only", "Bearer "}, {"the playground's placeholder", hint.Authorization},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := h.emu.Stats().Requests
			var headers []string
			if tt.auth != "" {
				headers = []string{"Authorization", tt.auth}
			}
			resp := h.query(t, `{ video(videoNo: "VI1") { videoName } }`, nil, headers...)
			if len(resp.Errors) != 1 || resp.Errors[0].Code() != "UNAUTHENTICATED" {
				t.Fatalf("errors = %+v; want one UNAUTHENTICATED", resp.Errors)
			}
			if strings.Contains(resp.Raw, wrong) || strings.Contains(resp.Raw, keyA) {
				t.Errorf("response echoes a key: %s", resp.Raw)
			}
			calls := h.emu.Stats().Requests - before
			if tt.auth != wrong && calls != 0 {
				t.Errorf("upstream calls without a key = %d; want 0", calls)
			}
		})
	}
}

// A body that is not JSON is the client's mistake, said plainly, not an
// internal error.
func TestMalformedBodyIsBadRequest(t *testing.T) {
	h := setup(t, emulator.Options{}, fast)
	for _, body := range []string{"{\"query\": \"{\n}\"}", "not json", strings.Repeat("x", 2<<20)} {
		resp := postBody(t, h.url, []byte(body))
		if len(resp.Errors) != 1 || resp.Errors[0].Code() != "BAD_REQUEST" {
			t.Errorf("body %.20q: errors = %+v; want one BAD_REQUEST", body, resp.Errors)
		}
		if resp.Status < 400 || resp.Status >= 500 {
			t.Errorf("body %.20q: HTTP %d; want 4xx", body, resp.Status)
		}
	}
}
