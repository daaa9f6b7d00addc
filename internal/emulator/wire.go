package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// The vendor's business codes and messages.
const (
	codeOK           = "0000"
	codeParam        = "0003"
	codeUnauthorized = "0401"
	codeRateLimited  = "0429"
	codeInvalidKey   = "9009"
	codeNotFound     = "0404"

	msgOK           = "success"
	msgUnauthorized = "Unauthorized"
	msgInvalidKey   = "invalid api key"
	msgRateLimited  = "Request has exceeded the limit."
	msgNotFound     = "Not Found"
)

const jsonContentType = "application/json"

// action says what the handler does with an answer besides writing it.
type action int

const (
	actionWrite action = iota // write status, headers and body
	actionHang                // block until the client leaves or the server closes
	actionReset               // drop the connection without answering
)

// answer is a fully decided response. It is built while holding the
// server's lock and written after the configured latency, without it.
type answer struct {
	action      action
	status      int
	contentType string
	body        []byte
	retryAfter  int    // seconds for the Retry-After header; 0 = no header
	allow       string // value of an Allow header (405 answers); "" = none
	outcome     string
}

// okAnswer is a 0000 answer; data nil means "not found" (data: null).
func okAnswer(data json.RawMessage) answer {
	outcome := "found"
	if data == nil {
		outcome = "not_found"
	}
	return answer{status: http.StatusOK, contentType: jsonContentType, body: envelope(codeOK, msgOK, data, true), outcome: outcome}
}

// errorAnswer is an error envelope (data null, success false).
func errorAnswer(status int, code, msg string) answer {
	return answer{status: status, contentType: jsonContentType, body: envelope(code, msg, nil, false), outcome: "code_" + code}
}

// envelope renders the vendor's response envelope. It is assembled by hand
// rather than with json.Marshal because data must go out byte for byte as
// configured, and json.Marshal would compact and HTML-escape a RawMessage.
func envelope(code, msg string, data json.RawMessage, ok bool) []byte {
	var b bytes.Buffer
	b.WriteString(`{"code":`)
	b.Write(jsonString(code))
	b.WriteString(`,"msg":`)
	b.Write(jsonString(msg))
	b.WriteString(`,"data":`)
	if data == nil {
		b.WriteString("null")
	} else {
		b.Write(data)
	}
	b.WriteString(`,"success":`)
	b.WriteString(strconv.FormatBool(ok))
	b.WriteString(`,"failed":`)
	b.WriteString(strconv.FormatBool(!ok))
	b.WriteString("}")
	return b.Bytes()
}

// jsonString encodes s as a JSON string without HTML escaping, so messages
// read the same as the vendor's.
func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	// Encoding a string cannot fail.
	_ = enc.Encode(s)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// write sends a. It is only called for actionWrite answers.
func (a answer) write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	if a.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(a.retryAfter))
	}
	if a.allow != "" {
		h.Set("Allow", a.allow)
	}
	w.WriteHeader(a.status)
	// A write error means the client went away; there is nobody to tell.
	_, _ = w.Write(a.body)
}
