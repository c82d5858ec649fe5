package worker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"time"

	"github.com/sagekit/sagekit/sdk/optml"
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
	resp, data, err := readResponse(cn.br, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the answer: %w", err)
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

// readResponse reads one HTTP/1.x response and its whole body (at most
// limit bytes). It keeps only what the pool passes on: the status, the
// Content-Type and X-Amzn-SageMaker-* headers, and whether the connection
// closes. net/http's ReadResponse parses and allocates every header, which
// costs more than the rest of the exchange.
func readResponse(br *bufio.Reader, limit int64) (*http.Response, []byte, error) {
	line, err := readLine(br)
	if err != nil {
		return nil, nil, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return nil, nil, fmt.Errorf("malformed status line %q", line)
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil || code < 100 {
		return nil, nil, fmt.Errorf("malformed status line %q", line)
	}
	resp := &http.Response{
		Status: string(line[9:]), StatusCode: code, Proto: string(line[:8]), ProtoMajor: 1, ProtoMinor: int(line[7] - '0'),
		Header: make(http.Header, 2), ContentLength: -1,
	}
	closing := resp.ProtoMinor == 0
	chunked := false
	for {
		line, err := readLine(br)
		if err != nil {
			return nil, nil, err
		}
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return nil, nil, fmt.Errorf("malformed header line %q", line)
		}
		v = bytes.TrimSpace(v)
		switch {
		case asciiEqualFold(k, "Content-Length"):
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil || n < 0 {
				return nil, nil, fmt.Errorf("bad Content-Length %q", v)
			}
			resp.ContentLength = n
		case asciiEqualFold(k, "Transfer-Encoding"):
			chunked = bytes.Contains(bytes.ToLower(v), []byte("chunked"))
		case asciiEqualFold(k, "Connection"):
			lv := bytes.ToLower(v)
			if bytes.Contains(lv, []byte("close")) {
				closing = true
			} else if bytes.Contains(lv, []byte("keep-alive")) {
				closing = false
			}
		case asciiEqualFold(k, "Content-Type"):
			resp.Header["Content-Type"] = []string{string(v)}
		case len(k) > len(optml.HeaderPrefix) && asciiEqualFold(k[:len(optml.HeaderPrefix)], optml.HeaderPrefix):
			key := http.CanonicalHeaderKey(string(k))
			resp.Header[key] = append(resp.Header[key], string(v))
		}
	}
	resp.Close = closing
	switch {
	case code < 200 || code == http.StatusNoContent || code == http.StatusNotModified:
		return resp, nil, nil
	case chunked:
		resp.ContentLength = -1
		data, err := io.ReadAll(io.LimitReader(httputil.NewChunkedReader(br), limit+1))
		if err != nil {
			return nil, nil, err
		}
		if int64(len(data)) > limit {
			return nil, nil, fmt.Errorf("worker response is over the %d-byte limit", limit)
		}
		// The trailer, up to its empty line.
		for {
			line, err := readLine(br)
			if err != nil {
				return nil, nil, err
			}
			if len(line) == 0 {
				break
			}
		}
		return resp, data, nil
	case resp.ContentLength >= 0:
		if resp.ContentLength > limit {
			return nil, nil, fmt.Errorf("worker response of %d bytes is over the %d-byte limit", resp.ContentLength, limit)
		}
		data := make([]byte, resp.ContentLength)
		if _, err := io.ReadFull(br, data); err != nil {
			return nil, nil, err
		}
		return resp, data, nil
	}
	// Delimited by the end of the connection.
	resp.Close = true
	data, err := io.ReadAll(io.LimitReader(br, limit+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(data)) > limit {
		return nil, nil, fmt.Errorf("worker response is over the %d-byte limit", limit)
	}
	return resp, data, nil
}

// maxLine bounds a status or header line.
const maxLine = 64 << 10

// readLine returns the next line without its CR LF (or LF); the slice is
// valid until the next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		// Longer than the buffer: gather it.
		buf := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull && len(buf) <= maxLine {
			line, err = br.ReadSlice('\n')
			buf = append(buf, line...)
		}
		if err == bufio.ErrBufferFull {
			return nil, errors.New("header line too long")
		}
		line = buf
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// asciiEqualFold reports whether b equals s, ignoring ASCII case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
