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
	"github.com/sagekit/sagekit/serving/internal/rawio"
)

// A worker serves one request at a time, so each process gets one
// keep-alive connection driven directly from the request's goroutine:
// no transport goroutines and no connection pool between the front and
// the worker.
type conn struct {
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer

	interrupt func() // ends the exchange in progress: made once, not per request
	lastType  string // the last Content-Type answered, reused while it repeats
}

// past is a deadline already over, to interrupt I/O at once.
var past = time.Unix(1, 0)

// roundTrip sends one request to pr (req nil: no body) and reads the whole
// answer: its status, body, Content-Type and X-Amzn-SageMaker-* headers.
// Any error leaves the connection closed, so the next call dials again.
func (pr *proc) roundTrip(ctx context.Context, method, path string, req *serve.Request, limit int64) (*serve.Response, error) {
	if pr.conn == nil {
		c, err := rawio.DialUnix(ctx, pr.sock)
		if err != nil {
			return nil, err
		}
		cn := &conn{c: c, br: bufio.NewReaderSize(c, 32<<10), bw: bufio.NewWriterSize(c, 32<<10)}
		cn.interrupt = func() { c.SetDeadline(past) }
		pr.conn = cn
	}
	cn := pr.conn
	if dl, ok := ctx.Deadline(); ok {
		cn.c.SetDeadline(dl)
	} else {
		cn.c.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, cn.interrupt)
	resp, closing, err := cn.exchange(method, path, req, limit)
	if !stop() || err != nil || closing {
		pr.closeConn()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, err
	}
	return resp, nil
}

func (cn *conn) exchange(method, path string, req *serve.Request, limit int64) (*serve.Response, bool, error) {
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
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(len(req.Body)), 10))
		bw.WriteString("\r\n\r\n")
		bw.Write(req.Body)
	} else {
		bw.WriteString("\r\n")
	}
	if err := bw.Flush(); err != nil {
		return nil, false, fmt.Errorf("sending the request: %w", err)
	}
	resp, closing, err := readResponse(cn.br, limit, &cn.lastType)
	if err != nil {
		return nil, false, fmt.Errorf("reading the answer: %w", err)
	}
	return resp, closing, nil
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
// limit bytes), and reports whether the connection closes after it. It
// keeps only what the pool passes on: the status, the Content-Type and the
// X-Amzn-SageMaker-* headers. net/http's ReadResponse parses and allocates
// every header, which costs more than the rest of the exchange. lastType
// is the Content-Type of the previous answer on the connection: a model
// answers with the same one every time, and the string is reused.
func readResponse(br *bufio.Reader, limit int64, lastType *string) (*serve.Response, bool, error) {
	line, err := readLine(br)
	if err != nil {
		return nil, false, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return nil, false, fmt.Errorf("malformed status line %q", line)
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return nil, false, fmt.Errorf("malformed status line %q", line)
		}
		code = 10*code + int(c-'0')
	}
	if code < 100 {
		return nil, false, fmt.Errorf("malformed status line %q", line)
	}
	resp := &serve.Response{Status: code}
	closing := line[7] == '0'
	chunked, attrs := false, false
	length := int64(-1)
	for {
		line, err := readLine(br)
		if err != nil {
			return nil, false, err
		}
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return nil, false, fmt.Errorf("malformed header line %q", line)
		}
		v = bytes.TrimSpace(v)
		switch {
		case asciiEqualFold(k, "Content-Length"):
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil || n < 0 {
				return nil, false, fmt.Errorf("bad Content-Length %q", v)
			}
			length = n
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
			if string(v) != *lastType {
				*lastType = string(v)
			}
			resp.ContentType = *lastType
		case asciiEqualFold(k, optml.HeaderCustomAttributes):
			if !attrs { // the first, as http.Header.Get
				resp.CustomAttributes, attrs = string(v), true
			}
		case len(k) > len(optml.HeaderPrefix) && asciiEqualFold(k[:len(optml.HeaderPrefix)], optml.HeaderPrefix):
			if resp.Header == nil {
				resp.Header = make(http.Header, 1)
			}
			key := http.CanonicalHeaderKey(string(k))
			resp.Header[key] = append(resp.Header[key], string(v))
		}
	}
	switch {
	case code < 200 || code == http.StatusNoContent || code == http.StatusNotModified:
		return resp, closing, nil
	case chunked:
		data, err := io.ReadAll(io.LimitReader(httputil.NewChunkedReader(br), limit+1))
		if err != nil {
			return nil, false, err
		}
		if int64(len(data)) > limit {
			return nil, false, fmt.Errorf("worker response is over the %d-byte limit", limit)
		}
		// The trailer, up to its empty line.
		for {
			line, err := readLine(br)
			if err != nil {
				return nil, false, err
			}
			if len(line) == 0 {
				break
			}
		}
		resp.Body = data
		return resp, closing, nil
	case length >= 0:
		if length > limit {
			return nil, false, fmt.Errorf("worker response of %d bytes is over the %d-byte limit", length, limit)
		}
		resp.Body = make([]byte, length)
		if _, err := io.ReadFull(br, resp.Body); err != nil {
			return nil, false, err
		}
		return resp, closing, nil
	}
	// Delimited by the end of the connection.
	data, err := io.ReadAll(io.LimitReader(br, limit+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(data)) > limit {
		return nil, false, fmt.Errorf("worker response is over the %d-byte limit", limit)
	}
	resp.Body = data
	return resp, true, nil
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
