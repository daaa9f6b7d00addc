package reqlog

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/go-chi/chi/v5/middleware"
)

// accessCase is one access record: its time, strings and numbers.
type accessCase struct {
	at               time.Time
	method, path, id string
	status, n        int
	d                time.Duration
	wantPlain        bool // appendAccess writes it (else slog does)
}

// slogAccess is the access record slog's handler (JSON or text) writes
// for c, through Handler as Middleware's slog path gives it.
func slogAccess(t *testing.T, json bool, c accessCase) string {
	t.Helper()
	var buf bytes.Buffer
	var h slog.Handler = slog.NewTextHandler(&buf, nil)
	if json {
		h = slog.NewJSONHandler(&buf, nil)
	}
	ctx := context.Background()
	if c.id != "" {
		ctx = context.WithValue(ctx, middleware.RequestIDKey, c.id)
	}
	rec := slog.NewRecord(c.at, slog.LevelInfo, "request", 0)
	rec.AddAttrs(slog.String("method", c.method), slog.String("path", c.path), slog.Int("status", c.status),
		slog.Int("bytes", c.n), slog.Duration("duration", c.d))
	if err := (Handler{Handler: h}).Handle(ctx, rec); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// The access records written without slog are slog's, byte for byte; a
// record slog would quote or escape is left to slog.
func TestAppendAccessIsSlogs(t *testing.T) {
	at := time.Date(2026, 12, 8, 1, 2, 3, 456789012, time.UTC)
	cases := []accessCase{
		{at, "POST", "/query", "host/AbCdEfGhIj-000042", 200, 208, 1234567 * time.Nanosecond, true},
		{at.Truncate(time.Second), "GET", "/", "gw-7f3a/b.c~d:e+f9", 404, 0, 0, true},
		{at.Truncate(time.Millisecond), "GET", "/healthz", "x", 200, 3, time.Nanosecond, true},
		{time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.FixedZone("", 5*3600+1800)), "OPTIONS", "/q", "id", 204, 0, 2 * time.Hour, true},
		{time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), "GET", "/", "id", 200, 1, 1500 * time.Microsecond, true},
		{at, "GET", "/", "", 500, 10, -time.Second, true}, // no request id
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "GET", "/", "id", 200, 1, 0, false},
		{at, "GET", "/a=b", "id", 200, 1, 0, false},
		{at, "GET", "/a b", "id", 200, 1, 0, false},
		{at, "GET", `/a"b`, "id", 200, 1, 0, false},
		{at, "GET", `/a\b`, "id", 200, 1, 0, false},
		{at, "GET", "/é", "id", 200, 1, 0, false},
		{at, "GET", "/a\tb", "id", 200, 1, 0, false},
		{at, "GET", "", "id", 200, 1, 0, false},
		{at, "", "/", "id", 200, 1, 0, false},
		{at, "GET", "/", "a=b", 200, 1, 0, false},
	}
	// And records of strings drawn from characters slog treats each its
	// own way.
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "aZ09/-._~:+%!*(),;@$&'<>?[]{}|^`=\" \\\té\x7f"
	draw := func() string {
		b := make([]byte, rng.IntN(8))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 3000 {
		c := accessCase{at: at.Add(time.Duration(rng.Int64N(int64(1000 * time.Hour)))), method: draw(), path: draw(), id: draw(),
			status: 100 + rng.IntN(500), n: rng.IntN(1 << 20), d: time.Duration(rng.Int64N(int64(time.Minute)))}
		c.wantPlain = plain(c.method) && plain(c.path) && (c.id == "" || plain(c.id))
		cases = append(cases, c)
	}
	for _, json := range []bool{false, true} {
		for _, c := range cases {
			got, ok := appendAccess(nil, json, c.at, c.method, c.path, c.status, c.n, c.d, c.id)
			if ok != c.wantPlain {
				t.Errorf("json %v, %+v: written without slog %v; want %v", json, c, ok, c.wantPlain)
				continue
			}
			if !ok {
				continue
			}
			if want := slogAccess(t, json, c); string(got) != want {
				t.Errorf("json %v, %+v:\ngot  %q\nwant %q", json, c, got, want)
			}
		}
	}
}

// FuzzAppendAccess checks the access record written without slog against
// slog's own, for any strings, numbers and time: the same bytes, or left
// to slog when a string is not plain.
func FuzzAppendAccess(f *testing.F) {
	f.Add(false, int64(1796000000123456789), "POST", "/query", "host/AbCdEfGhIj-000042", 200, 208, int64(1234567))
	f.Add(true, int64(0), "GET", "/a b", "", 404, 0, int64(-1))
	f.Add(true, int64(253402300799999999), "GET", "/é", "x=y", 500, 1<<20, int64(1<<62))
	f.Fuzz(func(t *testing.T, json bool, unixNano int64, method, path, id string, status, n int, d int64) {
		c := accessCase{at: time.Unix(0, unixNano).UTC(), method: method, path: path, id: id, status: status, n: n, d: time.Duration(d)}
		got, ok := appendAccess(nil, json, c.at, method, path, status, n, c.d, id)
		if want := plain(method) && plain(path) && (id == "" || plain(id)) && c.at.Year() >= 0 && c.at.Year() <= 9999; ok != want {
			t.Fatalf("%+v: written without slog %v; want %v", c, ok, want)
		}
		if ok {
			if want := slogAccess(t, json, c); string(got) != want {
				t.Fatalf("%+v:\ngot  %q\nwant %q", c, got, want)
			}
		}
	})
}

// Every string plain accepts is one slog writes as it is, and some are
// not: the check is not one that lets everything through.
func TestPlain(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"/query", true}, {"POST", true}, {"host/AbC-000001", true}, {"a+b~c:d", true},
		{"", false}, {"a b", false}, {"a=b", false}, {`a"b`, false}, {`a\b`, false}, {"é", false}, {"a\nb", false}, {"\x7f", false},
	}
	for _, tt := range tests {
		if got := plain(tt.s); got != tt.want {
			t.Errorf("plain(%q) = %v; want %v", tt.s, got, tt.want)
		}
	}
}

func BenchmarkAccessRecord(b *testing.B) {
	at := time.Now()
	for _, json := range []bool{false, true} {
		name := "text"
		if json {
			name = "json"
		}
		b.Run(name+"/ours", func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				buf, _ = appendAccess(buf[:0], json, at, "POST", "/query", 200, 208, 1234567, "host/AbCdEfGhIj-000042")
			}
		})
		b.Run(name+"/slog", func(b *testing.B) {
			var h slog.Handler = slog.NewTextHandler(discard{}, nil)
			if json {
				h = slog.NewJSONHandler(discard{}, nil)
			}
			ctx := context.WithValue(context.Background(), middleware.RequestIDKey, "host/AbCdEfGhIj-000042")
			b.ReportAllocs()
			for b.Loop() {
				rec := slog.NewRecord(at, slog.LevelInfo, "request", 0)
				rec.AddAttrs(slog.String("method", "POST"), slog.String("path", "/query"), slog.Int("status", 200),
					slog.Int("bytes", 208), slog.Duration("duration", 1234567))
				_ = (Handler{Handler: h}).Handle(ctx, rec)
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
