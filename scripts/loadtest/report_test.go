package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// wrk's report, as wrk 4.1 prints it with rotate-videos.lua's last line.
const wrkReport = `Running 10s test @ http://127.0.0.1:4000/query
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.02ms    3.10ms  60.11ms   80.00%%
    Req/Sec     2.67k   200.00     3.00k    70.00%%
  53142 requests in 10.03s, 12.50MB read
%sRequests/sec:   5299.42
Transfer/sec:      1.25MB
bad answers: %d
`

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name       string
		out        string
		wantErr    bool
		wantBad    int64
		wantSocket string
	}{
		{"clean", fmt.Sprintf(wrkReport, "", 0), false, 0, "none"},
		{"bad answers", fmt.Sprintf(wrkReport, "", 3), false, 3, "none"},
		{"socket errors", fmt.Sprintf(wrkReport, "  Socket errors: connect 0, read 2, write 0, timeout 1\n", 0), false, 0, "connect 0, read 2, write 0, timeout 1"},
		// wrk counts non-2xx answers itself; the script may not have.
		{"non-2xx above the script's count", fmt.Sprintf(wrkReport, "  Non-2xx or 3xx responses: 7\n", 2), false, 7, "none"},
		{"not wrk's output", "wrk: unknown option", true, 0, ""},
		{"no script summary", strings.Replace(fmt.Sprintf(wrkReport, "", 0), "bad answers: 0\n", "", 1), true, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseWrk([]byte(tt.out))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseWrk error = %v; want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if r.requests != 53142 || r.rate != 5299.42 {
				t.Errorf("requests, rate = %d, %v; want 53142, 5299.42", r.requests, r.rate)
			}
			if r.bad != tt.wantBad || r.socketErrors != tt.wantSocket {
				t.Errorf("bad, socket errors = %d, %q; want %d, %q", r.bad, r.socketErrors, tt.wantBad, tt.wantSocket)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		in := fmt.Sprint(tt.xs)
		if got := median(tt.xs); got != tt.want {
			t.Errorf("median(%v) = %v; want %v", tt.xs, got, tt.want)
		}
		if fmt.Sprint(tt.xs) != in {
			t.Errorf("median reordered its argument to %v; want it left as %s", tt.xs, in)
		}
	}
}

func TestQuartiles(t *testing.T) {
	for _, tt := range []struct {
		xs           []float64
		lower, upper float64
	}{
		{nil, 0, 0},
		{[]float64{5}, 0, 0},
		{[]float64{2, 1}, 1, 2},
		{[]float64{3, 1, 2}, 1, 3},
		{[]float64{4, 1, 3, 2}, 1.5, 3.5},
		{[]float64{7, 1, 5, 3, 2, 6, 4}, 2, 6},
	} {
		in := fmt.Sprint(tt.xs)
		if lower, upper := quartiles(tt.xs); lower != tt.lower || upper != tt.upper {
			t.Errorf("quartiles(%v) = %v, %v; want %v, %v", tt.xs, lower, upper, tt.lower, tt.upper)
		}
		if fmt.Sprint(tt.xs) != in {
			t.Errorf("quartiles reordered its argument to %v; want it left as %s", tt.xs, in)
		}
	}
}

// Other load is the machine's busy time beyond the measured processes',
// never below zero.
func TestOtherCores(t *testing.T) {
	s := time.Second
	tests := []struct {
		name  string
		busy  time.Duration
		cpu   [3]time.Duration
		extra time.Duration
		want  float64
	}{
		{"nothing else", 3 * s, [3]time.Duration{2 * s, s, 0}, 0, 0},
		{"half a core else", 4 * s, [3]time.Duration{2 * s, s, 0}, 0, 0.5},
		{"wrk counted", 4 * s, [3]time.Duration{2 * s, s, 0}, s, 0},
		{"tick rounding below zero", 3 * s, [3]time.Duration{2 * s, 2 * s, 0}, 0, 0},
	}
	for _, tt := range tests {
		if got := otherCores(tt.busy, 2*s, tt.cpu, [3]time.Duration{}, tt.extra); got != tt.want {
			t.Errorf("%s: otherCores = %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestCheckVideoAnswer(t *testing.T) {
	vs := makeVideos(20)
	const i = 7
	no := vs.nos[i]
	good := fmt.Sprintf(`{"data":{"video":{"videoNo":%q,"videoName":"load-clip-%d","status":"PARSE","size":%d}}}`, no, i, 1_000_000+i*7919)
	tests := []struct {
		name, answer string
		wantErr      bool
	}{
		{"right", good, false},
		{"another video", strings.Replace(good, no, vs.nos[i+1], 1), true},
		{"wrong size", strings.Replace(good, fmt.Sprint(1_000_000+i*7919), "1", 1), true},
		{"null video", `{"data":{"video":null}}`, true},
		{"with errors", strings.Replace(good, `{"data"`, `{"errors":[{"message":"x"}],"data"`, 1), true},
		{"not JSON", `<html>`, true},
	}
	for _, tt := range tests {
		if err := checkVideoAnswer([]byte(tt.answer), i, no); (err != nil) != tt.wantErr {
			t.Errorf("%s: checkVideoAnswer error = %v; want error %v", tt.name, err, tt.wantErr)
		}
	}
}

func TestParseSizes(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"10,60, 500", "[10 60 500]", false},
		{"0", "", true},
		{"10001", "", true},
		{"10,x", "", true},
	}
	for _, tt := range tests {
		got, err := parseSizes(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && fmt.Sprint(got) != tt.want) {
			t.Errorf("parseSizes(%q) = %v, %v; want %s, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestRoundOrder(t *testing.T) {
	tests := []struct {
		n, round int
		want     []int
	}{
		{4, 1, []int{0, 1, 2, 3}},
		{4, 2, []int{0, 3, 2, 1}},
		{4, 3, []int{0, 1, 2, 3}},
		{1, 2, []int{0}},
		{2, 2, []int{0, 1}},
	}
	for _, tt := range tests {
		if got := roundOrder(tt.n, tt.round); !slices.Equal(got, tt.want) {
			t.Errorf("roundOrder(%d, %d) = %v; want %v", tt.n, tt.round, got, tt.want)
		}
	}
}

func TestAgainstBase(t *testing.T) {
	got := againstBase([]float64{110, 90, 120, 100}, []float64{100, 100, 100, 100}, []float64{90, 110, 80, 100}, []float64{100, 100, 100, 100})
	want := "req/s 1.050x (0.950–1.150), CPU per request 0.950x, faster in 2 of 4 rounds"
	if got != want {
		t.Errorf("againstBase = %q; want %q", got, want)
	}
}
