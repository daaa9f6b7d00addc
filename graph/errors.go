package graph

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/memories-facade/memories-graphql/internal/loader"
	"github.com/memories-facade/memories-graphql/internal/memories"
)

// The error codes clients branch on, in extensions.code.
const (
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeBadRequest      = "BAD_REQUEST"
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeRateLimited     = "RATE_LIMITED"
	CodeUpstreamTimeout = "UPSTREAM_TIMEOUT"
	CodeUpstreamError   = "UPSTREAM_ERROR"
	// CodeUpstreamUnsupported: the account's upstream does not offer the
	// call a field needs (list_videos, for the library).
	CodeUpstreamUnsupported = "UPSTREAM_UNSUPPORTED"
	CodeInternal            = "INTERNAL_SERVER_ERROR"
	CodeRequestTimeout      = "REQUEST_TIMEOUT"
)

// ErrorPresenter maps every error to a message and extensions.code, in this
// one place. Upstream details (URLs, keys, vendor messages) never reach the
// client; what is not recognised is logged and shown as a generic internal
// error.
func ErrorPresenter(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		gqlErr.Message = shorten(gqlErr.Message)
		if _, ok := gqlErr.Extensions["code"]; ok {
			return gqlErr // gqlgen's own parse and validation errors, and ours
		}
		if gqlErr.Err == nil {
			// gqlgen's transport errors (a body that is not JSON, an
			// unsupported content type) carry only a message for the client.
			gqlErr.Extensions = map[string]any{"code": CodeBadRequest}
			return gqlErr
		}
		code, msg, ext := classify(gqlErr.Err)
		if code == CodeInternal {
			logger.ErrorContext(ctx, "unexpected resolver error", "err", err, "path", gqlErr.Path.String())
		}
		gqlErr.Message = msg
		if gqlErr.Extensions == nil {
			gqlErr.Extensions = map[string]any{}
		}
		gqlErr.Extensions["code"] = code
		for k, v := range ext {
			gqlErr.Extensions[k] = v
		}
		return gqlErr
	}
}

// maxMessageBytes bounds an error message as JSON encodes it. Messages of
// parse and validation errors quote what the client sent (names, values),
// so without a bound a refused request could be answered with megabytes of
// its own text; at maxValidationErrors errors of at most this size, such an
// answer stays under 64 KB.
const maxMessageBytes = 400

// shorten cuts msg where its JSON encoding would pass maxMessageBytes,
// counting escapes (encoding/json writes <, > and & as \u00XX), and marks
// the cut with an ellipsis.
func shorten(msg string) string {
	if len(msg) <= maxMessageBytes/6 {
		return msg // even if every byte were escaped
	}
	n := 0
	for i, r := range msg {
		switch {
		case r == '"' || r == '\\':
			n += 2
		case r < 0x20 || r == '<' || r == '>' || r == '&' || r == 0x2028 || r == 0x2029 || r == utf8.RuneError:
			n += 6
		default:
			n += utf8.RuneLen(r)
		}
		if n > maxMessageBytes-len("…") {
			return msg[:i] + "…"
		}
	}
	return msg
}

// Recover turns a resolver panic into an internal error; the panic value is
// logged, never sent.
func Recover(logger *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "resolver panic", "panic", p)
		return &gqlerror.Error{Message: "internal error", Extensions: map[string]any{"code": CodeInternal}}
	}
}

// classify maps an error to its code, message and extensions. Every failure
// of a video is a *memories.Error (the upstream client's taxonomy, which
// the layers between reuse); what else reaches here is a cancelled request
// or a bug.
func classify(err error) (code, msg string, ext map[string]any) {
	var me *memories.Error
	subject := "this video"
	var le *listingError
	if errors.As(err, &le) {
		subject = "this page of the library"
	}
	switch {
	case errors.Is(err, loader.ErrNoAccount):
		return CodeUnauthenticated, "no API key: send your memories.ai API key in the Authorization header", nil
	case errors.As(err, &me):
		ext = map[string]any{}
		if me.Code != "" {
			ext["upstreamCode"] = me.Code
		}
		if me.Kind == memories.KindUnsupported && le != nil {
			// A video falls back on get_metadata; a library has no other call.
			return CodeUpstreamUnsupported, "the upstream does not offer list_videos to this account, which the library needs", ext
		}
		switch me.Kind {
		case memories.KindRateLimited:
			ext["retryAfterSeconds"] = seconds(me.RetryAfter)
			return CodeRateLimited, "the upstream account's rate limit left no budget for " + subject + " in time; retry later", ext
		case memories.KindUnauthenticated:
			return CodeUnauthenticated, "the memories.ai API key was rejected", ext
		case memories.KindForbidden:
			return CodeForbidden, "the memories.ai account is disabled", ext
		case memories.KindQuotaExceeded:
			return CodeForbidden, "the memories.ai account has no points left", ext
		case memories.KindBadRequest:
			return CodeBadUserInput, "the upstream rejected the request's parameters", ext
		case memories.KindTimeout:
			if le != nil {
				return CodeUpstreamTimeout, "the upstream did not answer in time for " + subject, ext
			}
			return CodeUpstreamTimeout, "the upstream did not answer in time", ext
		default:
			return CodeUpstreamError, "the upstream failed to return " + subject, ext
		}
	case errors.Is(err, context.Canceled):
		return CodeUpstreamTimeout, "the request was cancelled before the upstream answered", nil
	}
	return CodeInternal, "internal error", nil
}

// listingError marks the failure of a library page, so that its message
// names the page rather than a video.
type listingError struct{ err error }

func (e *listingError) Error() string { return e.err.Error() }
func (e *listingError) Unwrap() error { return e.err }

// seconds rounds d up to whole seconds, at least 1, as Retry-After does.
func seconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// inputError is a BAD_USER_INPUT error raised before execution.
func inputError(path []any, format string, args ...any) *gqlerror.Error {
	e := gqlerror.Errorf(format, args...)
	e.Extensions = map[string]any{"code": CodeBadUserInput}
	if len(path) > 0 {
		for _, p := range path {
			switch p := p.(type) {
			case string:
				e.Path = append(e.Path, ast.PathName(p))
			case int:
				e.Path = append(e.Path, ast.PathIndex(p))
			}
		}
	}
	return e
}
