package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
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

// The binary says which build it is: --version prints the stamped version
// and the commit the go command recorded, the startup log carries both,
// and /metrics has memories_build_info with them.
func TestBinaryVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	const stamped = "v9.9.9-test"
	bin := filepath.Join(t.TempDir(), "memories-graphql")
	// -buildvcs=true: the go command records the checkout's revision even
	// where GOFLAGS says otherwise, as on these machines.
	build := exec.Command("go", "build", "-buildvcs=true", "-ldflags", "-X main.version="+stamped, "-o", bin, ".")
	build.Dir = moduleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("--version: %v", err)
	}
	m := regexp.MustCompile(`^memories-graphql (\S+) \(commit (\S+), (go\S+)\)\n$`).FindStringSubmatch(string(out))
	if m == nil || m[1] != stamped || m[3] != runtime.Version() {
		t.Fatalf("--version printed %q; want memories-graphql %s (commit …, %s)", out, stamped, runtime.Version())
	}
	commit := m[2]
	if rev, err := exec.Command("git", "-C", moduleRoot(t), "rev-parse", "HEAD").Output(); err == nil && !strings.HasPrefix(commit, strings.TrimSpace(string(rev))) {
		t.Errorf("commit %q; want the checkout's HEAD %s", commit, rev)
	}
	p := startBinary(t, bin, []string{"-host", "127.0.0.1", "-port", "0"}, []string{"PATH=" + os.Getenv("PATH")})
	if !strings.Contains(p.logs.String(), "version="+stamped) || !strings.Contains(p.logs.String(), "commit="+commit) {
		t.Errorf("startup log has no version=%s commit=%s:\n%s", stamped, commit, p.logs.String())
	}
	metrics := httpGet(t, p.origin+"/metrics")
	want := fmt.Sprintf(`memories_build_info{commit=%q,goversion=%q,version=%q} 1`, commit, runtime.Version(), stamped)
	if !strings.Contains(metrics.body, want) {
		t.Errorf("/metrics has no %s", want)
	}
}
