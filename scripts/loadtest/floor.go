package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// floorQuery is the query both servers answer in the -vs-floor mode: one
// video, a cache hit on ours after the first request.
const floorQuery = `{"query":"{ video(videoNo: \"VI606404158946574336\") { videoNo videoName status size } }"}`

// vsFloor is the -vs-floor mode: it builds the bare gqlgen server in dir
// (shared/bench/gqlgen-floor), runs it and then ours (sandbox mode, cache
// warm) on loopback, drives each with the same closed loop of o.concurrency
// clients for o.duration, and prints both rates and their ratio.
func vsFloor(ctx context.Context, o options, bin, dir, tmp string) error {
	floorBin := filepath.Join(tmp, "gqlgen-floor")
	build := exec.CommandContext(ctx, "go", "build", "-o", floorBin, ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %v\n%s", dir, err, out)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	floor := exec.Command(floorBin)
	floor.Env = []string{"PATH=" + os.Getenv("PATH"), "HOST=127.0.0.1", "PORT=" + strconv.Itoa(port)}
	if err := floor.Start(); err != nil {
		return err
	}
	floorURL := fmt.Sprintf("http://127.0.0.1:%d/query", port)
	floorRate, err := closedLoop(ctx, o, floorURL)
	_ = floor.Process.Kill()
	_ = floor.Wait()
	if err != nil {
		return fmt.Errorf("gqlgen-floor: %w", err)
	}

	srv, err := startServer(ctx, bin, map[string]string{"LOG_LEVEL": o.logLevel}, o.serverLog)
	if err != nil {
		return err
	}
	defer srv.stop()
	ours, err := closedLoop(ctx, o, "http://"+srv.addr+"/query")
	if err != nil {
		return fmt.Errorf("our server: %w", err)
	}
	fmt.Printf("same query, %d clients, %v each, one after the other on this machine:\n", o.concurrency, o.duration)
	fmt.Printf("gqlgen-floor %8.0f req/s\n", floorRate)
	fmt.Printf("ours (hit)   %8.0f req/s   %.0f%% of the floor\n", ours, 100*ours/floorRate)
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// closedLoop waits for url to answer, warms it, then has o.concurrency
// clients post floorQuery back to back for o.duration; it returns the rate
// of 200 answers. Any other answer is an error.
func closedLoop(ctx context.Context, o options, url string) (float64, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.concurrency}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	post := func() error {
		resp, err := client.Post(url, "application/json", bytes.NewReader([]byte(floorQuery)))
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	}
	deadline := time.Now().Add(30 * time.Second)
	for err := post(); err != nil; err = post() {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("not answering: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(ctx, o.duration)
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
		return 0, err
	}
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}
