package memories_test

import (
	"errors"
	"net/http"
	"testing"
	"unicode/utf8"

	"github.com/memories-facade/memories-graphql/internal/memories"
)

func FuzzParseResponse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.status, tc.retryAfter, []byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		v, err := memories.ParseResponse(status, h, body)
		if v != nil {
			if err != nil {
				t.Fatalf("got video and error %v; want one or the other", err)
			}
			if v.VideoNo == "" {
				t.Fatalf("got video with empty VideoNo")
			}
			switch v.Status {
			case memories.StatusParse, memories.StatusUnparse, memories.StatusFailed:
			default:
				t.Fatalf("got Status %q; want a normalized status", v.Status)
			}
		}
		if err == nil {
			return
		}
		var e *memories.Error
		if !errors.As(err, &e) {
			t.Fatalf("got %T %v; want *memories.Error", err, err)
		}
		if len(e.Message) > 200 || !utf8.ValidString(e.Message) {
			t.Fatalf("got Message of %d bytes (valid %v); want at most 200 valid bytes", len(e.Message), utf8.ValidString(e.Message))
		}
		if e.RetryAfter < 0 {
			t.Fatalf("got RetryAfter %v; want non-negative", e.RetryAfter)
		}
		_ = e.Error()
	})
}

func BenchmarkParseResponse(b *testing.B) {
	body := []byte(vendorExample)
	h := http.Header{}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := memories.ParseResponse(http.StatusOK, h, body); err != nil {
			b.Fatal(err)
		}
	}
}
