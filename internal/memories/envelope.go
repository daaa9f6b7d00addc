package memories

// This file reads the vendor's envelope (code, msg, data) as loosely as
// the vendor writes it, and the Retry-After header.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxMessageBytes caps the vendor's msg so a chatty or hostile upstream
// cannot bloat logs and GraphQL errors.
const maxMessageBytes = 200

// envelope is the vendor's wrapper; fields stay raw so that their loose
// typing (string or number codes, null data) is handled explicitly below.
// success and failed are ignored: code is the vendor's authoritative field.
type envelope struct {
	Code json.RawMessage `json:"code"`
	Msg  json.RawMessage `json:"msg"`
	Data json.RawMessage `json:"data"`
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
