package worker

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/sagekit/sagekit/sdk/serve"
)

// A worker serves one request at a time, so each process gets one
// keep-alive connection driven directly from the request's goroutine:
// no transport goroutines and no connection pool between the front and
// the worker.
type conn struct {
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

// past is a deadline already over, to interrupt I/O at once.
var past = time.Unix(1, 0)

// roundTrip sends one request to pr (req nil: no body) and reads the whole
// answer. Any error leaves the connection closed, so the next call dials again.
func (pr *proc) roundTrip(ctx context.Context, method, path string, req *serve.Request, limit int64) (*http.Response, []byte, error) {
	if pr.conn == nil {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", pr.sock)
		if err != nil {
			return nil, nil, err
		}
		pr.conn = &conn{c: c, br: bufio.NewReaderSize(c, 32<<10), bw: bufio.NewWriterSize(c, 32<<10)}
	}
	cn := pr.conn
	if dl, ok := ctx.Deadline(); ok {
		cn.c.SetDeadline(dl)
	} else {
		cn.c.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { cn.c.SetDeadline(past) })
	resp, data, err := cn.exchange(method, path, req, limit)
	if !stop() || err != nil || resp.Close {
		pr.closeConn()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, nil, err
	}
	return resp, data, nil
}

func (cn *conn) exchange(method, path string, req *serve.Request, limit int64) (*http.Response, []byte, error) {
	bw := cn.bw
	bw.WriteString(method)
	bw.WriteByte(' ')
	bw.WriteString(path)
	bw.WriteString(" HTTP/1.1\r\nHost: worker\r\n")
	if req != nil {
		// Header values come from net/http's parser, which refuses CR and LF.
		writeHeader(bw, "Content-Type", req.ContentType)
		writeHeader(bw, "Accept", req.Accept)
		for k, vs := range req.Header {
			for _, v := range vs {
				writeHeader(bw, k, v)
			}
		}
		var n [20]byte
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(n[:0], int64(len(req.Body)), 10))
		bw.WriteString("\r\n\r\n")
		bw.Write(req.Body)
	} else {
		bw.WriteString("\r\n")
	}
	if err := bw.Flush(); err != nil {
		return nil, nil, fmt.Errorf("sending the request: %w", err)
	}
	resp, err := http.ReadResponse(cn.br, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the answer: %w", err)
	}
	data, err := readAll(resp, limit)
	resp.Body.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("reading the answer's body: %w", err)
	}
	return resp, data, nil
}

func writeHeader(bw *bufio.Writer, k, v string) {
	if v == "" {
		return
	}
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

func (pr *proc) closeConn() {
	if pr.conn != nil {
		pr.conn.c.Close()
		pr.conn = nil
	}
}

func readAll(resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("worker response of %d bytes is over the %d-byte limit", resp.ContentLength, limit)
	}
	if resp.ContentLength >= 0 {
		buf := make([]byte, resp.ContentLength)
		_, err := io.ReadFull(resp.Body, buf)
		return buf, err
	}
	buf, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if int64(len(buf)) > limit {
		return nil, fmt.Errorf("worker response is over the %d-byte limit", limit)
	}
	return buf, err
}
