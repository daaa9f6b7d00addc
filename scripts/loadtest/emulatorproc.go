package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// emulatorChildEnv, when set, makes this binary the emulator process of
// the vs-apollo, abuse and library modes instead of the load test; its
// value is an emulatorConfig in JSON.
const emulatorChildEnv = "LOADTEST_EMULATOR_CHILD"

// emulatorConfig is what the emulator process serves: makeVideos(Videos)
// to loadKey, both endpoints at Rate calls/s with Burst, after Latency,
// list_videos pages of at most PageCap videos (0: 200).
type emulatorConfig struct {
	Videos  int
	Rate    float64
	Burst   int
	Latency time.Duration
	PageCap int
}

// emulatorStats is what the emulator process reports: the calls since the
// last reset.
type emulatorStats struct {
	GetMetadata int64
	ListVideos  int64
	RateLimited int64
}

func (s emulatorStats) calls() int64 { return s.GetMetadata + s.ListVideos }

func (s emulatorStats) String() string {
	switch {
	case s.ListVideos == 0:
		return fmt.Sprintf("%d get_metadata", s.GetMetadata)
	case s.GetMetadata == 0:
		return fmt.Sprintf("%d list_videos", s.ListVideos)
	}
	return fmt.Sprintf("%d get_metadata + %d list_videos", s.GetMetadata, s.ListVideos)
}

// emulatorChild is the emulator process: the emulator package's server,
// as "go run . emulator" starts it, on a free loopback port, and beside it
// a port that answers GET /stats with emulatorStats and POST /reset by
// resetting them. It prints both URLs on one line and serves until its
// stdin closes (the load test ended).
func emulatorChild(raw string) int {
	var c emulatorConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest emulator:", err)
		return 2
	}
	emu, err := emulator.Start(emulator.Options{
		Addr: "127.0.0.1:0", Keys: []string{loadKey}, Videos: makeVideos(c.Videos).emulator, Latency: c.Latency,
		RateLimit: c.Rate, Burst: c.Burst, ListRateLimit: c.Rate, ListBurst: c.Burst, ListPageCap: cmp.Or(c.PageCap, 200),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest emulator:", err)
		return 1
	}
	defer emu.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest emulator:", err)
		return 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		st := emu.Stats()
		_ = json.NewEncoder(w).Encode(emulatorStats{
			GetMetadata: st.Requests, ListVideos: st.List.Requests, RateLimited: st.RateLimited + st.List.RateLimited,
		})
	})
	mux.HandleFunc("POST /reset", func(http.ResponseWriter, *http.Request) { emu.ResetCounters() })
	go func() { _ = http.Serve(ln, mux) }()
	fmt.Printf("%s http://%s\n", emu.URL(), ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// emulatorProcess is the running emulator process.
type emulatorProcess struct {
	*child
	url      string // the upstream base URL
	statsURL string
}

// startEmulatorProcess re-executes this binary as the emulator (see
// emulatorChild), so that the emulator has a process of its own, as a
// standalone upstream would, and its counters can still be read.
func startEmulatorProcess(ctx context.Context, c emulatorConfig) (*emulatorProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cfg, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), emulatorChildEnv + "=" + string(cfg)}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	line := make(chan string, 1)
	// Closing its stdin ends it (see emulatorChild).
	ch, err := startChild(cmd, func() { _ = stdin.Close() }, 10*time.Second, func() {
		br := bufio.NewReader(stdout)
		l, _ := br.ReadString('\n')
		line <- l
		_, _ = io.Copy(io.Discard, br)
	})
	if err != nil {
		return nil, fmt.Errorf("start the emulator: %w", err)
	}
	l, err := awaitReady(ctx, ch, line, "the emulator")
	if err != nil {
		return nil, err
	}
	urls := strings.Fields(l)
	if len(urls) != 2 {
		ch.stop()
		return nil, fmt.Errorf("the emulator said %q, want its two URLs", l)
	}
	return &emulatorProcess{child: ch, url: urls[0], statsURL: urls[1]}, nil
}

func (p *emulatorProcess) reset() error {
	resp, err := http.Post(p.statsURL+"/reset", "", nil)
	if err != nil {
		return fmt.Errorf("reset the emulator's counters: %w", err)
	}
	resp.Body.Close()
	return nil
}

func (p *emulatorProcess) stats() (emulatorStats, error) {
	var st emulatorStats
	resp, err := http.Get(p.statsURL + "/stats")
	if err != nil {
		return st, fmt.Errorf("read the emulator's counters: %w", err)
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}
