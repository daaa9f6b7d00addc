package memories_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/memories-facade/memories-graphql/internal/memories"
)

func TestKindString(t *testing.T) {
	tests := []struct {
		kind memories.Kind
		want string
	}{
		{memories.KindUpstream, "upstream error"},
		{memories.KindRateLimited, "rate limited"},
		{memories.KindUnauthenticated, "unauthenticated"},
		{memories.KindForbidden, "forbidden"},
		{memories.KindQuotaExceeded, "quota exceeded"},
		{memories.KindBadRequest, "bad request"},
		{memories.KindTimeout, "timeout"},
		{memories.KindUnsupported, "unsupported"},
		{memories.Kind(42), "kind(42)"},
	}
	for _, tt := range tests {
		if got := tt.kind.String(); got != tt.want {
			t.Errorf("Kind(%d).String(): got %q; want %q", int(tt.kind), got, tt.want)
		}
	}
}

func TestKindName(t *testing.T) {
	tests := []struct {
		kind memories.Kind
		want string
	}{
		{memories.KindUpstream, "upstream_error"},
		{memories.KindRateLimited, "rate_limited"},
		{memories.KindUnauthenticated, "unauthenticated"},
		{memories.KindForbidden, "forbidden"},
		{memories.KindQuotaExceeded, "quota_exceeded"},
		{memories.KindBadRequest, "bad_request"},
		{memories.KindTimeout, "timeout"},
		{memories.KindUnsupported, "unsupported"},
		{memories.Kind(42), "unknown"},
		{memories.Kind(-1), "unknown"},
	}
	for _, tt := range tests {
		if got := tt.kind.Name(); got != tt.want {
			t.Errorf("Kind(%d).Name(): got %q; want %q", int(tt.kind), got, tt.want)
		}
	}
}

func TestErrorRetryableAndAboutAccount(t *testing.T) {
	tests := []struct {
		err           *memories.Error
		wantRetryable bool
		wantAccount   bool
	}{
		{&memories.Error{Kind: memories.KindUpstream}, false, false},
		{&memories.Error{Kind: memories.KindUpstream, Code: "0001"}, true, false}, // "network abnormal"
		{&memories.Error{Kind: memories.KindRateLimited}, true, false},
		{&memories.Error{Kind: memories.KindRateLimited, Code: "0429"}, true, false},
		{&memories.Error{Kind: memories.KindUnauthenticated, Code: "9009"}, false, true},
		{&memories.Error{Kind: memories.KindForbidden, Code: "0403"}, false, true},
		{&memories.Error{Kind: memories.KindQuotaExceeded, Code: "0402"}, false, true},
		{&memories.Error{Kind: memories.KindBadRequest, Code: "0003"}, false, false},
		{&memories.Error{Kind: memories.KindBadRequest, Code: "0001"}, true, false},
		{&memories.Error{Kind: memories.KindTimeout}, false, false},
		{&memories.Error{Kind: memories.KindUnsupported}, false, false},
		{&memories.Error{Kind: memories.KindUnsupported, Code: "0001"}, false, false},
		{nil, false, false},
	}
	for _, tt := range tests {
		name := "<nil>"
		if tt.err != nil {
			name = tt.err.Kind.Name() + "/" + tt.err.Code
		}
		if got := tt.err.Retryable(); got != tt.wantRetryable {
			t.Errorf("%s Retryable(): got %v; want %v", name, got, tt.wantRetryable)
		}
		if got := tt.err.AboutAccount(); got != tt.wantAccount {
			t.Errorf("%s AboutAccount(): got %v; want %v", name, got, tt.wantAccount)
		}
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  *memories.Error
		want string
	}{
		{&memories.Error{Kind: memories.KindRateLimited, HTTPStatus: 200, Code: "0429"}, "memories: rate limited (code 0429)"},
		{&memories.Error{Kind: memories.KindRateLimited, HTTPStatus: 429}, "memories: rate limited (http 429)"},
		{&memories.Error{Kind: memories.KindQuotaExceeded, HTTPStatus: 400, Code: "0402", Message: "no points"},
			"memories: quota exceeded (http 400, code 0402): no points"},
		{&memories.Error{Kind: memories.KindTimeout, Err: context.DeadlineExceeded}, "memories: timeout: context deadline exceeded"},
		{&memories.Error{Kind: memories.KindUpstream}, "memories: upstream error"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error(): got %q; want %q", got, tt.want)
		}
	}
}

func TestErrorUnwrap(t *testing.T) {
	cause := errors.New("boom")
	err := fmt.Errorf("wrapped: %w", &memories.Error{Kind: memories.KindTimeout, Code: "x", Err: cause})
	var me *memories.Error
	if !errors.As(err, &me) || me.Kind != memories.KindTimeout {
		t.Errorf("errors.As(err, *Error): got %v; want KindTimeout", me)
	}
	if !errors.Is(err, cause) {
		t.Errorf("errors.Is(err, cause): got false; want true")
	}
}

func TestMessageSanitized(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes
	tests := []struct {
		name, msg, want string
	}{
		{"trimmed", `  too many requests \n`, "too many requests"},
		{"control characters", `line1\nline2\tend`, "line1 line2 end"},
		{"capped on a rune boundary", long, strings.Repeat("é", 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := memories.ParseResponse(200, nil, []byte(`{"code":"0429","msg":"`+tt.msg+`"}`))
			var e *memories.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v; want *memories.Error", err)
			}
			if got := e.Message; got != tt.want {
				t.Errorf("Message: got %q; want %q", got, tt.want)
			}
			if len(e.Message) > 200 || !utf8.ValidString(e.Message) {
				t.Errorf("Message: got %d bytes, valid UTF-8 %v; want at most 200 valid bytes", len(e.Message), utf8.ValidString(e.Message))
			}
		})
	}
}

func TestParseResponseNilHeader(t *testing.T) {
	got, err := memories.ParseResponse(http.StatusOK, nil, []byte(ok(`{"video_no":"VI1"}`)))
	if err != nil || got == nil || got.VideoNo != "VI1" {
		t.Fatalf("ParseResponse(nil header): got %v, %v; want video VI1", got, err)
	}
}
