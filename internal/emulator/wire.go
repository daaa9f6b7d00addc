package emulator

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"time"
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

// respond carries out a decided answer: it hangs, waits for the configured
// latency, resets the connection or writes the answer. A disabled endpoint
// answers at once, as an upstream without it would.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, a answer) {
	if a.outcome == outcomeDisabled {
		a.write(w)
		return
	}
	if a.action == actionHang {
		select {
		case <-r.Context().Done():
		case <-s.done:
			abort(w)
		}
		return
	}
	if !s.delay(w, r) {
		return
	}
	if a.action == actionReset {
		abort(w)
		return
	}
	a.write(w)
}

// SetLatency changes the delay added before every answer; d <= 0 removes
// it. It is a test hook.
func (s *Server) SetLatency(d time.Duration) {
	s.latency.Store(int64(max(d, 0)))
}

// delay waits for the configured latency. It returns false if the answer
// must not be written: the client went away, or Close released the request
// (its connection is then dropped, since an empty 200 would be a lie).
func (s *Server) delay(w http.ResponseWriter, r *http.Request) bool {
	d := time.Duration(s.latency.Load())
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.done:
		abort(w)
		return false
	}
}

// abort drops the connection without an answer. Hijacking lets it send a
// TCP reset like a crashing upstream would; where the writer cannot be
// hijacked (HTTP/2, recorders), net/http's ErrAbortHandler panic is the
// supported way to abort a response.
func abort(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		// Linger 0 makes Close send RST instead of FIN.
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}
