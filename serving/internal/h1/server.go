package h1

import (
	"context"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves Handler on the connections of a listener. The zero value
// is not usable: Handler and Fallback are required.
type Server struct {
	// Handler answers the requests the loop parses itself.
	Handler http.Handler
	// Fallback serves the connections the loop hands over. Its Handler
	// should be Handler; its timeouts apply to those connections.
	Fallback *http.Server

	// ReadHeaderTimeout bounds the time from a request's first byte to the
	// end of its head; IdleTimeout the wait for the next request;
	// ReadTimeout a body read that waits, unless the handler sets its own
	// read deadline; WriteTimeout an answer's write that waits.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration

	// ErrorLog receives a handler's panic; nil is the standard logger.
	ErrorLog *log.Logger

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*conn]struct{}
	handed   *handOffListener
	shutting atomic.Bool
}

// Serve accepts connections on ln until Shutdown, and returns
// http.ErrServerClosed then, as net/http's Serve does.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.shutting.Load() {
		s.mu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	}
	s.ln = ln
	s.conns = make(map[*conn]struct{})
	s.handed = newHandOffListener(ln.Addr())
	s.mu.Unlock()

	// The fallback's Serve ends with ErrServerClosed when Shutdown closes
	// its listener; what it says then adds nothing to Serve's own result.
	go s.Fallback.Serve(s.handed)

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.shutting.Load() {
				return http.ErrServerClosed
			}
			if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() {
				// Out of file descriptors and the like: wait, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			ln.Close()
			return err
		}
		backoff = 0
		c := newConn(s, nc)
		if !s.track(c, true) {
			nc.Close()
			continue
		}
		go c.serve()
	}
}

// track adds c to or removes it from the live connections; adding fails
// once Shutdown has begun.
func (s *Server) track(c *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.shutting.Load() {
			return false
		}
		s.conns[c] = struct{}{}
		return true
	}
	delete(s.conns, c)
	return true
}

// Shutdown stops accepting, closes idle connections, and waits until every
// request running has been answered (its connection closed after it) or ctx
// ends; it shuts the fallback server down alongside.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	s.mu.Lock()
	ln, handed := s.ln, s.handed
	s.mu.Unlock()
	if ln == nil {
		return s.Fallback.Shutdown(ctx)
	}
	ln.Close()
	handed.Close()
	fallbackErr := make(chan error, 1)
	go func() { fallbackErr <- s.Fallback.Shutdown(ctx) }()

	poll := time.Millisecond
	t := time.NewTimer(poll)
	defer t.Stop()
	for !s.closeIdle() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			poll = min(2*poll, 100*time.Millisecond)
			t.Reset(poll)
		}
	}
	return <-fallbackErr
}

// closeIdle closes every connection waiting for its next request and
// reports whether none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosing) {
			c.nc.Close()
		}
	}
	return len(s.conns) == 0
}

// handOffListener is the fallback server's listener: its Accept returns the
// connections the loop hands over.
type handOffListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newHandOffListener(addr net.Addr) *handOffListener {
	return &handOffListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handOffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// give hands c to the fallback server, or closes it once that has stopped.
func (l *handOffListener) give(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *handOffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handOffListener) Addr() net.Addr { return l.addr }

// logf writes to the error log.
func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
		return
	}
	log.Printf(format, args...)
}
