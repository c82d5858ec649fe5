package load

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Target is one kind of request.
type Target struct {
	Addr        string // host:port
	Method      string // default POST when Body is set, GET otherwise
	Path        string
	ContentType string
	Body        []byte
}

// URL returns the target as an http URL.
func (t Target) URL() string { return "http://" + t.Addr + t.Path }

func (t Target) method() string {
	switch {
	case t.Method != "":
		return t.Method
	case t.Body != nil:
		return http.MethodPost
	}
	return http.MethodGet
}

// wire returns the request as it goes on the wire.
func (t Target) wire() []byte {
	b := fmt.Appendf(nil, "%s %s HTTP/1.1\r\nHost: %s\r\n", t.method(), t.Path, t.Addr)
	if t.ContentType != "" {
		b = fmt.Appendf(b, "Content-Type: %s\r\n", t.ContentType)
	}
	if t.Body != nil || t.method() == http.MethodPost {
		b = append(b, "Content-Length: "+strconv.Itoa(len(t.Body))+"\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, t.Body...)
}

// Conn is one keep-alive client connection; it is not safe for concurrent
// use. It reconnects when the server closes the connection.
type Conn struct {
	addr string
	req  []byte
	c    net.Conn
	br   *bufio.Reader
	// Keep, when set, receives each response body instead of discarding it.
	Keep *[]byte
	// Timeout, when set, bounds each request; past it the request is a
	// socket error.
	Timeout time.Duration
}

// NewConn returns a connection for t; it dials on first use.
func NewConn(t Target) *Conn { return &Conn{addr: t.Addr, req: t.wire()} }

// Close closes the connection.
func (c *Conn) Close() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

// Do sends the request once and returns the response status.
func (c *Conn) Do() (int, error) {
	reused := c.c != nil
	status, err := c.do()
	if err != nil && reused {
		// The server may have closed an idle keep-alive connection
		// (nginx's keepalive_timeout, keepalive_requests): one retry on a
		// fresh connection, as browsers and wrk do.
		c.Close()
		status, err = c.do()
	}
	return status, err
}

func (c *Conn) do() (int, error) {
	if c.c == nil {
		nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return 0, err
		}
		c.c = nc
		if c.br == nil {
			c.br = bufio.NewReaderSize(nc, 64<<10)
		} else {
			c.br.Reset(nc)
		}
	}
	if c.Timeout > 0 {
		c.c.SetDeadline(time.Now().Add(c.Timeout))
	}
	if _, err := c.c.Write(c.req); err != nil {
		c.Close()
		return 0, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.Close()
		return 0, err
	}
	if c.Keep != nil {
		*c.Keep, err = io.ReadAll(resp.Body)
	} else {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
	if err != nil {
		c.Close()
		return 0, err
	}
	if resp.Close {
		c.Close()
	}
	return resp.StatusCode, nil
}

// Get sends t once on a fresh connection and returns the status and body.
// It reads the answer while it is still sending, so an early answer (413
// for a body over the limit) is seen even when the server stops reading.
func Get(t Target) (int, []byte, error) {
	nc, err := net.DialTimeout("tcp", t.Addr, 5*time.Second)
	if err != nil {
		return 0, nil, err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(time.Minute))
	go nc.Write(t.wire()) // fails harmlessly once the server has answered and closed
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}
