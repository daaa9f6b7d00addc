package playground

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/memories-facade/memories-graphql/graph"
)

func testBundle(t *testing.T) *bundle {
	t.Helper()
	b, err := loadBundle()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// firstAsset returns the name of an asset with the extension ext.
func firstAsset(t *testing.T, ext string) string {
	t.Helper()
	names := make([]string, 0, len(testBundle(t).assets))
	for name := range testBundle(t).assets {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if path.Ext(name) == ext {
			return name
		}
	}
	t.Fatalf("no %s asset in the bundle", ext)
	return ""
}

func serve(h http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestResponses(t *testing.T) {
	h := Handler("memories.ai video GraphQL", "/query")
	m := testBundle(t).manifest
	tests := []struct {
		name       string
		method     string
		target     string
		wantStatus int
		wantType   string
	}{
		{"page", http.MethodGet, "/", http.StatusOK, "text/html; charset=utf-8"},
		{"page HEAD", http.MethodHead, "/", http.StatusOK, "text/html; charset=utf-8"},
		{"script", http.MethodGet, AssetPath + m.Script, http.StatusOK, "text/javascript; charset=utf-8"},
		{"stylesheet", http.MethodGet, AssetPath + m.Style, http.StatusOK, "text/css; charset=utf-8"},
		{"icon", http.MethodGet, AssetPath + m.Favicon, http.StatusOK, "image/svg+xml"},
		{"licenses", http.MethodGet, AssetPath + m.Licenses, http.StatusOK, "text/plain; charset=utf-8"},
		{"woff2 font", http.MethodGet, AssetPath + firstAsset(t, ".woff2"), http.StatusOK, "font/woff2"},
		{"woff font", http.MethodGet, AssetPath + firstAsset(t, ".woff"), http.StatusOK, "font/woff"},
		{"image", http.MethodGet, AssetPath + firstAsset(t, ".png"), http.StatusOK, "image/png"},
		{"asset HEAD", http.MethodHead, AssetPath + m.Script, http.StatusOK, "text/javascript; charset=utf-8"},
		{"unknown asset", http.MethodGet, AssetPath + "playground.0000000000000000.js", http.StatusNotFound, "text/plain; charset=utf-8"},
		{"manifest is not served", http.MethodGet, AssetPath + "manifest.json", http.StatusNotFound, "text/plain; charset=utf-8"},
		{"asset directory", http.MethodGet, AssetPath, http.StatusNotFound, "text/plain; charset=utf-8"},
		{"traversal", http.MethodGet, AssetPath + "../../playground.go", http.StatusNotFound, "text/plain; charset=utf-8"},
		{"other path", http.MethodGet, "/index.html", http.StatusNotFound, "text/plain; charset=utf-8"},
		{"POST page", http.MethodPost, "/", http.StatusMethodNotAllowed, "text/plain; charset=utf-8"},
		{"DELETE asset", http.MethodDelete, AssetPath + m.Script, http.StatusMethodNotAllowed, "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(h, tt.method, tt.target)
			if got := rec.Code; got != tt.wantStatus {
				t.Errorf("status = %d; want %d", got, tt.wantStatus)
			}
			if got := rec.Header().Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q; want %q", got, tt.wantType)
			}
			if got, want := rec.Header().Get("X-Content-Type-Options"), "nosniff"; got != want {
				t.Errorf("X-Content-Type-Options = %q; want %q", got, want)
			}
			checkPolicy(t, rec.Header().Get("Content-Security-Policy"))
			if tt.method == http.MethodHead && rec.Body.Len() != 0 {
				t.Errorf("HEAD body has %d bytes; want none", rec.Body.Len())
			}
			if tt.wantStatus == http.StatusMethodNotAllowed {
				if got, want := rec.Header().Get("Allow"), "GET, HEAD"; got != want {
					t.Errorf("Allow = %q; want %q", got, want)
				}
			}
		})
	}
}

// checkPolicy fails unless csp lets the page load and connect to its own
// origin only, with no inline script and inline style only by nonce.
func checkPolicy(t *testing.T, csp string) {
	t.Helper()
	if csp == "" {
		t.Error("no Content-Security-Policy")
		return
	}
	directives := map[string][]string{}
	for d := range strings.SplitSeq(csp, ";") {
		fields := strings.Fields(d)
		if len(fields) == 0 {
			continue
		}
		directives[fields[0]] = fields[1:]
	}
	for _, name := range []string{"default-src", "script-src", "style-src"} {
		if !slices.Contains(directives[name], "'self'") {
			t.Errorf("%s = %q; want 'self' in it (policy %q)", name, directives[name], csp)
		}
	}
	for _, name := range []string{"object-src", "base-uri", "frame-ancestors", "form-action"} {
		if got := directives[name]; !slices.Equal(got, []string{"'none'"}) {
			t.Errorf("%s = %q; want 'none' (policy %q)", name, got, csp)
		}
	}
	for name, sources := range directives {
		for _, s := range sources {
			switch {
			case s == "'self'" || s == "'none'":
			case name == "style-src" && strings.HasPrefix(s, "'nonce-"):
			default:
				t.Errorf("%s allows %s; want only 'self' (and a style nonce) (policy %q)", name, s, csp)
			}
		}
	}
}

var (
	nonceMeta  = regexp.MustCompile(`<meta property="csp-nonce" nonce="([^"]+)">`)
	configAttr = regexp.MustCompile(`data-config="([^"]*)"`)
	assetRef   = regexp.MustCompile(`(?:src|href)="([^"]*)"`)
)

func TestPageNonceIsFreshAndMatchesPolicy(t *testing.T) {
	h := Handler("t", "/query")
	seen := map[string]bool{}
	for range 3 {
		rec := serve(h, http.MethodGet, "/")
		m := nonceMeta.FindStringSubmatch(rec.Body.String())
		if m == nil {
			t.Fatalf("page has no csp-nonce meta:\n%s", rec.Body)
		}
		nonce := html.UnescapeString(m[1])
		if got := rec.Header().Get("Content-Security-Policy"); !strings.Contains(got, "style-src 'self' 'nonce-"+nonce+"'") {
			t.Errorf("policy %q does not admit the page's nonce %q", got, nonce)
		}
		if seen[nonce] {
			t.Errorf("nonce %q served twice", nonce)
		}
		seen[nonce] = true
		if got, want := rec.Header().Get("Cache-Control"), "no-store"; got != want {
			t.Errorf("page Cache-Control = %q; want %q", got, want)
		}
	}
}

func TestPage(t *testing.T) {
	h := Handler(`memories.ai <video> "GraphQL"`, "/api/query")
	body := serve(h, http.MethodGet, "/").Body.String()

	if want := "<title>memories.ai &lt;video&gt; &#34;GraphQL&#34;</title>"; !strings.Contains(body, want) {
		t.Errorf("page has no %s:\n%s", want, body)
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "<style") || strings.Contains(body, " style=") {
		t.Errorf("page has inline script or style:\n%s", body)
	}

	m := configAttr.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("page has no data-config:\n%s", body)
	}
	var cfg pageConfig
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &cfg); err != nil {
		t.Fatalf("data-config: %v", err)
	}
	// In this order: the README and docs/live.md name tabs by their place.
	wantTabs := []string{DefaultQuery, WatchQuery, DeferQuery, LibraryQuery}
	if got, want := cfg, (pageConfig{Endpoint: "/api/query", Tabs: wantTabs, Headers: DefaultHeaders}); !reflect.DeepEqual(got, want) {
		t.Errorf("config = %+v; want %+v", got, want)
	}

	// Every reference is relative and names an asset of the bundle.
	b := testBundle(t)
	refs := assetRef.FindAllStringSubmatch(body, -1)
	if got, want := len(refs), 3; got != want {
		t.Errorf("page has %d src/href references; want %d (icon, stylesheet, script)", got, want)
	}
	for _, ref := range refs {
		name, ok := strings.CutPrefix(ref[1], strings.TrimPrefix(AssetPath, "/"))
		if !ok || b.assets[name] == nil {
			t.Errorf("page references %q; want a relative link to an embedded asset", ref[1])
		}
	}
	if strings.Contains(body, "//") {
		t.Errorf("page has an absolute or protocol-relative URL:\n%s", body)
	}
}

func TestDefaultQueryShowsBatching(t *testing.T) {
	for _, want := range []string{
		"videos(videoNos:",
		`"VI606404158946574336"`,
		"vendorExample: video(",
		"timelapse: video(",
		"captureMetadata {",
		"location {",
	} {
		if !strings.Contains(DefaultQuery, want) {
			t.Errorf("DefaultQuery lacks %s", want)
		}
	}
	var headers map[string]string
	if err := json.Unmarshal([]byte(DefaultHeaders), &headers); err != nil {
		t.Fatalf("DefaultHeaders is not a JSON object of strings (GraphiQL would refuse to run): %v", err)
	}
	if _, ok := headers["Authorization"]; !ok {
		t.Errorf("DefaultHeaders = %s; want an Authorization hint", DefaultHeaders)
	}
}

// Every tab is one named operation, documented by the comments it opens
// with, that the server's schema accepts as it stands. GraphiQL labels a tab
// by its operation's name, and the browser test finds tabs by it.
func TestTabsAreValidOperations(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	var names []string
	for i, tab := range Tabs() {
		doc, errs := gqlparser.LoadQuery(schema, tab)
		if len(errs) > 0 {
			t.Errorf("tab %d does not validate against the schema: %v\n%s", i+1, errs, tab)
			continue
		}
		if got := len(doc.Operations); got != 1 || doc.Operations[0].Name == "" {
			t.Errorf("tab %d has %d operations; want one, named", i+1, got)
			continue
		}
		names = append(names, doc.Operations[0].Name)
		if !strings.HasPrefix(tab, "# ") {
			t.Errorf("tab %d (%s) does not open with comments that say what it shows", i+1, doc.Operations[0].Name)
		}
	}
	if want := []string{"SandboxVideos", "WatchUploads", "DeferredDetail", "LibraryPage"}; !slices.Equal(names, want) {
		t.Errorf("tabs' operations = %q; want %q", names, want)
	}
}

// The library tab pages by hand: its one variable, $after, is the
// videoLibrary's after, so that the first run (no variables) answers the
// first page, and its comments give the variables to paste, as JSON that
// GraphiQL's variables editor takes, with the endCursor it selects.
func TestLibraryQueryPages(t *testing.T) {
	doc, errs := gqlparser.LoadQuery(graph.NewExecutableSchema(graph.Config{}).Schema(), LibraryQuery)
	if len(errs) > 0 {
		t.Fatalf("LibraryQuery: %v", errs)
	}
	op := doc.Operations[0]
	if op.Operation != ast.Query {
		t.Errorf("LibraryQuery is a %s; want a query", op.Operation)
	}
	if got := len(op.VariableDefinitions); got != 1 {
		t.Fatalf("LibraryQuery declares %d variables; want $after alone", got)
	}
	if v := op.VariableDefinitions[0]; v.Variable != "after" || v.Type.String() != "String" || v.DefaultValue != nil {
		t.Errorf("LibraryQuery declares $%s: %s = %v; want $after: String, no default", v.Variable, v.Type, v.DefaultValue)
	}

	library := field(op.SelectionSet, "videoLibrary")
	if library == nil {
		t.Fatal("LibraryQuery selects no videoLibrary")
	}
	after := library.Arguments.ForName("after")
	if after == nil || after.Value.Kind != ast.Variable || after.Value.Raw != "after" {
		t.Errorf("videoLibrary(after: %v); want $after", after)
	}
	if first := library.Arguments.ForName("first"); first == nil || first.Value.Kind != ast.IntValue {
		t.Errorf("videoLibrary(first: %v); want a page size small enough to need paging", first)
	}
	for _, path := range [][]string{
		{"totalCount"},
		{"pageInfo", "hasNextPage"},
		{"pageInfo", "endCursor"},
		{"edges", "cursor"},
		{"edges", "node", "videoNo"},
		{"edges", "node", "captureMetadata", "tags"},
	} {
		f := library
		for _, name := range path {
			if f = field(f.SelectionSet, name); f == nil {
				break
			}
		}
		if f == nil {
			t.Errorf("LibraryQuery's videoLibrary does not select %s", strings.Join(path, "."))
		}
	}

	// The variables the comments give, as the user would paste them.
	var vars []string
	for line := range strings.Lines(LibraryQuery) {
		if text, ok := strings.CutPrefix(strings.TrimSpace(line), "#"); ok && strings.HasPrefix(strings.TrimSpace(text), "{") {
			vars = append(vars, strings.TrimSpace(text))
		}
	}
	if len(vars) != 1 {
		t.Fatalf("LibraryQuery's comments give %d variable objects %q; want one", len(vars), vars)
	}
	var pasted map[string]string
	if err := json.Unmarshal([]byte(vars[0]), &pasted); err != nil {
		t.Fatalf("the comments' variables %s are not a JSON object of strings (GraphiQL would refuse them): %v", vars[0], err)
	}
	if _, ok := pasted["after"]; !ok || len(pasted) != 1 {
		t.Errorf("the comments' variables = %s; want {\"after\": ...} alone", vars[0])
	}
	if !strings.Contains(LibraryQuery, "pageInfo.endCursor") {
		t.Error("LibraryQuery's comments do not say to copy pageInfo.endCursor")
	}
}

// field returns the field named name among set's fields, or nil.
func field(set ast.SelectionSet, name string) *ast.Field {
	for _, sel := range set {
		if f, ok := sel.(*ast.Field); ok && f.Name == name {
			return f
		}
	}
	return nil
}

// The manifest is what the build wrote: every embedded file is listed with
// its size and hash, and the pinned packages and lockfile are the ones in
// scripts/playground.
func TestManifestMatchesAssets(t *testing.T) {
	b := testBundle(t)
	entries, err := fs.ReadDir(assetFS, "assets")
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	for _, e := range entries {
		if e.Name() != "manifest.json" {
			onDisk = append(onDisk, e.Name())
		}
	}
	var listed []string
	for name := range b.manifest.Files {
		listed = append(listed, name)
	}
	slices.Sort(onDisk)
	slices.Sort(listed)
	if !slices.Equal(onDisk, listed) {
		t.Errorf("embedded files %q; manifest lists %q", onDisk, listed)
	}
	var total int
	for name, entry := range b.manifest.Files {
		data, err := fs.ReadFile(assetFS, "assets/"+name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		total += len(data)
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != entry.SHA256 {
			t.Errorf("%s: sha256 %s; manifest says %s", name, got, entry.SHA256)
		}
		if got := len(data); got != entry.Bytes {
			t.Errorf("%s: %d bytes; manifest says %d", name, got, entry.Bytes)
		}
		if !strings.Contains(name, entry.SHA256[:16]) {
			t.Errorf("%s: name does not carry its hash %s", name, entry.SHA256[:16])
		}
	}
	// The binary carries the assets: keep them small.
	if limit := 4 << 20; total > limit {
		t.Errorf("assets total %d bytes; want at most %d", total, limit)
	}

	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	raw, err := os.ReadFile("../../scripts/playground/package.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		t.Fatal(err)
	}
	for name, version := range pkg.Dependencies {
		if got := b.manifest.Packages[name]; got != version {
			t.Errorf("manifest has %s@%s; package.json pins %s (rebuild the assets)", name, got, version)
		}
	}
	lock, err := os.ReadFile("../../scripts/playground/package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		PackageLockSHA256 string `json:"packageLockSha256"`
	}
	if raw, err := fs.ReadFile(assetFS, "assets/manifest.json"); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lock)
	if got := hex.EncodeToString(sum[:]); got != m.PackageLockSHA256 {
		t.Errorf("package-lock.json sha256 %s; assets were built from %s (rebuild the assets)", got, m.PackageLockSHA256)
	}
}

// Nothing in the assets loads code, styles, fonts or images from anywhere
// but the server. The bundle mentions documentation URLs in strings, so the
// scan looks for the constructs that load, not for every URL.
func TestAssetsLoadNothingFromElsewhere(t *testing.T) {
	b := testBundle(t)
	script := string(b.assets[b.manifest.Script].body)
	for _, re := range []string{
		`\bimport\(`,        // dynamic import: every module is in the bundle
		`\bimportScripts\(`, // worker code loads
		`\bnew\s+(?:Shared)?Worker\(`,
		`\bfetch\(\s*["'` + "`" + `](?:https?:)?//`,
		`\.src\s*=\s*["'` + "`" + `](?:https?:)?//`,
		`<script[^>]*\bsrc=`,
		`<link[^>]*\bhref=`,
		`sourceMappingURL=`,
		`@import`,
	} {
		if loc := regexp.MustCompile(re).FindStringIndex(script); loc != nil {
			t.Errorf("script matches %s: …%s…", re, script[max(0, loc[0]-60):min(len(script), loc[1]+60)])
		}
	}

	style := string(b.assets[b.manifest.Style].body)
	if strings.Contains(style, "@import") {
		t.Error("stylesheet has an @import")
	}
	urls := regexp.MustCompile(`url\(\s*["']?([^"')]*)`).FindAllStringSubmatch(style, -1)
	if len(urls) == 0 {
		t.Error("stylesheet has no url(): the fonts are missing")
	}
	for _, u := range urls {
		if b.assets[u[1]] == nil {
			t.Errorf("stylesheet loads %q; want an embedded asset next to it", u[1])
		}
	}
}

func TestAssetCaching(t *testing.T) {
	h := Handler("t", "/query")
	name := testBundle(t).manifest.Script
	rec := serve(h, http.MethodGet, AssetPath+name)
	if got, want := rec.Header().Get("Cache-Control"), "public, max-age=31536000, immutable"; got != want {
		t.Errorf("Cache-Control = %q; want %q", got, want)
	}
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if got := serve(h, http.MethodGet, AssetPath+name, "If-None-Match", etag).Code; got != http.StatusNotModified {
		t.Errorf("conditional GET = %d; want 304", got)
	}
}

func TestAssetGzip(t *testing.T) {
	h := Handler("t", "/query")
	b := testBundle(t)
	tests := []struct {
		name           string
		asset          string
		acceptEncoding string
		wantGzip       bool
	}{
		{"script, gzip accepted", b.manifest.Script, "gzip, deflate, br", true},
		{"script, gzip refused", b.manifest.Script, "gzip;q=0, br", false},
		{"script, nothing accepted", b.manifest.Script, "", false},
		{"stylesheet, gzip accepted", b.manifest.Style, "br;q=1.0, GZIP;q=0.5", true},
		{"font is compressed already", firstAsset(t, ".woff2"), "gzip", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var header []string
			if tt.acceptEncoding != "" {
				header = []string{"Accept-Encoding", tt.acceptEncoding}
			}
			rec := serve(h, http.MethodGet, AssetPath+tt.asset, header...)
			if got := rec.Header().Get("Content-Encoding") == "gzip"; got != tt.wantGzip {
				t.Fatalf("gzip = %v; want %v", got, tt.wantGzip)
			}
			body := rec.Body.Bytes()
			if tt.wantGzip {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(body, b.assets[tt.asset].body) {
				t.Errorf("body differs from the embedded %s", tt.asset)
			}
		})
	}
}
