package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/x509"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// imageSizeGoal is the issue's goal for the image as stored (what `podman
// images` shows); imageSizeCeiling is what the test holds the image to
// today, so that it cannot grow unnoticed. The image misses the goal
// uncompressed (about 30 MB, almost all of it the Go binary) and meets it
// compressed, as a registry stores it and a node pulls it (about 11 MB).
const (
	imageSizeGoal    = 25_000_000
	imageSizeCeiling = 34_000_000
)

// imageShutdownDelay is SHUTDOWN_DELAY of the container that TestImage stops.
const imageShutdownDelay = 2 * time.Second

// TestImage builds the container image (Containerfile) with scripts/image.sh
// and runs it, then runs compose.yaml, with podman, as a platform team
// would. docs/operations.md#what-is-tested-here-and-what-is-not says what
// this covers and what it cannot here.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the container image")
	}
	pm := newPodman(t)
	img := pm.buildImage(t)

	t.Run("contents", func(t *testing.T) { checkImageContents(t, pm, img) })
	t.Run("runs read-only as non-root and drains on SIGTERM", func(t *testing.T) { checkImageRuns(t, pm, img) })
	t.Run("compose file loads as Docker Compose reads it", func(t *testing.T) { checkComposeLoads(t) })
	t.Run("compose: two replicas behind the load balancer share Redis", func(t *testing.T) { checkComposeRuns(t, pm, img) })
}

// --- podman

// podmanCLI runs podman as this machine needs it: runc, cgroupfs, and no
// default rlimits (crun's are refused here), through a containers.conf of
// the test's own that podman-compose's podman calls read too.
type podmanCLI struct {
	env []string // the test's environment with CONTAINERS_CONF
}

func newPodman(t *testing.T) *podmanCLI {
	t.Helper()
	requireTool(t, "podman", "apt-get install podman runc")
	requireTool(t, "runc", "apt-get install runc")
	conf := filepath.Join(t.TempDir(), "containers.conf")
	const confText = `# e2e/image_test.go: rootful podman on machines without systemd or crun.
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`
	if err := os.WriteFile(conf, []byte(confText), 0o644); err != nil {
		t.Fatal(err)
	}
	pm := &podmanCLI{env: append(os.Environ(), "CONTAINERS_CONF="+conf)}
	if out, err := pm.command(context.Background(), "info", "--format", "{{.Host.OCIRuntime.Name}}").CombinedOutput(); err != nil {
		unavailable(t, "podman does not work on this machine: %v\n%s", err, out)
	}
	return pm
}

// command is podman args with the test's configuration.
func (pm *podmanCLI) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "podman", args...)
	cmd.Env = pm.env
	return cmd
}

// run runs podman args, failing the test if it fails or takes over two
// minutes, and returns its stdout, trimmed.
func (pm *podmanCLI) run(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := pm.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("podman %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// try runs podman args for a cleanup, where a failure is only logged.
func (pm *podmanCLI) try(t testing.TB, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := pm.command(ctx, args...).CombinedOutput(); err != nil {
		t.Logf("cleanup: podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// randomSuffix names what one run of the test creates.
func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// --- The image

// builtImage is what scripts/image.sh built and reported.
type builtImage struct {
	name    string
	size    int64  // bytes, as the script reported them
	version string // stamped into the binary
}

// imageLine is the line scripts/image.sh prints: the name and the size.
var imageLine = regexp.MustCompile(`^(\S+) [0-9.]+ MB \((\d+) bytes\)$`)

// buildImage runs scripts/image.sh, the documented command, under a name of
// the test's own, removed when the test ends.
func (pm *podmanCLI) buildImage(t *testing.T) builtImage {
	t.Helper()
	root := moduleRoot(t)
	name := "localhost/memories-graphql-e2e:" + randomSuffix()
	const version = "e2e-test-version"
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "image.sh"), name)
	cmd.Dir = root
	cmd.Env = append(slices.Clone(pm.env), "VERSION="+version)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Cleanup(func() { pm.try(t, "rmi", "--force", name) })
	if err != nil {
		t.Fatalf("scripts/image.sh: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	t.Logf("scripts/image.sh built the image in %v: %s", time.Since(start).Round(100*time.Millisecond), strings.TrimSpace(stdout.String()))
	m := imageLine.FindStringSubmatch(strings.TrimSpace(stdout.String()))
	if m == nil || m[1] != name {
		t.Fatalf("scripts/image.sh printed %q; want %q, its size in MB and in bytes", stdout.String(), name)
	}
	size, _ := strconv.ParseInt(m[2], 10, 64)
	return builtImage{name: name, size: size, version: version}
}

// imageConfig is the part of `podman image inspect` the test reads.
type imageConfig struct {
	Size   int64 `json:"Size"`
	Config struct {
		User         string              `json:"User"`
		Entrypoint   []string            `json:"Entrypoint"`
		Cmd          []string            `json:"Cmd"`
		Env          []string            `json:"Env"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
		StopSignal   string              `json:"StopSignal"`
		Labels       map[string]string   `json:"Labels"`
	} `json:"Config"`
}

// checkImageContents checks the image's configuration and every file in it:
// the static binary and the CA certificates, nothing else.
func checkImageContents(t *testing.T, pm *podmanCLI, img builtImage) {
	var inspected []imageConfig
	if err := json.Unmarshal([]byte(pm.run(t, "image", "inspect", img.name)), &inspected); err != nil || len(inspected) != 1 {
		t.Fatalf("podman image inspect: %v (%d images)", err, len(inspected))
	}
	ic := inspected[0]
	if ic.Config.User != "65532:65532" {
		t.Errorf("image user = %q; want 65532:65532 (numeric, not root)", ic.Config.User)
	}
	if want := []string{"/memories-graphql"}; !slices.Equal(ic.Config.Entrypoint, want) || len(ic.Config.Cmd) != 0 {
		t.Errorf("entrypoint %q, cmd %q; want %q and no cmd", ic.Config.Entrypoint, ic.Config.Cmd, want)
	}
	if _, ok := ic.Config.ExposedPorts["8080/tcp"]; !ok || !slices.Contains(ic.Config.Env, "PORT=8080") {
		t.Errorf("exposed ports %v, env %q; want 8080/tcp and PORT=8080", ic.Config.ExposedPorts, ic.Config.Env)
	}
	if ic.Config.StopSignal != "SIGTERM" {
		t.Errorf("stop signal = %q; want SIGTERM", ic.Config.StopSignal)
	}
	if got := ic.Config.Labels["org.opencontainers.image.version"]; got != img.version {
		t.Errorf("label org.opencontainers.image.version = %q; want %q", got, img.version)
	}
	if ic.Size != img.size {
		t.Errorf("scripts/image.sh reported %d bytes; podman says %d", img.size, ic.Size)
	}

	// Every file, from the layers as podman saves them (uncompressed), and
	// the layers' size compressed as a registry stores them.
	archive := filepath.Join(t.TempDir(), "image.tar")
	pm.run(t, "save", "--format", "docker-archive", "--output", archive, img.name)
	files, compressed := imageFiles(t, archive)
	t.Logf("image size: %.1f MB as stored, %.1f MB compressed (goal %.0f MB)",
		float64(ic.Size)/1e6, float64(compressed)/1e6, float64(imageSizeGoal)/1e6)
	if compressed >= imageSizeGoal {
		t.Errorf("compressed layers = %d bytes; want under %d", compressed, imageSizeGoal)
	}
	if ic.Size >= imageSizeCeiling {
		t.Errorf("image size = %d bytes; want under %d (the goal is %d)", ic.Size, imageSizeCeiling, imageSizeGoal)
	}
	var names []string
	for name, f := range files {
		names = append(names, fmt.Sprintf("%s %s", name, f.mode))
	}
	slices.Sort(names)
	want := []string{
		"etc/ dir",
		"etc/ssl/ dir",
		"etc/ssl/certs/ dir",
		"etc/ssl/certs/ca-certificates.crt -rw-r--r--",
		"memories-graphql -rwxr-xr-x",
	}
	if !slices.Equal(names, want) {
		t.Errorf("files in the image:\n%s\nwant exactly:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}

	if ca := files["etc/ssl/certs/ca-certificates.crt"]; ca.data != nil {
		host, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
		if err == nil && !bytes.Equal(ca.data, host) {
			t.Errorf("the image's CA bundle differs from this machine's /etc/ssl/certs/ca-certificates.crt")
		}
		if !x509.NewCertPool().AppendCertsFromPEM(ca.data) {
			t.Errorf("the image's CA bundle holds no certificate")
		}
	}
	if bin := files["memories-graphql"]; bin.data != nil {
		checkStaticBinary(t, bin.data, img.version)
	}
}

type imageFile struct {
	mode string // "dir", or the permission bits of a regular file
	data []byte // a regular file's content
}

// imageFiles reads a docker-archive: every file of its layers, and the sum
// of the layers' sizes gzip-compressed (what a registry holds).
func imageFiles(t *testing.T, archive string) (map[string]imageFile, int64) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string]imageFile{}
	var compressed int64
	outer := tar.NewReader(f)
	for {
		hdr, err := outer.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read %s: %v", archive, err)
		}
		if !strings.HasSuffix(hdr.Name, ".tar") {
			continue // manifest.json, the config
		}
		layer, err := io.ReadAll(outer)
		if err != nil {
			t.Fatal(err)
		}
		compressed += gzipSize(t, layer)
		inner := tar.NewReader(bytes.NewReader(layer))
		for {
			h, err := inner.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("read layer %s: %v", hdr.Name, err)
			}
			name := strings.TrimPrefix(h.Name, "./")
			switch h.Typeflag {
			case tar.TypeDir:
				files[strings.TrimSuffix(name, "/")+"/"] = imageFile{mode: "dir"}
			case tar.TypeReg:
				data, err := io.ReadAll(inner)
				if err != nil {
					t.Fatal(err)
				}
				files[name] = imageFile{mode: h.FileInfo().Mode().Perm().String(), data: data}
			default:
				files[name] = imageFile{mode: fmt.Sprintf("type %q", h.Typeflag)}
			}
		}
	}
	if len(files) == 0 {
		t.Fatalf("%s: no layer", archive)
	}
	return files, compressed
}

// gzipSize is the size of b gzip-compressed at the default level, as
// podman and docker push a layer.
func gzipSize(t *testing.T, b []byte) int64 {
	t.Helper()
	var n countingWriter
	zw := gzip.NewWriter(&n)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return int64(n)
}

type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}

// checkStaticBinary checks the binary as scripts/image.sh promises to build
// it: static, stripped, trimmed, without cgo, with the version stamped in.
func checkStaticBinary(t *testing.T, bin []byte, version string) {
	t.Helper()
	ef, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("the binary is not ELF: %v", err)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %v program header: it is not static", p.Type)
		}
	}
	if libs, _ := ef.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %v; want a static binary", libs)
	}
	if ef.Section(".symtab") != nil || ef.Section(".debug_info") != nil {
		t.Errorf("the binary has a symbol table or DWARF; want it stripped (-s -w)")
	}
	bi, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("build info: %v", err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	// (With -trimpath, go build does not record -ldflags.)
	for k, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true", "GOOS": "linux"} {
		if settings[k] != want {
			t.Errorf("build setting %s = %q; want %q", k, settings[k], want)
		}
	}
	if !bytes.Contains(bin, []byte(version)) {
		t.Errorf("the binary does not hold its version %q (-X main.version)", version)
	}
}

// checkImageRuns runs the image as a platform would (read-only root, no
// capabilities, no new privileges, the image's own user), in sandbox mode
// (no key: the server starts its in-process emulator), queries it, then
// stops it with SIGTERM while a query is in flight.
func checkImageRuns(t *testing.T, pm *podmanCLI, img builtImage) {
	name := "mgql-e2e-" + randomSuffix()
	pm.run(t, "run", "--detach", "--name", name,
		"--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--publish", "127.0.0.1::8080",
		"--env", "SHUTDOWN_DELAY="+imageShutdownDelay.String(),
		// get_metadata at 2 calls per second: the query in flight at SIGTERM
		// below takes a few seconds.
		"--env", "MEMORIES_RATE_LIMIT=2", "--env", "MEMORIES_RATE_BURST=1",
		img.name)
	t.Cleanup(func() { pm.try(t, "rm", "--force", "--time", "0", name) })
	logs := func() string {
		out, _ := pm.command(context.Background(), "logs", name).CombinedOutput()
		return string(out)
	}
	origin := "http://" + pm.run(t, "port", name, "8080/tcp")
	started := time.Now()
	waitHTTP(t, origin+"/healthz", http.StatusOK, logs)
	t.Logf("the container answered /healthz %v after podman run returned", time.Since(started).Round(time.Millisecond))
	if res := httpGet(t, origin+"/readyz"); res.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: HTTP %d; want 200", res.StatusCode)
	}

	// The sandbox's videos, as `go run .` serves them.
	resp := postQuery(t, origin+"/query", `query($no: ID!) { video(videoNo: $no) { `+allFields+` } }`, map[string]any{"no": vendorExample})
	if len(resp.Errors) > 0 {
		t.Fatalf("errors: %+v\n%s", resp.Errors, logs())
	}
	assertJSONEqual(t, "video", resp.Data["video"], vendorExampleJSON)
	resp = postQuery(t, origin+"/query", `{ videos(videoNos: ["VI606404158946574336", "VI606417322871980032"]) { videoNo videoName } }`, nil)
	if len(resp.Errors) > 0 {
		t.Fatalf("errors: %+v", resp.Errors)
	}
	assertJSONEqual(t, "videos", resp.Data["videos"], `[
		{"videoNo": "VI606404158946574336", "videoName": "182082-867762198_tiny"},
		{"videoNo": "VI606417322871980032", "videoName": "lisbon-tram-28-alfama"}]`)

	// The process: the image's user, no capabilities, a read-only root.
	pid := pm.run(t, "inspect", "--format", "{{.State.Pid}}", name)
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatalf("the container's process: %v", err)
	}
	for _, want := range []string{"Uid:\t65532\t65532\t65532\t65532", "Gid:\t65532\t65532\t65532\t65532",
		"CapEff:\t0000000000000000", "CapPrm:\t0000000000000000", "NoNewPrivs:\t1"} {
		if !strings.Contains(string(status), want+"\n") {
			t.Errorf("/proc/%s/status lacks %q:\n%s", pid, want, status)
		}
	}
	if opts := rootMountOptions(t, pid); !slices.Contains(opts, "ro") {
		t.Errorf("the container's / is mounted %v; want ro", opts)
	}

	// SIGTERM with a query in flight: /readyz fails for SHUTDOWN_DELAY while
	// the listener still answers, the query completes, the process exits 0.
	nos := []string{"VI606421908815474688", "VI606430011623407616", "VI606458712345059328",
		"VI606463390001233920", "VI606467019554648064", "VI606470125566271488"}
	inFlight := make(chan response, 1)
	go func() {
		// Detail fields: one get_metadata call per video, 2 a second.
		body := mustJSON(map[string]any{"query": `query($nos: [ID!]!) { videos(videoNos: $nos) { videoNo fps } }`, "variables": map[string]any{"nos": nos}})
		res, raw, err := post(context.Background(), origin+"/query", body)
		if err != nil {
			t.Errorf("the query in flight at SIGTERM: %v", err)
			inFlight <- response{}
			return
		}
		var r response
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Errorf("the query in flight at SIGTERM: %v\n%s", err, raw)
		}
		r.Status = res.StatusCode
		inFlight <- r
	}()
	time.Sleep(300 * time.Millisecond) // the query reaches the server
	stopped := make(chan time.Duration, 1)
	stopStart := time.Now()
	go func() {
		// podman's -t is the SIGKILL deadline: far beyond the drain.
		if out, err := pm.command(context.Background(), "stop", "--time", "30", name).CombinedOutput(); err != nil {
			t.Errorf("podman stop: %v\n%s", err, out)
		}
		stopped <- time.Since(stopStart)
	}()
	sawNotReady := false
	for !sawNotReady && time.Since(stopStart) < imageShutdownDelay {
		res, err := http.Get(origin + "/readyz")
		if err != nil {
			break
		}
		_ = res.Body.Close()
		sawNotReady = res.StatusCode == http.StatusServiceUnavailable
		time.Sleep(50 * time.Millisecond)
	}
	if !sawNotReady {
		t.Errorf("/readyz never answered 503 during SHUTDOWN_DELAY after SIGTERM")
	}
	var took time.Duration
	select {
	case took = <-stopped:
	case <-time.After(40 * time.Second):
		t.Fatalf("podman stop did not return\n%s", logs())
	}
	if r := <-inFlight; r.Status != http.StatusOK || len(r.Errors) > 0 || r.Data["videos"] == nil {
		t.Errorf("the query in flight at SIGTERM: HTTP %d, errors %+v; want %d videos", r.Status, r.Errors, len(nos))
	} else if got := decodeVideos(t, r.Data["videos"]); len(got) != len(nos) {
		t.Errorf("the query in flight at SIGTERM answered %d videos; want %d", len(got), len(nos))
	}
	exit := pm.run(t, "inspect", "--format", "{{.State.ExitCode}}", name)
	t.Logf("podman stop took %v (SHUTDOWN_DELAY %v, then the query in flight); exit code %s", took.Round(time.Millisecond), imageShutdownDelay, exit)
	if exit != "0" {
		t.Errorf("exit code = %s; want 0 (137 would be podman's SIGKILL)", exit)
	}
	if took < imageShutdownDelay || took > imageShutdownDelay+15*time.Second {
		t.Errorf("podman stop took %v; want SHUTDOWN_DELAY (%v) and the query in flight, well under podman's 30s", took, imageShutdownDelay)
	}
	out := logs()
	for _, want := range []string{"sandbox mode", "msg=listening addr=[::]:8080", "version=" + img.version, "shutting down: draining in-flight requests"} {
		if !strings.Contains(out, want) {
			t.Errorf("the container's log lacks %q:\n%s", want, out)
		}
	}
}

// rootMountOptions returns the options of the mount at / of process pid.
func rootMountOptions(t *testing.T, pid string) []string {
	t.Helper()
	mounts, err := os.ReadFile("/proc/" + pid + "/mounts")
	if err != nil {
		t.Fatal(err)
	}
	var opts []string
	for line := range strings.SplitSeq(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) >= 4 && f[1] == "/" {
			opts = strings.Split(f[3], ",") // the last mount at / is the one in effect
		}
	}
	return opts
}

// waitHTTP polls u until it answers status, for up to 60 seconds; logs
// says what the server printed, for the failure.
func waitHTTP(t *testing.T, u string, status int, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(u)
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == status {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer %d within 60s (last: %v)\n%s", u, status, err, logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// --- compose.yaml

// composeGoVersion is the compose-go release that loads compose.yaml below:
// the library Docker Compose v2 reads compose files with (interpolation,
// merge keys, the Compose Specification's JSON schema).
const composeGoVersion = "v2.16.2"

// composeLoader is the program that loads a compose file with compose-go and
// prints the project as JSON.
const composeLoader = `package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if err := load(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func load(files []string) error {
	opts, err := cli.NewProjectOptions(files, cli.WithOsEnv, cli.WithResolvedPaths(true))
	if err != nil {
		return err
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		return err
	}
	b, err := p.MarshalJSON()
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(b)
	return err
}
`

// composeService is the part of a loaded service the test checks.
type composeService struct {
	Image       string            `json:"image"`
	ReadOnly    bool              `json:"read_only"`
	User        string            `json:"user"`
	CapDrop     []string          `json:"cap_drop"`
	SecurityOpt []string          `json:"security_opt"`
	Environment map[string]string `json:"environment"`
	EnvFile     []struct {
		Path string `json:"path"`
	} `json:"env_file"`
	StopGracePeriod string `json:"stop_grace_period"`
	Ports           []struct {
		HostIP    string `json:"host_ip"`
		Published string `json:"published"`
		Target    int    `json:"target"`
	} `json:"ports"`
}

// checkComposeLoads loads compose.yaml as Docker Compose does, with
// compose-go: Docker Compose itself cannot run here (no daemon), and
// podman-compose 1.0.3 has no `config` and ignores keys it does not know.
func checkComposeLoads(t *testing.T) {
	root := moduleRoot(t)
	text, err := os.ReadFile(filepath.Join(root, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?m)^\s*MEMORIES_API_KEY\s*[:=]`).Match(text) {
		t.Errorf("compose.yaml sets MEMORIES_API_KEY; the key belongs in the env file it reads")
	}

	dir := t.TempDir()
	for name, content := range map[string]string{
		"go.mod":  "module composeloader\n\ngo 1.24\n\nrequire github.com/compose-spec/compose-go/v2 " + composeGoVersion + "\n",
		"main.go": composeLoader,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goCmd := func(args ...string) *exec.Cmd {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		return cmd
	}
	start := time.Now()
	if out, err := goCmd("mod", "tidy").CombinedOutput(); err != nil {
		unavailable(t, "go mod tidy of a compose-go %s loader (the Go module proxy): %v\n%s", composeGoVersion, err, out)
	}
	loader := filepath.Join(dir, "loader")
	if out, err := goCmd("build", "-o", loader, ".").CombinedOutput(); err != nil {
		t.Fatalf("build the compose-go loader: %v\n%s", err, out)
	}
	t.Logf("compose-go %s loader built in %v", composeGoVersion, time.Since(start).Round(100*time.Millisecond))

	load := func(env ...string) (map[string]composeService, error) {
		cmd := exec.Command(loader, filepath.Join(root, "compose.yaml"))
		cmd.Dir = root
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("%v: %s", err, stderr.String())
		}
		var p struct {
			Name     string                    `json:"name"`
			Services map[string]composeService `json:"services"`
		}
		if err := json.Unmarshal(out, &p); err != nil {
			return nil, err
		}
		if p.Name != "memories-graphql" {
			return nil, fmt.Errorf("project name %q; want memories-graphql", p.Name)
		}
		return p.Services, nil
	}

	services, err := load()
	if err != nil {
		t.Fatalf("compose-go loads compose.yaml: %v", err)
	}
	if got := slices.Sorted(maps.Keys(services)); !slices.Equal(got, []string{"app1", "app2", "lb", "redis"}) {
		t.Errorf("services %v; want app1, app2, lb, redis", got)
	}
	for _, name := range []string{"app1", "app2"} {
		s := services[name]
		if s.Image != "localhost/memories-graphql:latest" || !s.ReadOnly || s.User != "65532:65532" ||
			!slices.Equal(s.CapDrop, []string{"ALL"}) || !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("%s: image %q, read_only %v, user %q, cap_drop %v, security_opt %v; want our image, read-only, 65532, ALL dropped, no-new-privileges",
				name, s.Image, s.ReadOnly, s.User, s.CapDrop, s.SecurityOpt)
		}
		if s.Environment["REDIS_URL"] != "redis://redis:6379/0" || s.Environment["EXPECTED_REPLICAS"] != "2" {
			t.Errorf("%s: environment %v; want REDIS_URL at the redis service and EXPECTED_REPLICAS=2 (two replicas)", name, s.Environment)
		}
		if len(s.EnvFile) != 1 || s.EnvFile[0].Path != filepath.Join(root, "deploy", "compose", "sandbox.env") {
			t.Errorf("%s: env_file %+v; want deploy/compose/sandbox.env by default", name, s.EnvFile)
		}
		if d, err := time.ParseDuration(s.StopGracePeriod); err != nil || d != time.Minute {
			t.Errorf("%s: stop_grace_period %q; want 60s", name, s.StopGracePeriod)
		}
	}
	if lb := services["lb"]; len(lb.Ports) != 1 || lb.Ports[0].HostIP != "127.0.0.1" || lb.Ports[0].Published != "8080" || lb.Ports[0].Target != 8080 {
		t.Errorf("lb ports %+v; want 127.0.0.1:8080 to 8080", lb.Ports)
	}

	// The variables the docs name.
	envFile := filepath.Join(t.TempDir(), "memories.env")
	if err := os.WriteFile(envFile, []byte("MEMORIES_API_KEY=sk-not-a-real-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	services, err = load("MEMORIES_GRAPHQL_ENV_FILE="+envFile, "MEMORIES_GRAPHQL_LISTEN=0.0.0.0:9000",
		"MEMORIES_GRAPHQL_IMAGE=registry.example/memories-graphql:1", "HAPROXY_IMAGE=haproxy:x", "REDIS_IMAGE=redis:x")
	if err != nil {
		t.Fatalf("compose-go loads compose.yaml with the documented variables: %v", err)
	}
	if s := services["app2"]; s.Image != "registry.example/memories-graphql:1" || len(s.EnvFile) != 1 || s.EnvFile[0].Path != envFile {
		t.Errorf("app2: image %q, env_file %+v; want the variables' image and env file", s.Image, s.EnvFile)
	}
	if lb := services["lb"]; lb.Image != "haproxy:x" || len(lb.Ports) != 1 || lb.Ports[0].HostIP != "0.0.0.0" || lb.Ports[0].Published != "9000" {
		t.Errorf("lb: image %q, ports %+v; want the variables'", lb.Image, lb.Ports)
	}
	if services["redis"].Image != "redis:x" {
		t.Errorf("redis image %q; want the variable's", services["redis"].Image)
	}
}

// checkComposeRuns starts compose.yaml with podman-compose, as written but
// for the two public images, which cannot be pulled here: in their place
// run images of Debian's haproxy and redis-server binaries, under the
// public images' paths, commands and config locations.
func checkComposeRuns(t *testing.T, pm *podmanCLI, img builtImage) {
	requireTool(t, "podman-compose", "apt-get install podman-compose")
	requireTool(t, "ldd", "Debian's libc-bin")
	haproxy := requireTool(t, "haproxy", "apt-get install haproxy: its binary stands in for the haproxy image")
	redisServer := requireTool(t, "redis-server", "apt-get install redis-server: its binary stands in for the redis image")
	root := moduleRoot(t)
	suffix := randomSuffix()
	lbImage := pm.standIn(t, "localhost/mgql-e2e-haproxy:"+suffix, haproxy, "/usr/local/sbin/haproxy",
		[]string{"haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"})
	redisImage := pm.standIn(t, "localhost/mgql-e2e-redis:"+suffix, redisServer, "/usr/local/bin/redis-server",
		[]string{"redis-server"})

	// The env file, as a user with a real account writes it (here without
	// a key, so still the sandbox): a tight shared budget, to see it shared.
	envFile := filepath.Join(t.TempDir(), "memories-graphql.env")
	if err := os.WriteFile(envFile, []byte("MEMORIES_RATE_LIMIT=0.5\nMEMORIES_RATE_BURST=1\nMEMORIES_LIST_RATE_LIMIT=0.5\nMEMORIES_LIST_RATE_BURST=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	listen := "127.0.0.1:" + freeTCPPort(t)
	project := "mgqle2e" + suffix
	env := append(slices.Clone(pm.env),
		"MEMORIES_GRAPHQL_IMAGE="+img.name, "HAPROXY_IMAGE="+lbImage, "REDIS_IMAGE="+redisImage,
		"MEMORIES_GRAPHQL_LISTEN="+listen, "MEMORIES_GRAPHQL_ENV_FILE="+envFile)
	compose := func(ctx context.Context, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "podman-compose", append([]string{"-p", project, "-f", filepath.Join(root, "compose.yaml")}, args...)...)
		cmd.Dir = root
		cmd.Env = env
		return cmd.CombinedOutput()
	}
	containerOf := func(service string) string {
		return pm.run(t, "ps", "--all", "--quiet", "--filter", "label=io.podman.compose.project="+project,
			"--filter", "label=com.docker.compose.service="+service)
	}
	logsOf := func(service string) string {
		out, _ := pm.command(context.Background(), "logs", containerOf(service)).CombinedOutput()
		return string(out)
	}
	allLogs := func() string {
		var b strings.Builder
		for _, s := range []string{"lb", "app1", "app2", "redis"} {
			fmt.Fprintf(&b, "--- %s\n%s", s, logsOf(s))
		}
		return b.String()
	}

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		// Not graceful: nothing is checked any more. (podman-compose 1.0.3
		// leaves its network behind.)
		if out, err := compose(ctx, "down", "-t", "1"); err != nil {
			t.Logf("podman-compose down: %v\n%s", err, out)
		}
		pm.try(t, "network", "rm", "--force", project+"_default")
	})
	if out, err := compose(ctx, "up", "-d"); err != nil {
		t.Fatalf("podman-compose up -d: %v\n%s", err, out)
	}
	lb := "http://" + listen

	// Both replicas ready behind the load balancer.
	seen := map[string]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for len(seen) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the load balancer did not reach both replicas' /readyz within 60s (reached %v)\n%s", seen, allLogs())
		}
		if res, err := http.Get(lb + "/readyz"); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				seen[res.Header.Get("X-Served-By")] = true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("podman-compose up: both replicas ready behind the load balancer after %v", time.Since(start).Round(100*time.Millisecond))
	if !seen["app1"] || !seen["app2"] {
		t.Fatalf("the load balancer named %v; want app1 and app2", seen)
	}

	// One rate budget for both replicas (0.5 calls a second, burst 1, from
	// the env file): the second replica's first call waits for the first's.
	// fps is a detail field: one get_metadata call per video, one budget.
	byLB := func(no string) (response, string) {
		t.Helper()
		res, raw, err := post(context.Background(), lb+"/query",
			mustJSON(map[string]any{"query": `query($no: ID!) { video(videoNo: $no) { videoNo videoName fps } }`, "variables": map[string]any{"no": no}}))
		if err != nil {
			t.Fatalf("POST %s/query: %v", lb, err)
		}
		r := graphQLResponse(t, res, raw)
		if len(r.Errors) > 0 || decodeVideo(t, r.Data["video"]) == nil || decodeVideo(t, r.Data["video"]).VideoNo != no {
			t.Fatalf("video %s through the load balancer: HTTP %d %s", no, r.Status, r.Raw)
		}
		if r.Cost == nil {
			t.Fatalf("no extensions.cost: %s", r.Raw)
		}
		return r, res.Header.Get("X-Served-By")
	}
	const a, b = "VI606421908815474688", "VI606430011623407616"
	r1, by1 := byLB(a)
	r2, by2 := byLB(b)
	t.Logf("first call: %s waited %d ms; second call: %s waited %d ms", by1, r1.Cost.RateLimitWaitMs, by2, r2.Cost.RateLimitWaitMs)
	if by1 == by2 {
		t.Fatalf("two queries in a row were both served by %s; want round robin", by1)
	}
	// About 2s, less the moment between the two calls; a budget of its own
	// would not wait at all.
	if r2.Cost.RateLimitWaitMs < 1000 {
		t.Errorf("%s's first call waited %d ms; want about 2000 (the budget %s spent, in Redis)", by2, r2.Cost.RateLimitWaitMs, by1)
	}

	// One cache: the replica that never fetched a serves it from Redis.
	r3, by3 := byLB(a)
	r4, by4 := byLB(a)
	for _, c := range []struct {
		by string
		r  response
	}{{by3, r3}, {by4, r4}} {
		if c.r.Cost.Videos.Cached != 1 || c.r.Cost.Calls.GetMetadata+c.r.Cost.Calls.ListVideos != 0 {
			t.Errorf("%s answered %s again with cost %+v; want it cached, no call", c.by, a, *c.r.Cost)
		}
	}
	if by3 == by4 {
		t.Errorf("both cached answers came from %s; want one from each replica", by3)
	}
	// And both replicas say Redis is up.
	seen = map[string]bool{}
	for i := 0; i < 10 && len(seen) < 2; i++ {
		res := httpGet(t, lb+"/metrics")
		if !regexp.MustCompile(`(?m)^memories_redis_up 1$`).MatchString(res.body) {
			t.Errorf("%s: /metrics lacks memories_redis_up 1", res.Header.Get("X-Served-By"))
		}
		seen[res.Header.Get("X-Served-By")] = true
	}
	if len(seen) < 2 {
		t.Errorf("/metrics reached %v; want both replicas", seen)
	}

	// Stopping a replica (SIGTERM) loses no request: its /readyz fails
	// during SHUTDOWN_DELAY (5s), the load balancer's check takes it out,
	// then it drains and exits 0.
	var (
		mu       sync.Mutex
		failures []string
		after    = map[string]int{}
		sent     int
	)
	stopDone := make(chan struct{})
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		var stoppedAt time.Time
		for {
			select {
			case <-stopDone:
				if stoppedAt.IsZero() {
					stoppedAt = time.Now()
				}
			default:
			}
			if !stoppedAt.IsZero() && time.Since(stoppedAt) > time.Second {
				return
			}
			res, raw, err := post(context.Background(), lb+"/query",
				mustJSON(map[string]any{"query": `query($no: ID!) { video(videoNo: $no) { videoNo } }`, "variables": map[string]any{"no": a}}))
			mu.Lock()
			sent++
			switch {
			case err != nil:
				failures = append(failures, err.Error())
			case res.StatusCode != http.StatusOK || !bytes.Contains(raw, []byte(a)):
				failures = append(failures, fmt.Sprintf("HTTP %d %s", res.StatusCode, raw))
			case !stoppedAt.IsZero():
				after[res.Header.Get("X-Served-By")]++
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	app1 := containerOf("app1")
	stopStart := time.Now()
	pm.run(t, "stop", "--time", "60", app1)
	took := time.Since(stopStart)
	close(stopDone)
	<-loopDone
	exit := pm.run(t, "inspect", "--format", "{{.State.ExitCode}}", app1)
	t.Logf("podman stop app1 took %v, exit code %s; %d queries meanwhile, %d failed; served afterwards: %v", took.Round(time.Millisecond), exit, sent, len(failures), after)
	if len(failures) > 0 {
		t.Errorf("%d of %d queries failed while app1 stopped: %q", len(failures), sent, failures)
	}
	if exit != "0" || took < 5*time.Second || took > 30*time.Second {
		t.Errorf("app1 stopped in %v with exit code %s; want SHUTDOWN_DELAY (5s) and a drain, exit 0", took, exit)
	}
	if after["app1"] > 0 || after["app2"] == 0 {
		t.Errorf("after app1 stopped, answers came from %v; want app2 only", after)
	}
	if lbLog := logsOf("lb"); !strings.Contains(lbLog, "app1 is DOWN, reason: Layer7 wrong status, code: 503") {
		t.Errorf("the load balancer did not take app1 out on its /readyz 503:\n%s", lbLog)
	}
	if !strings.Contains(logsOf("app1"), "shutting down: draining in-flight requests") {
		t.Errorf("app1 did not log its drain:\n%s", logsOf("app1"))
	}
	t.Logf("compose scenario took %v", time.Since(start).Round(100*time.Millisecond))
}

// standIn builds an image FROM scratch holding a binary of this machine at
// dest, with the shared libraries ldd lists, running cmd as a non-root user;
// it is removed when the test ends.
func (pm *podmanCLI) standIn(t *testing.T, name, binary, dest string, cmd []string) string {
	t.Helper()
	ctxDir := t.TempDir()
	files := map[string]string{dest: binary}
	out, err := exec.Command("ldd", binary).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", binary, err)
	}
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "/") {
			files[f] = f
		}
	}
	for to, from := range files {
		data, err := os.ReadFile(from) // through symbolic links
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(ctxDir, "root", to)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmdJSON, _ := json.Marshal(cmd)
	containerfile := "FROM scratch\nCOPY root/ /\nENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nUSER 65534:65534\nCMD " + string(cmdJSON) + "\n"
	if err := os.WriteFile(filepath.Join(ctxDir, "Containerfile"), []byte(containerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	pm.run(t, "build", "--quiet", "--layers=false", "--tag", name, ctxDir)
	t.Cleanup(func() { pm.try(t, "rmi", "--force", name) })
	return name
}

// freeTCPPort returns a loopback port that was free a moment ago.
func freeTCPPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}
