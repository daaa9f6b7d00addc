package memories_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/memories-facade/memories-graphql/internal/memories"
)

func FuzzParseResponse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.status, tc.retryAfter, []byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		h := retryHeader(retryAfter)
		v, err := memories.ParseResponse(status, h, body)
		// The one-pass path for the usual answer agrees with the full one.
		if fv, ferr := memories.ParseResponseFull(status, h, body); !reflect.DeepEqual(v, fv) || fmt.Sprint(err) != fmt.Sprint(ferr) {
			t.Fatalf("ParseResponse = %+v, %v; the full path gives %+v, %v", v, err, fv, ferr)
		}
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

func FuzzParseListResponse(f *testing.F) {
	for _, tc := range listCases {
		f.Add(tc.status, tc.retryAfter, []byte(tc.body))
	}
	// Answers that quote the key where an error might repeat it.
	for _, body := range []string{
		`{"code":"0003","msg":"unknown parameter for ` + testKey + `"}`,
		`{"code":"` + testKey + `","msg":"x"}`,
		`{"code":"0000","data":{"videos":[{"video_no":"` + testKey + `","size":"` + testKey + `"}]}}`,
		`{"code":"0000","data":{"total_count":"` + testKey + `","videos":[]}}`,
		`{"code":"0000","data":{"videos":["` + testKey + `"]}}`,
		`{"code":"0000","data":{"videos":[{"video_no":"VI1","tags":"` + testKey + `"}]}}`,
		`{"code":"0000","data":"` + testKey + `"}`,
		testKey,
	} {
		f.Add(200, "", []byte(body))
	}
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		h := retryHeader(retryAfter)
		page, err := memories.ParseListResponse(status, h, body)
		// The one-pass path for the usual answer agrees with the full one.
		if fp, ferr := memories.ParseListResponseFull(status, h, body); !reflect.DeepEqual(page, fp) || fmt.Sprint(err) != fmt.Sprint(ferr) {
			t.Fatalf("ParseListResponse = %+v, %v; the full path gives %+v, %v", page, err, fp, ferr)
		}
		checkFuzzedPage(t, page, err)
		if err != nil {
			e := checkFuzzedError(t, err)
			// Message and Code are the vendor's own words, which the client
			// redacts; everything else must never echo the body.
			bare := *e
			bare.Message, bare.Code = "", ""
			if strings.Contains(bare.Error(), testKey) {
				t.Fatalf("error text %q repeats a value from the body", bare.Error())
			}
		}

		// Through the client, the whole error text is free of the key.
		if status < 100 || status > 999 {
			return // not a status an http.Response can carry
		}
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
		})
		client, cerr := memories.NewClient("https://api.memories.ai", memories.WithTransport(rt))
		if cerr != nil {
			t.Fatal(cerr)
		}
		page, err = client.ListVideos(context.Background(), testKey, memories.ListRequest{VideoNos: []string{"VI1"}})
		checkFuzzedPage(t, page, err)
		if err != nil {
			checkFuzzedError(t, err)
			if s := err.Error(); strings.Contains(s, testKey) || strings.Contains(s, "api.memories.ai") {
				t.Fatalf("error text %q contains the key or the endpoint", s)
			}
		}
	})
}

// checkFuzzedPage checks a page's invariants: a page or an error, never both.
func checkFuzzedPage(t *testing.T, page *memories.ListPage, err error) {
	t.Helper()
	if page == nil {
		if err == nil {
			t.Fatalf("got neither page nor error")
		}
		return
	}
	if err != nil {
		t.Fatalf("got page and error %v; want one or the other", err)
	}
	if page.Videos == nil || page.Page < 0 || page.PageSize < len(page.Videos) ||
		page.TotalCount < int64(len(page.Videos)) {
		t.Fatalf("got page %s; want non-nil Videos, Page >= 0, PageSize and TotalCount >= len(Videos)", dumpPage(page))
	}
	for _, v := range page.Videos {
		if v == nil || strings.TrimSpace(v.VideoNo) == "" || v.Detailed {
			t.Fatalf("got item %s; want a video number and Detailed false", dump(v))
		}
		switch v.Status {
		case memories.StatusParse, memories.StatusUnparse, memories.StatusFailed:
		default:
			t.Fatalf("got Status %q; want a normalized status", v.Status)
		}
	}
}

// checkFuzzedError checks err is a well-formed *Error and returns it.
func checkFuzzedError(t *testing.T, err error) *memories.Error {
	t.Helper()
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
	if e.Kind == memories.KindUnsupported && e.Retryable() {
		t.Fatalf("got a retryable KindUnsupported")
	}
	_ = e.Kind.Name()
	_ = e.Error()
	return e
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

func BenchmarkParseListResponse(b *testing.B) {
	body := []byte(bigList(200))
	h := http.Header{}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := memories.ParseListResponse(http.StatusOK, h, body); err != nil {
			b.Fatal(err)
		}
	}
}

// retryHeader is an answer's header with Retry-After set to v, if any.
func retryHeader(v string) http.Header {
	h := http.Header{}
	if v != "" {
		h.Set("Retry-After", v)
	}
	return h
}
