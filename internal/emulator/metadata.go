package emulator

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/memories-facade/memories-graphql/internal/authheader"
)

// MetadataPath is the path of the emulated endpoint, relative to the base URL.
const MetadataPath = "/serve/api/v1/get_metadata"

// serveMetadata is the emulated endpoint. The answer is decided at arrival
// (so rate-limit decisions and arrival times match what the client sent)
// and written after the configured latency.
func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request) {
	key := authheader.Credential(r.Header.Get("Authorization"))
	q := r.URL.Query()
	a := s.decideMetadata(r.Method, key, q)

	s.logger.LogAttrs(r.Context(), slog.LevelDebug, "get_metadata",
		slog.String("method", r.Method),
		slog.String("video_no", q.Get("video_no")),
		slog.String("unique_id", q.Get("unique_id")),
		slog.String("key", shortHash(key)),
		slog.String("outcome", a.outcome),
		slog.Int("status", a.status),
	)
	s.respond(w, r, a)
}

// decideMetadata applies the checks in the vendor's order (auth, rate
// limit, parameters, then faults and lookup), updates the counters and
// returns the answer to send.
func (s *Server) decideMetadata(method, key string, q url.Values) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Taken under the lock so arrival times are ordered like the
	// rate-limit decisions made with them.
	now := time.Now()

	e := s.meta
	videoNo := q.Get("video_no")
	keyHash := ""
	if key != "" {
		keyHash = KeyHash(key)
	}
	if videoNo != "" {
		e.arriveLocked(keyHash, videoNo)
	} else {
		e.arriveLocked(keyHash)
	}

	if a, refused := s.gateLocked(e, method, key, keyHash, now); refused {
		return a
	}

	uniqueID := defaultUniqueID
	if q.Has("unique_id") {
		uniqueID = q.Get("unique_id")
	}
	switch {
	case strings.TrimSpace(videoNo) == "":
		e.stats.invalid++
		return errorAnswer(http.StatusOK, codeParam, "video_no must not be empty")
	case strings.TrimSpace(uniqueID) == "":
		e.stats.invalid++
		return errorAnswer(http.StatusOK, codeParam, "unique_id must not be empty")
	}

	data, _ := s.videoLocked(keyHash, videoRef{uniqueID: uniqueID, videoNo: videoNo})
	normal := okAnswer(data)

	if f, ok := e.takeFaultLocked(videoNo); ok {
		a := faultAnswer(f, malformedMetadataBody(videoNo), normal)
		a.outcome = "fault_" + f.Kind.String()
		return a
	}
	e.stats.servedLocked(now)
	return normal
}

// malformedMetadataBody is get_metadata's FaultMalformed body for videoNo:
// it starts exactly like a real envelope so a client cannot tell it apart
// before decoding, then breaks the syntax.
func malformedMetadataBody(videoNo string) []byte {
	body := []byte(`{"code":"0000","msg":"success","data":{"video_no":`)
	body = append(body, jsonString(videoNo)...)
	return append(body, `,"duration":,"size":3284512,}}`...)
}
