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
	// KindUnsupported means the upstream does not offer the call to this
	// account (HTTP 404 or 405, or a code 0001/0003 whose msg says a
	// parameter or the call is unknown; see isUnsupportedMessage). Only
	// list_videos answers are classified so; a get_metadata 404 stays
	// KindUpstream.
	KindUnsupported
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
	case KindUnsupported:
		return "unsupported"
	default:
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
}

// Name returns a stable snake_case name for metrics labels and trace
// attributes: "upstream_error", "rate_limited", "unauthenticated",
// "forbidden", "quota_exceeded", "bad_request", "timeout", "unsupported";
// "unknown" for a value outside the enumeration (so label cardinality stays
// bounded).
func (k Kind) Name() string {
	switch k {
	case KindUpstream:
		return "upstream_error"
	case KindRateLimited:
		return "rate_limited"
	case KindUnauthenticated:
		return "unauthenticated"
	case KindForbidden:
		return "forbidden"
	case KindQuotaExceeded:
		return "quota_exceeded"
	case KindBadRequest:
		return "bad_request"
	case KindTimeout:
		return "timeout"
	case KindUnsupported:
		return "unsupported"
	default:
		return "unknown"
	}
}

// Error is every failure GetMetadata and ListVideos report, except a
// cancelled context.
//
// Its text never contains the API key or a URL, so it is safe to log.
type Error struct {
	Kind       Kind
	HTTPStatus int           // 0 when no answer was received
	Code       string        // the vendor's business code, "" when none
	Message    string        // the vendor's msg, trimmed and capped at 200 bytes; may be ""
	RetryAfter time.Duration // from Retry-After (delta-seconds or HTTP-date); 0 when absent
	Err        error         // the underlying cause, if any
	// Unsent reports a call that was never sent: the account's rate budget
	// had no room for it before the caller's deadline. A caller with more
	// time may try again.
	Unsent bool
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

// Retryable reports whether repeating the same call later may succeed: rate
// limits, and code 0001, which the vendor also uses for transient faults.
// KindUnsupported is never retryable, whatever its code: the call is not
// offered, so repeating it cannot help.
func (e *Error) Retryable() bool {
	if e == nil || e.Kind == KindUnsupported {
		return false
	}
	return e.Kind == KindRateLimited || e.Code == codeFailed
}

// AboutAccount reports whether e is a definite answer about the account or
// its key rather than about one video or one call: KindUnauthenticated,
// KindForbidden and KindQuotaExceeded. No other video of the account can
// succeed either until the account changes, so callers can fail the
// account's other pending videos with the same error instead of calling on.
func (e *Error) AboutAccount() bool {
	if e == nil {
		return false
	}
	switch e.Kind {
	case KindUnauthenticated, KindForbidden, KindQuotaExceeded:
		return true
	default:
		return false
	}
}
