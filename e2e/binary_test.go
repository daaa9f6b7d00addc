package e2e

import (
	"os"
	"strings"
	"testing"
)

// `go run .` with no configuration starts the sandbox and answers the
// vendor's example video exactly. This builds and runs the real binary with
// an empty environment, as on a fresh machine.
func TestSandboxBinaryAnswersVendorExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	p := startBinary(t, bin, []string{"-host", "127.0.0.1", "-port", "0"},
		[]string{"PATH=" + os.Getenv("PATH")}) // no MEMORIES_* at all

	resp := postQuery(t, p.origin+"/query", `query($no: ID!) { video(videoNo: $no) { `+allFields+` } }`, map[string]any{"no": vendorExample})
	if len(resp.Errors) > 0 {
		t.Fatalf("errors: %+v", resp.Errors)
	}
	assertJSONEqual(t, "video", resp.Data["video"], vendorExampleJSON)

	if got := strings.Count(p.logs.String(), "sandbox mode"); got != 1 {
		t.Errorf("log lines saying sandbox mode = %d; want 1\n%s", got, p.logs.String())
	}
}
