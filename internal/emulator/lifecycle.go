package emulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// defaultAddr is where Start listens when Options.Addr is empty: a free
// loopback port, so parallel tests never collide.
const defaultAddr = "127.0.0.1:0"

// shutdownTimeout bounds the graceful part of Close; requests still running
// after it are cut off.
const shutdownTimeout = 5 * time.Second

// Start returns a Server configured by opts and listening on opts.Addr
// (default a free loopback port), serving in a background goroutine until
// Close.
func Start(opts Options) (*Server, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("emulator: invalid options: %w", err)
	}
	addr := opts.Addr
	if addr == "" {
		addr = defaultAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: listen on %s: %w", addr, err)
	}
	s := newServer(opts)
	s.httpServer = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	s.url = "http://" + reachableHost(ln.Addr())
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		if err := s.httpServer.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.serveErr = err
		}
	}()
	s.logger.Debug("memories.ai emulator listening", "url", s.url)
	return s, nil
}

// reachableHost returns addr as host:port a client can dial: a server
// bound to all interfaces is reached on loopback.
func reachableHost(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(tcp.Port))
}

// URL returns the base URL of a started server, such as
// "http://127.0.0.1:41234" (no trailing slash), or "" if the server was
// made with New and is not listening.
func (s *Server) URL() string { return s.url }

// Close stops the server: it releases requests held by FaultHang or by
// latency (their connections are dropped), stops accepting connections and
// waits up to five seconds for answers in flight. It is safe to call more
// than once and on a server that never listened.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		if s.httpServer == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := s.httpServer.Shutdown(ctx); err != nil {
			// Something outlived the grace period: cut it off.
			_ = s.httpServer.Close()
			s.closeErr = fmt.Errorf("emulator: shutdown: %w", err)
		}
		<-s.served
		s.logger.Debug("memories.ai emulator stopped", "url", s.url)
	})
	return s.closeErr
}
