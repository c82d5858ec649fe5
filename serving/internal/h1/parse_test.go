package h1

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// seeds are request heads of every shape the parser must read or leave to
// net/http.
var seeds = []string{
	"POST /invocations HTTP/1.1\r\nHost: localhost:8080\r\nContent-Type: text/csv\r\nContent-Length: 4\r\n\r\n1,2\n",
	"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /ping HTTP/1.1\r\nhost: x\r\nconnection: keep-alive, Close\r\n\r\n",
	"POST /models/a%2Fb/invoke?x=1 HTTP/1.1\r\nHost: h\r\nX-Amzn-SageMaker-Custom-Attributes: a=b\r\nX-Amzn-SageMaker-Custom-Attributes: c\r\n\r\n",
	"POST /invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	"POST /invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	"POST /invocations HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n",
	"POST /invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 5 5\r\n\r\n",
	"POST /invocations HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
	"POST /invocations HTTP/1.0\r\nHost: h\r\n\r\n",
	"GET /ping HTTP/1.1\r\n\r\n",
	"GET /ping HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET /ping HTTP/1.1\r\nHost: a b\r\n\r\n",
	"GET /ping HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
	"GET /ping HTTP/1.1\nHost: a\n\n",
	"GET /ping HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
	"GET /ping HTTP/1.1\r\nHost: a\r\nX : b\r\n\r\n",
	"GET /ping HTTP/1.1\r\nHost: a\r\nX: b\x00c\r\n\r\n",
	"GET /ping HTTP/1.1\r\nHost: a\r\nX: b\rc\r\n\r\n",
	"GET /ping HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n",
	"GET http://a/ping HTTP/1.1\r\nHost: a\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	"HEAD /ping HTTP/1.1\r\nHost: a\r\n\r\n",
	"get /ping HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET  /ping HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /ping  HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /ping HTTP/1.1 \r\nHost: a\r\n\r\n",
	"GET /p%zz HTTP/1.1\r\nHost: a\r\n\r\n",
	"\r\nGET /ping HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /ping HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
	"GET /ping HTTP/1.1\r\nHost:\r\n\r\n",
	"GET /ping HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n",
	"GET /ping HTTP/1.1\r\nHost: a\r\nX:\tv \t\r\n\r\n",
}

// TestParseSeeds runs the differential check on the seeds and checks which
// of them the parser keeps.
func TestParseSeeds(t *testing.T) {
	kept := 0
	for _, s := range seeds {
		if sameAsNetHTTP(t, []byte(s)) {
			kept++
		}
	}
	if kept != 7 {
		t.Errorf("the parser kept %d of the seeds, want the 7 plain ones", kept)
	}
}

// FuzzParseHead holds parseHead to net/http: every head it accepts, net/http
// reads the same way.
func FuzzParseHead(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { sameAsNetHTTP(t, b) })
}

// sameAsNetHTTP fails t when parseHead accepts b and net/http reads it
// differently or refuses it; it reports whether parseHead accepted it.
func sameAsNetHTTP(t *testing.T, b []byte) bool {
	t.Helper()
	var h head
	complete, ok := parseHead(b, &h)
	if !complete || !ok {
		return false
	}
	if _, err := url.ParseRequestURI(string(h.target)); err != nil {
		// conn.prepare leaves it to net/http.
		return false
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Errorf("parseHead accepted %q, net/http refuses it: %v", b, err)
		return true
	}
	if req.Method != string(h.method) || req.RequestURI != string(h.target) || req.Host != string(h.host) {
		t.Errorf("%q: parseHead read %s %s host %q, net/http %s %s host %q", b, h.method, h.target, h.host, req.Method, req.RequestURI, req.Host)
	}
	if h.contentLength >= 0 && req.ContentLength != h.contentLength {
		t.Errorf("%q: Content-Length %d, net/http %d", b, h.contentLength, req.ContentLength)
	}
	if h.contentLength < 0 && req.ContentLength != 0 {
		t.Errorf("%q: no Content-Length, net/http reads %d", b, req.ContentLength)
	}
	if h.close != req.Close {
		t.Errorf("%q: close %v, net/http %v", b, h.close, req.Close)
	}
	if h.n > len(b) || !bytes.HasSuffix(b[:h.n], crlfcrlf) {
		t.Errorf("%q: head length %d", b, h.n)
	}
	got := http.Header{}
	for _, f := range h.fields {
		k := http.CanonicalHeaderKey(string(f.name))
		if k != "Host" {
			got[k] = append(got[k], string(f.value))
		}
	}
	for k, v := range req.Header {
		if !slices.Equal(got[k], v) {
			t.Errorf("%q: header %s = %q, net/http %q", b, k, got[k], v)
		}
	}
	if len(got) != len(req.Header) {
		t.Errorf("%q: %d header names, net/http %d", b, len(got), len(req.Header))
	}
	return true
}

func TestParseIncomplete(t *testing.T) {
	full := seeds[0]
	end := strings.Index(full, "\r\n\r\n") + 4
	for i := 0; i < end; i++ {
		var h head
		if complete, _ := parseHead([]byte(full[:i]), &h); complete {
			t.Fatalf("a head cut at %d bytes of %d parsed as complete", i, end)
		}
	}
	var h head
	if complete, ok := parseHead([]byte(full), &h); !complete || !ok || h.n != end {
		t.Fatalf("whole head: complete %v ok %v n %d, want true true %d", complete, ok, h.n, end)
	}
}
