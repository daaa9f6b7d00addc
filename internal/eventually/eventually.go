// Package eventually waits, in tests, for a condition that another goroutine
// or process makes true: a counter reaching a value, a log line appearing.
package eventually

import (
	"testing"
	"time"
)

// timeout is how long True waits. It only bounds a failing test, so it is
// generous: a loaded CI machine must never turn a slow pass into a failure.
const timeout = 30 * time.Second

// True polls cond until it holds, and fails the test if it does not within
// 30 seconds; what names the awaited event in the failure.
func True(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
