package memories

import (
	"strconv"
	"strings"
	"time"
)

// Kind classifies a failure so callers can map it without knowing HTTP or
// vendor codes.
type Kind int

// The failure kinds.
const (
	// KindUpstream covers 5xx answers, malformed, truncated or oversized
	// bodies, unknown codes and connection errors.
	KindUpstream Kind = iota
	// KindRateLimited is code 0429 (with any non-5xx HTTP status) or HTTP 429.
	KindRateLimited
	// KindUnauthenticated is code 0401 or 9009, HTTP 401, or a missing key.
	KindUnauthenticated
	// KindForbidden is code 0403 (account disabled) or HTTP 403.
	KindForbidden
	// KindQuotaExceeded is code 0402 (out of points).
	KindQuotaExceeded
	// KindBadRequest is code 0003, or code 0001 unless its message says the
	// failure was a network problem.
	KindBadRequest
	// KindTimeout is the per-call timeout or the caller's deadline passing.
	KindTimeout
)

// String returns a short lowercase description of the kind.
func (k Kind) String() string {
	switch k {
	case KindUpstream:
		return "upstream error"
	case KindRateLimited:
		return "rate limited"
	case KindUnauthenticated:
		return "unauthenticated"
	case KindForbidden:
		return "forbidden"
	case KindQuotaExceeded:
		return "quota exceeded"
	case KindBadRequest:
		return "bad request"
	case KindTimeout:
		return "timeout"
	default:
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
}

// Error is every failure GetMetadata reports, except a cancelled context.
//
// Its text never contains the API key or a URL, so it is safe to log.
type Error struct {
	Kind       Kind
	HTTPStatus int           // 0 when no answer was received
	Code       string        // the vendor's business code, "" when none
	Message    string        // the vendor's msg, trimmed and capped at 200 bytes; may be ""
	RetryAfter time.Duration // from Retry-After (delta-seconds or HTTP-date); 0 when absent
	Err        error         // the underlying cause, if any
}

// Error returns e.g. "memories: rate limited (code 0429): too many requests".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("memories: ")
	b.WriteString(e.Kind.String())
	var detail []string
	if e.HTTPStatus != 0 && e.HTTPStatus != 200 {
		detail = append(detail, "http "+strconv.Itoa(e.HTTPStatus))
	}
	if e.Code != "" {
		detail = append(detail, "code "+e.Code)
	}
	if len(detail) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(detail, ", "))
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause, so errors.Is(err,
// context.DeadlineExceeded) holds for KindTimeout.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is a sentinel (an *Error carrying only a Kind,
// such as ErrRateLimited) of the same Kind, so errors.Is(err, ErrRateLimited)
// works however much detail err carries.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t == nil {
		return false
	}
	return t.Kind == e.Kind && t.HTTPStatus == 0 && t.Code == "" &&
		t.Message == "" && t.RetryAfter == 0 && t.Err == nil
}

// Retryable reports whether repeating the same call later may succeed: rate
// limits, and code 0001, which the vendor also uses for transient faults.
func (e *Error) Retryable() bool {
	return e.Kind == KindRateLimited || e.Code == "0001"
}

// Sentinels for errors.Is; compare by Kind, never modify them.
var (
	ErrUpstream        = &Error{Kind: KindUpstream}
	ErrRateLimited     = &Error{Kind: KindRateLimited}
	ErrUnauthenticated = &Error{Kind: KindUnauthenticated}
	ErrForbidden       = &Error{Kind: KindForbidden}
	ErrQuotaExceeded   = &Error{Kind: KindQuotaExceeded}
	ErrBadRequest      = &Error{Kind: KindBadRequest}
	ErrTimeout         = &Error{Kind: KindTimeout}
)
