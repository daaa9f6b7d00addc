package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/eventually"
)

func TestFaults(t *testing.T) {
	t.Parallel()
	normalBody := `{"code":"0000","msg":"success","data":` + vendorData + `,"success":true,"failed":false}`

	tests := []struct {
		name  string
		fault emulator.Fault
		check func(t *testing.T, res response)
	}{
		{"http error", emulator.Fault{Kind: emulator.FaultHTTPError}, func(t *testing.T, res response) {
			if res.status != 500 || string(res.body) != "<html>Internal Server Error</html>" {
				t.Errorf("status, body = %d, %q; want 500, the small HTML page", res.status, res.body)
			}
		}},
		{"http error with status", emulator.Fault{Kind: emulator.FaultHTTPError, Status: 503}, func(t *testing.T, res response) {
			if res.status != 503 {
				t.Errorf("status = %d; want 503", res.status)
			}
		}},
		{"malformed", emulator.Fault{Kind: emulator.FaultMalformed}, func(t *testing.T, res response) {
			prefix := `{"code":"0000","msg":"success","data":{"video_no":`
			if res.status != 200 || !strings.HasPrefix(string(res.body), prefix) || json.Valid(res.body) {
				t.Errorf("status, body = %d, %q; want 200 and invalid JSON starting %s", res.status, res.body, prefix)
			}
			if got := res.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q; want application/json", got)
			}
		}},
		{"truncated", emulator.Fault{Kind: emulator.FaultTruncated}, func(t *testing.T, res response) {
			want := normalBody[:len(normalBody)/2]
			if res.status != 200 || string(res.body) != want {
				t.Errorf("status, body = %d, %q; want 200, %q", res.status, res.body, want)
			}
			if json.Valid(res.body) {
				t.Errorf("truncated body is valid JSON; want it cut")
			}
		}},
		{"code default", emulator.Fault{Kind: emulator.FaultCode}, func(t *testing.T, res response) {
			wantError(t, res, decodeEnvelope(t, res), 200, "0001", "network abnormal")
		}},
		{"code 0403", emulator.Fault{Kind: emulator.FaultCode, Code: "0403", Msg: "forbidden"}, func(t *testing.T, res response) {
			wantError(t, res, decodeEnvelope(t, res), 200, "0403", "forbidden")
		}},
		{"code 0402 with status", emulator.Fault{Kind: emulator.FaultCode, Code: "0402", Msg: "insufficient balance", Status: 402}, func(t *testing.T, res response) {
			wantError(t, res, decodeEnvelope(t, res), 402, "0402", "insufficient balance")
		}},
		{"wrong content type", emulator.Fault{Kind: emulator.FaultWrongContentType}, func(t *testing.T, res response) {
			if got := res.header.Get("Content-Type"); res.status != 200 || !strings.HasPrefix(got, "text/html") {
				t.Errorf("status, Content-Type = %d, %q; want 200, text/html", res.status, got)
			}
			if json.Valid(res.body) {
				t.Errorf("body %q is JSON; want HTML", res.body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, emulator.Options{Faults: map[string]emulator.Fault{vendorNo: tt.fault}})
			c := newClient(t, s.URL(), true)
			tt.check(t, c.get("key", "video_no="+vendorNo))

			// Other videos are not affected.
			res, env := c.getEnvelope("key", "video_no=VI606417322871980032")
			wantFound(t, res, env)
			if got := s.Stats(); got.Faulted != 1 || got.Served != 1 {
				t.Errorf("Faulted, Served = %d, %d; want 1, 1", got.Faulted, got.Served)
			}
		})
	}
}

func TestFaultReset(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{Faults: map[string]emulator.Fault{vendorNo: {Kind: emulator.FaultReset}}})
	c := newClient(t, s.URL(), false)

	if res, err := c.request(context.Background(), http.MethodGet, "key", "video_no="+vendorNo); err == nil {
		t.Errorf("got HTTP %d %q; want a connection error", res.status, res.body)
	}
	if got := s.Stats().Faulted; got != 1 {
		t.Errorf("Faulted = %d; want 1", got)
	}
}

func TestFaultHang(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{Faults: map[string]emulator.Fault{vendorNo: {Kind: emulator.FaultHang}}})
	c := newClient(t, s.URL(), false)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.request(ctx, http.MethodGet, "key", "video_no="+vendorNo); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v; want context.DeadlineExceeded", err)
	}
}

func TestFaultHangReleasedByClose(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{Faults: map[string]emulator.Fault{vendorNo: {Kind: emulator.FaultHang}}})
	c := newClient(t, s.URL(), false)

	errc := make(chan error, 1)
	go func() {
		_, err := c.request(context.Background(), http.MethodGet, "key", "video_no="+vendorNo)
		errc <- err
	}()
	eventually.True(t, "the request to hang", func() bool { return s.Stats().Faulted == 1 })

	begin := time.Now()
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	// Close waits up to 5s for answers in flight; a released hang is not one.
	if got := time.Since(begin); got > 4*time.Second {
		t.Errorf("Close took %v; want the hang released at once", got)
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Errorf("hanging request got an answer; want a dropped connection")
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("request still hanging 10s after Close")
	}

	// After Close a hang no longer blocks, even through the bare handler.
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = recover() }() // the handler aborts: there is no connection to drop
		req, _ := http.NewRequest(http.MethodGet, emulator.MetadataPath+"?video_no="+vendorNo, nil)
		req.Header.Set("Authorization", "key")
		s.Handler().ServeHTTP(discardWriter{}, req)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("hang after Close still blocking after 10s")
	}
}

// discardWriter is a ResponseWriter that cannot be hijacked.
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}

func TestFaultTimes(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{Faults: map[string]emulator.Fault{vendorNo: {Kind: emulator.FaultHTTPError, Times: 2}}})
	c := newClient(t, s.URL(), true)

	for i, want := range []int{500, 500, 200, 200} {
		if got := c.get("key", "video_no="+vendorNo).status; got != want {
			t.Errorf("request %d: status = %d; want %d", i+1, got, want)
		}
	}
	if got := s.Stats(); got.Faulted != 2 || got.Served != 2 || s.RequestsFor(vendorNo) != 4 {
		t.Errorf("Faulted, Served, RequestsFor = %d, %d, %d; want 2, 2, 4", got.Faulted, got.Served, s.RequestsFor(vendorNo))
	}
}

func TestFaultsAtRunTime(t *testing.T) {
	t.Parallel()
	s := start(t, emulator.Options{Keys: []string{"k"}})
	c := newClient(t, s.URL(), true)
	other := "VI606417322871980032"

	steps := []struct {
		name       string
		change     func()
		auth, no   string
		wantStatus int
	}{
		{"no fault", func() {}, "k", vendorNo, 200},
		{"set", func() { s.SetFault(vendorNo, emulator.Fault{Kind: emulator.FaultHTTPError}) }, "k", vendorNo, 500},
		{"other video unaffected", func() {}, "k", other, 200},
		{"auth comes before faults", func() {}, "bad", vendorNo, 200},
		{"parameters come before faults", func() { s.SetFault("", emulator.Fault{Kind: emulator.FaultHTTPError}) }, "k", "", 200},
		{"zero kind removes", func() { s.SetFault(vendorNo, emulator.Fault{}) }, "k", vendorNo, 200},
		{"set two", func() {
			s.SetFault(vendorNo, emulator.Fault{Kind: emulator.FaultHTTPError})
			s.SetFault(other, emulator.Fault{Kind: emulator.FaultHTTPError})
		}, "k", other, 500},
		{"clear", s.ClearFaults, "k", vendorNo, 200},
		{"cleared too", func() {}, "k", other, 200},
	}
	for _, st := range steps {
		st.change()
		if got := c.get(st.auth, "video_no="+st.no).status; got != st.wantStatus {
			t.Errorf("%s: status = %d; want %d", st.name, got, st.wantStatus)
		}
	}
}

func TestSetFaultPanicsOnInvalidFault(t *testing.T) {
	t.Parallel()
	s := emulator.New(emulator.Options{})
	tests := []struct {
		name  string
		fault emulator.Fault
	}{
		{"unknown kind", emulator.Fault{Kind: 42}},
		{"bad status", emulator.Fault{Kind: emulator.FaultCode, Status: 7}},
		{"negative times", emulator.Fault{Kind: emulator.FaultCode, Times: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("SetFault(%+v) did not panic; want a panic", tt.fault)
				}
			}()
			s.SetFault(vendorNo, tt.fault)
		})
	}
}

func TestFaultKindString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind emulator.FaultKind
		want string
	}{
		{0, "FaultNone"},
		{emulator.FaultHTTPError, "FaultHTTPError"},
		{emulator.FaultReset, "FaultReset"},
		{99, "FaultKind(99)"},
	}
	for _, tt := range tests {
		if got := tt.kind.String(); got != tt.want {
			t.Errorf("FaultKind(%d).String() = %q; want %q", int(tt.kind), got, tt.want)
		}
	}
}
