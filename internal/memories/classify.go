package memories

// This file decides what an answer means: its HTTP status and vendor code
// become an error Kind, once, for both calls.

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Vendor business codes.
const (
	codeOK              = "0000"
	codeFailed          = "0001"
	codeBadParams       = "0003"
	codeUnauthenticated = "0401"
	codeQuotaExceeded   = "0402"
	codeForbidden       = "0403"
	codeRateLimited     = "0429"
	codeInvalidKey      = "9009"
)

// endpoint names the upstream call an answer came from, for the rules that
// differ between them.
type endpoint int

const (
	endpointMetadata endpoint = iota
	endpointList
)

// answer is an HTTP answer whose envelope was read; fail builds its errors.
type answer struct {
	env        parsedEnvelope
	status     int
	retryAfter time.Duration
}

func (a *answer) fail(k Kind, err error) error {
	return &Error{Kind: k, HTTPStatus: a.status, Code: a.env.code, Message: a.env.msg, RetryAfter: a.retryAfter, Err: err}
}

// checkAnswer applies the envelope precedence both endpoints share (see
// parseResponse and parseListResponse). It returns an *Error for every
// answer that is not a success, and otherwise the answer, whose data the
// caller decodes.
func checkAnswer(statusCode int, header http.Header, body []byte, ep endpoint) (*answer, error) {
	env, envErr := decodeEnvelope(body)
	a := &answer{env: env, status: statusCode, retryAfter: parseRetryAfter(header.Get("Retry-After"), time.Now())}
	code, msg := env.code, env.msg
	classify := func(code, msg string) Kind {
		if ep == endpointList && isUnsupportedAnswer(0, code, msg) {
			return KindUnsupported
		}
		return classifyCode(code, msg)
	}

	switch {
	case statusCode >= 500:
		// The body of a 5xx is whatever a proxy or a crashing server wrote;
		// it carries no promise, so the status alone decides.
		return nil, a.fail(KindUpstream, nil)
	case ep == endpointList && isUnsupportedAnswer(statusCode, "", ""):
		return nil, a.fail(KindUnsupported, nil)
	case code == codeRateLimited, statusCode == http.StatusTooManyRequests:
		return nil, a.fail(KindRateLimited, nil)
	case statusCode == http.StatusUnauthorized:
		return nil, a.fail(KindUnauthenticated, nil)
	case statusCode == http.StatusForbidden:
		return nil, a.fail(KindForbidden, nil)
	case statusCode < 200 || statusCode > 299:
		// A success code under a failure status is contradictory; trust neither.
		if envErr != nil || code == "" || code == codeOK {
			return nil, a.fail(KindUpstream, nil)
		}
		return nil, a.fail(classify(code, msg), nil)
	case envErr != nil:
		return nil, a.fail(KindUpstream, envErr)
	case code == "":
		return nil, a.fail(KindUpstream, errors.New("response has no code"))
	case code != codeOK:
		return nil, a.fail(classify(code, msg), nil)
	}
	return a, nil
}

// The list_videos "not offered" rule, kept deliberately simple. An answer is
// KindUnsupported when
//
//   - its HTTP status is 404 or 405, whatever the body (no such path, or no
//     POST on it: the gateway, not the API, answered); or
//   - its code is 0003 or 0001 (a network 0001 excepted, which stays
//     KindUpstream) and its msg, lower-cased, contains a word of
//     unsupportedWords AND a word of unsupportedSubjects AND neither "key"
//     nor "token". The subject is required so that "unknown error" or
//     "video not found" stay KindBadRequest; the key/token guard keeps
//     "api key not found" an answer about the key, not about the call.
var (
	unsupportedWords    = []string{"unknown", "unsupported", "not support", "unrecognized", "unrecognised", "not found", "no such", "not exist", "undefined"}
	unsupportedSubjects = []string{"param", "argument", "field", "video_nos", "api", "path", "method", "endpoint", "route", "url", "interface", "operation", "feature"}
)

// isUnsupportedAnswer applies the rule above; status 0 checks code and msg
// only.
func isUnsupportedAnswer(status int, code, msg string) bool {
	if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
		return true
	}
	if code != codeBadParams && code != codeFailed {
		return false
	}
	m := strings.ToLower(msg)
	if code == codeFailed && strings.Contains(m, "network") {
		return false
	}
	if strings.Contains(m, "key") || strings.Contains(m, "token") {
		return false
	}
	has := func(words []string) bool {
		return slices.ContainsFunc(words, func(w string) bool { return strings.Contains(m, w) })
	}
	return has(unsupportedWords) && has(unsupportedSubjects)
}

// classifyCode maps a vendor failure code to a Kind.
func classifyCode(code, msg string) Kind {
	switch code {
	case codeRateLimited:
		return KindRateLimited
	case codeUnauthenticated, codeInvalidKey:
		return KindUnauthenticated
	case codeForbidden:
		return KindForbidden
	case codeQuotaExceeded:
		return KindQuotaExceeded
	case codeBadParams:
		return KindBadRequest
	case codeFailed:
		// The vendor reuses 0001 for a transient "network abnormal"; that is
		// the upstream's fault, not the caller's.
		if strings.Contains(strings.ToLower(msg), "network") {
			return KindUpstream
		}
		return KindBadRequest
	default:
		return KindUpstream
	}
}
