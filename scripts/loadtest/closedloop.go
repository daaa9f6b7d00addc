package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// target is one server the vs-floor or vs-apollo mode measures.
type target struct {
	name string
	url  string
	pid  int
}

// loadSpec is what closedLoop sends and how it judges the answers.
type loadSpec struct {
	// body is the i-th request's body, i counting every request of the
	// loop from 0 across all clients.
	body func(i uint64) []byte
	// check judges a 200 answer to the i-th request; nil accepts any 200.
	check func(i uint64, answer []byte) error
	// warm is how long to load the server, unmeasured, before the
	// measured run (for JIT compilers, pools and caches).
	warm time.Duration
	// ready, if set, is called after warming, just before the measured run.
	ready func() error
}

// constBody is a loadSpec body that sends b every time.
func constBody(b []byte) func(uint64) []byte { return func(uint64) []byte { return b } }

// loopResult is what a measured run did.
type loopResult struct {
	requests int64
	elapsed  time.Duration
}

func (r loopResult) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// closedLoop waits for url to answer, warms it for spec.warm, then has
// o.concurrency clients post spec's bodies back to back for o.duration; it
// counts the right answers (200, and spec.check's approval). Any other
// answer is an error.
func closedLoop(ctx context.Context, o *options, url string, spec loadSpec) (loopResult, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.concurrency}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	var next atomic.Uint64
	post := func() error {
		i := next.Add(1) - 1
		resp, err := client.Post(url, "application/json", bytes.NewReader(spec.body(i)))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if spec.check == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		if spec.check == nil {
			return nil
		}
		answer, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		return spec.check(i, answer)
	}
	deadline := time.Now().Add(30 * time.Second)
	for err := post(); err != nil; err = post() {
		if time.Now().After(deadline) {
			return loopResult{}, fmt.Errorf("not answering: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	run := func(d time.Duration) (loopResult, error) {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		var (
			n    atomic.Int64
			wg   sync.WaitGroup
			fail atomic.Value
		)
		start := time.Now()
		for range o.concurrency {
			wg.Go(func() {
				for ctx.Err() == nil {
					if err := post(); err != nil {
						if ctx.Err() == nil {
							fail.Store(err)
						}
						return
					}
					n.Add(1)
				}
			})
		}
		wg.Wait()
		if err, ok := fail.Load().(error); ok {
			return loopResult{}, err
		}
		return loopResult{requests: n.Load(), elapsed: time.Since(start)}, nil
	}
	if spec.warm > 0 {
		if _, err := run(spec.warm); err != nil {
			return loopResult{}, err
		}
	}
	if spec.ready != nil {
		if err := spec.ready(); err != nil {
			return loopResult{}, err
		}
	}
	return run(o.duration)
}
