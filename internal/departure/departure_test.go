package departure_test

import (
	"context"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/departure"
)

// AfterFunc watches the context named under Key when there is one, and the
// context itself otherwise.
func TestAfterFunc(t *testing.T) {
	tests := []struct {
		name      string
		named     bool // ctx names a watch context under Key
		endWatch  bool // the named context ends
		endCtx    bool // ctx itself ends
		wantFired bool
	}{
		{"named context ends", true, true, false, true},
		{"only ctx ends, a context is named", true, false, true, false},
		{"nothing named, ctx ends", false, false, true, true},
		{"nothing ends", false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			watch, endWatch := context.WithCancel(context.Background())
			defer endWatch()
			base := context.Background()
			if tt.named {
				base = context.WithValue(base, departure.Key{}, watch)
			}
			ctx, endCtx := context.WithCancel(base)
			defer endCtx()

			fired := make(chan struct{})
			stop := departure.AfterFunc(ctx, func() { close(fired) })
			defer stop()
			if tt.endWatch {
				endWatch()
			}
			if tt.endCtx {
				endCtx()
			}
			// f runs in a goroutine of its own: wait for it generously; its
			// not running is checked after a wait in which it would have.
			wait := 200 * time.Millisecond
			if tt.wantFired {
				wait = 10 * time.Second
			}
			select {
			case <-fired:
				if !tt.wantFired {
					t.Error("f ran; want it not to")
				}
			case <-time.After(wait):
				if tt.wantFired {
					t.Errorf("f did not run within %v; want it to", wait)
				}
			}
		})
	}
}
