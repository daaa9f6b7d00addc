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
// stay open until the test ends, with an init timeout of initTimeout, at
// most two subscriptions per connection, and an idle timeout of idle.
func wsServer(t *testing.T, initTimeout, idle time.Duration) string {
	t.Helper()
	srv := testserver.New()
	srv.AddTransport(Websocket(transport.Websocket{InitTimeout: initTimeout}, coderws.AcceptOptions{}, 2, idle))
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
	url := wsServer(t, 300*time.Millisecond, 0)
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
	w := dialWS(t, wsServer(t, time.Second, 0))
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

// A connection without a subscription for the idle timeout is closed with
// 1000; one with a subscription open is not, and its idle time starts
// when the subscription ends.
func TestWebsocketIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	url := wsServer(t, time.Second, idle)
	// waitClose returns the close status, or -1 when 10 s pass without one.
	waitClose := func(w *wsTestConn) coderws.StatusCode {
		for {
			typ, _, closed := w.read(10 * time.Second)
			if closed != -1 || typ == "" {
				return closed
			}
		}
	}

	quiet := dialWS(t, url)
	quiet.init()
	if got := waitClose(quiet); got != coderws.StatusNormalClosure {
		t.Errorf("a connection without subscriptions: closed with %d; want %d", got, coderws.StatusNormalClosure)
	}

	busy := dialWS(t, url)
	busy.init()
	busy.send(subscribeMsg("a"))
	time.Sleep(4 * idle)
	busy.send(`{"type":"ping"}`)
	for {
		typ, _, closed := busy.read(5 * time.Second)
		if closed != -1 {
			t.Fatalf("a connection with a subscription open: closed with %d; want it up", closed)
		}
		if typ == "pong" {
			break
		}
	}
	busy.send(`{"type":"complete","id":"a"}`)
	if got := waitClose(busy); got != coderws.StatusNormalClosure {
		t.Errorf("after its subscription completed: closed with %d; want %d", got, coderws.StatusNormalClosure)
	}
}
