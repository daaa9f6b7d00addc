package emulator

import (
	"fmt"
	"net/http"
)

// FaultKind selects how a faulty answer misbehaves. The zero value means
// "no fault": SetFault with a zero Kind removes the fault for that video.
type FaultKind int

// The fault kinds. Each imitates a failure a client of the real upstream
// must survive.
const (
	// FaultHTTPError answers HTTP 500 with a small HTML body, as a proxy or
	// crashed gateway in front of the API would.
	FaultHTTPError FaultKind = iota + 1
	// FaultHang never answers: the request blocks until the client gives up
	// (its request context is done) or the server is closed, in which case
	// the connection is dropped.
	FaultHang
	// FaultMalformed answers HTTP 200 with a body that starts like a valid
	// envelope but is not valid JSON.
	FaultMalformed
	// FaultTruncated answers HTTP 200 with the first half of the answer the
	// request would otherwise have got. Content-Length matches the bytes
	// sent, so the HTTP exchange is well formed and only the JSON is cut.
	FaultTruncated
	// FaultCode answers HTTP 200 with an error envelope carrying Fault.Code
	// and Fault.Msg (default "0001" / "network abnormal").
	FaultCode
	// FaultWrongContentType answers HTTP 200 with a text/html page instead
	// of JSON, like a captive portal or a misrouted load balancer.
	FaultWrongContentType
	// FaultReset closes the connection without answering (with TCP RST when
	// possible).
	FaultReset
)

// String returns the constant's name, for logs and test names.
func (k FaultKind) String() string {
	switch k {
	case 0:
		return "FaultNone"
	case FaultHTTPError:
		return "FaultHTTPError"
	case FaultHang:
		return "FaultHang"
	case FaultMalformed:
		return "FaultMalformed"
	case FaultTruncated:
		return "FaultTruncated"
	case FaultCode:
		return "FaultCode"
	case FaultWrongContentType:
		return "FaultWrongContentType"
	case FaultReset:
		return "FaultReset"
	default:
		return fmt.Sprintf("FaultKind(%d)", int(k))
	}
}

// Fault makes requests for one video misbehave. Faults apply after the
// authorization, rate-limit and parameter checks, whatever the unique_id,
// and count in Stats.Faulted (Stats.List.Faulted for list calls, where the
// whole answer misbehaves; see Options.ListFaults).
type Fault struct {
	Kind FaultKind
	// Code and Msg are the envelope's code and msg for FaultCode, for
	// example "0001"/"network abnormal", "0403" or "0402".
	Code, Msg string
	// Status overrides the HTTP status of FaultHTTPError, FaultMalformed,
	// FaultTruncated, FaultCode and FaultWrongContentType; 0 keeps the
	// kind's default. FaultHang and FaultReset send no status.
	Status int
	// Times limits the fault to the next Times requests for the video,
	// after which it answers normally again; 0 means every request.
	Times int
}

// Default codes for FaultCode when Fault.Code or Fault.Msg is empty.
const (
	defaultFaultCode = "0001"
	defaultFaultMsg  = "network abnormal"
)

// Fixed bodies of the non-JSON faults.
const (
	httpErrorBody = "<html>Internal Server Error</html>"
	htmlPageBody  = "<!DOCTYPE html>\n<html><head><title>memories.ai</title></head>" +
		"<body><h1>Service temporarily unavailable</h1><p>Please try again later.</p></body></html>\n"
)

// validate reports a fault that cannot be served.
func (f Fault) validate() error {
	if f.Kind < 0 || f.Kind > FaultReset {
		return fmt.Errorf("unknown fault kind %d", int(f.Kind))
	}
	if f.Status != 0 && !validStatus(f.Status) {
		return fmt.Errorf("fault status %d is not an HTTP status", f.Status)
	}
	if f.Times < 0 {
		return fmt.Errorf("fault times %d is negative", f.Times)
	}
	return nil
}

// validStatus reports whether WriteHeader accepts status.
func validStatus(status int) bool {
	return status >= 100 && status <= 999
}

// statusOr returns the fault's HTTP status override or def.
func (f Fault) statusOr(def int) int {
	if f.Status != 0 {
		return f.Status
	}
	return def
}

// faultAnswer builds the answer for fault f on a request whose fault-free
// answer would have been normal; malformed is the endpoint's FaultMalformed
// body.
func faultAnswer(f Fault, malformed []byte, normal answer) answer {
	switch f.Kind {
	case FaultHTTPError:
		return answer{status: f.statusOr(http.StatusInternalServerError), contentType: "text/html; charset=utf-8", body: []byte(httpErrorBody)}
	case FaultHang:
		return answer{action: actionHang}
	case FaultMalformed:
		return answer{status: f.statusOr(http.StatusOK), contentType: jsonContentType, body: malformed}
	case FaultTruncated:
		normal.status = f.statusOr(http.StatusOK)
		normal.body = normal.body[:len(normal.body)/2]
		return normal
	case FaultCode:
		code, msg := f.Code, f.Msg
		if code == "" {
			code = defaultFaultCode
		}
		if msg == "" {
			msg = defaultFaultMsg
		}
		return errorAnswer(f.statusOr(http.StatusOK), code, msg)
	case FaultWrongContentType:
		return answer{status: f.statusOr(http.StatusOK), contentType: "text/html; charset=utf-8", body: []byte(htmlPageBody)}
	case FaultReset:
		return answer{action: actionReset}
	default:
		return normal
	}
}
