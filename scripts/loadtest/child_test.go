package main

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A child is ready when its output says so, and reported when it exits or
// stays silent first; stop ends it, killing it if it ignores the request.
func TestChild(t *testing.T) {
	tests := []struct {
		name      string
		script    string
		wait      time.Duration // the ctx given to awaitReady
		wantReady bool
		wantErr   string
	}{
		{"ready, then stopped", "echo ready; exec sleep 60", time.Minute, true, ""},
		{"ready, ignores the stop", "trap '' TERM; echo ready; while :; do sleep 1; done", time.Minute, true, ""},
		{"exits first", "exit 3", time.Minute, false, "exited before it was ready"},
		{"silent past ctx", "exec sleep 60", 200 * time.Millisecond, false, context.DeadlineExceeded.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("sh", "-c", tt.script)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			ready := make(chan string, 1)
			c, err := startChild(cmd, func() { _ = cmd.Process.Signal(syscall.SIGTERM) }, time.Second, func() {
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					select {
					case ready <- sc.Text():
					default:
					}
				}
			})
			if err != nil {
				t.Fatalf("startChild: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), tt.wait)
			defer cancel()
			line, err := awaitReady(ctx, c, ready, "the child")
			if tt.wantReady {
				if err != nil || line != "ready" {
					t.Fatalf("awaitReady = %q, %v; want \"ready\", nil", line, err)
				}
				c.stop()
			} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("awaitReady error = %v; want one saying %q", err, tt.wantErr)
			}
			select {
			case <-c.done:
			case <-time.After(30 * time.Second):
				t.Fatal("the child is still running 30s after it was stopped; want it ended")
			}
		})
	}
}
