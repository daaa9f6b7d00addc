package access_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/memories-facade/memories-graphql/internal/access"
)

func TestAllow(t *testing.T) {
	tests := []struct {
		name    string
		tokens  []string
		bearer  bool
		method  string
		headers map[string]string
		want    int
	}{
		{"no tokens configured", nil, false, "POST", nil, 204},
		{"blank tokens only", []string{" ", ""}, false, "POST", nil, 204},
		{"missing", []string{"t1"}, false, "POST", nil, 401},
		{"wrong", []string{"t1"}, false, "POST", map[string]string{"X-Access-Token": "t2"}, 401},
		{"prefix of a token", []string{"t1-long"}, false, "POST", map[string]string{"X-Access-Token": "t1"}, 401},
		{"right", []string{"t1", "t2"}, false, "POST", map[string]string{"X-Access-Token": "t2"}, 204},
		{"bearer when allowed", []string{"t1"}, true, "POST", map[string]string{"Authorization": "Bearer t1"}, 204},
		{"bearer when not allowed", []string{"t1"}, false, "POST", map[string]string{"Authorization": "Bearer t1"}, 401},
		{"CORS preflight passes", []string{"t1"}, false, "OPTIONS", nil, 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "/query", nil)
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			if access.New(tt.tokens, tt.bearer).Allow(rec, req) {
				rec.WriteHeader(http.StatusNoContent)
			}
			if rec.Code != tt.want {
				t.Errorf("status = %d; want %d", rec.Code, tt.want)
			}
			if rec.Code == 401 {
				body := rec.Body.String()
				if !strings.Contains(body, `"code":"UNAUTHENTICATED"`) {
					t.Errorf("body = %s; want a GraphQL UNAUTHENTICATED error", body)
				}
				for _, tok := range tt.tokens {
					if tok != "" && strings.Contains(body, tok) {
						t.Errorf("body %s echoes a token", body)
					}
				}
			}
		})
	}
}
