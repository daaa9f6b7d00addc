// Package playground serves GraphiQL from assets compiled into the binary, so
// the page works with no network beyond the server itself: offline, behind
// proxies that block public CDNs, and under a Content-Security-Policy that
// allows nothing but the server's own origin.
//
// The assets are built from pinned npm packages by scripts/playground (see
// its build.mjs) and committed under assets/, together with manifest.json,
// which records the package versions and each file's SHA-256. Building the
// Go binary needs no Node.
package playground

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// AssetPath is the URL path prefix under which the handler serves the page's
// script, stylesheet, fonts and images. Mount the handler for "/" and for
// everything under AssetPath.
const AssetPath = "/playground/assets/"

// DefaultQuery is the operation in the playground's first tab. It runs as is
// against the sandbox's sample videos and shows what the service is for: a
// list of videos and aliased single videos in one operation, where repeats
// cost no extra upstream call.
const DefaultQuery = `# memories.ai video GraphQL playground
#
# One operation asks for many videos. Each
# distinct video is fetched from memories.ai
# once, inside the account's rate limit; a
# video that fails gets its own error while
# the others still answer.
#
# Press the run button (or Ctrl-Enter). The
# numbers are the sandbox's samples: run the
# server without MEMORIES_API_KEY and
# MEMORIES_BASE_URL to get them. In
# pass-through mode, put your memories.ai API
# key in the Authorization header (Headers).

query SandboxVideos {
  # A list, in the order asked; null for a
  # video that does not exist.
  videos(videoNos: [
    "VI606404158946574336"
    "VI606417322871980032"
    "VI606421908815474688"
  ]) {
    ...VideoSummary
  }

  # Aliases: single videos side by side. This
  # one is also in the list, and is still
  # fetched only once.
  vendorExample: video(
    videoNo: "VI606404158946574336"
  ) {
    ...VideoSummary
    size
    createTime
    captureMetadata {
      datetimeTaken
      cameraModel
      tags
    }
  }
  timelapse: video(
    videoNo: "VI606497301546663936"
  ) {
    ...VideoSummary
  }
}

fragment VideoSummary on Video {
  videoNo
  videoName
  status
  duration
  resolutionLabel
  captureMetadata {
    location {
      latitude
      longitude
    }
  }
}
`

// WatchQuery is the operation in the playground's second tab: a watch of
// the sandbox's videos that finish processing a few seconds after they are
// first asked for, streamed over a WebSocket.
const WatchQuery = `# Live updates: watch videos until they are
# processed. Each video's state arrives as it
# changes, and the subscription completes once
# every video is PARSE, FAILED or not found.
#
# The sandbox's three "upload-in-progress"
# videos finish 8 to 12 s after they are first
# asked for (restart the server to see it
# again); the server polls every WATCH_INTERVAL
# (10 s) for every watcher at once.

subscription WatchUploads {
  watchVideos(videoNos: [
    "VI606531877412306944"
    "VI606535210987741184"
    "VI606538640251518976"
  ]) {
    videoNo
    videoName
    status
    cause
  }
}
`

// DeferQuery is the operation in the playground's third tab: the detail
// fields, one get_metadata call per video, under @defer, so that the
// result pane shows the names at once and each video's detail as it comes.
const DeferQuery = `# Progressive results: resolutionLabel, fps,
# width and height cost one get_metadata call
# per video, at the account's rate (5 calls/s),
# while list_videos answers the other fields of
# 200 videos at once. Under @defer, the names
# come first and each video's detail follows as
# its call returns (multipart/mixed).

query DeferredDetail {
  videos(videoNos: [
    "VI606490117735702528"
    "VI606493864213864448"
    "VI606497301546663936"
    "VI606501774260178944"
    "VI606505229483057152"
    "VI606508992645877760"
    "VI606512447106248704"
  ]) {
    videoNo
    videoName
    status
    ... @defer(label: "detail") {
      resolutionLabel
      fps
      width
      height
    }
  }
}
`

// LibraryQuery is the operation in the playground's fourth tab: the
// account's library a page at a time, a Relay connection that the user
// pages through by hand. The tabs carry no variables (pageConfig.Tabs holds
// operations only), so the comments say what to put in the variables
// editor; without it $after is null and the run answers the first page.
const LibraryQuery = `# The library, a page at a time:
# videoLibrary lists the videos of one scope
# (uniqueId, "default" unless given) that
# match a filter, in the vendor's order, as
# a Relay connection. A page costs one
# list_videos call, and the videos it lists
# are kept: a video or videos query for them
# afterwards costs none.
#
# Run it for the first page. For the next,
# copy pageInfo.endCursor from the result
# into the Variables editor (below, beside
# Headers):
#
#   { "after": "<the endCursor>" }
#
# and run again, until hasNextPage is false.
# A cursor serves only the listing it came
# from: after changing the filter (or
# uniqueId), start again without "after".

query LibraryPage($after: String) {
  videoLibrary(
    first: 5 # up to 200 a page
    after: $after
    filter: {
      status: PARSE
      # ANDed with any of these, or
      # videoName, videoNo:
      # tag: "travel"
      # cameraModel: "iPhone 13"
      # takenAfter: "2024-01-01T00:00:00Z"
      # near: {
      #   latitude: 38.7, longitude: -9.1
      # }
    }
  ) {
    totalCount
    pageInfo {
      hasNextPage
      endCursor
    }
    edges {
      cursor
      node {
        videoNo
        videoName
        status
        captureMetadata {
          cameraModel
          tags
        }
      }
    }
  }
}
`

// DefaultHeaders prefills the headers editor. The server ignores the header
// when it has its own key (MEMORIES_API_KEY, or the sandbox), so the default
// query runs unchanged there; in pass-through mode the header is the
// caller's memories.ai API key and the placeholder says so.
const DefaultHeaders = `{
  "Authorization": "your memories.ai API key (pass-through mode only)"
}`

//go:embed assets
var assetFS embed.FS

// manifest is assets/manifest.json as scripts/playground/build.mjs writes it.
type manifest struct {
	Script   string                   `json:"script"`
	Style    string                   `json:"style"`
	Favicon  string                   `json:"favicon"`
	Licenses string                   `json:"licenses"`
	Packages map[string]string        `json:"packages"`
	Files    map[string]manifestEntry `json:"files"`
}

type manifestEntry struct {
	Bytes  int    `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
	gzipped     func() []byte // nil for types that do not compress
}

// bundle is the parsed manifest and the files it lists.
type bundle struct {
	manifest manifest
	assets   map[string]*asset
}

// loadBundle reads the embedded assets once; the manifest and files are
// compiled in, so an error here is a build defect that the tests catch.
var loadBundle = sync.OnceValues(func() (*bundle, error) { return readBundle(assetFS) })

func readBundle(fsys fs.FS) (*bundle, error) {
	raw, err := fs.ReadFile(fsys, "assets/manifest.json")
	if err != nil {
		return nil, fmt.Errorf("playground: read manifest: %w", err)
	}
	var b bundle
	if err := json.Unmarshal(raw, &b.manifest); err != nil {
		return nil, fmt.Errorf("playground: parse manifest: %w", err)
	}
	b.assets = make(map[string]*asset, len(b.manifest.Files))
	for name, entry := range b.manifest.Files {
		body, err := fs.ReadFile(fsys, "assets/"+name)
		if err != nil {
			return nil, fmt.Errorf("playground: manifest lists %s: %w", name, err)
		}
		a := &asset{
			body:        body,
			contentType: contentType(name),
			etag:        `"` + entry.SHA256 + `"`,
		}
		if compressible(name) {
			a.gzipped = sync.OnceValue(func() []byte { return gzipBytes(body) })
		}
		b.assets[name] = a
	}
	for _, name := range []string{b.manifest.Script, b.manifest.Style, b.manifest.Favicon} {
		if b.assets[name] == nil {
			return nil, fmt.Errorf("playground: manifest names %q, which it does not list", name)
		}
	}
	return &b, nil
}

// contentType is set explicitly rather than by mime.TypeByExtension, whose
// answers for fonts depend on the host's mime.types.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".woff2":
		return "font/woff2"
	case ".woff":
		return "font/woff"
	case ".txt":
		return "text/plain; charset=utf-8"
	case ".json":
		return "application/json"
	default:
		return "application/octet-stream"
	}
}

func compressible(name string) bool {
	switch path.Ext(name) {
	case ".js", ".css", ".svg", ".txt", ".json":
		return true
	}
	return false
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	// Writes to a bytes.Buffer do not fail.
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// policy is the Content-Security-Policy of every playground response: the
// server's own origin for everything the page loads or connects to, and no
// inline code. styleNonce, when set, admits the <style> elements that the
// page's libraries add at run time and stamp with it (see
// scripts/playground/src/index.jsx); there is no inline script at all.
func policy(styleNonce string) string {
	style := "style-src 'self'"
	if styleNonce != "" {
		style += " 'nonce-" + styleNonce + "'"
	}
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		style,
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

// pageTemplate is the whole HTML page. Asset URLs are relative, so the page
// also works when a proxy serves the service under a path prefix.
var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta property="csp-nonce" nonce="{{.Nonce}}">
<title>{{.Title}}</title>
<link rel="icon" type="image/svg+xml" href="{{.Assets}}{{.Favicon}}">
<link rel="stylesheet" href="{{.Assets}}{{.Style}}">
<script defer src="{{.Assets}}{{.Script}}"></script>
</head>
<body>
<noscript>The GraphQL playground needs JavaScript. The API itself is at {{.Endpoint}}.</noscript>
<div id="graphiql" data-config="{{.Config}}"></div>
</body>
</html>
`))

// Tabs returns the operations of the playground's tabs, first first. New
// tabs go at the end: the README and docs/live.md name the second and third
// (WatchUploads, DeferredDetail) by their place.
func Tabs() []string {
	return []string{DefaultQuery, WatchQuery, DeferQuery, LibraryQuery}
}

// pageConfig is what the page's script reads from data-config.
type pageConfig struct {
	Endpoint string   `json:"endpoint"`
	Tabs     []string `json:"tabs"` // the operations of the tabs, first first
	Headers  string   `json:"headers"`
}

// Handler returns the playground for the GraphQL endpoint at endpoint (a
// path on the same origin, such as "/query"): the page at "/", titled title,
// and its assets under AssetPath. Anything else it is given is 404.
func Handler(title, endpoint string) http.Handler {
	b, err := loadBundle()
	if err != nil {
		// The assets are compiled in and covered by tests, so this is a
		// build defect; failing loudly beats a blank page.
		panic(err)
	}
	config, err := json.Marshal(pageConfig{Endpoint: endpoint, Tabs: Tabs(), Headers: DefaultHeaders})
	if err != nil {
		panic(fmt.Sprintf("playground: encode config: %v", err))
	}
	return &handler{b: b, title: title, endpoint: endpoint, config: string(config)}
}

type handler struct {
	b        *bundle
	title    string
	endpoint string
	config   string
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Content-Security-Policy", policy(""))
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch {
	case r.URL.Path == "/":
		h.servePage(w, r)
	case strings.HasPrefix(r.URL.Path, AssetPath):
		h.serveAsset(w, r, strings.TrimPrefix(r.URL.Path, AssetPath))
	default:
		hdr.Set("Content-Security-Policy", policy(""))
		http.NotFound(w, r)
	}
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	nonce := newNonce()
	var buf bytes.Buffer
	err := pageTemplate.Execute(&buf, map[string]string{
		"Nonce":    nonce,
		"Title":    h.title,
		"Endpoint": h.endpoint,
		"Config":   h.config,
		"Assets":   strings.TrimPrefix(AssetPath, "/"),
		"Script":   h.b.manifest.Script,
		"Style":    h.b.manifest.Style,
		"Favicon":  h.b.manifest.Favicon,
	})
	hdr := w.Header()
	if err != nil {
		hdr.Set("Content-Security-Policy", policy(""))
		http.Error(w, "playground: render page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	hdr.Set("Content-Security-Policy", policy(nonce))
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	// Each response has its own nonce, so no cache may reuse one.
	hdr.Set("Cache-Control", "no-store")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(buf.Bytes()))
}

func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", policy(""))
	a := h.b.assets[name]
	if a == nil {
		http.NotFound(w, r)
		return
	}
	hdr.Set("Content-Type", a.contentType)
	// Names carry a hash of the content, so a name never changes meaning.
	hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	hdr.Set("ETag", a.etag)
	body := a.body
	if a.gzipped != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			hdr.Set("Content-Encoding", "gzip")
			// The compressed bytes are a representation of their own.
			hdr.Set("ETag", strings.TrimSuffix(a.etag, `"`)+`-gzip"`)
			body = a.gzipped()
		}
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether the request's Accept-Encoding admits gzip.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// newNonce returns 128 random bits, base64-encoded, for one response's CSP.
func newNonce() string {
	b := make([]byte, 16)
	// crypto/rand.Read never fails (it crashes the program instead).
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
