package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// The web clients of docs/clients.md, each with its setup as the doc shows
// it (e2e/live/apollo-cache.mjs, urql-cache.mjs), and the TypeScript types
// of docs/clients/ regenerated from the server's schema (codegen.mjs).

// clientVideo is a PARSE video as the clients' tests serve it, under the
// name given: the emulator's answer for it, detail fields included.
func clientVideo(no, name string, i int) emulator.Video {
	return rawVideo("default", fmt.Sprintf(`{"video_no":%q,"video_name":%q,"duration":%d,"size":%d,"status":"PARSE",`+
		`"create_time":1754037217992,"resolution_label":"1080P","fps":%d,"width":1920,"height":1080}`, no, name, 10+i, 1000+i, 24+i))
}

// setupClients starts a server in front of two videos that keeps no
// answer (CACHE_TTL_PARSE=0), so that a client's refetch reads what the
// emulator holds then. It returns the videos' numbers and a func that
// renames the first one upstream.
func setupClients(t *testing.T) (h *harness, nos []string, rename func()) {
	t.Helper()
	nos = []string{"VI700000000000000101", "VI700000000000000102"}
	h = setup(t, emulator.Options{Videos: []emulator.Video{clientVideo(nos[0], "clip-0", 0), clientVideo(nos[1], "clip-1", 1)}},
		with(fastList, "CACHE_TTL_PARSE", "0"))
	return h, nos, func() { h.emu.SetVideo("", clientVideo(nos[0], "renamed", 0)) }
}

// serverIDs asks the server itself for the videos' ids, in order.
func serverIDs(t *testing.T, h *harness, nos []string) []string {
	t.Helper()
	return nodeIDs(t, h.query(t, `query($nos: [ID!]!) { videos(videoNos: $nos) { id } }`, map[string]any{"nos": nos}))
}

// runNodeSteps is runNode for a script that stops where the test must act
// (e2e/live/testkit.mjs): at each line {"pause": name} it prints, steps[name]
// runs, then a line on the script's standard input lets it go on. The
// script's last line is its result, decoded into out. Every step must be
// reached.
func runNodeSteps(t *testing.T, node, script string, args []string, steps map[string]func(), out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("node %s: %v", script, err)
	}
	reached := map[string]bool{}
	var last []byte
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var p struct {
			Pause string `json:"pause"`
		}
		if json.Unmarshal(line, &p) == nil && p.Pause != "" {
			step, ok := steps[p.Pause]
			if !ok {
				t.Errorf("%s paused at %q, which the test has no step for", script, p.Pause)
			} else {
				step()
			}
			reached[p.Pause] = true
			if _, err := io.WriteString(stdin, "\n"); err != nil {
				t.Errorf("let %s go on after %q: %v", script, p.Pause, err)
			}
			continue
		}
		last = append(last[:0], line...)
	}
	_ = stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node %s %s: %v\nstderr:\n%s", script, strings.Join(args, " "), err, stderr.String())
	}
	for name := range steps {
		if !reached[name] {
			t.Errorf("%s never paused at %q", script, name)
		}
	}
	if err := json.Unmarshal(last, out); err != nil {
		t.Fatalf("%s result is not JSON: %v\n%s\nstderr:\n%s", script, err, last, stderr.String())
	}
}

// clientConsole is what a script's client warned or logged as an error.
type clientConsole []struct{ Level, Message string }

// wantQuiet reports each console message of who's client.
func (c clientConsole) wantQuiet(t *testing.T, who string) {
	t.Helper()
	for _, m := range c {
		t.Errorf("%s: console.%s: %s", who, m.Level, m.Message)
	}
}

// clientVideoJSON is a Video as the clients' queries select it; each field
// is a pointer, so that a field left out reads as nil.
type clientVideoJSON struct {
	Typename  *string `json:"__typename,omitempty"`
	ID        *string `json:"id,omitempty"`
	VideoNo   *string `json:"videoNo,omitempty"`
	VideoName *string `json:"videoName,omitempty"`
	Status    *string `json:"status,omitempty"`
	Duration  *int    `json:"duration,omitempty"`
	Fps       *int    `json:"fps,omitempty"`
}

func (v *clientVideoJSON) String() string {
	if v == nil {
		return "null"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// want reports the fields of v other than those of w that w sets.
func (v *clientVideoJSON) want(t *testing.T, who string, w clientVideoJSON) {
	t.Helper()
	if v == nil {
		t.Errorf("%s: null; want %s", who, &w)
		return
	}
	eq := func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }
	deref := func(p any) any {
		switch p := p.(type) {
		case *string:
			if p != nil {
				return *p
			}
		case *int:
			if p != nil {
				return *p
			}
		}
		return nil
	}
	got, wantFields := []any{v.ID, v.VideoNo, v.VideoName, v.Status, v.Duration, v.Fps}, []any{w.ID, w.VideoNo, w.VideoName, w.Status, w.Duration, w.Fps}
	for i := range wantFields {
		if deref(wantFields[i]) != nil && !eq(deref(got[i]), deref(wantFields[i])) {
			t.Errorf("%s = %s; want %s", who, v, &w)
			return
		}
	}
}

func str(s string) *string { return &s }
func num(n int) *int       { return &n }

// Apollo Client 4 with a default InMemoryCache, no typePolicies: a list
// query and a detail query that select one video leave one Video:<id>
// entry in the cache, with both queries' fields; a refetch of the list
// after the video was renamed upstream reaches the detail query's watcher
// with no request of its own; and node(id:) refetches the same entry.
func TestClientApolloNormalizesVideo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node")
	}
	node, run := nodeHarness(t, "live", "@apollo/client", "runs Apollo Client")
	h, nos, rename := setupClients(t)

	type extract map[string]json.RawMessage
	type snapshot struct {
		Extract extract `json:"extract"`
		Videos  struct {
			Videos []*clientVideoJSON `json:"videos"`
		} `json:"videos"`
		Video struct {
			Video *clientVideoJSON `json:"video"`
		} `json:"video"`
	}
	var out struct {
		First     snapshot `json:"first"`
		Refetched snapshot `json:"refetched"`
		Node      struct {
			Data struct {
				Node *clientVideoJSON `json:"node"`
			} `json:"data"`
			Error    *string `json:"error"`
			Identify string  `json:"identify"`
			Extract  extract `json:"extract"`
			ReadBack *struct {
				Video *clientVideoJSON `json:"video"`
			} `json:"readBack"`
		} `json:"node"`
		Requests     map[string]int    `json:"requests"`
		ContentTypes map[string]string `json:"contentTypes"`
		Console      clientConsole     `json:"console"`
	}
	runNodeSteps(t, node, filepath.Join(filepath.Dir(run), "apollo-cache.mjs"),
		[]string{string(mustJSON(map[string]any{"url": h.url, "nos": nos}))},
		map[string]func(){"rename": rename}, &out)
	ids := serverIDs(t, h, nos)
	key := func(i int) string { return "Video:" + ids[i] }
	t.Logf("requests %v, content types %v", out.Requests, out.ContentTypes)
	out.Console.wantQuiet(t, "Apollo Client")

	// entries checks an extract: the two videos' entries and ROOT_QUERY,
	// nothing else, and ROOT_QUERY's fields hold references, not copies.
	entries := func(who string, e extract) {
		t.Helper()
		var got []string
		for k := range e {
			got = append(got, k)
		}
		slices.Sort(got)
		if want := []string{"ROOT_QUERY", key(0), key(1)}; !slices.Equal(got, want) {
			t.Errorf("%s: cache.extract() has %q; want %q", who, got, want)
		}
		var root map[string]json.RawMessage
		if err := json.Unmarshal(e["ROOT_QUERY"], &root); err != nil {
			t.Fatalf("%s: ROOT_QUERY %s: %v", who, e["ROOT_QUERY"], err)
		}
		for field, v := range root {
			if field != "__typename" && !strings.Contains(string(v), `"__ref":"Video:`) || strings.Contains(string(v), `"videoName"`) {
				t.Errorf("%s: ROOT_QUERY.%s = %s; want references to Video entries", who, field, v)
			}
		}
	}
	entry := func(e extract, i int) *clientVideoJSON {
		var v *clientVideoJSON
		_ = json.Unmarshal(e[key(i)], &v)
		return v
	}

	t.Run("one entry per video", func(t *testing.T) {
		f := out.First
		entries("after both queries", f.Extract)
		entry(f.Extract, 0).want(t, key(0), clientVideoJSON{ID: &ids[0], VideoName: str("clip-0"), Status: str("PARSE"), Duration: num(10)})
		entry(f.Extract, 1).want(t, key(1), clientVideoJSON{ID: &ids[1], VideoName: str("clip-1"), Status: str("PARSE")})
		if len(f.Videos.Videos) != 2 {
			t.Fatalf("list query: %d videos; want 2", len(f.Videos.Videos))
		}
		f.Videos.Videos[0].want(t, "list query videos[0]", clientVideoJSON{ID: &ids[0], VideoName: str("clip-0"), Status: str("PARSE")})
		f.Video.Video.want(t, "detail query video", clientVideoJSON{ID: &ids[0], VideoName: str("clip-0"), Duration: num(10)})
	})

	t.Run("refetch reaches the other query", func(t *testing.T) {
		r := out.Refetched
		entries("after the refetch", r.Extract)
		entry(r.Extract, 0).want(t, key(0), clientVideoJSON{VideoName: str("renamed"), Status: str("PARSE"), Duration: num(10)})
		if len(r.Videos.Videos) == 2 {
			r.Videos.Videos[0].want(t, "refetched list query videos[0]", clientVideoJSON{VideoName: str("renamed")})
		}
		r.Video.Video.want(t, "the detail query's watcher", clientVideoJSON{ID: &ids[0], VideoName: str("renamed"), Duration: num(10)})
		if got := out.Requests["Video"]; got != 1 {
			t.Errorf("detail query requests = %d; want 1 (the refetched name from the cache)", got)
		}
		if got := out.Requests["Videos"]; got != 2 {
			t.Errorf("list query requests = %d; want 2 (the first, the refetch)", got)
		}
	})

	t.Run("node refetch is the same entry", func(t *testing.T) {
		n := out.Node
		if n.Error != nil {
			t.Fatalf("node(id:): error %s", *n.Error)
		}
		n.Data.Node.want(t, "node(id:)", clientVideoJSON{ID: &ids[0], VideoNo: &nos[0], Fps: num(24)})
		if n.Data.Node != nil && (n.Data.Node.Typename == nil || *n.Data.Node.Typename != "Video") {
			t.Errorf("node(id:) __typename = %v; want Video", n.Data.Node.Typename)
		}
		if n.Identify != key(0) {
			t.Errorf("cache.identify(node) = %q; want %q, the entry the list and detail queries share", n.Identify, key(0))
		}
		entries("after node(id:)", n.Extract)
		entry(n.Extract, 0).want(t, key(0)+" after node(id:)", clientVideoJSON{ID: &ids[0], VideoNo: &nos[0], VideoName: str("renamed"), Status: str("PARSE"), Duration: num(10), Fps: num(24)})
		if n.ReadBack == nil {
			t.Fatal("readQuery of video(videoNo:) with every query's fields: null; want it answered from the cache")
		}
		n.ReadBack.Video.want(t, "readQuery video", clientVideoJSON{ID: &ids[0], VideoNo: &nos[0], VideoName: str("renamed"), Status: str("PARSE"), Duration: num(10), Fps: num(24)})
		if got := out.Requests["Refetch"]; got != 1 {
			t.Errorf("node(id:) requests = %d; want 1", got)
		}
	})
}

// urqlOut is what urql-cache.mjs prints.
type urqlOut struct {
	First     urqlSnapshot `json:"first"`
	Refetched urqlSnapshot `json:"refetched"`
	Node      *struct {
		Data struct {
			Node *clientVideoJSON `json:"node"`
		} `json:"data"`
		Error    *string                               `json:"error"`
		Entities map[string]map[string]json.RawMessage `json:"entities"`
		ReadBack *struct {
			Video *clientVideoJSON `json:"video"`
		} `json:"readBack"`
	} `json:"node"`
	Requests     map[string]int    `json:"requests"`
	ContentTypes map[string]string `json:"contentTypes"`
	Console      clientConsole     `json:"console"`
}

type urqlSnapshot struct {
	// Entities is what Graphcache holds: entity key -> field key -> value,
	// a link as {"link": key or keys}.
	Entities map[string]map[string]json.RawMessage `json:"entities"`
	Videos   struct {
		Videos []*clientVideoJSON `json:"videos"`
	} `json:"videos"`
	Video struct {
		Video *clientVideoJSON `json:"video"`
	} `json:"video"`
}

// urql with Graphcache and no keys, resolvers or schema: the same two
// queries hold one Video:<id> entity between them, a network-only refetch
// of the list reaches the detail query's result with no request of its
// own, node(id:) writes into the same entity, and Graphcache warns of
// nothing. The same run with the queries' id left out shows the warning
// the test would catch: Graphcache's "Invalid key" for Video, and copies
// that the refetch does not reach.
func TestClientUrqlGraphcacheNormalizesVideo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node")
	}
	node, run := nodeHarness(t, "live", "@urql/exchange-graphcache", "runs urql")
	script := filepath.Join(filepath.Dir(run), "urql-cache.mjs")

	// entities checks Graphcache's entities: Query and the two videos'
	// Video:<id>, nothing else, and Query's fields link to the videos.
	entities := func(t *testing.T, who string, e map[string]map[string]json.RawMessage, ids []string) {
		t.Helper()
		var got []string
		for k := range e {
			got = append(got, k)
		}
		slices.Sort(got)
		if want := []string{"Query", "Video:" + ids[0], "Video:" + ids[1]}; !slices.Equal(got, want) {
			t.Errorf("%s: Graphcache entities %q; want %q", who, got, want)
		}
		for field, v := range e["Query"] {
			if !strings.Contains(string(v), `"link":`) || !strings.Contains(string(v), `"Video:`) {
				t.Errorf("%s: Query.%s = %s; want a link to Video entities", who, field, v)
			}
		}
	}
	entity := func(e map[string]map[string]json.RawMessage, id string) *clientVideoJSON {
		fields, ok := e["Video:"+id]
		if !ok {
			return nil
		}
		var v *clientVideoJSON
		_ = json.Unmarshal(mustJSON(fields), &v)
		return v
	}

	t.Run("normalized with no keys", func(t *testing.T) {
		h, nos, rename := setupClients(t)
		var out urqlOut
		runNodeSteps(t, node, script, []string{string(mustJSON(map[string]any{"url": h.url, "nos": nos}))},
			map[string]func(){"rename": rename}, &out)
		ids := serverIDs(t, h, nos)
		t.Logf("requests %v, content types %v", out.Requests, out.ContentTypes)
		out.Console.wantQuiet(t, "urql")
		// urql lists text/event-stream after the JSON types with every
		// query: the answer is JSON, not an event stream.
		for op, ct := range out.ContentTypes {
			if !strings.HasPrefix(ct, "application/graphql-response+json") {
				t.Errorf("urql's %s was answered as %q; want application/graphql-response+json", op, ct)
			}
		}

		f := out.First
		entities(t, "after both queries", f.Entities, ids)
		entity(f.Entities, ids[0]).want(t, "Video:"+ids[0], clientVideoJSON{ID: &ids[0], VideoName: str("clip-0"), Status: str("PARSE"), Duration: num(10)})
		f.Video.Video.want(t, "detail query video", clientVideoJSON{ID: &ids[0], VideoName: str("clip-0"), Duration: num(10)})

		r := out.Refetched
		entities(t, "after the refetch", r.Entities, ids)
		entity(r.Entities, ids[0]).want(t, "Video:"+ids[0]+" after the refetch", clientVideoJSON{VideoName: str("renamed"), Duration: num(10)})
		r.Video.Video.want(t, "the detail query's result", clientVideoJSON{ID: &ids[0], VideoName: str("renamed"), Duration: num(10)})
		if got := out.Requests["Video"]; got != 1 {
			t.Errorf("detail query requests = %d; want 1 (the refetched name from the cache)", got)
		}
		if got := out.Requests["Videos"]; got != 2 {
			t.Errorf("list query requests = %d; want 2 (the first, the refetch)", got)
		}

		n := out.Node
		if n == nil || n.Error != nil {
			t.Fatalf("node(id:): %+v", n)
		}
		n.Data.Node.want(t, "node(id:)", clientVideoJSON{ID: &ids[0], VideoNo: &nos[0], Fps: num(24)})
		entities(t, "after node(id:)", n.Entities, ids)
		entity(n.Entities, ids[0]).want(t, "Video:"+ids[0]+" after node(id:)", clientVideoJSON{ID: &ids[0], VideoNo: &nos[0], VideoName: str("renamed"), Status: str("PARSE"), Duration: num(10), Fps: num(24)})
		if n.ReadBack == nil {
			t.Fatal("cache-only read of video(videoNo:) with every query's fields: no data; want it from the cache")
		}
		n.ReadBack.Video.want(t, "cache-only video", clientVideoJSON{ID: &ids[0], VideoNo: &nos[0], VideoName: str("renamed"), Status: str("PARSE"), Duration: num(10), Fps: num(24)})
	})

	t.Run("without id it warns", func(t *testing.T) {
		h, nos, rename := setupClients(t)
		var out urqlOut
		runNodeSteps(t, node, script, []string{string(mustJSON(map[string]any{"url": h.url, "nos": nos, "withoutId": true}))},
			map[string]func(){"rename": rename}, &out)
		warned := false
		for _, m := range out.Console {
			warned = warned || m.Level == "warn" && strings.Contains(m.Message, "Invalid key") && strings.Contains(m.Message, "`Video`")
		}
		if !warned {
			t.Errorf("console %+v; want Graphcache's Invalid key warning for Video, which the test with id must not see", out.Console)
		}
		for k := range out.First.Entities {
			if strings.HasPrefix(k, "Video:") {
				t.Errorf("entity %s without id; want the videos embedded in Query", k)
			}
		}
		out.Refetched.Video.Video.want(t, "the detail query's result without id", clientVideoJSON{VideoName: str("clip-0")})
	})
}

// docs/clients/operations.ts is what graphql-codegen makes of
// docs/clients/operations.graphql for the schema the server serves, read
// by introspection: an operation the schema no longer validates, or a type
// that changed, fails here. UPDATE_TYPES=1 rewrites the committed file.
func TestClientTypesUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node")
	}
	node, run := nodeHarness(t, "live", "@graphql-codegen/typescript-operations", "runs graphql-codegen")
	h := setup(t, emulator.Options{}, fast)
	dir := filepath.Join(moduleRoot(t), "docs", "clients")
	committed := filepath.Join(dir, "operations.ts")
	generated := filepath.Join(t.TempDir(), "operations.ts")
	var res struct {
		Bytes int `json:"bytes"`
	}
	runNode(t, node, filepath.Join(filepath.Dir(run), "codegen.mjs"), []string{string(mustJSON(map[string]any{
		"url": h.url, "documents": filepath.Join(dir, "operations.graphql"), "out": generated,
	}))}, nil, &res)
	got, err := os.ReadFile(generated)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("UPDATE_TYPES") != "" {
		if err := os.WriteFile(committed, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", committed, len(got))
		return
	}
	want, err := os.ReadFile(committed)
	if err != nil {
		t.Fatalf("%v: generate it with UPDATE_TYPES=1 go test -run TestClientTypesUpToDate ./e2e/", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(gl), len(wl)) {
		g, w := "", ""
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Errorf("docs/clients/operations.ts is not what graphql-codegen makes of the schema now; first difference at line %d:\n"+
				"generated: %s\ncommitted: %s\nCheck the change is meant, then UPDATE_TYPES=1 go test -run TestClientTypesUpToDate ./e2e/", i+1, g, w)
			break
		}
	}
}

// A watch's events reach a query's result through the cache alone: a list
// query of two processing videos, then a watchVideos subscription over a
// WebSocket with the client's own subscription setup (Apollo Client's
// GraphQLWsLink, urql's subscriptionExchange, both over graphql-ws); when
// the videos settle, the list shows PARSE with no request of its own.
func TestClientWatchUpdatesQuery(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node")
	}
	node, run := nodeHarness(t, "live", "@urql/core", "runs Apollo Client and urql")
	for _, client := range []string{"apollo", "urql"} {
		t.Run(client, func(t *testing.T) {
			vs, nos := processingVideos(2, 500*time.Millisecond)
			h := setup(t, emulator.Options{Videos: vs}, live)
			type list struct {
				Videos []*clientVideoJSON `json:"videos"`
			}
			var out struct {
				First, Last *list
				Events      []struct {
					WatchVideos *clientVideoJSON `json:"watchVideos"`
				} `json:"events"`
				Completed bool           `json:"completed"`
				Error     *string        `json:"error"`
				Requests  map[string]int `json:"requests"`
				Console   clientConsole  `json:"console"`
			}
			runNode(t, node, filepath.Join(filepath.Dir(run), "watch-cache.mjs"), []string{string(mustJSON(map[string]any{
				"client": client, "url": h.url, "nos": nos,
			}))}, nil, &out)
			out.Console.wantQuiet(t, client)
			if out.Error != nil {
				t.Fatalf("error %s", *out.Error)
			}
			ids := serverIDs(t, h, nos)
			statuses := func(l *list) []string {
				var s []string
				for i := 0; l != nil && i < len(l.Videos); i++ {
					s = append(s, l.Videos[i].String())
				}
				return s
			}
			for i, want := range []string{"UNPARSE", "PARSE"} {
				l := []*list{out.First, out.Last}[i]
				if l == nil || len(l.Videos) != len(nos) {
					t.Fatalf("list %d: %v; want %d videos", i, statuses(l), len(nos))
				}
				for k, v := range l.Videos {
					v.want(t, fmt.Sprintf("%s list videos[%d]", []string{"first", "last"}[i], k), clientVideoJSON{ID: &ids[k], VideoNo: &nos[k], Status: &want})
				}
			}
			if len(out.Events) < len(nos) {
				t.Errorf("%d events; want at least one per video", len(out.Events))
			}
			if client == "apollo" && !out.Completed {
				t.Errorf("the subscription did not complete")
			}
			if got := out.Requests["Uploads"]; got != 1 {
				t.Errorf("list query requests = %d; want 1 (the settled states from the watch)", got)
			}
			t.Logf("%d events, requests %v", len(out.Events), out.Requests)
		})
	}
}

// urql with Graphcache pages through a whole library with relayPagination,
// its only configuration: every video of the scope once, in the library's
// order, in the connection the first page's query reads from the cache,
// and no warning (Graphcache embeds VideoConnection, VideoEdge and PageInfo
// without keys by name; Video has its id).
func TestClientUrqlPagesLibrary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node")
	}
	node, run := nodeHarness(t, "live", "@urql/exchange-graphcache", "runs urql")
	const n, first = 45, 7
	vs, nos := detailVideos("6", n)
	h := setup(t, emulator.Options{Videos: vs, ListPageCap: 20}, fastList)
	var out struct {
		Pages       int           `json:"pages"`
		TotalCount  *int          `json:"totalCount"`
		HasNextPage *bool         `json:"hasNextPage"`
		Nodes       []string      `json:"nodes"`
		Last        []string      `json:"last"`
		Errors      []string      `json:"errors"`
		Console     clientConsole `json:"console"`
	}
	runNode(t, node, filepath.Join(filepath.Dir(run), "urql-library.mjs"), []string{string(mustJSON(map[string]any{
		"url": h.url, "first": first,
	}))}, nil, &out)
	out.Console.wantQuiet(t, "urql")
	if len(out.Errors) > 0 {
		t.Fatalf("urql: errors %q", out.Errors)
	}

	resp := h.query(t, `{ videoLibrary(first: 200) { nodes { videoNo } } }`, nil)
	listed := decode[*struct{ Nodes []struct{ VideoNo string } }](t, resp.Data["videoLibrary"])
	if len(resp.Errors) > 0 || listed == nil || len(listed.Nodes) != n {
		t.Fatalf("reference listing: %s", resp.Raw)
	}
	var want []string
	for _, v := range listed.Nodes {
		want = append(want, v.VideoNo)
	}
	if sorted := slices.Sorted(slices.Values(want)); !slices.Equal(sorted, nos) {
		t.Fatalf("reference listing holds %v; want the scope's videos %v", sorted, nos)
	}
	if wantPages := (n + first - 1) / first; out.Pages != wantPages {
		t.Errorf("requests = %d; want %d pages", out.Pages, wantPages)
	}
	if out.TotalCount == nil || *out.TotalCount != n || out.HasNextPage == nil || *out.HasNextPage {
		t.Errorf("totalCount %s, hasNextPage %s; want %d, false", ptrString(out.TotalCount), ptrString(out.HasNextPage), n)
	}
	if !slices.Equal(out.Nodes, want) {
		t.Errorf("merged connection (%d videos) = %v;\nwant the library's order (%d) %v", len(out.Nodes), out.Nodes, n, want)
	}
	if !slices.Equal(out.Last, want) {
		t.Errorf("the last page's query answered %d videos %v; want the merged connection", len(out.Last), out.Last)
	}
}

// How a video's failure reaches each client: with Apollo Client's
// errorPolicy "all", and with urql's Graphcache given the schema, the data
// of the videos that answered and null at the failed one's index, beside
// one error at its path with extensions.code UPSTREAM_ERROR (Apollo's
// CombinedGraphQLErrors, urql's CombinedError.graphQLErrors); with Apollo's
// default errorPolicy, and with Graphcache without the schema, the error
// alone and no data.
func TestClientErrorsAndPartialData(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node")
	}
	node, run := nodeHarness(t, "live", "@urql/core", "runs Apollo Client and urql")
	nos := []string{"VI700000000000000201", "VI700000000000000202", "VI000000000000000000"}
	type result struct {
		Data *struct {
			Videos []*clientVideoJSON `json:"videos"`
		} `json:"data"`
		Combined bool `json:"combined"`
		Errors   []struct {
			Message string `json:"message"`
			Path    []any  `json:"path"`
			Code    string `json:"code"`
		} `json:"errors"`
	}
	// wantError checks r's errors: one, at videos.1, UPSTREAM_ERROR.
	wantError := func(t *testing.T, who string, r *result) {
		t.Helper()
		if r == nil || !r.Combined || len(r.Errors) != 1 || fmt.Sprint(r.Errors[0].Path) != "[videos 1]" || r.Errors[0].Code != "UPSTREAM_ERROR" {
			t.Errorf("%s: errors %+v; want one combined error at [videos 1] with code UPSTREAM_ERROR", who, r)
		}
	}
	for _, client := range []string{"apollo", "urql"} {
		t.Run(client, func(t *testing.T) {
			h := setup(t, emulator.Options{
				Videos: []emulator.Video{clientVideo(nos[0], "clip-0", 0), clientVideo(nos[1], "clip-1", 1)},
				Faults: map[string]emulator.Fault{nos[1]: {Kind: emulator.FaultHTTPError}},
			}, fast)
			var out struct {
				All     *result       `json:"all"`
				None    *result       `json:"none"`
				Schema  *result       `json:"schema"`
				Console clientConsole `json:"console"`
			}
			runNode(t, node, filepath.Join(filepath.Dir(run), "errors.mjs"), []string{string(mustJSON(map[string]any{
				"client": client, "url": h.url, "nos": nos,
			}))}, nil, &out)
			out.Console.wantQuiet(t, client)
			partial := func(who string, r *result) {
				t.Helper()
				if r == nil || r.Data == nil || len(r.Data.Videos) != 3 {
					t.Errorf("%s: %+v; want data with 3 videos", who, r)
					return
				}
				v := r.Data.Videos
				v[0].want(t, who+": videos[0]", clientVideoJSON{VideoNo: &nos[0], VideoName: str("clip-0")})
				if v[1] != nil || v[2] != nil {
					t.Errorf("%s: videos[1], videos[2] = %s, %s; want null (failed), null (not found)", who, v[1], v[2])
				}
				wantError(t, who, r)
			}
			noData := func(who string, r *result) {
				t.Helper()
				if r == nil || r.Data != nil {
					t.Errorf("%s: %+v; want no data", who, r)
				}
				wantError(t, who, r)
			}
			if client == "apollo" {
				partial("errorPolicy all", out.All)
				noData("errorPolicy none", out.None)
				return
			}
			// Graphcache does not cache a field that has an error; without
			// the schema it cannot tell that videos[1] may be null, and
			// reads the whole query as missing.
			noData("Graphcache without the schema", out.All)
			partial("Graphcache with the schema", out.Schema)
		})
	}
}

// Relay (relay-runtime, with artifacts from Relay's compiler, committed in
// e2e/live/relay) and its default Store: the list and the detail queries
// share one record per video, keyed by the video's id; the detail's
// snapshot hears of the list's new answer; and the @refetchable fragment's
// query, node(id:), lands on the same record. That the compiler accepted
// @refetchable at all says the schema's Node and node(id:) are what Relay
// expects.
func TestClientRelayNormalizesVideo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node")
	}
	node, run := nodeHarness(t, "live", "relay-runtime", "runs Relay")
	h, nos, rename := setupClients(t)
	type records map[string]map[string]json.RawMessage
	type snapshot struct {
		Records records          `json:"records"`
		Video   *clientVideoJSON `json:"video"`
	}
	var out struct {
		First, Refetched, Node snapshot
		Requests               map[string]int `json:"requests"`
		Console                clientConsole  `json:"console"`
	}
	runNodeSteps(t, node, filepath.Join(filepath.Dir(run), "relay-cache.mjs"),
		[]string{string(mustJSON(map[string]any{"url": h.url, "nos": nos}))},
		map[string]func(){"rename": rename}, &out)
	out.Console.wantQuiet(t, "Relay")
	ids := serverIDs(t, h, nos)

	// check checks the store: client:root and one record per video, by id;
	// the root's fields hold references to them.
	check := func(who string, s snapshot, want clientVideoJSON) {
		t.Helper()
		var got []string
		for k := range s.Records {
			got = append(got, k)
		}
		slices.Sort(got)
		wantIDs := []string{ids[0], ids[1], "client:root"}
		slices.Sort(wantIDs)
		if !slices.Equal(got, wantIDs) {
			t.Errorf("%s: store records %q; want %q", who, got, wantIDs)
		}
		for field, v := range s.Records["client:root"] {
			if strings.HasPrefix(field, "__") {
				continue
			}
			if !strings.Contains(string(v), `"__ref`) {
				t.Errorf("%s: client:root.%s = %s; want references", who, field, v)
			}
		}
		var rec *clientVideoJSON
		_ = json.Unmarshal(mustJSON(s.Records[ids[0]]), &rec)
		rec.want(t, who+": record "+ids[0], want)
	}
	check("after both queries", out.First, clientVideoJSON{ID: &ids[0], VideoName: str("clip-0"), Status: str("PARSE"), Duration: num(10), Fps: num(24)})
	out.First.Video.want(t, "detail snapshot", clientVideoJSON{ID: &ids[0], VideoName: str("clip-0"), Duration: num(10)})
	check("after the list again", out.Refetched, clientVideoJSON{VideoName: str("renamed")})
	out.Refetched.Video.want(t, "detail snapshot after the list again", clientVideoJSON{ID: &ids[0], VideoName: str("renamed")})
	check("after node(id:)", out.Node, clientVideoJSON{ID: &ids[0], VideoName: str("renamed"), Status: str("PARSE"), Duration: num(10), Fps: num(24)})
	if ref := string(out.Node.Records["client:root"][fmt.Sprintf("node(id:%q)", ids[0])]); !strings.Contains(ref, `"__ref":"`+ids[0]+`"`) {
		t.Errorf("client:root node(id:) = %s; want a reference to %s", ref, ids[0])
	}
	want := map[string]int{"relayCacheVideosQuery": 2, "relayCacheVideoQuery": 1, "relayCacheVideoRefetchQuery": 1}
	for op, n := range want {
		if out.Requests[op] != n {
			t.Errorf("requests %v; want %v", out.Requests, want)
			break
		}
	}
}
