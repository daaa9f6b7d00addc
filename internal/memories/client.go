package memories

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/memories-facade/memories-graphql/internal/authheader"
	"github.com/memories-facade/memories-graphql/internal/bodyread"
	"github.com/memories-facade/memories-graphql/internal/detach"
)

// Defaults for a Client.
const (
	defaultCallTimeout      = 10 * time.Second
	defaultMaxBodyBytes     = 1 << 20
	defaultMaxListBodyBytes = 16 << 20
	userAgent               = "memories-graphql/1" // sent on every call

	metadataPath = "/serve/api/v1/get_metadata"
	listPath     = "/serve/api/v1/list_videos"
	// maxDrainBytes bounds how much of an unread body is discarded to let the
	// connection be reused; past that, closing is cheaper than reading.
	maxDrainBytes = 64 << 10
)

// Client calls the memories.ai get_metadata and list_videos endpoints. It is
// safe for concurrent use and holds no per-account state: the key is passed
// on every call.
type Client struct {
	base         string // scheme://host[/prefix], for redaction
	endpoint     string // base + metadataPath, without query
	listEndpoint string // base + listPath
	rt           http.RoundTripper
	timeout      time.Duration
	maxBody      int64 // get_metadata
	maxListBody  int64 // list_videos
}

// Option configures a Client.
type Option func(*Client)

// WithTransport sets the transport calls go through; nil keeps
// http.DefaultTransport. Calls go to it directly, not through an
// http.Client: the vendor's API answers in place, so a redirect is an
// upstream error rather than followed with the key, and the client's
// redirect machinery (a copy of every call's headers) is not paid for.
func WithTransport(rt http.RoundTripper) Option {
	return func(c *Client) {
		if rt != nil {
			c.rt = rt
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
	prefix := u.Path
	u.Path = prefix + metadataPath
	endpoint := u.String()
	u.Path = prefix + listPath
	c := &Client{
		base:         base,
		endpoint:     endpoint,
		listEndpoint: u.String(),
		rt:           http.DefaultTransport,
		timeout:      defaultCallTimeout,
		maxBody:      defaultMaxBodyBytes,
		maxListBody:  defaultMaxListBodyBytes,
	}
	for _, opt := range opts {
		opt(c)
	}
	return c, nil
}

// GetMetadata fetches one video. It returns (nil, nil) when the upstream says
// the video is not found (code 0000, data null). The video it returns has
// Detailed set.
//
// key is the account's API key; a "Bearer " prefix is stripped because the
// upstream wants the raw key. An empty ref.UniqueID is sent as "default", the
// upstream's own default. Every error is an *Error, except when ctx is
// cancelled: then the error wraps ctx.Err() (errors.Is(err,
// context.Canceled)). No error text contains the key or a URL.
func (c *Client) GetMetadata(ctx context.Context, key string, ref VideoRef) (*Video, error) {
	key, err := checkKey(key)
	if err != nil {
		return nil, err
	}
	if EmptyID(ref.VideoNo) {
		return nil, &Error{Kind: KindBadRequest, Err: errors.New("missing video_no")}
	}
	uniqueID := ref.UniqueID
	if uniqueID == "" {
		uniqueID = DefaultUniqueID
	}
	// As url.Values would encode them, without its map and sorting.
	return do(ctx, c, key, request{
		op:      "get metadata",
		method:  http.MethodGet,
		url:     c.endpoint + "?unique_id=" + url.QueryEscape(uniqueID) + "&video_no=" + url.QueryEscape(ref.VideoNo),
		maxBody: c.maxBody,
	}, parseResponse)
}

// listBody is list_videos' JSON request body; the field order is the
// vendor's example's.
type listBody struct {
	Page          int      `json:"page"`
	Size          int      `json:"size,omitempty"`
	UniqueID      string   `json:"unique_id"`
	VideoNos      []string `json:"video_nos,omitempty"`
	VideoNo       string   `json:"video_no,omitempty"`
	VideoName     string   `json:"video_name,omitempty"`
	Status        string   `json:"status,omitempty"`
	CameraModel   string   `json:"camera_model,omitempty"`
	Tag           string   `json:"tag,omitempty"`
	DatetimeTaken *int64   `json:"datetime_taken,omitempty"` // ms
	Latitude      *float64 `json:"latitude,omitempty"`
	Longitude     *float64 `json:"longitude,omitempty"`
}

// ListVideos asks list_videos for one page of req.VideoNos. It makes exactly
// one upstream call, so the caller pages (and spends the account's rate
// budget) deliberately: while Page*PageSize < TotalCount, more matches
// remain on page Page+1.
//
// Videos the upstream does not know are absent from the page, not errors.
// The page's videos have Detailed false. key is handled as by GetMetadata.
// Errors are as GetMetadata's, plus KindUnsupported when the upstream does
// not offer the call to this account (HTTP 404 or 405, or code 0001/0003
// whose msg says a parameter or the call is unknown); a negative
// Page or Size, or an empty or blank video number, is KindBadRequest and
// makes no call.
func (c *Client) ListVideos(ctx context.Context, key string, req ListRequest) (*ListPage, error) {
	key, err := checkKey(key)
	if err != nil {
		return nil, err
	}
	switch {
	case req.Library && len(req.VideoNos) > 0:
		return nil, &Error{Kind: KindBadRequest, Err: errors.New("video_nos with a library listing")}
	case !req.Library && len(req.VideoNos) == 0:
		return nil, &Error{Kind: KindBadRequest, Err: errors.New("missing video_nos")}
	case slices.ContainsFunc(req.VideoNos, EmptyID):
		return nil, &Error{Kind: KindBadRequest, Err: errors.New("blank entry in video_nos")}
	case req.Page < 0:
		return nil, &Error{Kind: KindBadRequest, Err: errors.New("negative page")}
	case req.Size < 0:
		return nil, &Error{Kind: KindBadRequest, Err: errors.New("negative size")}
	}
	f := req.Filter
	b := listBody{Page: req.Page, Size: req.Size, UniqueID: req.UniqueID, VideoNos: req.VideoNos,
		VideoNo: f.VideoNo, VideoName: f.VideoName, Status: string(f.Status), CameraModel: f.CameraModel, Tag: f.Tag}
	if f.TakenAfter != nil {
		ms := f.TakenAfter.UnixMilli()
		b.DatetimeTaken = &ms
	}
	if f.Near != nil {
		b.Latitude, b.Longitude = &f.Near.Latitude, &f.Near.Longitude
	}
	if b.Page == 0 {
		b.Page = 1
	}
	if b.Size == 0 && !req.Library {
		b.Size = len(req.VideoNos)
	}
	if b.UniqueID == "" {
		b.UniqueID = DefaultUniqueID
	}
	body, err := json.Marshal(b)
	if err != nil { // unreachable for strings and ints; kept for safety
		return nil, &Error{Kind: KindBadRequest, Err: err}
	}
	page, err := do(ctx, c, key, request{
		op:      "list videos",
		method:  http.MethodPost,
		url:     c.listEndpoint,
		body:    body,
		maxBody: c.maxListBody,
	}, parseListResponse)
	if err != nil {
		return nil, err
	}
	if page.Page == 0 {
		page.Page = b.Page
	}
	return page, nil
}

// checkKey normalizes the caller's key and refuses one that cannot be sent.
func checkKey(key string) (string, error) {
	key = authheader.Credential(key) // trimmed, a "Bearer" scheme stripped
	if key == "" {
		return "", &Error{Kind: KindUnauthenticated, Err: errors.New("missing api key")}
	}
	if strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		// net/http would refuse the header anyway; this is the caller's key,
		// not an upstream fault.
		return "", &Error{Kind: KindUnauthenticated, Err: errors.New("malformed api key")}
	}
	return key, nil
}

// request is one upstream call, as do sends it.
type request struct {
	op      string // names the call in a cancellation error, e.g. "get metadata"
	method  string
	url     string
	body    []byte // JSON; nil for none
	maxBody int64  // response body cap
}

// do is the plumbing every call shares: the per-call timeout, headers, the
// capped read, the classification of context and transport failures, and
// the redaction of every error, including parse's. key must have passed
// checkKey. Every error is an *Error except a cancellation by ctx.
func do[T any](ctx context.Context, c *Client, key string, r request, parse func(int, http.Header, []byte) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, c.contextError(ctx, err, r.op)
	}

	callCtx, cancel := detach.WithTimeout(ctx, c.timeout)
	defer cancel()

	var reqBody io.Reader
	if r.body != nil {
		reqBody = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(callCtx, r.method, r.url, reqBody)
	if err != nil {
		return zero, c.redact(&Error{Kind: KindUpstream, Err: stripURLError(err)}, key)
	}
	// One map of the right size, rather than one grown by each Set, and
	// the constant values' slices shared by every call.
	req.Header = make(http.Header, 4)
	req.Header["Authorization"] = []string{key}
	req.Header["Accept"] = headerJSON
	req.Header["User-Agent"] = headerUserAgent
	if r.body != nil {
		req.Header["Content-Type"] = headerJSON
	}

	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		return zero, c.redact(c.transportError(ctx, callCtx, err, 0, r.op), key)
	}
	var whole bool // the body was read to its end
	defer func() {
		// Drain a little so the connection can be reused, then close.
		if !whole {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainBytes))
		}
		_ = resp.Body.Close()
	}()

	// Sized by the answer's Content-Length: a page of 200 videos is some
	// 100 KB.
	body, whole, err := bodyread.Read(resp.Body, resp.ContentLength, r.maxBody+1, r.maxBody+1)
	if err != nil {
		return zero, c.redact(c.transportError(ctx, callCtx, err, resp.StatusCode, r.op), key)
	}
	if int64(len(body)) > r.maxBody {
		return zero, c.redact(&Error{
			Kind:       KindUpstream,
			HTTPStatus: resp.StatusCode,
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
			Err:        fmt.Errorf("response body exceeds %d bytes", r.maxBody),
		}, key)
	}
	v, err := parse(resp.StatusCode, resp.Header, body)
	if err != nil {
		return zero, c.redact(err, key)
	}
	return v, nil
}

// The values of the constant request headers. The transport only reads a
// request's headers (a RoundTripper must not change its request), so one
// slice serves every call, without an allocation each.
var (
	headerJSON      = []string{"application/json"}
	headerUserAgent = []string{userAgent}
)

// contextError reports a context that ended: cancellation passes through
// (the caller chose it, so it is not an upstream failure), a deadline
// becomes KindTimeout.
func (c *Client) contextError(ctx context.Context, err error, op string) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("memories: %s: %w", op, ctx.Err())
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &Error{Kind: KindTimeout, Err: context.DeadlineExceeded}
	}
	return &Error{Kind: KindUpstream, Err: stripURLError(err)}
}

// transportError classifies a failure to get or read an answer.
func (c *Client) transportError(ctx, callCtx context.Context, err error, status int, op string) error {
	if ctx.Err() != nil {
		e := c.contextError(ctx, err, op)
		if te, ok := e.(*Error); ok {
			te.HTTPStatus = status
		}
		return e
	}
	if errors.Is(callCtx.Err(), context.DeadlineExceeded) {
		return &Error{Kind: KindTimeout, HTTPStatus: status, Err: context.DeadlineExceeded}
	}
	inner := stripURLError(err)
	// A timeout configured on a caller-supplied transport.
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
	// Longest first: the endpoints start with base.
	secrets := []string{key, c.endpoint, c.listEndpoint, c.base}
	for _, s := range secrets {
		e.Message = strings.ReplaceAll(e.Message, s, "[redacted]")
		e.Code = strings.ReplaceAll(e.Code, s, "[redacted]") // Error() prints it too
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
