package memories

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxMessageBytes caps the vendor's msg so a chatty or hostile upstream
// cannot bloat logs and GraphQL errors.
const maxMessageBytes = 200

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

// envelope is the vendor's wrapper; fields stay raw so that their loose
// typing (string or number codes, null data) is handled explicitly below.
// success and failed are ignored: code is the vendor's authoritative field.
type envelope struct {
	Code json.RawMessage `json:"code"`
	Msg  json.RawMessage `json:"msg"`
	Data json.RawMessage `json:"data"`
}

// rawVideo holds data's fields, each coerced by its own rule as it is
// decoded (see field).
type rawVideo struct {
	VideoNo         strField    `json:"video_no"`
	VideoName       strField    `json:"video_name"`
	Duration        intField    `json:"duration"`
	Size            int64Field  `json:"size"`
	Status          strField    `json:"status"`
	Cause           strField    `json:"cause"`
	CreateTime      millisField `json:"create_time"`
	ResolutionLabel strField    `json:"resolution_label"`
	FPS             intField    `json:"fps"`
	Width           intField    `json:"width"`
	Height          intField    `json:"height"`
	DatetimeTaken   millisField `json:"datetime_taken"`
	CameraModel     strField    `json:"camera_model"`
	Latitude        floatField  `json:"latitude"`
	Longitude       floatField  `json:"longitude"`
	Tags            tagsField   `json:"tags"`
}

// parseResponse turns one get_metadata HTTP answer into a video or a typed
// error. It returns (nil, nil) when the upstream says the video does not
// exist (code 0000 with null data); a video it returns has Detailed set.
// Every error it returns is an *Error.
//
// Precedence: HTTP 5xx is KindUpstream whatever the body; then code 0429 or
// HTTP 429 is KindRateLimited; HTTP 401 and 403 decide by status; any other
// non-2xx is classified by its envelope's code when one parses (KindUpstream
// otherwise, and for a contradictory 0000); a 2xx is classified by code.
// Content-Type is not consulted: only the body counts.
func parseResponse(statusCode int, header http.Header, body []byte) (*Video, error) {
	if v, ok := parseVideoFast(statusCode, body); ok {
		return v, nil
	}
	return parseResponseFull(statusCode, header, body)
}

// usualAnswer decodes the usual answer, HTTP 200 with code 0000, in one
// pass over the body, envelope and data together, rather than one pass for
// the envelope and another for its data. ok is false for any other answer,
// and for one whose data does not decode as T; data is nil for null or
// absent data.
func usualAnswer[T any](statusCode int, body []byte) (data *T, ok bool) {
	if statusCode != http.StatusOK || len(body) == 0 || body[0] != '{' {
		return nil, false
	}
	var env struct {
		Code json.RawMessage `json:"code"`
		Msg  json.RawMessage `json:"msg"`
		Data *T              `json:"data"`
	}
	if json.Unmarshal(body, &env) != nil {
		return nil, false
	}
	if code, err := normalizeCode(env.Code); err != nil || code != codeOK {
		return nil, false
	}
	return env.Data, true
}

// parseVideoFast reads the usual get_metadata answer (see usualAnswer)
// with a well-formed video or null data. ok is false for any other answer,
// which parseResponseFull then reads and, if need be, names what is wrong
// with; both agree wherever ok is true (FuzzParseResponse checks it).
func parseVideoFast(statusCode int, body []byte) (v *Video, ok bool) {
	data, ok := usualAnswer[rawVideo](statusCode, body)
	if !ok || data == nil {
		return nil, ok // null or no data: not found
	}
	v, err := videoFrom(data)
	if err != nil {
		return nil, false
	}
	v.Detailed = true
	return v, true
}

// parseResponseFull is parseResponse for every answer, one step at a time.
func parseResponseFull(statusCode int, header http.Header, body []byte) (*Video, error) {
	a, err := checkAnswer(statusCode, header, body, endpointMetadata)
	if err != nil {
		return nil, err
	}
	if isNull(a.env.data) {
		return nil, nil // not found (or not this account's)
	}
	v, err := decodeVideo(a.env.data)
	if err != nil {
		return nil, a.fail(KindUpstream, err)
	}
	v.Detailed = true
	return v, nil
}

// rawList holds list_videos' data fields undecoded; unknown fields are
// ignored.
type rawList struct {
	CurrentPage json.RawMessage `json:"current_page"`
	PageSize    json.RawMessage `json:"page_size"`
	TotalCount  json.RawMessage `json:"total_count"`
	Videos      json.RawMessage `json:"videos"`
}

// rawListItems is rawList with its items read in the same pass, for the
// answers whose every item is an object.
type rawListItems struct {
	rawList
	Items []rawVideo `json:"videos"`
}

// parseListResponse turns one list_videos HTTP answer into a page or a typed
// error. Every error it returns is an *Error.
//
// The envelope is classified as by parseResponse, with one addition that
// comes first after HTTP 5xx: the answers listed at isUnsupportedAnswer
// (HTTP 404 or 405 whatever the body, or code 0001/0003 whose msg says a
// parameter or the call is unknown) are KindUnsupported.
//
// On code 0000, data null, or videos null or absent, is an empty page. Each
// item is decoded by get_metadata's field rules and has Detailed false;
// numbers may be strings, unknown fields (bucket, blob, video_url, ...) are
// ignored. One malformed item (not an object, no video_no, a field that does
// not decode) fails the whole page as KindUpstream: the caller isolates it
// by splitting its batch. Page is 0 when the upstream omits current_page
// (ListVideos then reports the page asked).
func parseListResponse(statusCode int, header http.Header, body []byte) (*ListPage, error) {
	if page, ok := parseListFast(statusCode, body); ok {
		return page, nil
	}
	return parseListResponseFull(statusCode, header, body)
}

// parseListFast reads the usual list_videos answer (see usualAnswer) with
// a well-formed page or null data; FuzzParseListResponse checks that it
// agrees with parseListResponseFull wherever ok is true.
func parseListFast(statusCode int, body []byte) (page *ListPage, ok bool) {
	data, ok := usualAnswer[rawListItems](statusCode, body)
	if !ok {
		return nil, false
	}
	if data == nil {
		return &ListPage{Videos: []*Video{}}, true
	}
	items := data.Items
	page, err := pageFrom(&data.rawList, len(items), func(i int) (*Video, error) { return videoFrom(&items[i]) })
	return page, err == nil
}

// parseListResponseFull is parseListResponse for every answer, one step at
// a time.
func parseListResponseFull(statusCode int, header http.Header, body []byte) (*ListPage, error) {
	a, err := checkAnswer(statusCode, header, body, endpointList)
	if err != nil {
		return nil, err
	}
	if isNull(a.env.data) {
		return &ListPage{Videos: []*Video{}}, nil
	}
	if kindOf(a.env.data) != '{' {
		return nil, a.fail(KindUpstream, errors.New("malformed field data"))
	}
	// The common case takes one pass over data, items included; anything
	// unusual (an item that is not an object, videos not an array) takes
	// the path that reads the page, then each item, and names what failed.
	var fast rawListItems
	if err := json.Unmarshal(a.env.data, &fast); err == nil {
		page, err := pageFrom(&fast.rawList, len(fast.Items), func(i int) (*Video, error) { return videoFrom(&fast.Items[i]) })
		if err != nil {
			return nil, a.fail(KindUpstream, err)
		}
		return page, nil
	}
	var r rawList
	if err := json.Unmarshal(a.env.data, &r); err != nil {
		return nil, a.fail(KindUpstream, fmt.Errorf("malformed field data: %w", err))
	}
	var items []json.RawMessage
	switch kindOf(r.Videos) {
	case 0, 'n':
	case '[':
		if err := json.Unmarshal(r.Videos, &items); err != nil {
			return nil, a.fail(KindUpstream, fmt.Errorf("malformed field videos: %w", err))
		}
	default:
		return nil, a.fail(KindUpstream, errors.New("malformed field videos"))
	}
	page, err := pageFrom(&r, len(items), func(i int) (*Video, error) { return decodeVideo(items[i]) })
	if err != nil {
		return nil, a.fail(KindUpstream, err)
	}
	return page, nil
}

// pageFrom coerces a page's fields, then its n items, each by item.
func pageFrom(r *rawList, n int, item func(i int) (*Video, error)) (*ListPage, error) {
	d := decoder{}
	current := d.integer("current_page", r.CurrentPage)
	size := d.integer("page_size", r.PageSize)
	total := d.int64("total_count", r.TotalCount)
	if d.err == nil && (current != nil && *current < 0 || size != nil && *size < 0 || total != nil && *total < 0) {
		d.err = errors.New("malformed field data: negative current_page, page_size or total_count")
	}
	if d.err != nil {
		return nil, d.err
	}
	page := &ListPage{Videos: make([]*Video, 0, n)}
	for i := range n {
		v, err := item(i)
		if err != nil {
			return nil, fmt.Errorf("malformed item %d of videos: %w", i, err)
		}
		page.Videos = append(page.Videos, v) // Detailed stays false
	}

	if current != nil {
		page.Page = *current
	}
	// A missing (or zero) page_size reads as this page's length, and so
	// does one below it: the size the server used is at least what it sent.
	page.PageSize = n
	if size != nil && *size > n {
		page.PageSize = *size
	}
	// A missing total_count reads as this page's length, i.e. "no more
	// pages": the upstream gave no sign of more. A total below what this
	// page holds is raised to it, so TotalCount never contradicts Videos.
	page.TotalCount = int64(n)
	if total != nil && *total > page.TotalCount {
		page.TotalCount = *total
	}
	return page, nil
}

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

// parsedEnvelope is the envelope with code and msg already normalized.
type parsedEnvelope struct {
	code string
	msg  string
	data json.RawMessage
}

// decodeEnvelope parses body as the vendor envelope. On error the returned
// value is still usable (empty).
func decodeEnvelope(body []byte) (parsedEnvelope, error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")) // tolerate a UTF-8 BOM
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return parsedEnvelope{}, errors.New("malformed response: body is not a json object")
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return parsedEnvelope{}, fmt.Errorf("malformed response: %w", err)
	}
	code, err := normalizeCode(env.Code)
	if err != nil {
		return parsedEnvelope{}, err
	}
	return parsedEnvelope{code: code, msg: normalizeMessage(env.Msg), data: env.Data}, nil
}

// normalizeCode accepts the documented string code ("0429") and a numeric
// one (429), which loses its leading zeros in JSON and is padded back to four
// digits so both spellings classify alike.
func normalizeCode(raw json.RawMessage) (string, error) {
	switch kindOf(raw) {
	case 0, 'n':
		return "", nil
	case '"':
		s, err := unquote(raw)
		if err != nil {
			return "", fmt.Errorf("malformed response: %w", err)
		}
		return strings.TrimSpace(s), nil
	case '0':
		text := string(bytes.TrimSpace(raw))
		if n, ok := parseInteger(text); ok && n >= 0 && n <= 9999 {
			return fmt.Sprintf("%04d", n), nil
		}
		return text, nil
	default:
		return "", errors.New("malformed response: code is not a string")
	}
}

// normalizeMessage makes the vendor's msg safe to embed in one log line:
// valid UTF-8, no control characters, trimmed, at most maxMessageBytes.
func normalizeMessage(raw json.RawMessage) string {
	var s string
	switch kindOf(raw) {
	case 0, 'n':
		return ""
	case '"':
		var err error
		if s, err = unquote(raw); err != nil {
			return ""
		}
	default:
		s = string(raw)
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxMessageBytes {
		cut := maxMessageBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = strings.TrimSpace(s[:cut])
	}
	return s
}

// parseRetryAfter reads Retry-After as delta-seconds or an HTTP-date
// (RFC 9110 §10.2.3). Absent, invalid or past values give 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(math.MaxInt64/time.Second) {
			return time.Duration(math.MaxInt64) // saturate instead of overflowing
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// decodeVideo coerces data into a Video. Errors name the field but never
// echo its value.
func decodeVideo(data json.RawMessage) (*Video, error) {
	if kindOf(data) != '{' {
		return nil, errors.New("malformed field data")
	}
	var r rawVideo
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("malformed field data: %w", err)
	}
	return videoFrom(&r)
}

// videoFrom checks the fields of one video, naming the first that its rule
// refused.
func videoFrom(r *rawVideo) (*Video, error) {
	d := decoder{}
	v := &Video{
		VideoName:       r.VideoName.take(&d, "video_name"),
		Duration:        r.Duration.take(&d, "duration"),
		Size:            r.Size.take(&d, "size"),
		Cause:           r.Cause.take(&d, "cause"),
		CreateTime:      r.CreateTime.take(&d, "create_time"),
		ResolutionLabel: r.ResolutionLabel.take(&d, "resolution_label"),
		FPS:             r.FPS.take(&d, "fps"),
		Width:           r.Width.take(&d, "width"),
		Height:          r.Height.take(&d, "height"),
		DatetimeTaken:   r.DatetimeTaken.take(&d, "datetime_taken"),
		CameraModel:     r.CameraModel.take(&d, "camera_model"),
		Latitude:        r.Latitude.take(&d, "latitude"),
		Longitude:       r.Longitude.take(&d, "longitude"),
		Tags:            r.Tags.take(&d, "tags"),
	}
	if no := r.VideoNo.take(&d, "video_no"); no != nil {
		v.VideoNo = *no
	}
	if status := r.Status.take(&d, "status"); status != nil {
		v.RawStatus = *status
	}
	v.Status = normalizeStatus(v.RawStatus)
	// "null" is how some upstream paths serialize a missing cause.
	if v.Cause != nil && (strings.TrimSpace(*v.Cause) == "" || strings.EqualFold(strings.TrimSpace(*v.Cause), "null")) {
		v.Cause = nil
	}
	if d.err != nil {
		return nil, d.err
	}
	if Blank(v.VideoNo) {
		return nil, errors.New("missing field video_no")
	}
	return v, nil
}

// field is one field of a video, coerced by its rule while encoding/json
// decodes it, so that no field's text is copied first to be read again. A
// value the rule refuses is remembered rather than returned as an error, so
// that videoFrom can name the field. An absent field is the zero value, as
// a null one is.
type field[T any] struct {
	v   T
	bad bool
}

// take returns the field's value, recording in d a value its rule refused.
func (f *field[T]) take(d *decoder, name string) T {
	if f.bad {
		d.fail(name)
	}
	return f.v
}

// coerce sets f from raw by rule, one of decoder's methods.
func coerce[T any](f *field[T], raw []byte, rule func(*decoder, string, json.RawMessage) T) error {
	var d decoder
	f.v = rule(&d, "", raw)
	f.bad = d.err != nil
	return nil
}

// The field kinds, one per rule of decoder.
type (
	strField    struct{ field[*string] }
	int64Field  struct{ field[*int64] }
	intField    struct{ field[*int] }
	millisField struct{ field[*time.Time] }
	floatField  struct{ field[*float64] }
	tagsField   struct{ field[[]string] }
)

func (f *strField) UnmarshalJSON(b []byte) error    { return coerce(&f.field, b, (*decoder).str) }
func (f *int64Field) UnmarshalJSON(b []byte) error  { return coerce(&f.field, b, (*decoder).int64) }
func (f *intField) UnmarshalJSON(b []byte) error    { return coerce(&f.field, b, (*decoder).integer) }
func (f *millisField) UnmarshalJSON(b []byte) error { return coerce(&f.field, b, (*decoder).millis) }
func (f *floatField) UnmarshalJSON(b []byte) error  { return coerce(&f.field, b, (*decoder).float) }
func (f *tagsField) UnmarshalJSON(b []byte) error   { return coerce(&f.field, b, (*decoder).tags) }

// decoder coerces raw fields and keeps the first failure, so decodeVideo
// reads as a list of fields rather than a ladder of error checks.
type decoder struct{ err error }

func (d *decoder) fail(name string) {
	if d.err == nil {
		d.err = fmt.Errorf("malformed field %s", name)
	}
}

// str accepts a string, or a number or boolean (kept as its JSON text).
func (d *decoder) str(name string, raw json.RawMessage) *string {
	switch kindOf(raw) {
	case 0, 'n':
		return nil
	case '"':
		s, err := unquote(raw)
		if err != nil {
			d.fail(name)
			return nil
		}
		return &s
	case '0', 't', 'f':
		s := string(bytes.TrimSpace(raw))
		return &s
	default:
		d.fail(name)
		return nil
	}
}

// numberText returns the text of a JSON number or numeric string; ok is
// false for null, "", and "null".
func (d *decoder) numberText(name string, raw json.RawMessage) (text string, ok bool) {
	switch kindOf(raw) {
	case 0, 'n':
		return "", false
	case '0':
		return string(bytes.TrimSpace(raw)), true
	case '"':
		s, err := unquote(raw)
		if err != nil {
			d.fail(name)
			return "", false
		}
		s = strings.TrimSpace(s)
		if s == "" || strings.EqualFold(s, "null") {
			return "", false
		}
		return s, true
	default:
		d.fail(name)
		return "", false
	}
}

func (d *decoder) int64(name string, raw json.RawMessage) *int64 {
	text, ok := d.numberText(name, raw)
	if !ok {
		return nil
	}
	n, ok := parseInteger(text)
	if !ok {
		d.fail(name)
		return nil
	}
	return &n
}

func (d *decoder) integer(name string, raw json.RawMessage) *int {
	n := d.int64(name, raw)
	if n == nil {
		return nil
	}
	if *n < math.MinInt || *n > math.MaxInt { // only reachable where int is 32 bits
		d.fail(name)
		return nil
	}
	i := int(*n)
	return &i
}

func (d *decoder) millis(name string, raw json.RawMessage) *time.Time {
	n := d.int64(name, raw)
	if n == nil {
		return nil
	}
	t := time.UnixMilli(*n).UTC()
	return &t
}

func (d *decoder) float(name string, raw json.RawMessage) *float64 {
	text, ok := d.numberText(name, raw)
	if !ok {
		return nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.fail(name)
		return nil
	}
	return &f
}

// tags accepts an array; strings are kept, nulls skipped (a null tag is no
// tag), and other elements kept as their compact JSON text.
func (d *decoder) tags(name string, raw json.RawMessage) []string {
	switch kindOf(raw) {
	case 0, 'n':
		return nil
	case '[':
	default:
		d.fail(name)
		return nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		d.fail(name)
		return nil
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		switch kindOf(e) {
		case 0, 'n':
			continue
		case '"':
			s, err := unquote(e)
			if err != nil {
				d.fail(name)
				return nil
			}
			out = append(out, s)
		default:
			var b bytes.Buffer
			if err := json.Compact(&b, e); err != nil {
				d.fail(name)
				return nil
			}
			out = append(out, b.String())
		}
	}
	return out
}

// kindOf reports the JSON type of raw by its first byte: 0 when absent, 'n'
// null, '"' string, '0' number, 't'/'f' boolean, '{' object, '[' array.
func kindOf(raw json.RawMessage) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	switch c := raw[0]; {
	case c == '-' || (c >= '0' && c <= '9'):
		return '0'
	default:
		return c
	}
}

// unquote decodes a JSON string. raw was already validated by the decoder
// that produced it, so a string without escapes is just its inner bytes; the
// slow path handles escapes and repairs invalid UTF-8 as encoding/json does.
func unquote(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		inner := raw[1 : len(raw)-1]
		if bytes.IndexByte(inner, '\\') < 0 && bytes.IndexByte(inner, '"') < 0 && utf8.Valid(inner) {
			return string(inner), nil
		}
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

func isNull(raw json.RawMessage) bool {
	k := kindOf(raw)
	return k == 0 || k == 'n'
}

// parseInteger parses a decimal integer exactly, also accepting whole values
// written with a fraction or exponent ("12.0", "1.2e3"), as JSON encoders
// sometimes emit them. It never goes through float64, so every int64 stays
// exact, and it bounds the work done for huge exponents.
func parseInteger(s string) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e, err := strconv.Atoi(s[i+1:])
		if err != nil {
			return 0, false
		}
		exp = e
	}
	intPart, frac := mant, ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	digits := intPart + frac
	if digits == "" {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return 0, true // zero, whatever the exponent
	}
	const maxExp = 1 << 20 // far beyond any int64; keeps point arithmetic safe
	if exp > maxExp || exp < -maxExp {
		return 0, false
	}
	// point is where the decimal point falls within digits.
	point := len(intPart) - (len(intPart+frac) - len(digits)) + exp
	if point <= 0 || point > 19 {
		return 0, false // a nonzero fraction below 1, or beyond int64
	}
	whole, rest := digits, ""
	if point < len(digits) {
		whole, rest = digits[:point], digits[point:]
	} else {
		whole += strings.Repeat("0", point-len(digits))
	}
	if strings.Trim(rest, "0") != "" {
		return 0, false
	}
	u, err := strconv.ParseUint(whole, 10, 64)
	if err != nil {
		return 0, false
	}
	switch {
	case neg && u <= 1<<63:
		return int64(-u), true // -u wraps to the right value, including MinInt64
	case !neg && u <= math.MaxInt64:
		return int64(u), true
	}
	return 0, false
}
