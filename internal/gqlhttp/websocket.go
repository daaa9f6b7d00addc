package gqlhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
)

// The close codes of the graphql-transport-ws protocol
// (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md).
const (
	closeBadRequest      = 4400 // a message that is not one of the protocol's
	closeUnauthorized    = 4401 // a subscribe before connection_ack
	closeInitTimeout     = 4408 // no connection_init in time
	closeSubscriberTaken = 4409 // a subscribe with an id in use
	closeTooManyInits    = 4429 // a second connection_init
)

// Websocket returns gqlgen's WebSocket transport on coder/websocket, held to
// the graphql-transport-ws protocol where gqlgen is loose about it: the
// protocol's close codes for malformed messages, a second connection_init,
// a subscribe before the acknowledgement, a reused id and the init timeout
// (gqlgen closes them all with 1002), and at most maxSubscriptions
// subscriptions at once on one connection (a subscribe past it gets an
// error message with TOO_MANY_SUBSCRIPTIONS), and a connection that has
// had no subscription open for idle (if positive) since its acknowledgement
// or its last subscription's end is closed with 1000, which the graphql-ws
// client takes as a normal end (a lazy client opens a new connection for
// its next subscription). The older graphql-ws subprotocol is served as
// gqlgen serves it.
func Websocket(t transport.Websocket, accept coderws.AcceptOptions, maxSubscriptions int, idle time.Duration) transport.Websocket {
	t.Implementation = protocolImplementation{inner: transport.CoderWebsocketImplementation{AcceptOptions: accept}, max: maxSubscriptions, idle: idle}
	return t
}

type protocolImplementation struct {
	inner transport.WebsocketImplementation
	max   int
	idle  time.Duration
}

func (p protocolImplementation) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	c, err := p.inner.Accept(w, r, o)
	if err != nil || c.Subprotocol() != "graphql-transport-ws" {
		return c, err
	}
	return &protocolConn{WebsocketConn: c, max: p.max, idle: p.idle, active: map[string]bool{}}, nil
}

// protocolConn checks each message a client sends before gqlgen reads it,
// and follows the subscriptions gqlgen ends through what it writes.
type protocolConn struct {
	transport.WebsocketConn
	max  int
	idle time.Duration

	mu     sync.Mutex
	inited bool
	acked  bool
	active map[string]bool // subscriptions not yet completed
	timer  *time.Timer     // the idle timeout, armed while acked with no subscription
	closed bool
}

// closeIdle is the reason of the close that ends an idle connection.
const closeIdle = "Idle: no subscription"

// idleLocked arms the idle timeout when the connection has no
// subscription, and stops it when it has one.
func (c *protocolConn) idleLocked() {
	if c.idle <= 0 || c.closed {
		return
	}
	if len(c.active) > 0 || !c.acked {
		if c.timer != nil {
			c.timer.Stop()
		}
		return
	}
	if c.timer == nil {
		c.timer = time.AfterFunc(c.idle, c.expire)
		return
	}
	c.timer.Reset(c.idle)
}

// expire closes the connection if it is still idle.
func (c *protocolConn) expire() {
	c.mu.Lock()
	idle := !c.closed && len(c.active) == 0
	if idle {
		c.closed = true
	}
	c.mu.Unlock()
	if idle {
		_ = c.WebsocketConn.WriteClose(int(coderws.StatusNormalClosure), closeIdle)
	}
}

// Close stops the idle timeout with the connection.
func (c *protocolConn) Close() error {
	c.mu.Lock()
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	return c.WebsocketConn.Close()
}

// clientMessage is the part of a message the checks read.
type clientMessage struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// errClosed ends gqlgen's read loop once this conn has closed the socket
// for a protocol error.
var errClosed = fmt.Errorf("closed for a protocol error: %w", transport.ErrWebsocketClosed)

func (c *protocolConn) NextReader() (int, io.Reader, error) {
	for {
		mt, r, err := c.WebsocketConn.NextReader()
		if err != nil {
			return mt, r, err
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return mt, nil, err
		}
		pass, code, reason := c.check(data)
		if code != 0 {
			_ = c.WebsocketConn.WriteClose(code, reason)
			return mt, nil, errClosed
		}
		if pass {
			return mt, bytes.NewReader(data), nil
		}
	}
}

// check reads one message of the client: whether gqlgen gets it, or the
// close code and reason that end the connection.
func (c *protocolConn) check(data []byte) (pass bool, code int, reason string) {
	var m clientMessage
	if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
		return false, closeBadRequest, "Invalid message received"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch m.Type {
	case "connection_init":
		if c.inited {
			return false, closeTooManyInits, "Too many initialisation requests"
		}
		c.inited = true
	case "subscribe":
		switch {
		case !c.acked:
			return false, closeUnauthorized, "Unauthorized"
		case m.ID == "":
			return false, closeBadRequest, "Invalid message received"
		case c.active[m.ID]:
			return false, closeSubscriberTaken, "Subscriber for " + m.ID + " already exists"
		case c.max > 0 && len(c.active) >= c.max:
			c.refuseLocked(m.ID)
			return false, 0, ""
		}
		c.active[m.ID] = true
		c.idleLocked()
	case "complete":
		delete(c.active, m.ID)
		c.idleLocked()
	case "ping", "pong":
	default:
		return false, closeBadRequest, "Invalid message received"
	}
	return true, 0, ""
}

// refuseLocked answers a subscribe past the connection's limit with an
// error message for its id, which ends that subscription alone.
func (c *protocolConn) refuseLocked(id string) {
	_ = c.WebsocketConn.WriteJSON(map[string]any{"id": id, "type": "error", "payload": []map[string]any{{
		"message":    fmt.Sprintf("this connection has %d subscriptions open, the most one may have; complete one first", c.max),
		"extensions": map[string]any{"code": "TOO_MANY_SUBSCRIPTIONS"},
	}}})
}

// WriteJSON follows the acknowledgement and the ends of subscriptions.
func (c *protocolConn) WriteJSON(v any) error {
	if b, err := json.Marshal(v); err == nil {
		var m clientMessage
		if json.Unmarshal(b, &m) == nil {
			c.mu.Lock()
			switch m.Type {
			case "connection_ack":
				c.acked = true
				c.idleLocked()
			case "complete", "error":
				delete(c.active, m.ID)
				c.idleLocked()
			}
			c.mu.Unlock()
		}
	}
	return c.WebsocketConn.WriteJSON(v)
}

// WriteClose gives the init timeout its protocol code.
func (c *protocolConn) WriteClose(code int, message string) error {
	c.mu.Lock()
	inited := c.inited
	c.mu.Unlock()
	if code == transport.WebsocketCloseProtocolError && !inited && message == "connection initialisation timeout" {
		code, message = closeInitTimeout, "Connection initialisation timeout"
	}
	return c.WebsocketConn.WriteClose(code, message)
}

// SetReadLimit and SetReadDeadline pass gqlgen's limits through.
func (c *protocolConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

func (c *protocolConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return errors.New("no read deadline")
}
