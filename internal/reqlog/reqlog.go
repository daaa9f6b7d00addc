// Package reqlog logs one line per HTTP request and tags every record logged
// with a request's context with its request id, so an operator can follow
// one request through the logs. It never logs headers: they carry keys.
//
// It is the first middleware of every route (internal/app), and gives
// each request its id.
package reqlog

import (
	"bufio"
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"
)

// Handler wraps a slog.Handler, adding the request id (chi's
// middleware.RequestID) to every record logged with a request's context.
type Handler struct {
	slog.Handler
}

// Handle implements slog.Handler.
func (h Handler) Handle(ctx context.Context, r slog.Record) error {
	if id := middleware.GetReqID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return Handler{h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h Handler) WithGroup(name string) slog.Handler {
	return Handler{h.Handler.WithGroup(name)}
}

// Middleware gives each request its id and logs one record per request:
// method, path, status, duration and bytes written. The id is the caller's
// X-Request-Id when that is a short token (so one id can follow a request
// through a gateway), else this process's prefix and a counter, as chi's
// middleware.RequestID makes them; it is kept under chi's key, so
// middleware.GetReqID and Handler read it. One middleware rather than chi's
// and this one: a request copy and a fmt.Sprintf fewer per request.
func Middleware(logger *slog.Logger) func(http.Handler) http.Handler {
	h := logger.Handler()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			id := r.Header.Get(middleware.RequestIDHeader)
			if !validID(id) {
				id = newID()
			}
			r = r.WithContext(context.WithValue(r.Context(), middleware.RequestIDKey, id))
			rw := &recorder{ResponseWriter: w}
			next.ServeHTTP(rw, r)
			if h.Enabled(r.Context(), slog.LevelInfo) {
				logRequest(h, r, rw, start)
			}
		})
	}
}

// maxIDLen bounds a caller's request id: every record of the request
// repeats it.
const maxIDLen = 128

// validID reports whether a caller's request id is a token worth keeping:
// at most maxIDLen letters, digits and -._~:/+=.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~:/+=", c) >= 0) {
			return false
		}
	}
	return true
}

// idPrefix is this process's: its host name and ten random base62
// characters, as chi's.
var idPrefix = func() string {
	host, err := os.Hostname()
	if host == "" || err != nil {
		host = "localhost"
	}
	const base62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var raw [10]byte
	_, _ = rand.Read(raw[:])
	for i, b := range raw {
		raw[i] = base62[int(b)%len(base62)]
	}
	return host + "/" + string(raw[:])
}()

// newID returns the next of this process's ids: idPrefix-000042.
func newID() string {
	n := middleware.NextRequestID()
	b := make([]byte, 0, len(idPrefix)+21)
	b = append(b, idPrefix...)
	b = append(b, '-')
	for d := uint64(100000); d > 1 && n < d; d /= 10 {
		b = append(b, '0')
	}
	return string(strconv.AppendUint(b, n, 10))
}

// logRequest writes the access record. It is a function of its own, kept
// out of line, so that the record's large stack frame is not part of every
// request's stack while the request is served.
//
//go:noinline
func logRequest(h slog.Handler, r *http.Request, rw *recorder, start time.Time) {
	// A record made here rather than through Logger.LogAttrs, which would
	// look up the caller's program counter on every request for a source
	// no handler is asked to print.
	rec := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
	rec.AddAttrs(
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", rw.status()),
		slog.Int("bytes", rw.bytes),
		slog.Duration("duration", time.Since(start)),
	)
	_ = h.Handle(r.Context(), rec)
}

// recorder notes the status and size of an answer. Unwrap lets
// http.ResponseController reach the connection's own writer.
type recorder struct {
	http.ResponseWriter
	code  int
	bytes int
}

// WriteHeader implements http.ResponseWriter.
func (w *recorder) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *recorder) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush implements http.Flusher, which event streams need and look for by
// type.
func (w *recorder) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

// Hijack implements http.Hijacker, which WebSockets need.
func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// status is the answer's status: 200 when the handler wrote none.
func (w *recorder) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}
