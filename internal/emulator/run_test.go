package emulator_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/eventually"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

var listeningLine = regexp.MustCompile(`^memories\.ai emulator listening on (http://127\.0\.0\.1:\d+)\n$`)

// runEmulator starts Run in the background and returns its base URL, a
// function that stops it and the channel Run's error arrives on.
func runEmulator(t *testing.T, args []string, env map[string]string) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	out := &videotest.SyncBuffer{}
	errc := make(chan error, 1)
	go func() { errc <- emulator.Run(ctx, args, func(k string) string { return env[k] }, out) }()

	var base string
	eventually.True(t, "the listening line", func() bool {
		select {
		case err := <-errc:
			t.Fatalf("Run returned early: %v", err)
		default:
		}
		m := listeningLine.FindStringSubmatch(out.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	})
	return base, cancel, errc
}

// waitRun waits for Run to return after its context was cancelled.
func waitRun(t *testing.T, errc <-chan error) {
	t.Helper()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Run after cancel: %v; want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("Run still running 15s after its context was cancelled")
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		args           []string
		env            map[string]string
		accepted, bad  string
		wantRateLimits bool
	}{
		{
			name:     "env",
			args:     []string{"-addr", "127.0.0.1:0"},
			env:      map[string]string{"EMULATOR_KEYS": "env-key, other-key", "EMULATOR_RATE_LIMIT": "0.05", "EMULATOR_BURST": "1"},
			accepted: "env-key", bad: "flag-key", wantRateLimits: true,
		},
		{
			name:     "flags win over env",
			args:     []string{"-keys=flag-key", "-latency", "1ms", "-rate-limit-status", "429", "-retry-after"},
			env:      map[string]string{"EMULATOR_KEYS": "env-key", "EMULATOR_ADDR": "127.0.0.1:0"},
			accepted: "flag-key", bad: "env-key",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, cancel, errc := runEmulator(t, tt.args, tt.env)
			c := newClient(t, base, true)

			res, env := c.getEnvelope(tt.accepted, "video_no="+vendorNo)
			if got := wantFound(t, res, env); got != vendorData {
				t.Errorf("data = %s; want %s", got, vendorData)
			}
			res, env = c.getEnvelope(tt.bad, "video_no="+vendorNo)
			wantError(t, res, env, 200, "9009", "invalid api key")
			_, env = c.getEnvelope(tt.accepted, "video_no="+vendorNo)
			if got := env.Code == "0429"; got != tt.wantRateLimits {
				t.Errorf("second request code = %q; want rate limited: %v", env.Code, tt.wantRateLimits)
			}

			cancel()
			waitRun(t, errc)
		})
	}
}

func TestRunListFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		args         []string
		env          map[string]string
		wantPageSize int
		wantCodes    []string // of successive list calls
	}{
		{
			name:         "env",
			args:         []string{"-addr=127.0.0.1:0"},
			env:          map[string]string{"EMULATOR_LIST_RATE_LIMIT": "0.05", "EMULATOR_LIST_BURST": "2", "EMULATOR_LIST_PAGE_CAP": "3"},
			wantPageSize: 3, wantCodes: []string{"0000", "0000", "0429"},
		},
		{
			name:         "flags win over env",
			args:         []string{"-addr=127.0.0.1:0", "-list-rate-limit", "0.05", "-list-burst=1", "-list-page-cap=7"},
			env:          map[string]string{"EMULATOR_LIST_BURST": "5", "EMULATOR_LIST_PAGE_CAP": "2"},
			wantPageSize: 7, wantCodes: []string{"0000", "0429"},
		},
		{
			name:         "defaults",
			args:         []string{"-addr=127.0.0.1:0"},
			wantPageSize: emulator.DefaultListPageCap, wantCodes: []string{"0000", "0000", "0000"},
		},
		{
			name:      "disabled",
			args:      []string{"-addr=127.0.0.1:0"},
			env:       map[string]string{"EMULATOR_LIST_DISABLED": "true"},
			wantCodes: []string{"0404"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, cancel, errc := runEmulator(t, tt.args, tt.env)
			c := newClient(t, base, true)
			for i, want := range tt.wantCodes {
				res := c.list("key", `{"size":200}`)
				env := decodeEnvelope(t, res)
				if env.Code != want {
					t.Errorf("list call %d: code = %q; want %q", i+1, env.Code, want)
				}
				if env.Code != "0000" {
					continue
				}
				var d struct {
					PageSize int `json:"page_size"`
				}
				if err := json.Unmarshal(env.Data, &d); err != nil || d.PageSize != tt.wantPageSize {
					t.Errorf("list call %d: page_size = %d (%v); want %d", i+1, d.PageSize, err, tt.wantPageSize)
				}
			}
			// get_metadata keeps its own (unlimited) budget.
			res, env := c.getEnvelope("key", "video_no="+vendorNo)
			wantFound(t, res, env)
			cancel()
			waitRun(t, errc)
		})
	}
}

func TestRunVideosFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "videos.json")
	file := `[{"unique_id":"qa","data":{"video_no":"VI300000000000000001","video_name":"from-file"}}]`
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	base, cancel, errc := runEmulator(t, []string{"-addr=127.0.0.1:0", "-videos", path}, nil)
	c := newClient(t, base, true)

	res, env := c.getEnvelope("k", "video_no=VI300000000000000001&unique_id=qa")
	if got := videoName(t, wantFound(t, res, env)); got != "from-file" {
		t.Errorf("video_name = %s; want from-file", got)
	}
	res, env = c.getEnvelope("k", "video_no="+vendorNo)
	if got := wantFound(t, res, env); got != "null" {
		t.Errorf("sample data = %s; want null when -videos is given", got)
	}
	cancel()
	waitRun(t, errc)
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"unknown flag", []string{"-nope"}, nil, "not defined"},
		{"bad flag value", []string{"-burst", "many"}, nil, "invalid value"},
		{"bad env value", []string{"-addr=127.0.0.1:0"}, map[string]string{"EMULATOR_RATE_LIMIT": "fast"}, "EMULATOR_RATE_LIMIT"},
		{"bad env duration", []string{"-addr=127.0.0.1:0"}, map[string]string{"EMULATOR_LATENCY": "soon"}, "EMULATOR_LATENCY"},
		{"extra arguments", []string{"-addr=127.0.0.1:0", "serve"}, nil, "unexpected arguments"},
		{"negative rate", []string{"-addr=127.0.0.1:0", "-rate-limit=-1"}, nil, "invalid options"},
		{"negative list page cap", []string{"-addr=127.0.0.1:0", "-list-page-cap=-1"}, nil, "invalid options"},
		{"bad list env value", []string{"-addr=127.0.0.1:0"}, map[string]string{"EMULATOR_LIST_BURST": "lots"}, "EMULATOR_LIST_BURST"},
		{"bad address", []string{"-addr=127.0.0.1:99999"}, nil, "listen"},
		{"missing videos file", []string{"-addr=127.0.0.1:0", "-videos", "/nonexistent/videos.json"}, nil, "videos.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A deadline, so that a Run that wrongly starts still returns.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var out videotest.SyncBuffer
			err := emulator.Run(ctx, tt.args, func(k string) string { return tt.env[k] }, &out)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Run(%q) = %v; want an error containing %q", tt.args, err, tt.wantErr)
			}
			if strings.Contains(out.String(), "listening") {
				t.Errorf("Run printed %q; want no listening line on error", out.String())
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	t.Parallel()
	var out videotest.SyncBuffer
	if err := emulator.Run(context.Background(), []string{"-h"}, nil, &out); err != nil {
		t.Errorf("Run(-h) = %v; want nil", err)
	}
	for _, want := range []string{
		"-rate-limit", "EMULATOR_RATE_LIMIT", "-retry-after", "EMULATOR_ADDR",
		"-list-rate-limit", "EMULATOR_LIST_RATE_LIMIT", "-list-burst", "EMULATOR_LIST_BURST",
		"-list-page-cap", "EMULATOR_LIST_PAGE_CAP", "-list-disabled", "EMULATOR_LIST_DISABLED",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage %q; want it to mention %s", out.String(), want)
		}
	}
}
