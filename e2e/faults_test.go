package e2e

// Fault tests: the emulator misbehaves on purpose (storms of 0429s, hangs,
// malformed bodies, resets...) and clients give up midway. Each test checks
// that the query ends with partial data and one precise error per failed
// video, and that no goroutine is left behind once the servers are closed
// (go.uber.org/goleak, through internal/leakcheck).
//
// TestUpstreamFaultsArePerVideo (queries_test.go) covers each fault kind on
// its own aliased field; these tests cover what it does not. The server
// shutting down with queries in flight is run's to handle:
// TestShutdownDrainsQueriesInFlight is in the repository root's run_test.go.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/eventually"
	"github.com/memories-facade/memories-graphql/internal/leakcheck"
)

// A storm of 0429s: many videos are refused a couple of times and then
// answer, a few are refused until REQUEST_TIMEOUT. The first kind arrive
// complete after backing off; the second end as RATE_LIMITED with
// retryAfterSeconds at their own index; healthy videos are not disturbed.
func TestStormOf0429s(t *testing.T) {
	tests := []struct {
		name   string
		status int // HTTP status of the 0429 answers
	}{
		{"vendor style: code 0429 in HTTP 200", http.StatusOK},
		{"HTTP 429 with code 0429", http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leakcheck.Check(t)
			const (
				stormSize  = 30 // videos refused twice, then served
				stuckSize  = 3  // videos refused until the request's time is out
				stormTimes = 2
			)
			vs, healthy := testVideos(10)
			faults := map[string]emulator.Fault{}
			var storm, stuck []string
			for i := range stormSize {
				no := fmt.Sprintf("VIstorm%02d", i)
				storm = append(storm, no)
				vs = append(vs, rawVideo("default", fmt.Sprintf(`{"video_no":%q,"status":"PARSE"}`, no)))
				faults[no] = emulator.Fault{Kind: emulator.FaultCode, Code: "0429", Msg: "too many requests", Status: tt.status, Times: stormTimes}
			}
			for i := range stuckSize {
				no := fmt.Sprintf("VIstuck%02d", i)
				stuck = append(stuck, no)
				vs = append(vs, rawVideo("default", fmt.Sprintf(`{"video_no":%q,"status":"PARSE"}`, no)))
				faults[no] = emulator.Fault{Kind: emulator.FaultCode, Code: "0429", Msg: "too many requests", Status: tt.status}
			}
			// REQUEST_TIMEOUT leaves the storm's two backoffs (at most
			// 200ms + 400ms) a wide margin on a loaded machine.
			h := setup(t, emulator.Options{Videos: vs, Faults: faults}, with(fast, "REQUEST_TIMEOUT", "3s"))

			// Interleave the three kinds, and ask for one stuck video twice.
			var nos []string
			for i := range stormSize {
				nos = append(nos, storm[i])
				if i < len(healthy) {
					nos = append(nos, healthy[i])
				}
				if i < len(stuck) {
					nos = append(nos, stuck[i])
				}
			}
			nos = append(nos, stuck[0])
			isStuck := map[string]bool{}
			for _, no := range stuck {
				isStuck[no] = true
			}

			got, resp := h.videosList(t, nos)
			errs := resp.errorsByPath()
			wantErrs := 0
			for i, no := range nos {
				path := fmt.Sprintf("videos.%d", i)
				e, hasErr := errs[path]
				if !isStuck[no] {
					if hasErr {
						t.Errorf("%s (%s): error %q (%s); want data", path, no, e.Message, e.Code())
					}
					if got[i] == nil || got[i].VideoNo != no {
						t.Errorf("%s = %+v; want %s", path, got[i], no)
					}
					continue
				}
				wantErrs++
				if got[i] != nil {
					t.Errorf("%s = %+v; want null", path, got[i])
				}
				if !hasErr {
					t.Errorf("%s (%s): no error; want RATE_LIMITED", path, no)
					continue
				}
				if e.Code() != "RATE_LIMITED" {
					t.Errorf("%s: code = %q; want RATE_LIMITED (message %q)", path, e.Code(), e.Message)
				}
				if secs, ok := e.RetryAfterSeconds(); !ok || secs < 1 {
					t.Errorf("%s: retryAfterSeconds = %v; want a number >= 1", path, e.Extensions["retryAfterSeconds"])
				}
			}
			if got := len(resp.Errors); got != wantErrs {
				t.Errorf("len(errors) = %d; want %d: %+v", got, wantErrs, resp.Errors)
			}

			for _, no := range storm {
				if got, want := h.emu.RequestsFor(no), int64(stormTimes+1); got != want {
					t.Errorf("upstream calls for %s = %d; want %d (refused %d times, then served)", no, got, want, stormTimes)
				}
			}
			for _, no := range healthy {
				if got := h.emu.RequestsFor(no); got != 1 {
					t.Errorf("upstream calls for %s = %d; want 1", no, got)
				}
			}
			for _, no := range stuck {
				if got := h.emu.RequestsFor(no); got < 2 {
					t.Errorf("upstream calls for %s = %d; want at least 2 (0429 is retried)", no, got)
				}
			}
		})
	}
}

// A client that gives up while its query waits on a hanging upstream call:
// the server stops that call (the upstream sees its request end, long
// before any timeout), stays healthy, and the next query for the same video
// answers.
func TestClientCancelStopsUpstreamCall(t *testing.T) {
	leakcheck.Check(t)
	vs, nos := testVideos(3)
	// The first request for nos[0] hangs; later ones answer. Timeouts far
	// beyond the test's waits mean only the cancellation can end the hang.
	h, up := setupCounting(t, emulator.Options{Videos: vs, Faults: map[string]emulator.Fault{
		nos[0]: {Kind: emulator.FaultHang, Times: 1},
	}}, with(fast, "MEMORIES_CALL_TIMEOUT", "10m", "REQUEST_TIMEOUT", "10m"))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clientErr := make(chan error, 1)
	go func() { clientErr <- postWithContext(ctx, h.url, videosListQuery, map[string]any{"nos": nos}) }()

	eventually.True(t, "the upstream to receive the hanging call", func() bool {
		return h.emu.RequestsFor(nos[0]) == 1 && up.inFlight.Load() >= 1
	})
	cancel()
	if err := <-clientErr; !errors.Is(err, context.Canceled) {
		t.Errorf("client error = %v; want context.Canceled", err)
	}
	eventually.True(t, "the server to abandon the upstream call of the departed client", func() bool {
		return up.inFlight.Load() == 0
	})
	// A client that leaves is no fault of the server's: its request is not
	// recorded as a 500 (and, as in every test, nothing is logged at ERROR).
	eventually.True(t, "the departed client's access record", func() bool {
		return strings.Contains(h.logs.String(), "msg=request ")
	})
	if logs := h.logs.String(); strings.Contains(logs, "status=500") {
		t.Errorf("server log after a client left:\n%s\nwant no 500", logs)
	}

	h.requireVideos(t, nos)
	// The abandoned call is not remembered as a failure: it is asked again.
	if got, want := h.emu.RequestsFor(nos[0]), int64(2); got != want {
		t.Errorf("upstream calls for %s = %d; want %d", nos[0], got, want)
	}
}

// A client that gives up while other clients wait on the same slow video
// does not fail them (the dataloader trap in DESIGN.md, across requests):
// they get their data, and the server answers the next query.
func TestClientCancelLeavesOthersServed(t *testing.T) {
	leakcheck.Check(t)
	vs, nos := testVideos(4)
	shared := nos[0]
	h := setup(t, emulator.Options{Videos: vs, Latency: 2 * time.Second}, fast)

	// The first client starts the call for the shared video...
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clientErr := make(chan error, 1)
	go func() {
		clientErr <- postWithContext(ctx, h.url, videosListQuery, map[string]any{"nos": []string{shared, nos[1]}})
	}()
	eventually.True(t, "the first client's upstream calls", func() bool {
		return h.emu.RequestsFor(shared) == 1 && h.emu.RequestsFor(nos[1]) == 1
	})

	// ...others ask for it too; once the upstream sees their other video,
	// their batch is running (and has most likely joined the shared call)...
	const others = 3
	answers := make(chan response, others)
	var wg sync.WaitGroup
	for i := range others {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers <- postQuery(t, h.url, videosListQuery, map[string]any{"nos": []string{shared, nos[2+i%2]}})
		}()
	}
	eventually.True(t, "the other clients' upstream calls", func() bool {
		return h.emu.RequestsFor(nos[2])+h.emu.RequestsFor(nos[3]) >= 1
	})

	// ...and the first client leaves before the upstream answers.
	cancel()
	if err := <-clientErr; !errors.Is(err, context.Canceled) {
		t.Errorf("first client's error = %v; want context.Canceled", err)
	}
	wg.Wait()
	close(answers)
	for resp := range answers {
		if len(resp.Errors) > 0 {
			t.Errorf("errors for a client that stayed: %+v; want none", resp.Errors)
			continue
		}
		got := decodeVideos(t, resp.Data["videos"])
		if len(got) != 2 || got[0] == nil || got[0].VideoNo != shared || got[1] == nil {
			t.Errorf("videos = %s; want %s and another video", resp.Data["videos"], shared)
		}
	}

	h.emu.SetLatency(0)
	h.requireVideos(t, nos)
}

// Every kind of upstream failure, each next to healthy videos in one videos
// list: each failure is null with one error at its own index and the right
// code, the healthy and unknown videos answer, and a repeated failing video
// costs one upstream call.
func TestEveryFaultKindInOneList(t *testing.T) {
	leakcheck.Check(t)
	faults := []struct {
		no           string
		fault        emulator.Fault
		code         string
		upstreamCode string // "" when the upstream sent no business code
		calls        int64  // upstream calls
		atLeast      bool   // calls is a minimum: the call is retried
	}{
		{"http500", emulator.Fault{Kind: emulator.FaultHTTPError}, "UPSTREAM_ERROR", "", 1, false},
		{"http503", emulator.Fault{Kind: emulator.FaultHTTPError, Status: http.StatusServiceUnavailable}, "UPSTREAM_ERROR", "", 1, false},
		{"hang", emulator.Fault{Kind: emulator.FaultHang}, "UPSTREAM_TIMEOUT", "", 1, false},
		{"malformed", emulator.Fault{Kind: emulator.FaultMalformed}, "UPSTREAM_ERROR", "", 1, false},
		{"truncated", emulator.Fault{Kind: emulator.FaultTruncated}, "UPSTREAM_ERROR", "", 1, false},
		{"html", emulator.Fault{Kind: emulator.FaultWrongContentType}, "UPSTREAM_ERROR", "", 1, false},
		// net/http itself retries a GET whose reused connection is reset.
		{"reset", emulator.Fault{Kind: emulator.FaultReset}, "UPSTREAM_ERROR", "", 1, true},
		{"disabled", emulator.Fault{Kind: emulator.FaultCode, Code: "0403", Msg: "account disabled"}, "FORBIDDEN", "0403", 1, false},
		{"nopoints", emulator.Fault{Kind: emulator.FaultCode, Code: "0402", Msg: "insufficient points"}, "FORBIDDEN", "0402", 1, false},
		{"badkey", emulator.Fault{Kind: emulator.FaultCode, Code: "9009", Msg: "invalid api key"}, "UNAUTHENTICATED", "9009", 1, false},
		{"badparam", emulator.Fault{Kind: emulator.FaultCode, Code: "0003", Msg: "parameter error"}, "BAD_USER_INPUT", "0003", 1, false},
		{"unknowncode", emulator.Fault{Kind: emulator.FaultCode, Code: "5555", Msg: "something new"}, "UPSTREAM_ERROR", "5555", 1, false},
		// 0001 "network abnormal" is retried twice, then reported.
		{"network", emulator.Fault{Kind: emulator.FaultCode, Code: "0001", Msg: "network abnormal"}, "UPSTREAM_ERROR", "0001", 3, false},
		// 0429 is retried until the request's time runs out.
		{"throttled", emulator.Fault{Kind: emulator.FaultCode, Code: "0429", Msg: "too many requests"}, "RATE_LIMITED", "", 2, true},
	}
	vs, healthy := testVideos(len(faults))
	emuFaults := map[string]emulator.Fault{}
	for _, f := range faults {
		vs = append(vs, rawVideo("default", fmt.Sprintf(`{"video_no":%q,"status":"PARSE"}`, f.no)))
		emuFaults[f.no] = f.fault
	}
	// MEMORIES_CALL_TIMEOUT ends the hang; REQUEST_TIMEOUT ends the 0429s
	// and leaves 0001's two retries (at most 200ms + 400ms) a wide margin.
	h := setup(t, emulator.Options{Videos: vs, Faults: emuFaults},
		with(fast, "MEMORIES_CALL_TIMEOUT", "1s", "REQUEST_TIMEOUT", "4s"))

	// healthy, fault, healthy, fault, ..., then an unknown video and a
	// repeated failure.
	const unknown = "VI000000000000000000"
	var nos []string
	faultAt := map[int]int{} // list index → index in faults
	for i, f := range faults {
		nos = append(nos, healthy[i])
		faultAt[len(nos)] = i
		nos = append(nos, f.no)
	}
	nos = append(nos, unknown)
	faultAt[len(nos)] = 0
	nos = append(nos, faults[0].no)

	got, resp := h.videosList(t, nos)
	errs := resp.errorsByPath()
	for i, no := range nos {
		path := fmt.Sprintf("videos.%d", i)
		e, hasErr := errs[path]
		fi, faulty := faultAt[i]
		switch {
		case !faulty && hasErr:
			t.Errorf("%s (%s): error %q (%s); want none", path, no, e.Message, e.Code())
		case !faulty && no == unknown && got[i] != nil:
			t.Errorf("%s = %+v; want null for an unknown video", path, got[i])
		case !faulty && no != unknown && (got[i] == nil || got[i].VideoNo != no):
			t.Errorf("%s = %+v; want %s", path, got[i], no)
		case faulty && got[i] != nil:
			t.Errorf("%s (%s) = %+v; want null", path, no, got[i])
		case faulty && !hasErr:
			t.Errorf("%s (%s): no error; want %s", path, no, faults[fi].code)
		case faulty:
			f := faults[fi]
			if e.Code() != f.code {
				t.Errorf("%s (%s): code = %q; want %q (message %q)", path, no, e.Code(), f.code, e.Message)
			}
			if got, _ := e.Extensions["upstreamCode"].(string); f.upstreamCode != "" && got != f.upstreamCode {
				t.Errorf("%s (%s): upstreamCode = %q; want %q", path, no, got, f.upstreamCode)
			}
			if f.code == "RATE_LIMITED" {
				if secs, ok := e.RetryAfterSeconds(); !ok || secs < 1 {
					t.Errorf("%s (%s): retryAfterSeconds = %v; want a number >= 1", path, no, e.Extensions["retryAfterSeconds"])
				}
			}
			if strings.Contains(e.Message, "127.0.0.1") || strings.Contains(e.Message, "http") || strings.Contains(e.Message, testKey) {
				t.Errorf("%s (%s): message %q leaks an upstream address or key", path, no, e.Message)
			}
		}
	}
	if got, want := len(resp.Errors), len(faultAt); got != want {
		t.Errorf("len(errors) = %d; want %d: %+v", got, want, resp.Errors)
	}

	for _, f := range faults {
		got := h.emu.RequestsFor(f.no)
		switch {
		case f.atLeast && got < f.calls:
			t.Errorf("upstream calls for %s = %d; want at least %d", f.no, got, f.calls)
		case !f.atLeast && got != f.calls:
			t.Errorf("upstream calls for %s = %d; want %d", f.no, got, f.calls)
		}
	}
	for _, no := range healthy {
		if got := h.emu.RequestsFor(no); got != 1 {
			t.Errorf("upstream calls for %s = %d; want 1", no, got)
		}
	}
}

// MEMORIES_CALL_TIMEOUT bounds each upstream call whatever time its request
// has left: a call beneath a fetch shared between requests (a context of
// its own, with the request's deadline but not its cancellation) ends at
// the call's timeout, not at the request's ten minutes.
func TestCallTimeoutBoundsSharedFetch(t *testing.T) {
	vs, nos := testVideos(2)
	faults := map[string]emulator.Fault{nos[0]: {Kind: emulator.FaultHang}}
	tests := []struct {
		name  string
		env   map[string]string
		query string
		path  string
	}{
		{"get_metadata", fast, fmt.Sprintf(`{ video(videoNo: %q) { videoNo } }`, nos[0]), "video"},
		{"list_videos", fastList, fmt.Sprintf(`{ videos(videoNos: [%q, %q]) { videoNo } }`, nos[0], nos[1]), "videos.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := setup(t, emulator.Options{Videos: vs, Faults: faults, ListFaults: faults},
				with(tt.env, "MEMORIES_CALL_TIMEOUT", "300ms", "REQUEST_TIMEOUT", "10m"))
			// Far beyond the call's timeout, far short of the request's.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			resp, raw, err := post(ctx, h.url, mustJSON(map[string]any{"query": tt.query}))
			if err != nil {
				t.Fatalf("POST: %v (the call's timeout did not end the hanging call)", err)
			}
			got := graphQLResponse(t, resp, raw)
			e, ok := got.errorsByPath()[tt.path]
			if !ok || e.Code() != "UPSTREAM_TIMEOUT" {
				t.Errorf("error at %s: got %+v; want UPSTREAM_TIMEOUT\n%s", tt.path, e, got.Raw)
			}
		})
	}
}
