package emulator_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"testing"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// decodeData decodes a sample's data keeping numbers exact.
func decodeData(t *testing.T, data []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return m
}

// has reports which of the metadata fields m holds.
func has(m map[string]any, fields ...string) []bool {
	out := make([]bool, len(fields))
	for i, f := range fields {
		_, out[i] = m[f]
	}
	return out
}

func TestSamples(t *testing.T) {
	t.Parallel()
	samples := emulator.Samples()
	byNo := map[string]map[string]any{}
	scopes := map[string]int{}
	number := regexp.MustCompile(`^VI\d{18}$`)
	for _, v := range samples {
		no, err := v.VideoNo()
		if err != nil {
			t.Fatalf("sample %s: %v", v.Data, err)
		}
		if !number.MatchString(no) {
			t.Errorf("video_no %q; want VI and 18 digits", no)
		}
		if _, dup := byNo[no]; dup {
			t.Errorf("video_no %s appears twice; want distinct numbers", no)
		}
		byNo[no] = decodeData(t, v.Data)
		scopes[v.UniqueID]++
	}
	if scopes["default"] < 18 || scopes["default"] > 24 || scopes["team-a"] < 2 {
		t.Errorf("samples per unique_id = %v; want about 20 default and a few team-a", scopes)
	}

	meta := []string{"datetime_taken", "camera_model", "latitude", "longitude", "tags"}
	tests := []struct {
		no, shape string
		check     func(m map[string]any) bool
	}{
		{"VI606417322871980032", "PARSE with full metadata", func(m map[string]any) bool {
			return m["status"] == "PARSE" && !slices.Contains(has(m, meta...), false)
		}},
		{"VI606421908815474688", "PARSE without location", func(m map[string]any) bool {
			return m["status"] == "PARSE" && slices.Equal(has(m, meta...), []bool{true, true, false, false, true})
		}},
		{"VI606430011623407616", "PARSE without metadata", func(m map[string]any) bool {
			return m["status"] == "PARSE" && !slices.Contains(has(m, meta...), true)
		}},
		{"VI606445877129277440", "UNPARSE, basic fields only", func(m map[string]any) bool {
			return m["status"] == "UNPARSE" && !slices.Contains(has(m, meta...), true) && !has(m, "cause")[0]
		}},
		{"VI606452360917680128", "FAILED with cause", func(m map[string]any) bool {
			return m["status"] == "FAILED" && m["cause"] != nil && m["cause"] != ""
		}},
		{"VI606458712345059328", "size above 4 GiB", func(m map[string]any) bool {
			return m["size"] == json.Number("5000000014")
		}},
		{"VI606463390001233920", "Japanese and emoji name", func(m map[string]any) bool {
			return m["video_name"] == "隅田川花火大会 🎆 2025"
		}},
		{"VI606467019554648064", "accented name", func(m map[string]any) bool {
			return m["video_name"] == "Fête de la Musique à Montréal — café crème ☕"
		}},
		{"VI606470125566271488", "legacy strings", func(m map[string]any) bool {
			return m["duration"] == "95" && m["size"] == "20971520" && m["create_time"] == "1690000000000" &&
				m["cause"] == "null" && m["status"] == "FAIL"
		}},
		{"VI606474508270374912", "PARSE_ERROR", func(m map[string]any) bool { return m["status"] == "PARSE_ERROR" }},
		{"VI606478990442889216", "ERROR", func(m map[string]any) bool { return m["status"] == "ERROR" }},
		{"VI606483214579376128", "unknown status", func(m map[string]any) bool { return m["status"] == "TRANSCODING" }},
		{"VI606487652891238400", "latitude without longitude", func(m map[string]any) bool {
			return slices.Equal(has(m, "latitude", "longitude"), []bool{true, false})
		}},
	}
	for _, tt := range tests {
		m, ok := byNo[tt.no]
		if !ok {
			t.Errorf("no sample %s (%s)", tt.no, tt.shape)
			continue
		}
		if !tt.check(m) {
			t.Errorf("sample %s = %v; want %s", tt.no, m, tt.shape)
		}
	}
	for no, m := range byNo {
		label, _ := m["resolution_label"].(string)
		if !slices.Contains([]string{"720P", "1080P", "4K", ""}, label) {
			t.Errorf("sample %s resolution_label = %q; want 720P, 1080P or 4K", no, label)
		}
	}
}

func TestSamplesVendorExampleExact(t *testing.T) {
	t.Parallel()
	for _, v := range emulator.Samples() {
		if no, _ := v.VideoNo(); no == vendorNo {
			if got := string(v.Data); got != vendorData || v.UniqueID != "default" {
				t.Errorf("vendor sample = %q %s; want \"default\" %s", v.UniqueID, got, vendorData)
			}
			return
		}
	}
	t.Errorf("no sample %s", vendorNo)
}

func TestSamplesAreFreshCopies(t *testing.T) {
	t.Parallel()
	first := emulator.Samples()
	first[0].Data[2] = 'X'
	first[1] = emulator.Video{}
	second := emulator.Samples()
	if no, err := second[0].VideoNo(); err != nil || no != vendorNo {
		t.Errorf("second Samples()[0] = %s, %v; want %s unchanged", no, err, vendorNo)
	}
	if _, err := second[1].VideoNo(); err != nil {
		t.Errorf("second Samples()[1]: %v; want a valid video", err)
	}
}

func TestParseVideos(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		wantErr  bool
		want     []emulator.Video
	}{
		{"compacts data", `[{"unique_id":"x","data":{ "video_no" : "VI1" , "n": 1.50 }}]`, false,
			[]emulator.Video{{UniqueID: "x", Data: json.RawMessage(`{"video_no":"VI1","n":1.50}`)}}},
		{"empty", `[]`, false, []emulator.Video{}},
		{"not an array", `{}`, true, nil},
		{"missing data", `[{"unique_id":"x"}]`, true, nil},
		{"null data", `[{"data":null}]`, true, nil},
		{"no video_no", `[{"data":{"video_name":"x"}}]`, true, nil},
		{"empty video_no", `[{"data":{"video_no":""}}]`, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := emulator.ParseVideos([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseVideos(%s) error = %v; want error: %v", tt.in, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("ParseVideos(%s) = %d videos; want %d", tt.in, len(got), len(tt.want))
			}
			for i := range got {
				if got[i].UniqueID != tt.want[i].UniqueID || string(got[i].Data) != string(tt.want[i].Data) {
					t.Errorf("video %d = %q %s; want %q %s", i, got[i].UniqueID, got[i].Data, tt.want[i].UniqueID, tt.want[i].Data)
				}
			}
		})
	}
}
