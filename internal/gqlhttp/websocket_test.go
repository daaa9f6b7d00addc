package gqlhttp

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
)

// wsServer is gqlgen's test schema over Websocket, whose subscriptions
// stay open until the test ends, with an init timeout of initTimeout and
// at most two subscriptions per connection.
func wsServer(t *testing.T, initTimeout time.Duration) string {
	t.Helper()
	srv := testserver.New()
	srv.AddTransport(Websocket(transport.Websocket{InitTimeout: initTimeout}, coderws.AcceptOptions{}, 2))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return "ws" + strings.TrimPrefix(ts.URL, "http")
}

type wsTestConn struct {
	t *testing.T
	c *coderws.Conn
}

func dialWS(t *testing.T, url string) *wsTestConn {
	t.Helper()
	c, _, err := coderws.Dial(t.Context(), url, &coderws.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return &wsTestConn{t: t, c: c}
}

func (w *wsTestConn) send(raw string) {
	w.t.Helper()
	if err := w.c.Write(w.t.Context(), coderws.MessageText, []byte(raw)); err != nil {
		w.t.Fatalf("send %s: %v", raw, err)
	}
}

// read returns the next message's type and id, or the close status.
func (w *wsTestConn) read(timeout time.Duration) (typ, id string, closed coderws.StatusCode) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.t.Context(), timeout)
	defer cancel()
	_, raw, err := w.c.Read(ctx)
	if err != nil {
		return "", "", coderws.CloseStatus(err)
	}
	var m struct{ Type, ID string }
	_ = json.Unmarshal(raw, &m)
	return m.Type, m.ID, -1
}

func (w *wsTestConn) init() {
	w.t.Helper()
	w.send(`{"type":"connection_init"}`)
	if typ, _, _ := w.read(5 * time.Second); typ != "connection_ack" {
		w.t.Fatalf("got %q; want connection_ack", typ)
	}
}

const wsSubscribe = `{"type":"subscribe","id":"%s","payload":{"query":"subscription { name }"}}`

func subscribeMsg(id string) string { return strings.Replace(wsSubscribe, "%s", id, 1) }

// Each way of breaking graphql-transport-ws ends the connection with the
// protocol's close code.
func TestWebsocketCloseCodes(t *testing.T) {
	url := wsServer(t, 300*time.Millisecond)
	for _, tt := range []struct {
		name  string
		init  bool
		sends []string
		want  coderws.StatusCode
	}{
		{"a message that is not JSON", true, []string{`{not json`}, closeBadRequest},
		{"a message without a type", true, []string{`{"id":"1"}`}, closeBadRequest},
		{"an unknown type", true, []string{`{"type":"nope"}`}, closeBadRequest},
		{"a subscribe without an id", true, []string{`{"type":"subscribe","payload":{"query":"subscription { name }"}}`}, closeBadRequest},
		{"a subscribe before connection_init", false, []string{subscribeMsg("1")}, closeUnauthorized},
		{"a second connection_init", true, []string{`{"type":"connection_init"}`}, closeTooManyInits},
		{"a subscribe with an id in use", true, []string{subscribeMsg("1"), subscribeMsg("1")}, closeSubscriberTaken},
		{"no connection_init in time", false, nil, closeInitTimeout},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := dialWS(t, url)
			if tt.init {
				w.init()
			}
			for _, m := range tt.sends {
				w.send(m)
			}
			for {
				_, _, closed := w.read(5 * time.Second)
				if closed != -1 {
					if closed != tt.want {
						t.Errorf("closed with %d; want %d", closed, tt.want)
					}
					return
				}
			}
		})
	}
}

// A connection may have two subscriptions open here: a third gets an error
// message and the connection stays up, and completing one makes room.
func TestWebsocketSubscriptionLimit(t *testing.T) {
	w := dialWS(t, wsServer(t, time.Second))
	w.init()
	w.send(subscribeMsg("a"))
	w.send(subscribeMsg("b"))
	w.send(subscribeMsg("c"))
	if typ, id, closed := w.read(5 * time.Second); typ != "error" || id != "c" {
		t.Fatalf("got %q for %q (closed %d); want an error for c", typ, id, closed)
	}
	w.send(`{"type":"complete","id":"a"}`)
	w.send(subscribeMsg("d"))
	w.send(`{"type":"ping"}`)
	for {
		typ, id, closed := w.read(5 * time.Second)
		switch {
		case closed != -1:
			t.Fatalf("closed with %d; want the connection up", closed)
		case typ == "error" && id == "d":
			t.Fatal("d refused after a completed; want it accepted")
		case typ == "pong":
			return // everything before the ping was taken
		}
	}
}
