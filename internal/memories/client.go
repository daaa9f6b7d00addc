package memories

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults for a Client.
const (
	defaultCallTimeout  = 10 * time.Second
	defaultMaxBodyBytes = 1 << 20
	defaultUserAgent    = "memories-graphql/1"

	metadataPath = "/serve/api/v1/get_metadata"
	// defaultUniqueID is the upstream's own default for unique_id.
	defaultUniqueID = "default"
	// maxDrainBytes bounds how much of an unread body is discarded to let the
	// connection be reused; past that, closing is cheaper than reading.
	maxDrainBytes = 64 << 10
)

// Client calls the memories.ai metadata endpoint. It is safe for concurrent
// use and holds no per-account state: the key is passed on every call.
type Client struct {
	base     string // scheme://host[/prefix], for redaction
	endpoint string // base + metadataPath, without query
	hc       *http.Client
	timeout  time.Duration
	maxBody  int64
	ua       string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client used for calls; nil keeps the default.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithCallTimeout sets the per-call timeout (default 10s). Non-positive
// values keep the default, so a zero from configuration cannot make calls
// hang forever.
func WithCallTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithMaxBodyBytes caps the response body (default 1 MiB); a larger body is
// a KindUpstream error. Non-positive values keep the default.
func WithMaxBodyBytes(n int64) Option {
	return func(c *Client) {
		if n > 0 {
			c.maxBody = n
		}
	}
}

// WithUserAgent sets the User-Agent header (default "memories-graphql/1");
// an empty string keeps the default.
func WithUserAgent(ua string) Option {
	return func(c *Client) {
		if ua != "" {
			c.ua = ua
		}
	}
}

// NewClient returns a client for the upstream at baseURL (for example
// "https://api.memories.ai"; a path prefix and a trailing slash are fine).
func NewClient(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		// url.Error would repeat the whole URL, which may carry credentials.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("memories: invalid base url: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("memories: invalid base url: scheme must be http or https")
	case u.Host == "" || u.Hostname() == "":
		return nil, errors.New("memories: invalid base url: missing host")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, errors.New("memories: invalid base url: must not have a query or fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	base := u.String()
	u.Path += metadataPath
	c := &Client{
		base:     base,
		endpoint: u.String(),
		hc:       &http.Client{},
		timeout:  defaultCallTimeout,
		maxBody:  defaultMaxBodyBytes,
		ua:       defaultUserAgent,
	}
	for _, opt := range opts {
		opt(c)
	}
	return c, nil
}

// GetMetadata fetches one video. It returns (nil, nil) when the upstream says
// the video is not found (code 0000, data null).
//
// key is the account's API key; a "Bearer " prefix is stripped because the
// upstream wants the raw key. An empty uniqueID is sent as "default", the
// upstream's own default. Every error is an *Error, except when ctx is
// cancelled: then the error wraps ctx.Err() (errors.Is(err,
// context.Canceled)). No error text contains the key or a URL.
func (c *Client) GetMetadata(ctx context.Context, key, uniqueID, videoNo string) (*Video, error) {
	key = normalizeKey(key)
	if key == "" {
		return nil, &Error{Kind: KindUnauthenticated, Err: errors.New("missing api key")}
	}
	if strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		// net/http would refuse the header anyway; this is the caller's key,
		// not an upstream fault.
		return nil, &Error{Kind: KindUnauthenticated, Err: errors.New("malformed api key")}
	}
	if strings.TrimSpace(videoNo) == "" {
		return nil, &Error{Kind: KindBadRequest, Err: errors.New("missing video_no")}
	}
	if uniqueID == "" {
		uniqueID = defaultUniqueID
	}
	if err := ctx.Err(); err != nil {
		return nil, c.contextError(ctx, err)
	}

	callCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	q := url.Values{"video_no": {videoNo}, "unique_id": {uniqueID}}
	req, err := http.NewRequestWithContext(callCtx, http.MethodGet, c.endpoint+"?"+q.Encode(), nil)
	if err != nil {
		return nil, c.redact(&Error{Kind: KindUpstream, Err: stripURLError(err)}, key)
	}
	req.Header.Set("Authorization", key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.redact(c.transportError(ctx, callCtx, err, 0), key)
	}
	defer func() {
		// Drain a little so the connection can be reused, then close.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainBytes))
		_ = resp.Body.Close()
	}()

	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, c.redact(c.transportError(ctx, callCtx, err, resp.StatusCode), key)
	}
	if int64(len(body)) > c.maxBody {
		return nil, c.redact(&Error{
			Kind:       KindUpstream,
			HTTPStatus: resp.StatusCode,
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
			Err:        fmt.Errorf("response body exceeds %d bytes", c.maxBody),
		}, key)
	}
	v, err := ParseResponse(resp.StatusCode, resp.Header, body)
	if err != nil {
		return nil, c.redact(err, key)
	}
	return v, nil
}

// normalizeKey trims the key and strips a "Bearer " prefix in any case.
func normalizeKey(key string) string {
	key = strings.TrimSpace(key)
	const bearer = "bearer"
	if len(key) >= len(bearer) && strings.EqualFold(key[:len(bearer)], bearer) {
		// "Bearer" alone (its space trimmed above) is a scheme without a key.
		if rest := key[len(bearer):]; rest == "" || rest[0] == ' ' || rest[0] == '\t' {
			key = strings.TrimSpace(rest)
		}
	}
	return key
}

// contextError reports a context that ended: cancellation passes through
// (the caller chose it, so it is not an upstream failure), a deadline
// becomes KindTimeout.
func (c *Client) contextError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("memories: get metadata: %w", ctx.Err())
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &Error{Kind: KindTimeout, Err: context.DeadlineExceeded}
	}
	return &Error{Kind: KindUpstream, Err: stripURLError(err)}
}

// transportError classifies a failure to get or read an answer.
func (c *Client) transportError(ctx, callCtx context.Context, err error, status int) error {
	if ctx.Err() != nil {
		e := c.contextError(ctx, err)
		if te, ok := e.(*Error); ok {
			te.HTTPStatus = status
		}
		return e
	}
	if errors.Is(callCtx.Err(), context.DeadlineExceeded) {
		return &Error{Kind: KindTimeout, HTTPStatus: status, Err: context.DeadlineExceeded}
	}
	inner := stripURLError(err)
	// A timeout configured on a caller-supplied http.Client or transport.
	var ne net.Error
	if errors.As(inner, &ne) && ne.Timeout() {
		return &Error{Kind: KindTimeout, HTTPStatus: status, Err: inner}
	}
	return &Error{Kind: KindUpstream, HTTPStatus: status, Err: inner}
}

// stripURLError drops the *url.Error wrapper, whose text repeats the request
// URL, keeping its cause.
func stripURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// redact is the last line of defence for the promise that error text never
// contains the key or the endpoint: the vendor might echo either in msg, and
// a transport error might quote the URL.
func (c *Client) redact(err error, key string) error {
	e, ok := err.(*Error)
	if !ok {
		return err
	}
	secrets := []string{key, c.endpoint, c.base}
	for _, s := range secrets {
		e.Message = strings.ReplaceAll(e.Message, s, "[redacted]")
	}
	if e.Err != nil {
		text := e.Err.Error()
		for _, s := range secrets {
			text = strings.ReplaceAll(text, s, "[redacted]")
		}
		if text != e.Err.Error() {
			e.Err = &redactedError{text: text, err: e.Err}
		}
	}
	return e
}

// redactedError replaces an error's text while keeping it inspectable with
// errors.Is and errors.As.
type redactedError struct {
	text string
	err  error
}

func (r *redactedError) Error() string { return r.text }
func (r *redactedError) Unwrap() error { return r.err }
