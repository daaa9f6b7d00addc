package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/memories-facade/memories-graphql/internal/emulator"
	"github.com/memories-facade/memories-graphql/internal/playground"
)

// playgroundTitle is the page title the server gives the playground.
const playgroundTitle = "memories.ai video GraphQL"

// vendorExampleName is the name of the sample VI606404158946574336, which the
// playground's default query asks for.
const vendorExampleName = "182082-867762198_tiny"

// The playground's default query runs as it is against the sandbox samples,
// and the repeat of the vendor example costs no extra upstream call.
func TestPlaygroundDefaultQueryRuns(t *testing.T) {
	h := setup(t, emulator.Options{}, fast)
	var headers map[string]string
	if err := json.Unmarshal([]byte(playground.DefaultHeaders), &headers); err != nil {
		t.Fatalf("DefaultHeaders is not a JSON object of strings: %v", err)
	}
	var kv []string
	for k, v := range headers {
		kv = append(kv, k, v)
	}
	resp := h.query(t, playground.DefaultQuery, nil, kv...)
	if resp.Status != http.StatusOK || len(resp.Errors) > 0 {
		t.Fatalf("HTTP %d, errors %+v", resp.Status, resp.Errors)
	}
	if got := decodeVideo(t, resp.Data["vendorExample"]); got == nil || got.VideoName != vendorExampleName {
		t.Errorf("vendorExample = %+v; want %s", got, vendorExampleName)
	}
	if got, want := len(decodeVideos(t, resp.Data["videos"])), 3; got != want {
		t.Errorf("len(videos) = %d; want %d", got, want)
	}
	// Five references, four distinct videos.
	if got, want := h.emu.Stats().Requests, int64(4); got != want {
		t.Errorf("upstream calls = %d; want %d", got, want)
	}
}

// The playground's library tab answers the first page with no variables,
// and, as its comments say, each next page with the last endCursor as
// "after", until hasNextPage is false: every processed sample once.
func TestPlaygroundLibraryQueryPages(t *testing.T) {
	h := setup(t, emulator.Options{}, fastList)
	type page struct {
		TotalCount int
		PageInfo   struct {
			HasNextPage bool
			EndCursor   string
		}
		Edges []struct {
			Cursor string
			Node   struct{ VideoNo, Status string }
		}
	}
	seen := map[string]bool{}
	var vars map[string]any // the first run: an empty variables editor
	var total, pages int
	for {
		resp := h.query(t, playground.LibraryQuery, vars)
		if resp.Status != http.StatusOK || len(resp.Errors) > 0 {
			t.Fatalf("page %d: HTTP %d, errors %+v", pages+1, resp.Status, resp.Errors)
		}
		p := decode[page](t, resp.Data["videoLibrary"])
		pages++
		total = p.TotalCount
		if len(p.Edges) == 0 || len(p.Edges) > 5 {
			t.Fatalf("page %d has %d edges; want 1 to 5", pages, len(p.Edges))
		}
		for _, e := range p.Edges {
			if e.Node.Status != "PARSE" || seen[e.Node.VideoNo] {
				t.Errorf("page %d: %s (%s); want each processed video once", pages, e.Node.VideoNo, e.Node.Status)
			}
			seen[e.Node.VideoNo] = true
		}
		if p.PageInfo.EndCursor != p.Edges[len(p.Edges)-1].Cursor {
			t.Errorf("page %d: endCursor %q; want the last edge's cursor", pages, p.PageInfo.EndCursor)
		}
		if !p.PageInfo.HasNextPage {
			break
		}
		if pages == 50 {
			t.Fatal("still paging after 50 pages")
		}
		vars = map[string]any{"after": p.PageInfo.EndCursor}
	}
	if pages < 2 || len(seen) != total {
		t.Errorf("%d pages listed %d videos of totalCount %d; want at least 2 pages and every video", pages, len(seen), total)
	}
}

// The server mounts the playground at / and its assets under
// playground.AssetPath, next to the API.
func TestPlaygroundMounted(t *testing.T) {
	h := setup(t, emulator.Options{}, fast)
	origin := h.origin

	page := httpGet(t, origin+"/")
	if got, want := page.Header.Get("Content-Type"), "text/html; charset=utf-8"; got != want {
		t.Errorf("GET / Content-Type = %q; want %q", got, want)
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("GET / Content-Security-Policy = %q; want default-src 'self'", csp)
	}
	if want := "<title>" + playgroundTitle + "</title>"; !strings.Contains(page.body, want) {
		t.Errorf("GET / has no %s", want)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page.body, -1)
	if len(refs) < 3 {
		t.Fatalf("GET / references %d assets; want the icon, the stylesheet and the script", len(refs))
	}
	for _, ref := range refs {
		u, err := url.Parse(origin + "/")
		if err != nil {
			t.Fatal(err)
		}
		u, err = u.Parse(ref[1])
		if err != nil {
			t.Fatalf("asset URL %q: %v", ref[1], err)
		}
		if !strings.HasPrefix(u.Path, playground.AssetPath) {
			t.Errorf("asset URL %q is outside %s", ref[1], playground.AssetPath)
		}
		if got := httpGet(t, u.String()); got.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d; want 200", u.Path, got.StatusCode)
		}
	}
	if got := httpGet(t, origin+"/healthz"); got.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %d; want 200", got.StatusCode)
	}
}

// problems collects what the browser reports going wrong: console errors,
// uncaught exceptions, failed or refused requests, CSP violations.
type problems struct {
	mu   sync.Mutex
	list []string
}

func (p *problems) add(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

func (p *problems) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.list...)
}

// reportCSPViolations runs before the page's own scripts and turns each CSP
// violation into a console error, which the test fails on. Chromium also logs
// violations itself; this catches the ones it reports only as events.
const reportCSPViolations = `document.addEventListener('securitypolicyviolation', (e) => {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber);
});`

// The playground in a real Chromium, offline: every request to another host
// is refused, the default query runs by a click on the run button, and the
// result pane shows a sandbox video's name. Any console error, failed
// request or CSP violation fails the test.
//
// With UPDATE_SCREENSHOT=1 the test writes docs/playground.png, the picture
// in the README; otherwise the screenshot goes to the test's artifact
// directory (kept with go test -artifacts).
func TestPlaygroundInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	// The samples, with the processing ones settling within seconds, so
	// that the watch tab's subscription ends while the test looks on.
	samples := emulator.Samples()
	for i, v := range samples {
		if v.Then != nil {
			samples[i].After = emulator.Duration(time.Duration(i%3+1) * time.Second)
		}
	}
	// get_metadata at 2 calls/s, so that the @defer tab's parts arrive
	// while the test looks on.
	h := setup(t, emulator.Options{Videos: samples}, with(fastList, "WATCH_INTERVAL", "500ms",
		"MEMORIES_RATE_LIMIT", "2", "MEMORIES_RATE_BURST", "1"))
	origin := h.origin
	server, err := url.Parse(origin)
	if err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1600, 1000),
		// Keep the browser itself off the network: no background fetches,
		// no proxy, and no host name resolves but the server's.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE "+server.Hostname()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	// The machine has two cores and may be busy: give the browser time, and
	// each step a budget of its own so that a failure names the step.
	ctx, cancel := context.WithTimeout(browserCtx, 3*time.Minute)
	defer cancel()
	const stepTimeout = 45 * time.Second
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium %s: %v", chromium, err)
	}

	var bad problems
	var sockets problems // the URLs of WebSockets opened and the frames they received, in order
	var multipart atomic.Bool
	requests := map[network.RequestID]string{} // only the listener touches it
	err = chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				bad.add("console.%s: %s", ev.Type, consoleArgs(ev.Args))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg += " " + d.Exception.Description
			}
			bad.add("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, msg)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				bad.add("browser log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			requests[ev.RequestID] = ev.Request.URL
		case *network.EventLoadingFailed:
			bad.add("request failed: %s: %s %s", requests[ev.RequestID], ev.ErrorText, ev.BlockedReason)
		case *network.EventResponseReceived:
			if ev.Response.Status >= 400 {
				bad.add("HTTP %d for %s", ev.Response.Status, ev.Response.URL)
			}
			if strings.HasPrefix(ev.Response.MimeType, "multipart/mixed") {
				multipart.Store(true)
			}
		case *network.EventWebSocketCreated:
			sockets.add("%s", ev.URL)
		case *network.EventWebSocketFrameReceived:
			sockets.add("%s", ev.Response.PayloadData)
		case *network.EventWebSocketFrameError:
			bad.add("WebSocket frame error: %s", ev.ErrorMessage)
		}
	})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}

	// Every request stops at the Fetch domain; only the server's own are let
	// through, so the page is as offline as it would be on a plane.
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			u, perr := url.Parse(ev.Request.URL)
			if perr == nil && (u.Scheme == server.Scheme || u.Scheme == "ws") && u.Host == server.Host {
				_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				continue
			}
			bad.add("the page tried to reach another origin: %s", ev.Request.URL)
			_, _ = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient})
		}
	}()
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*"}}}); err != nil {
		t.Fatalf("enable request interception: %v", err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: reportCSPViolations}); err != nil {
		t.Fatalf("add CSP violation reporter: %v", err)
	}

	// step runs one stage; on failure it saves what the browser shows and
	// what went wrong before stopping the test.
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		stepCtx, cancel := context.WithTimeout(ctx, stepTimeout)
		defer cancel()
		if err := chromedp.Do(stepCtx, actions...); err != nil {
			for _, p := range bad.all() {
				t.Errorf("browser: %s", p)
			}
			saveScreenshot(browserCtx, t, filepath.Join(t.ArtifactDir(), "playground-failure.png"))
			t.Fatalf("%s: %v", what, err)
		}
	}
	// waitFor polls a JavaScript condition until it is true.
	waitFor := func(what, cond string) {
		t.Helper()
		step(what, func(ctx context.Context, tgt *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(stepTimeout), chromedp.WithPollingInterval(100*time.Millisecond))(ctx, tgt)
			return chromedp.Void{}, err
		})
	}

	// A fixed viewport makes the README's screenshot reproducible.
	step("open the playground", chromedp.EmulateViewport(1600, 1000), chromedp.Navigate(origin+"/"))
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatalf("read title: %v", err)
	}
	if title != playgroundTitle {
		t.Errorf("title = %q; want %q", title, playgroundTitle)
	}
	step("wait for the run button", chromedp.WaitVisible(chromedp.CSS(".graphiql-execute-button")))
	waitFor("the default query in the editor",
		`(document.querySelector('.graphiql-query-editor') || {innerText: ''}).innerText.includes('VI606404158946574336')`)
	waitFor("the Authorization hint in the headers editor",
		`(document.querySelector('section.graphiql-editor-tool[aria-label="Headers"]') || {innerText: ''}).innerText.includes('"Authorization"')`)

	step("click the run button", chromedp.Click(chromedp.CSS(".graphiql-execute-button")))
	waitFor("the sample's name in the result pane",
		`(document.querySelector('.graphiql-response .result-window') || {innerText: ''}).innerText.includes('`+vendorExampleName+`')`)
	result, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.graphiql-response .result-window').innerText`))
	if err != nil {
		t.Fatalf("read the result pane: %v", err)
	}
	if strings.Contains(result, `"errors"`) {
		t.Errorf("result pane shows errors:\n%s", result)
	}

	// The docs explorer reads the schema's descriptions by introspection.
	step("open the docs explorer", chromedp.Click(chromedp.CSS(`button[aria-label="Show Documentation Explorer"]`)))
	step("open the Query type", chromedp.Click(chromedp.JSPath(
		`[...document.querySelectorAll('.graphiql-doc-explorer a')].find((a) => a.textContent === 'Query')`)))
	waitFor("the Query type's description in the docs explorer",
		`(document.querySelector('.graphiql-doc-explorer') || {innerText: ''}).innerText.includes('Reads video metadata from memories.ai')`)

	// The settings dialog locks scrolling with a <style> element added at
	// run time: it must carry the response's nonce to pass the policy.
	step("open the settings dialog",
		chromedp.Click(chromedp.CSS(`button[aria-label="Open settings dialog"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.graphiql-dialog`)))
	step("close the settings dialog",
		chromedp.KeyEvent("\x1b"), // Escape
		chromedp.WaitNotPresent(chromedp.CSS(`.graphiql-dialog`)),
		// No focus ring or hover on the settings button in the picture.
		chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`),
		chromedp.MouseEvent(chromedp.MouseMoved, 800, 500))

	shot := filepath.Join(t.ArtifactDir(), "playground.png")
	if os.Getenv("UPDATE_SCREENSHOT") == "1" {
		shot = filepath.Join(moduleRoot(t), "docs", "playground.png")
	}
	saveScreenshot(ctx, t, shot)

	// The second tab watches the processing samples over a WebSocket to
	// the same endpoint until each has settled: every video's first state
	// and its last, then the subscription's end.
	step("open the watch tab", chromedp.Click(chromedp.JSPath(
		`[...document.querySelectorAll('.graphiql-tab-button')].find((b) => b.textContent.includes('WatchUploads'))`)))
	waitFor("the watch in the editor",
		`(document.querySelector('.graphiql-query-editor') || {innerText: ''}).innerText.includes('subscription WatchUploads')`)
	step("run the watch", chromedp.Click(chromedp.CSS(".graphiql-execute-button")))
	waitFor("the subscription's start",
		`(document.querySelector('.graphiql-execute-button') || {ariaLabel: ''}).ariaLabel.startsWith('Stop')`)
	waitFor("the subscription's end",
		`(document.querySelector('.graphiql-execute-button') || {ariaLabel: ''}).ariaLabel.startsWith('Execute')`)
	var opened, events, completed int
	statuses := map[string][]string{}
	for _, f := range sockets.all() {
		if strings.HasPrefix(f, "ws://") {
			if f != strings.Replace(origin, "http://", "ws://", 1)+"/query" {
				t.Errorf("the watch opened a WebSocket to %s; want the GraphQL endpoint", f)
			}
			opened++
			continue
		}
		var msg struct {
			Type    string `json:"type"`
			Payload struct {
				Data struct {
					WatchVideos struct{ VideoNo, Status string }
				}
				Errors []any
			}
		}
		if err := json.Unmarshal([]byte(f), &msg); err != nil {
			t.Errorf("WebSocket frame %q: %v", f, err)
			continue
		}
		switch msg.Type {
		case "next":
			events++
			if len(msg.Payload.Errors) > 0 {
				t.Errorf("event with errors: %s", f)
			}
			v := msg.Payload.Data.WatchVideos
			statuses[v.VideoNo] = append(statuses[v.VideoNo], v.Status)
		case "complete":
			completed++
		}
	}
	if opened != 1 || completed != 1 {
		t.Errorf("WebSockets opened = %d, subscriptions completed = %d; want 1 and 1", opened, completed)
	}
	wantStatuses := map[string][]string{
		"VI606531877412306944": {"UNPARSE", "PARSE"},
		"VI606535210987741184": {"UNPARSE", "PARSE"},
		"VI606538640251518976": {"UNPARSE", "FAILED"},
	}
	if !reflect.DeepEqual(statuses, wantStatuses) {
		t.Errorf("statuses by video = %v (%d events); want %v", statuses, events, wantStatuses)
	}

	// The third tab defers the detail fields: the result pane shows the
	// videos at once and fills in their detail part by part, over one
	// multipart/mixed answer.
	// The pane draws only the lines in view: its editor holds the text.
	const resultText = `((document.querySelector('.graphiql-response .CodeMirror') || {}).CodeMirror || {getValue: () => ''}).getValue()`
	const detailShown = resultText + `.split('"resolutionLabel"').length - 1`
	step("open the @defer tab", chromedp.Click(chromedp.JSPath(
		`[...document.querySelectorAll('.graphiql-tab-button')].find((b) => b.textContent.includes('DeferredDetail'))`)))
	waitFor("the deferred query in the editor",
		`(document.querySelector('.graphiql-query-editor') || {innerText: ''}).innerText.includes('query DeferredDetail')`)
	step("run the deferred query", chromedp.Click(chromedp.CSS(".graphiql-execute-button")))
	waitFor("the videos without all their detail yet",
		resultText+`.includes('VI606512447106248704') && `+detailShown+` < 7`)
	waitFor("every video's detail", detailShown+` === 7`)
	result, err = chromedp.Run(ctx, chromedp.Evaluate[string](resultText))
	if err != nil {
		t.Fatalf("read the result pane: %v", err)
	}
	if strings.Contains(result, `"errors"`) || !strings.Contains(result, `"4K"`) {
		t.Errorf("result pane after the deferred parts:\n%s", result)
	}
	if !multipart.Load() {
		t.Errorf("no multipart/mixed answer reached the page")
	}

	// The fourth tab pages the library: the first run answers the first
	// page; the endCursor put into the variables editor, as the tab's
	// comments say, answers the next.
	step("open the library tab", chromedp.Click(chromedp.JSPath(
		`[...document.querySelectorAll('.graphiql-tab-button')].find((b) => b.textContent.includes('LibraryPage'))`)))
	waitFor("the library query in the editor",
		`(document.querySelector('.graphiql-query-editor') || {innerText: ''}).innerText.includes('query LibraryPage')`)
	step("run the library query", chromedp.Click(chromedp.CSS(".graphiql-execute-button")))
	waitFor("the first page", resultText+`.includes('"videoLibrary"') && `+resultText+`.includes('"endCursor"')`)
	type libraryPage struct {
		Data struct {
			VideoLibrary struct {
				TotalCount int
				PageInfo   struct {
					HasNextPage bool
					EndCursor   string
				}
				Edges []struct{ Node struct{ VideoNo string } }
			}
		}
		Errors []any
	}
	readPage := func(what string) libraryPage {
		t.Helper()
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](resultText))
		if err != nil {
			t.Fatalf("read the result pane: %v", err)
		}
		var p libraryPage
		if err := json.Unmarshal([]byte(text), &p); err != nil || len(p.Errors) > 0 || len(p.Data.VideoLibrary.Edges) == 0 {
			t.Fatalf("%s in the result pane (%v):\n%s", what, err, text)
		}
		return p
	}
	first := readPage("the first page")
	if !first.Data.VideoLibrary.PageInfo.HasNextPage {
		t.Fatalf("the first page has no next page: %+v", first)
	}
	saveScreenshot(ctx, t, filepath.Join(t.ArtifactDir(), "playground-library.png"))
	vars, err := json.Marshal(map[string]string{"after": first.Data.VideoLibrary.PageInfo.EndCursor})
	if err != nil {
		t.Fatal(err)
	}
	step("open the variables editor", chromedp.Click(chromedp.JSPath(
		`[...document.querySelectorAll('.graphiql-editor-tools button')].find((b) => b.textContent.trim() === 'Variables')`)))
	step("paste the endCursor as after", chromedp.Evaluate[chromedp.Void](
		`document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror').CodeMirror.setValue(`+string(mustJSON(string(vars)))+`)`))
	step("run the next page", chromedp.Click(chromedp.CSS(".graphiql-execute-button")))
	waitFor("the next page", resultText+` !== '' && !`+resultText+`.includes('"`+first.Data.VideoLibrary.Edges[0].Node.VideoNo+`"')`)
	second := readPage("the next page")
	if second.Data.VideoLibrary.TotalCount != first.Data.VideoLibrary.TotalCount {
		t.Errorf("the next page's totalCount = %d; want %d", second.Data.VideoLibrary.TotalCount, first.Data.VideoLibrary.TotalCount)
	}
	saveScreenshot(ctx, t, filepath.Join(t.ArtifactDir(), "playground-library-next.png"))

	// Let late reports (a violation from the last render) arrive.
	step("settle", chromedp.Sleep(500*time.Millisecond))
	for _, p := range bad.all() {
		t.Errorf("browser: %s", p)
	}
}

// saveScreenshot writes a PNG of the viewport to file, logging rather than
// failing: a missing picture must not hide the real result.
func saveScreenshot(ctx context.Context, t *testing.T, file string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", file)
}

// consoleArgs renders console call arguments as DevTools would, roughly.
func consoleArgs(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case len(a.Value) > 0:
			var s string
			if json.Unmarshal(a.Value, &s) == nil {
				parts = append(parts, s)
			} else {
				parts = append(parts, string(a.Value))
			}
		case a.Description != "":
			parts = append(parts, a.Description)
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}
