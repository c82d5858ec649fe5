package h1

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/sagekit/sagekit/serving/internal/rawio"
)

// Connection states, for Shutdown: only an idle connection is closed under
// its reader.
const (
	stateActive int32 = iota
	stateIdle
	stateClosing
)

const (
	initialBuf = 4 << 10
	maxHead    = 64 << 10  // a longer head goes to net/http (1 MiB limit)
	maxDiscard = 256 << 10 // unread body skipped to keep a connection, as net/http
	maxCached  = 32        // header names and values kept per connection
)

var errClosing = errors.New("server shutting down")

// conn is one client connection. Everything a request needs is kept here
// and reused by the next request on it.
type conn struct {
	s      *Server
	nc     net.Conn
	try    rawio.Trier // nil: every read and write may wait, under a deadline
	remote string
	state  atomic.Int32
	served int
	gone   bool // the connection went to the fallback server
	linger bool // closing with the client's body unread: see closeGracefully

	buf  []byte
	r, w int // unread bytes are buf[r:w]

	rdl, wdl time.Time // the deadlines set on nc

	h    head
	tmpl http.Request // the zero request with the connection's context
	req  http.Request
	hdr  http.Header
	url  url.URL
	body body
	rw   response

	keys map[string]string // header name as sent -> canonical
	vals map[string]string // canonical name -> last value
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, remote: nc.RemoteAddr().String(), buf: make([]byte, initialBuf)}
	c.try, _ = nc.(rawio.Trier)
	c.tmpl = *new(http.Request).WithContext(context.Background())
	c.hdr = make(http.Header, 8)
	c.body.c = c
	c.rw.c = c
	c.rw.hdr = make(http.Header, 8)
	c.rw.declared = -1
	c.keys = make(map[string]string)
	c.vals = make(map[string]string)
	return c
}

func (c *conn) serve() {
	defer func() {
		if p := recover(); p != nil && p != http.ErrAbortHandler {
			stack := make([]byte, 64<<10)
			stack = stack[:runtime.Stack(stack, false)]
			c.s.logf("http: panic serving %s: %v\n%s", c.remote, p, stack)
		}
		if !c.gone {
			if c.linger {
				c.closeGracefully()
			}
			c.nc.Close()
		}
		c.s.track(c, false)
	}()
	for {
		ok, err := c.readHead()
		if err != nil {
			return
		}
		if !ok || !c.prepare() {
			c.handOff()
			return
		}
		if !c.handle() {
			return
		}
		c.served++
	}
}

// readHead reads until the buffer holds a whole request head and parses it
// into c.h; ok is false for a head the fallback server should read.
func (c *conn) readHead() (ok bool, err error) {
	var started time.Time // when a partial head first had to wait
	for {
		if c.r < c.w {
			complete, ok := parseHead(c.buf[c.r:c.w], &c.h)
			if complete {
				return ok, nil
			}
			if c.w-c.r >= maxHead {
				return false, nil
			}
		}
		c.makeRoom()
		n, err := c.tryRead(c.buf[c.w:])
		if err != nil {
			return false, err
		}
		if n > 0 {
			c.w += n
			continue
		}
		now := time.Now()
		idle := c.r == c.w
		var dl time.Time
		switch {
		case idle && c.served > 0:
			dl = now.Add(c.s.IdleTimeout)
		case idle:
			// A new connection gets as long for its first head as a head
			// gets, as net/http gives it.
			dl = now.Add(c.s.ReadHeaderTimeout)
		default:
			if started.IsZero() {
				started = now
			}
			dl = started.Add(c.s.ReadHeaderTimeout)
		}
		if idle {
			c.state.Store(stateIdle)
			if c.s.shutting.Load() {
				return false, errClosing
			}
		}
		n, err = c.readWait(c.buf[c.w:], dl)
		if idle && !c.state.CompareAndSwap(stateIdle, stateActive) {
			return false, errClosing
		}
		if err != nil {
			return false, err
		}
		c.w += n
	}
}

// makeRoom makes room after c.w: back to the start when all is read,
// unread bytes moved to the start, or a larger buffer up to maxHead.
func (c *conn) makeRoom() {
	switch {
	case c.r == c.w:
		c.r, c.w = 0, 0
	case c.w < len(c.buf):
	case c.r > 0:
		c.w = copy(c.buf, c.buf[c.r:c.w])
		c.r = 0
	case len(c.buf) < maxHead:
		grown := make([]byte, 2*len(c.buf))
		c.w = copy(grown, c.buf[c.r:c.w])
		c.r = 0
		c.buf = grown
	}
}

// tryRead reads what has arrived, without waiting; 0, nil when nothing has
// (always, for a connection that cannot try).
func (c *conn) tryRead(p []byte) (int, error) {
	if c.try == nil {
		return 0, nil
	}
	n, err := c.try.TryRead(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && !c.rdl.IsZero() {
		// A deadline from an earlier wait has passed since; lift it.
		c.nc.SetReadDeadline(time.Time{})
		c.rdl = time.Time{}
		n, err = c.try.TryRead(p)
	}
	return n, err
}

// readWait reads, waiting until dl for something to arrive.
func (c *conn) readWait(p []byte, dl time.Time) (int, error) {
	if !c.rdl.Equal(dl) {
		if err := c.nc.SetReadDeadline(dl); err != nil {
			return 0, err
		}
		c.rdl = dl
	}
	return c.nc.Read(p)
}

// write writes p whole, setting the write deadline only when the socket
// cannot take p at once.
func (c *conn) write(p []byte) error {
	if c.try != nil {
		n, err := c.try.TryWrite(p)
		if err == nil && n == len(p) {
			return nil
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		p = p[n:]
	}
	dl := time.Now().Add(c.s.WriteTimeout)
	if err := c.nc.SetWriteDeadline(dl); err != nil {
		return err
	}
	c.wdl = dl
	_, err := c.nc.Write(p)
	return err
}

// Targets answered all the time, whose URL needs no parsing.
const (
	targetInvocations = "/invocations"
	targetPing        = "/ping"
)

// prepare fills c.req from c.h; false leaves the request to the fallback
// server (a target net/http's URL parser refuses).
func (c *conn) prepare() bool {
	h := &c.h
	r := &c.req
	*r = c.tmpl
	switch string(h.target) {
	case targetInvocations:
		c.url = url.URL{Path: targetInvocations}
		r.URL, r.RequestURI = &c.url, targetInvocations
	case targetPing:
		c.url = url.URL{Path: targetPing}
		r.URL, r.RequestURI = &c.url, targetPing
	default:
		u, err := url.ParseRequestURI(string(h.target))
		if err != nil {
			return false
		}
		r.URL, r.RequestURI = u, string(h.target)
	}
	r.Method = method(h.method)
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.RemoteAddr = c.remote
	r.Close = h.close

	clear(c.hdr)
	vals := make([]string, len(h.fields))
	for i, f := range h.fields {
		key := c.canonical(f.name)
		v := c.value(key, f.value)
		if key == "Host" {
			// net/http moves Host out of the header map.
			r.Host = v
			continue
		}
		if old, ok := c.hdr[key]; ok {
			c.hdr[key] = append(old, v)
			continue
		}
		vals[i] = v
		c.hdr[key] = vals[i : i+1 : i+1]
	}
	r.Header = c.hdr
	r.ContentLength = max(h.contentLength, 0)
	if r.ContentLength > 0 {
		c.body.left = r.ContentLength
		c.body.dl = time.Time{}
		r.Body = &c.body
	} else {
		c.body.left = 0
		r.Body = http.NoBody
	}
	return true
}

// handle answers the request c.prepare made and reports whether the
// connection stays open for another.
func (c *conn) handle() bool {
	c.r += c.h.n
	c.rw.reset(c.h.close || c.s.shutting.Load())
	c.s.Handler.ServeHTTP(&c.rw, &c.req)
	c.rw.finish()
	c.req = http.Request{}
	if c.rw.closeAfter || c.rw.err != nil {
		c.linger = c.body.left > 0 && c.rw.err == nil
		return false
	}
	if c.body.left > 0 {
		if c.body.left > maxDiscard {
			c.linger = true
			return false
		}
		if _, err := io.Copy(io.Discard, &c.body); err != nil {
			return false
		}
	}
	return !c.s.shutting.Load()
}

// closeGracefully ends a connection whose client may still be sending a
// body nobody reads (a 413): closed at once, the kernel would answer the
// unread bytes with a reset, which can destroy the answer before the client
// reads it. It half-closes, then reads and drops what still comes for up
// to lingerTime or until the client closes, as net/http does.
func (c *conn) closeGracefully() {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	c.nc.SetReadDeadline(time.Now().Add(lingerTime))
	for total := 0; total < maxLinger; {
		n, err := c.nc.Read(c.buf)
		if err != nil {
			return
		}
		total += n
	}
}

const (
	lingerTime = 500 * time.Millisecond
	maxLinger  = 64 << 20
)

// handOff gives the connection, with the bytes read and not yet served put
// back in front of it, to the fallback server.
func (c *conn) handOff() {
	if !c.rdl.IsZero() || !c.wdl.IsZero() {
		c.nc.SetDeadline(time.Time{})
	}
	pending := append([]byte(nil), c.buf[c.r:c.w]...)
	c.gone = true
	c.s.handed.give(replay(c.nc, pending))
}

// canonical returns the canonical form of a header name, without an
// allocation for the names a connection has sent before.
func (c *conn) canonical(name []byte) string {
	if k, ok := commonKeys[string(name)]; ok {
		return k
	}
	if k, ok := c.keys[string(name)]; ok {
		return k
	}
	k := http.CanonicalHeaderKey(string(name))
	if len(c.keys) < maxCached {
		c.keys[string(name)] = k
	}
	return k
}

// value returns v as a string, the one made for this header on the last
// request when v is the same.
func (c *conn) value(key string, v []byte) string {
	if s, ok := c.vals[key]; ok && s == string(v) {
		return s
	}
	s := string(v)
	if _, ok := c.vals[key]; ok || len(c.vals) < maxCached {
		c.vals[key] = s
	}
	return s
}

// commonKeys maps the spellings clients send of common header names to
// their canonical form.
var commonKeys = map[string]string{}

func init() {
	for _, k := range []string{
		"Accept", "Accept-Encoding", "Connection", "Content-Length", "Content-Type",
		"Host", "User-Agent", "X-Amzn-SageMaker-Custom-Attributes",
		"X-Amzn-SageMaker-Target-Model", "X-Amzn-SageMaker-Inference-Id",
		"X-Amzn-SageMaker-Enable-Explanations", "X-Amzn-SageMaker-Target-Variant",
		"X-Amzn-SageMaker-Target-Container-Hostname", "X-Amzn-SageMaker-Session-Id",
		"X-Amzn-Trace-Id", "X-Forwarded-For",
	} {
		canon := http.CanonicalHeaderKey(k)
		lower := []byte(k)
		for i, b := range lower {
			if 'A' <= b && b <= 'Z' {
				lower[i] = b + 'a' - 'A'
			}
		}
		commonKeys[k], commonKeys[canon], commonKeys[string(lower)] = canon, canon, canon
	}
}

// method returns the request method, without an allocation for the common
// ones.
func method(b []byte) string {
	switch string(b) {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodPost:
		return http.MethodPost
	case http.MethodPut:
		return http.MethodPut
	case http.MethodDelete:
		return http.MethodDelete
	}
	return string(b)
}

// body reads a request body of known length: from the connection's buffer,
// then from the connection.
type body struct {
	c    *conn
	left int64
	dl   time.Time // the handler's read deadline; zero: ReadTimeout from the first wait
}

func (b *body) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	c := b.c
	if c.r < c.w {
		n := copy(p, c.buf[c.r:c.w])
		c.r += n
		b.left -= int64(n)
		return n, nil
	}
	n, err := c.tryRead(p)
	if n == 0 && err == nil {
		if b.dl.IsZero() {
			b.dl = time.Now().Add(c.s.ReadTimeout)
		}
		n, err = c.readWait(p, b.dl)
	}
	b.left -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// Close does nothing: what is left of the body is skipped after the
// handler returns.
func (b *body) Close() error { return nil }

// replay returns nc with pending read first, keeping CloseWrite, which
// net/http uses to close a connection gracefully.
func replay(nc net.Conn, pending []byte) net.Conn {
	r := &replayConn{Conn: nc, pending: pending}
	if _, ok := nc.(interface{ CloseWrite() error }); ok {
		return replayHalfConn{r}
	}
	return r
}

type replayConn struct {
	net.Conn
	pending []byte
}

func (r *replayConn) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	return r.Conn.Read(p)
}

type replayHalfConn struct{ *replayConn }

func (r replayHalfConn) CloseWrite() error {
	return r.Conn.(interface{ CloseWrite() error }).CloseWrite()
}
