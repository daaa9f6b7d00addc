package main

import (
	"context"
	"fmt"
	"os/exec"
	"time"
)

// child is a process this load test started: our server, Apollo, the
// emulator process or a build of gqlgen-floor.
type child struct {
	cmd   *exec.Cmd
	done  chan struct{} // closed once it has exited
	end   func()        // asks it to exit
	grace time.Duration // how long it has to exit before it is killed
}

// startChild starts cmd. output, run in a goroutine of its own, reads what
// the child writes until the end (its pipes must be read to the end before
// the child is waited for); the child is then waited for and done closed.
func startChild(cmd *exec.Cmd, end func(), grace time.Duration, output func()) (*child, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, done: make(chan struct{}), end: end, grace: grace}
	go func() {
		output()
		_ = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// pid is the child's process id, for the CPU it uses.
func (c *child) pid() int { return c.cmd.Process.Pid }

// stop asks the child to exit and waits; it kills the child if it has not
// exited within its grace.
func (c *child) stop() {
	c.end()
	select {
	case <-c.done:
	case <-time.After(c.grace):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// awaitReady waits for the first of: ready, which it returns; the child
// exiting, ctx ending or 30 s passing, on which it stops the child and says
// which, naming it what.
func awaitReady[T any](ctx context.Context, c *child, ready <-chan T, what string) (T, error) {
	var zero T
	select {
	case v := <-ready:
		return v, nil
	case <-c.done:
		return zero, fmt.Errorf("%s exited before it was ready", what)
	case <-ctx.Done():
		c.stop()
		return zero, ctx.Err()
	case <-time.After(30 * time.Second):
		c.stop()
		return zero, fmt.Errorf("%s was not ready within 30s", what)
	}
}
