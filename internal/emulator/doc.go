// Package emulator is a sandbox stand-in for memories.ai's
// GET /serve/api/v1/get_metadata and POST /serve/api/v1/list_videos
// endpoints.
//
// It speaks the vendor's wire format exactly: the same path and query
// parameters (video_no, unique_id), the raw API key in the Authorization
// header, and the JSON envelope
//
//	{"code":"0000","msg":"success","data":{...}|null,"success":true,"failed":false}
//
// with the vendor's business codes for errors (0401, 9009, 0003, 0429).
//
// The list endpoint (ListPath) serves the same videos. It takes a JSON body
// such as {"page":1,"size":200,"unique_id":"default","video_nos":[...]}
// (or video_no for one video; without either, the whole library of
// unique_id), with the vendor's filters ANDed: status, video_name, and the
// metadata filters camera_model, tag, datetime_taken (taken at or after,
// ms) and latitude with longitude (within 20 km), which match only parsed
// videos. It answers
//
//	{"code":"0000","msg":"success","data":{"current_page":1,"page_size":100,"total_count":3,"videos":[...]},...}
//
// and behaves as the vendor's pages leave room for: unknown numbers are
// absent, the order is a stable hash rather than the request's, pages are
// capped (Options.ListPageCap, default 100), and items lack get_metadata's
// resolution_label, fps, width and height but carry bucket, blob and, for
// parsed videos, video_url. It has its own rate limit, faults and counters
// (Options.ListRateLimit, ListFaults, Stats.List), can send numbers as
// strings like the vendor's older list endpoint, and can be switched off
// (Options.ListDisabled) to answer 404 like an upstream without it.
//
// Like fsouza/fake-gcs-server it is a library first, so one implementation
// serves three uses:
//
//   - end-to-end tests, over real HTTP: Start an emulator, point the client
//     at Server.URL, and inspect Server.Stats afterwards;
//   - in process, as the default backend when no API key is configured:
//     mount New(Options{}).Handler() or use Start and its URL;
//   - standalone, so anyone can point their own tests at it.
//
// For the standalone use the façade's main calls Run for
//
//	go run . emulator [flags]
//
// which prints "memories.ai emulator listening on http://127.0.0.1:9090" and
// serves until interrupted. Point a client at it by using that URL as the
// upstream base URL in place of https://api.memories.ai; any non-empty
// Authorization value is accepted unless -keys (or EMULATOR_KEYS) restricts
// them. For example:
//
//	curl -H 'Authorization: sk-test' \
//	  'http://127.0.0.1:9090/serve/api/v1/get_metadata?video_no=VI606404158946574336'
//	curl -H 'Authorization: sk-test' -d '{"video_nos":["VI606404158946574336"]}' \
//	  http://127.0.0.1:9090/serve/api/v1/list_videos
//
// Every flag has an environment twin (-addr / EMULATOR_ADDR and so on); a
// flag given on the command line wins over its environment variable.
//
// The emulator serves the embedded Samples unless told otherwise; they cover
// every response shape the vendor documents plus the legacy and unexpected
// shapes seen in the wild. Rate limits, latency and faults (HTTP 500, hangs,
// malformed or truncated bodies, error codes, wrong content type, connection
// resets) are configured through Options or changed at run time.
package emulator
