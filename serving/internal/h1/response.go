package h1

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// maxBuffered is the most of an answer's body held back so that the head
// can carry its Content-Length and leave with it in one write; past it the
// body streams (chunked when the handler set no Content-Length).
const maxBuffered = 64 << 10

// response is the http.ResponseWriter of a connection, reset per request.
type response struct {
	c           *conn
	hdr         http.Header
	status      int
	wroteHeader bool
	noBody      bool  // 204 or 304
	declared    int64 // the Content-Length the handler set; -1 none
	written     int64
	streaming   bool // the head has been written; the body goes as it comes
	chunked     bool
	closeAfter  bool
	body        []byte // the body held back
	out         []byte // the head being written
	err         error  // a write to the connection failed
	keys        []string
}

func (w *response) reset(closeAfter bool) {
	clear(w.hdr)
	w.status, w.wroteHeader, w.noBody = 0, false, false
	w.declared, w.written = -1, 0
	w.streaming, w.chunked, w.closeAfter = false, false, closeAfter
	w.body, w.out, w.err = w.body[:0], w.out[:0], nil
}

func (w *response) Header() http.Header { return w.hdr }

func (w *response) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 200 {
		// Informational answers are optional; none is sent.
		return
	}
	w.wroteHeader, w.status = true, code
	w.noBody = code == http.StatusNoContent || code == http.StatusNotModified
	if v := w.hdr["Content-Length"]; len(v) > 0 {
		if n, err := strconv.ParseInt(strings.TrimSpace(v[0]), 10, 64); err == nil && n >= 0 {
			w.declared = n
		} else {
			delete(w.hdr, "Content-Length")
		}
	}
	for _, v := range w.hdr["Connection"] {
		if hasToken(v, "close") {
			w.closeAfter = true
		}
	}
}

func (w *response) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	switch {
	case w.noBody:
		return 0, http.ErrBodyNotAllowed
	case w.err != nil:
		return 0, w.err
	case w.declared >= 0 && w.written+int64(len(p)) > w.declared:
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if !w.streaming {
		if len(w.body)+len(p) <= maxBuffered {
			w.body = append(w.body, p...)
			return len(p), nil
		}
		w.startStreaming()
	}
	if w.chunked {
		w.out = strconv.AppendInt(w.out[:0], int64(len(p)), 16)
		w.out = append(w.out, "\r\n"...)
		w.send(w.out)
		w.send(p)
		w.send(crlf)
	} else {
		w.send(p)
	}
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

// startStreaming writes the head and the body held so far.
func (w *response) startStreaming() {
	w.streaming = true
	w.chunked = w.declared < 0
	w.out = w.appendHead(w.out[:0], -1)
	if len(w.body) > 0 {
		if w.chunked {
			w.out = strconv.AppendInt(w.out, int64(len(w.body)), 16)
			w.out = append(w.out, "\r\n"...)
			w.out = append(w.out, w.body...)
			w.out = append(w.out, "\r\n"...)
		} else {
			w.out = append(w.out, w.body...)
		}
	}
	w.send(w.out)
	w.body = w.body[:0]
}

// finish writes what is left of the answer.
func (w *response) finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.streaming {
		if w.chunked {
			w.send(lastChunk)
		}
	} else {
		length := int64(len(w.body))
		if w.noBody {
			length = -1
		}
		w.out = w.appendHead(w.out[:0], length)
		if !w.noBody {
			w.out = append(w.out, w.body...)
		}
		w.send(w.out)
	}
	if w.declared >= 0 && w.written != w.declared {
		// The body is shorter than its Content-Length said: the client
		// cannot tell where the next answer starts.
		w.closeAfter = true
	}
	if cap(w.body) > maxBuffered {
		w.body = nil
	}
	if cap(w.out) > maxBuffered {
		w.out = nil
	}
}

var lastChunk = []byte("0\r\n\r\n")

func (w *response) send(p []byte) {
	if w.err == nil {
		w.err = w.c.write(p)
	}
}

// appendHead appends the status line and the header. length is the body's
// length when it is all held back, else -1: the handler's Content-Length or
// chunked framing applies.
func (w *response) appendHead(b []byte, length int64) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(w.status), 10)
	b = append(b, ' ')
	if text := http.StatusText(w.status); text != "" {
		b = append(b, text...)
	} else {
		b = append(b, "status code "...)
		b = strconv.AppendInt(b, int64(w.status), 10)
	}
	b = append(b, "\r\n"...)

	w.keys = w.keys[:0]
	for k := range w.hdr {
		w.keys = append(w.keys, k)
	}
	slices.Sort(w.keys)
	for _, k := range w.keys {
		switch k {
		case "Connection", "Transfer-Encoding":
			continue
		case "Content-Length":
			if w.declared < 0 || w.noBody {
				continue
			}
		}
		if !isToken(k) {
			continue
		}
		for _, v := range w.hdr[k] {
			b = append(b, k...)
			b = append(b, ": "...)
			b = appendValue(b, v)
			b = append(b, "\r\n"...)
		}
	}
	if _, ok := w.hdr["Date"]; !ok {
		b = append(b, "Date: "...)
		b = appendDate(b)
		b = append(b, "\r\n"...)
	}
	if _, ok := w.hdr["Content-Type"]; !ok && !w.noBody && len(w.body) > 0 {
		b = append(b, "Content-Type: "...)
		b = append(b, http.DetectContentType(w.body)...)
		b = append(b, "\r\n"...)
	}
	switch {
	case w.noBody:
	case length >= 0 && w.declared < 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, length, 10)
		b = append(b, "\r\n"...)
	case length < 0 && w.declared < 0:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	if w.closeAfter || w.c.s.shutting.Load() {
		w.closeAfter = true
		b = append(b, "Connection: close\r\n"...)
	}
	return append(b, "\r\n"...)
}

// appendValue appends a header value with CR and LF turned into spaces, as
// net/http writes them, so that no value can start a header of its own.
func appendValue(b []byte, v string) []byte {
	if !strings.ContainsAny(v, "\r\n") {
		return append(b, v...)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

// dateLine is the Date header's value for one second.
type dateLine struct {
	sec int64
	b   []byte
}

var date atomic.Pointer[dateLine]

func appendDate(b []byte) []byte {
	now := time.Now()
	d := date.Load()
	if d == nil || d.sec != now.Unix() {
		d = &dateLine{sec: now.Unix(), b: now.UTC().AppendFormat(nil, http.TimeFormat)}
		date.Store(d)
	}
	return append(b, d.b...)
}

// SetReadDeadline bounds the rest of the request body's read, as
// http.ResponseController's does; a zero time goes back to ReadTimeout.
func (w *response) SetReadDeadline(t time.Time) error {
	w.c.body.dl = t
	return nil
}

// ClientGone reports whether the client has closed its connection, from
// what has arrived: a cheap check for a request that waited long, which a
// request on this loop has no background read to tell it.
func (w *response) ClientGone() bool {
	c := w.c
	if c.try == nil {
		return peekGone(c.nc)
	}
	c.makeRoom()
	if c.w == len(c.buf) {
		return false
	}
	n, err := c.try.TryRead(c.buf[c.w:])
	c.w += n
	return err == io.EOF || err != nil && !isTimeout(err)
}

func isTimeout(err error) bool {
	te, ok := err.(interface{ Timeout() bool })
	return ok && te.Timeout()
}
