package reqlog_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/memories-facade/memories-graphql/internal/reqlog"
)

func TestEveryRecordCarriesTheRequestID(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(reqlog.NewHandler(&buf, true, slog.LevelInfo))
	h := reqlog.Middleware(logger)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger.InfoContext(r.Context(), "inside", "k", "v")
		w.WriteHeader(http.StatusTeapot)
	}))
	req := httptest.NewRequest("POST", "/query", nil)
	req.Header.Set("Authorization", "sk-secret-key")
	h.ServeHTTP(httptest.NewRecorder(), req)

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d log lines; want 2:\n%s", len(lines), buf.String())
	}
	var ids []string
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		id, _ := rec["request_id"].(string)
		if id == "" {
			t.Errorf("record %s has no request_id", line)
		}
		ids = append(ids, id)
	}
	if ids[0] != ids[1] {
		t.Errorf("request ids differ: %v", ids)
	}
	if !strings.Contains(lines[1], `"status":418`) || !strings.Contains(lines[1], `"path":"/query"`) {
		t.Errorf("request line = %s; want status 418 and path /query", lines[1])
	}
	if strings.Contains(buf.String(), "sk-secret-key") {
		t.Error("logs contain the Authorization header")
	}
}

// The access record carries what the handler answered.
func TestRecordStatusAndBytes(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		handler    http.HandlerFunc
		wantStatus float64
		wantBytes  float64
	}{
		{"status and body", "/x", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			_, _ = io.WriteString(w, "short and stout")
		}, 418, 15},
		{"body only", "/x", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "ok")
			_, _ = io.WriteString(w, "ok")
		}, 200, 4},
		{"nothing", "/x", func(w http.ResponseWriter, r *http.Request) {}, 200, 0},
		{"informational first", "/x", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusNotFound)
		}, 404, 0},
		{"flushed through ResponseController", "/x", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "x")
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
		}, 200, 1},
		// A path that slog escapes is written by slog.
		{"a path slog escapes", `/a"b`, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "ok")
		}, 200, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logger := slog.New(reqlog.NewHandler(&buf, true, slog.LevelInfo))
			h := reqlog.Middleware(logger)(tt.handler)
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.URL.Path = tt.path
			h.ServeHTTP(httptest.NewRecorder(), req)
			var rec map[string]any
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatalf("record %q: %v", buf.String(), err)
			}
			if rec["status"] != tt.wantStatus || rec["bytes"] != tt.wantBytes {
				t.Errorf("got status %v, bytes %v; want %v, %v", rec["status"], rec["bytes"], tt.wantStatus, tt.wantBytes)
			}
			if rec["msg"] != "request" || rec["request_id"] == nil || rec["method"] != "GET" || rec["path"] != tt.path {
				t.Errorf("got record %v; want a request record with its id, method and path", rec)
			}
		})
	}
}

// Above LOG_LEVEL=info the access record costs nothing and writes nothing.
func TestNoRecordAboveInfo(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(reqlog.NewHandler(&buf, true, slog.LevelWarn))
	h := reqlog.Middleware(logger)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if buf.Len() != 0 {
		t.Errorf("got %q; want no record", buf.String())
	}
}

// A caller's X-Request-Id is kept when it is a short token; otherwise, or
// without one, the request gets one of this process's, each new.
func TestRequestID(t *testing.T) {
	tests := []struct {
		name, header string
		wantKept     bool
	}{
		{"none", "", false},
		{"a token", "gw-7f3a/b.c~d:e+f=9", true},
		{"the longest", strings.Repeat("a", 128), true},
		{"too long", strings.Repeat("a", 129), false},
		{"a space", "a b", false},
		{"a quote", `a"b`, false},
		{"a newline", "a\nb", false},
		{"not ASCII", "é", false},
	}
	mine := regexp.MustCompile(`^[^/ ]+/[A-Za-z0-9]{10}-[0-9]{6,}$`)
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			h := reqlog.Middleware(slog.New(slog.DiscardHandler))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = middleware.GetReqID(r.Context())
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.header != "" {
				req.Header.Set(middleware.RequestIDHeader, tt.header)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			switch {
			case tt.wantKept && got != tt.header:
				t.Errorf("request id = %q; want the caller's %q", got, tt.header)
			case !tt.wantKept && !mine.MatchString(got):
				t.Errorf("request id = %q; want one of this process's (host/prefix-000001)", got)
			case !tt.wantKept && seen[got]:
				t.Errorf("request id %q given twice", got)
			}
			seen[got] = true
		})
	}
}
