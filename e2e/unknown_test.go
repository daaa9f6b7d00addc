package e2e

import (
	"testing"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// The vendor's empty values for what it does not know answer null: the
// FAILED sample's resolution, frame rate, size of frame and duration, the
// UNPARSE sample's zero duration. A parsed clip under a second keeps its
// real zero duration.
func TestUnknownValuesAreNull(t *testing.T) {
	h := setup(t, emulator.Options{}, fast)
	h.emu.SetVideo("", rawVideo("default", `{"video_no":"VI700000000000000001","video_name":"blink","duration":0,"size":52000,"status":"PARSE","resolution_label":"720P","fps":30,"width":1280,"height":720}`))
	const q = `{
  failed: video(videoNo: "VI606452360917680128") { ...f }
  unparsed: video(videoNo: "VI606538640251518976") { ...f }
  blink: video(videoNo: "VI700000000000000001") { ...f }
}
fragment f on Video { status duration size resolutionLabel fps width height }`
	resp := h.query(t, q, nil)
	if len(resp.Errors) > 0 {
		t.Fatalf("errors %+v", resp.Errors)
	}
	for alias, want := range map[string]string{
		"failed":   `{"status":"FAILED","duration":null,"size":7340032,"resolutionLabel":null,"fps":null,"width":null,"height":null}`,
		"unparsed": `{"status":"UNPARSE","duration":null,"size":4096,"resolutionLabel":null,"fps":null,"width":null,"height":null}`,
		"blink":    `{"status":"PARSE","duration":0,"size":52000,"resolutionLabel":"720P","fps":30,"width":1280,"height":720}`,
	} {
		assertJSONEqual(t, alias, resp.Data[alias], want)
	}
}
