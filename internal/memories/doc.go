// Package memories is the REST client for memories.ai's
// GET /serve/api/v1/get_metadata and POST /serve/api/v1/list_videos
// endpoints. It is the last layer of the request path, below the upstream
// calls (internal/upstream).
//
// Every upstream answer is parsed exactly once, at this boundary, into either
// a *Video (a *ListPage for list_videos) or a typed *Error (see Kind), so the
// layers above never look at HTTP status codes, vendor business codes or raw
// JSON. Decoding is tolerant
// of the upstream's loose typing (numbers sent as strings, "null" strings,
// 12.0 for integers) but strict about values it cannot coerce: those become
// KindUpstream errors rather than silently wrong data.
package memories
