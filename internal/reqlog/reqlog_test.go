package reqlog_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/memories-facade/memories-graphql/internal/reqlog"
)

func TestEveryRecordCarriesTheRequestID(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(reqlog.Handler{Handler: slog.NewJSONHandler(&buf, nil)})
	h := middleware.RequestID(reqlog.Middleware(logger)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger.InfoContext(r.Context(), "inside", "k", "v")
		w.WriteHeader(http.StatusTeapot)
	})))
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
