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
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5/middleware"
)

// Handler wraps a slog.Handler, adding the request id (chi's
// middleware.RequestID) to every record logged with a request's context.
type Handler struct {
	slog.Handler
	// access, set by NewHandler only, writes the access records of
	// Middleware in the wrapped handler's format itself.
	access *accessLog
}

// NewHandler returns a Handler over slog's JSON handler (json) or text
// handler writing to w at level. Middleware writes its access records in
// that handler's format itself, without slog's general path, which costs a
// request several times as much: the records are the same, byte for byte.
func NewHandler(w io.Writer, json bool, level slog.Leveler) Handler {
	// Both write each record with one call, through one lock.
	lw := &lockedWriter{w: w}
	opts := &slog.HandlerOptions{Level: level}
	h := Handler{access: &accessLog{w: lw, json: json}}
	if json {
		h.Handler = slog.NewJSONHandler(lw, opts)
	} else {
		h.Handler = slog.NewTextHandler(lw, opts)
	}
	return h
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
	return Handler{Handler: h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h Handler) WithGroup(name string) slog.Handler {
	return Handler{Handler: h.Handler.WithGroup(name)}
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
	var access *accessLog
	if rh, ok := h.(Handler); ok {
		access = rh.access
	}
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
				logRequest(h, access, r, rw, start, id)
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
	// Built on the stack (for a host name of up to 70 bytes) and copied
	// once into the string.
	var buf [96]byte
	b := append(buf[:0], idPrefix...)
	b = append(b, '-')
	for d := uint64(100000); d > 1 && n < d; d /= 10 {
		b = append(b, '0')
	}
	return string(strconv.AppendUint(b, n, 10))
}

// logRequest writes the access record: through access when it has one
// and the record's strings need no quoting, else through slog. It is a
// function of its own, kept out of line, so that the record's large stack
// frame is not part of every request's stack while the request is served.
//
//go:noinline
func logRequest(h slog.Handler, access *accessLog, r *http.Request, rw *recorder, start time.Time, id string) {
	now := time.Now()
	if access != nil && access.write(now, r.Method, r.URL.Path, rw.status(), rw.bytes, now.Sub(start), id) {
		return
	}
	// A record made here rather than through Logger.LogAttrs, which would
	// look up the caller's program counter on every request for a source
	// no handler is asked to print.
	rec := slog.NewRecord(now, slog.LevelInfo, "request", 0)
	rec.AddAttrs(
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", rw.status()),
		slog.Int("bytes", rw.bytes),
		slog.Duration("duration", now.Sub(start)),
	)
	_ = h.Handle(r.Context(), rec)
}

// accessLog writes access records as slog's handler of its format would.
type accessLog struct {
	w    io.Writer
	json bool
}

// lines holds the buffers of access records being written.
var lines = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// write writes one access record and reports whether it did: it leaves to
// slog a record with a string that slog would quote or escape.
func (a *accessLog) write(t time.Time, method, path string, status, n int, d time.Duration, id string) bool {
	bp := lines.Get().(*[]byte)
	b, ok := appendAccess((*bp)[:0], a.json, t, method, path, status, n, d, id)
	if ok {
		_, _ = a.w.Write(b)
	}
	if cap(b) <= 4<<10 { // a long path's buffer is not kept
		*bp = b[:0]
		lines.Put(bp)
	}
	return ok
}

// appendAccess appends the access record that slog's JSON handler (json)
// or text handler writes for a record at t of level INFO, message
// "request" and the attributes method, path, status, bytes, duration and,
// when id is not empty, request_id, with no ReplaceAttr and no source. It
// reports false, having appended nothing, when a string is one that slog
// would quote or escape, or t's year one it would refuse.
func appendAccess(b []byte, json bool, t time.Time, method, path string, status, n int, d time.Duration, id string) ([]byte, bool) {
	if y := t.Year(); !plain(method) || !plain(path) || (id != "" && !plain(id)) || y < 0 || y > 9999 {
		return b, false
	}
	if json {
		b = append(b, `{"time":"`...)
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","level":"INFO","msg":"request","method":"`...)
		b = append(b, method...)
		b = append(b, `","path":"`...)
		b = append(b, path...)
		b = append(b, `","status":`...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, `,"bytes":`...)
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, `,"duration":`...)
		b = strconv.AppendInt(b, int64(d), 10)
		if id != "" {
			b = append(b, `,"request_id":"`...)
			b = append(b, id...)
			b = append(b, '"')
		}
		return append(b, "}\n"...), true
	}
	b = append(b, "time="...)
	b = appendRFC3339Millis(b, t)
	b = append(b, " level=INFO msg=request method="...)
	b = append(b, method...)
	b = append(b, " path="...)
	b = append(b, path...)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, " bytes="...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, " duration="...)
	b = append(b, d.String()...)
	if id != "" {
		b = append(b, " request_id="...)
		b = append(b, id...)
	}
	return append(b, '\n'), true
}

// plain reports whether slog writes s as it is: not empty, and printable
// ASCII that neither its text handler quotes (a space, '=', '"') nor its
// JSON handler escapes ('"', '\\').
func plain(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '=' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// appendRFC3339Millis is slog's text handler's time: RFC 3339 with
// exactly three digits of milliseconds, truncated.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	// RFC3339Nano trims trailing zeros: a tenth of a millisecond keeps
	// four digits, and the fourth is dropped.
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}

// lockedWriter writes each record with one call to w at a time, whether
// slog's handler or accessLog writes it.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write implements io.Writer.
func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
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
