// Package flushwriter buffers writes to a slow writer, such as the log's
// stderr, and flushes them on an interval and on Close: the request log
// costs a system call per interval instead of one per request, and loses
// nothing at shutdown.
package flushwriter

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// Writer is a buffered io.Writer safe for concurrent use.
type Writer struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

// New returns a Writer over w that flushes at least every interval.
func New(w io.Writer, interval time.Duration) *Writer {
	fw := &Writer{buf: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go fw.loop(interval)
	return fw
}

func (w *Writer) loop(interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = w.flush()
		case <-w.stop:
			return
		}
	}
}

// Write buffers p; a full buffer is written through at once.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// flush writes what is buffered.
func (w *Writer) flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Flush()
}

// Close stops the interval and flushes what is left. Writes after Close
// are buffered until the next Close.
func (w *Writer) Close() error {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
	return w.flush()
}
