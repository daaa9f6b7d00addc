// Package leakcheck fails a test that leaves goroutines behind: the
// full-stack tests (e2e) and run's own tests (the repo root) use it to
// check that servers, clients and upstream calls all end.
package leakcheck

import (
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Check makes t fail if goroutines started after this call are still
// running once t's other cleanups have run. Call it first thing in the
// test, so that its check runs last.
func Check(t *testing.T) {
	t.Helper()
	// Goroutines of earlier tests (and of the runtime, testing and other
	// packages) are not this test's concern.
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		// goleak retries for about 1.5s, which a loaded 2-core machine may
		// need more than to unwind closed connections; give it up to 20s,
		// then let VerifyNone report what is left. The keep-alive
		// connections of http.DefaultClient (shared by the tests' client
		// and, through http.DefaultTransport, by a server's upstream
		// client) each hold a reader and a writer goroutine until closed.
		deadline := time.Now().Add(20 * time.Second)
		for goleak.Find(ignore) != nil && time.Now().Before(deadline) {
			http.DefaultClient.CloseIdleConnections()
			time.Sleep(50 * time.Millisecond)
		}
		goleak.VerifyNone(t, ignore)
	})
}
