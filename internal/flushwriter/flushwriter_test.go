package flushwriter

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/eventually"
	"github.com/memories-facade/memories-graphql/internal/videotest"
)

func TestWritesArriveOnInterval(t *testing.T) {
	var out videotest.SyncBuffer
	w := New(&out, 10*time.Millisecond)
	defer w.Close()
	fmt.Fprint(w, "one line\n")
	eventually.True(t, "the line flushed by the interval", func() bool { return out.String() == "one line\n" })
}

func TestCloseLosesNothing(t *testing.T) {
	var out videotest.SyncBuffer
	w := New(&out, time.Hour)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() { fmt.Fprintf(w, "line %d\n", i) })
	}
	wg.Wait()
	if got := out.String(); got != "" {
		t.Errorf("before Close, got %d bytes written; want them buffered", len(got))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := bytes.Count([]byte(out.String()), []byte("\n")); got != 100 {
		t.Errorf("after Close, got %d lines; want 100", got)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
