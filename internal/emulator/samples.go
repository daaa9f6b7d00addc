package emulator

import (
	"bytes"
	_ "embed" // for the sample fixtures
	"encoding/json"
	"errors"
	"fmt"
)

// samplesJSON holds the sample videos served when Options.Videos is nil.
//
// The file is a JSON array of {"unique_id": ..., "data": {...}} objects in
// the format ParseVideos reads (with "then" and "after" for videos that
// change). JSON has no comments, so each sample's
// purpose is listed here; tests and the playground refer to these numbers.
//
//	video_no              unique_id  shape
//	VI606404158946574336  default    the vendor page's example, field for field and in the same order
//	VI606417322871980032  default    PARSE, full metadata at another place (Lisbon, negative longitude), 1080P
//	VI606421908815474688  default    PARSE, camera_model/datetime_taken/tags but no latitude/longitude, 4K
//	VI606430011623407616  default    PARSE, none of datetime_taken/camera_model/latitude/longitude/tags
//	VI606445877129277440  default    UNPARSE, basic fields only (portrait 1080x1920)
//	VI606452360917680128  default    FAILED with a cause; zero duration/fps/size fields, empty resolution_label
//	VI606458712345059328  default    size above 4 GiB: exactly 5000000014 bytes, 4K
//	VI606463390001233920  default    unicode: Japanese and emoji in video_name and tags
//	VI606467019554648064  default    unicode: accented Latin and a symbol in video_name and tags
//	VI606470125566271488  default    legacy shape: duration/size/create_time as numeric strings, cause "null", status "FAIL"
//	VI606474508270374912  default    status "PARSE_ERROR"
//	VI606478990442889216  default    status "ERROR"
//	VI606483214579376128  default    status never seen before: "TRANSCODING"
//	VI606487652891238400  default    latitude without longitude
//	VI606490117735702528  default    ordinary: PARSE with tags only (playground)
//	VI606493864213864448  default    ordinary: PARSE, full metadata, 720P (playground)
//	VI606497301546663936  default    ordinary: PARSE, full metadata, 4K (playground)
//	VI606501774260178944  default    ordinary: PARSE without location (playground)
//	VI606505229483057152  default    ordinary: PARSE, 120 fps, negative latitude and longitude (playground)
//	VI606508992645877760  default    ordinary: UNPARSE, long and large (playground)
//	VI606512447106248704  default    ordinary: PARSE, full metadata, 720P (playground)
//	VI606520198374883328  team-a     scoping: only visible with unique_id=team-a
//	VI606524661839065088  team-a     scoping: only visible with unique_id=team-a, full metadata
//	VI606528114725249024  team-a     scoping: only visible with unique_id=team-a; UNPARSE, exactly 4 GiB
//	VI606531877412306944  default    processing: UNPARSE, then PARSE 8 s after it is first asked for (watch it)
//	VI606535210987741184  default    processing: UNPARSE, then PARSE 12 s after it is first asked for (watch it)
//	VI606538640251518976  default    processing: UNPARSE, then FAILED 10 s after it is first asked for (watch it)
//
// The file's entries may also carry "then" (the data object served once
// "after" has passed since the video was first asked for, such as "8s").
//
//go:embed testdata/samples.json
var samplesJSON []byte

// Samples returns the embedded sample videos (see the table in samples.go).
// Each call returns a fresh copy, so callers may modify the result.
//
// Sample data is compacted JSON with the fields in their documented order;
// the sample VI606404158946574336 is exactly the vendor page's example.
func Samples() []Video {
	vs, err := ParseVideos(samplesJSON)
	if err != nil {
		// The fixtures are compiled in and covered by tests, so this is a
		// build defect rather than a run-time condition.
		panic(fmt.Sprintf("emulator: embedded samples are invalid: %v", err))
	}
	return vs
}

// ParseVideos reads videos in the format of the embedded samples: a JSON
// array of {"unique_id": "...", "data": {...}} objects, where data is the
// upstream's data object and must hold a non-empty string video_no. An
// empty unique_id means "default". Each data object is compacted
// (insignificant whitespace removed; field order and number spelling kept).
//
// The standalone emulator uses it for its -videos file.
func ParseVideos(data []byte) ([]Video, error) {
	var vs []Video
	if err := json.Unmarshal(data, &vs); err != nil {
		return nil, fmt.Errorf("parse videos: %w", err)
	}
	for i := range vs {
		if vs[i].Data == nil {
			return nil, fmt.Errorf("parse videos: entry %d: %w", i, errors.New("missing data"))
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, vs[i].Data); err != nil {
			return nil, fmt.Errorf("parse videos: entry %d: %w", i, err)
		}
		vs[i].Data = buf.Bytes()
		if vs[i].Then != nil {
			var then bytes.Buffer
			if err := json.Compact(&then, vs[i].Then); err != nil {
				return nil, fmt.Errorf("parse videos: entry %d: then: %w", i, err)
			}
			vs[i].Then = then.Bytes()
		}
		if _, err := vs[i].VideoNo(); err != nil {
			return nil, fmt.Errorf("parse videos: entry %d: %w", i, err)
		}
	}
	return vs, nil
}
