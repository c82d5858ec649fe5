package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sagekit/sagekit/serving/internal/rawio"
)

// echo answers with the method, path, Host, the X-Test header and the body
// it read, and honours a few test switches in the path.
func echo(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/skip" {
		// Answers without reading the body.
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "body: %v", err)
		return
	}
	switch r.URL.Path {
	case "/panic":
		panic("test panic")
	case "/inject":
		w.Header().Set("X-Out", "a\r\nX-Injected: 1")
	case "/big":
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if r.URL.Query().Get("cl") != "" {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		}
		w.Write(bytes.Repeat([]byte("x"), n))
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "%s %s host=%s x=%q body=%q", r.Method, r.URL.Path, r.Host, r.Header.Values("X-Test"), body)
}

type testServer struct {
	s    *Server
	addr string
	logs *bytes.Buffer
	done chan error
}

// start serves h on loopback through the loop, with net/http behind it.
func start(t *testing.T, h http.Handler, tune func(*Server)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	logger := log.New(&lockedWriter{w: logs}, "", 0)
	s := &Server{
		Handler:           h,
		Fallback:          &http.Server{Handler: h, ErrorLog: logger, ReadHeaderTimeout: 2 * time.Second},
		ReadHeaderTimeout: 2 * time.Second,
		ReadTimeout:       2 * time.Second,
		WriteTimeout:      2 * time.Second,
		IdleTimeout:       2 * time.Second,
		ErrorLog:          logger,
	}
	if tune != nil {
		tune(s)
	}
	ts := &testServer{s: s, addr: ln.Addr().String(), logs: logs, done: make(chan error, 1)}
	go func() { ts.done <- s.Serve(rawio.WrapListener(ln)) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return ts
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// exchange sends raw and returns everything the server wrote until it
// closed the connection or went quiet for 300 ms.
func exchange(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return out.String()
		}
	}
}

// answers reads every response in out and returns "STATUS body" for each.
func answers(t *testing.T, out string, method string) []string {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(out))
	var got []string
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			return got
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Errorf("reading a response body: %v", err)
		}
		got = append(got, fmt.Sprintf("%d %s", resp.StatusCode, b))
	}
}

// TestSameAsNetHTTP sends each raw request to the loop and to net/http
// alone, with the same handler, and compares what comes back.
func TestSameAsNetHTTP(t *testing.T) {
	loop := start(t, http.HandlerFunc(echo), nil)
	stdLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	std := &http.Server{Handler: http.HandlerFunc(echo), ErrorLog: log.New(io.Discard, "", 0)}
	go std.Serve(stdLn)
	t.Cleanup(func() { std.Close() })

	bigHead := "GET /ping HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("b", 100<<10) + "\r\n\r\n"
	hugeHead := "GET /ping HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("b", 2<<20) + "\r\n\r\n"
	cases := map[string]string{
		"plain":                    "POST /invocations HTTP/1.1\r\nHost: h\r\nX-Test: 1\r\nContent-Length: 3\r\n\r\nabc",
		"keep-alive":               "POST /invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\naGET /ping HTTP/1.1\r\nHost: h\r\n\r\nPOST /x?y=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nzz",
		"repeated header":          "GET /ping HTTP/1.1\r\nHost: h\r\nX-Test: 1\r\nx-test: 2\r\n\r\n",
		"close":                    "GET /ping HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /ping HTTP/1.1\r\nHost: h\r\n\r\n",
		"chunked":                  "POST /invocations HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"cl and te":                "POST /invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"two lengths":              "POST /invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
		"same two lengths":         "POST /invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
		"signed length":            "POST /invocations HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc",
		"no host":                  "GET /ping HTTP/1.1\r\n\r\n",
		"two hosts":                "GET /ping HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"http/1.0":                 "GET /ping HTTP/1.0\r\n\r\n",
		"obs-fold":                 "GET /ping HTTP/1.1\r\nHost: a\r\nX-Test: a\r\n b\r\n\r\n",
		"bare lf":                  "GET /ping HTTP/1.1\nHost: a\nX-Test: 1\n\n",
		"space before colon":       "GET /ping HTTP/1.1\r\nHost: a\r\nX-Test : 1\r\n\r\n",
		"nul in value":             "GET /ping HTTP/1.1\r\nHost: a\r\nX-Test: a\x00b\r\n\r\n",
		"bad escape":               "GET /p%zz HTTP/1.1\r\nHost: a\r\n\r\n",
		"absolute target":          "GET http://a/ping HTTP/1.1\r\nHost: a\r\n\r\n",
		"expect":                   "POST /invocations HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
		"head of 100 KiB":          bigHead,
		"head of 2 MiB":            hugeHead,
		"short body":               "POST /invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc",
		"unread small body":        "POST /skip HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /ping HTTP/1.1\r\nHost: h\r\n\r\n",
		"bad method":               "G@T /ping HTTP/1.1\r\nHost: h\r\n\r\n",
		"pipelined after fallback": "GET /ping HTTP/1.1\r\nHost: h\r\n\r\nGET /ping HTTP/1.0\r\n\r\n",
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := answers(t, exchange(t, loop.addr, raw), "POST")
			want := answers(t, exchange(t, stdLn.Addr().String(), raw), "POST")
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("the loop answered\n%s\nnet/http answered\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if len(want) == 0 && name != "short body" {
				t.Errorf("net/http gave no answer to compare with")
			}
		})
	}
}

func TestPipelinedInOneWrite(t *testing.T) {
	ts := start(t, http.HandlerFunc(echo), nil)
	var raw strings.Builder
	for i := range 50 {
		fmt.Fprintf(&raw, "POST /invocations HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%d", len(strconv.Itoa(i)), i)
	}
	got := answers(t, exchange(t, ts.addr, raw.String()), "POST")
	if len(got) != 50 {
		t.Fatalf("%d answers to 50 pipelined requests", len(got))
	}
	for i, a := range got {
		if want := fmt.Sprintf("200 POST /invocations host=h x=[] body=\"%d\"", i); a != want {
			t.Fatalf("answer %d = %q, want %q", i, a, want)
		}
	}
}

func TestBodyInPieces(t *testing.T) {
	ts := start(t, http.HandlerFunc(echo), nil)
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := strings.Repeat("0123456789", 20000)
	raw := "POST /invocations HTTP/1.1\r\nHost: h\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	for i := 0; i < len(raw); i += 7001 {
		c.Write([]byte(raw[i:min(i+7001, len(raw))]))
		time.Sleep(time.Millisecond)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if !strings.HasSuffix(string(b), body+`"`) {
		t.Fatalf("the handler read %d bytes, want the %d sent", len(b)-len(`POST /invocations host=h x=[] body=""`), len(body))
	}
}

func TestLargeAnswers(t *testing.T) {
	ts := start(t, http.HandlerFunc(echo), nil)
	for _, tc := range []struct {
		n       int
		cl      bool
		chunked bool
	}{{10, false, false}, {maxBuffered, false, false}, {maxBuffered + 1, false, true}, {3 << 20, false, true}, {3 << 20, true, false}} {
		resp, err := http.Get(fmt.Sprintf("http://%s/big?n=%d&cl=%s", ts.addr, tc.n, map[bool]string{true: "1"}[tc.cl]))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || len(b) != tc.n || strings.Trim(string(b), "x") != "" {
			t.Errorf("n=%d cl=%v: read %d bytes, %v", tc.n, tc.cl, len(b), err)
		}
		if chunked := len(resp.TransferEncoding) > 0; chunked != tc.chunked {
			t.Errorf("n=%d cl=%v: chunked %v, want %v", tc.n, tc.cl, chunked, tc.chunked)
		}
	}
}

func TestNoHeaderInjection(t *testing.T) {
	ts := start(t, http.HandlerFunc(echo), nil)
	out := exchange(t, ts.addr, "GET /inject HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	if strings.Contains(out, "\r\nX-Injected") {
		t.Fatalf("a header value's CRLF started a header of its own:\n%s", out)
	}
	if !strings.Contains(out, "X-Out: a  X-Injected: 1\r\n") {
		t.Fatalf("the value did not come out with its CR and LF as spaces:\n%s", out)
	}
}

func TestSlowHeadIsCut(t *testing.T) {
	ts := start(t, http.HandlerFunc(echo), func(s *Server) { s.ReadHeaderTimeout = 200 * time.Millisecond })
	for _, first := range []string{"", "GET /ping HTTP/1.1\r\n"} {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		if first != "" {
			c.Write([]byte(first))
		}
		// Trickle a header line a byte at a time: the deadline counts from
		// the head's start, not from the last byte.
		go func() {
			for range 100 {
				if _, err := c.Write([]byte("X")); err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(make([]byte, 1))
		if d := time.Since(start); n != 0 || err == nil || d > 1500*time.Millisecond {
			t.Errorf("head %q: read %d bytes, %v after %s; want the connection closed after about 200ms", first, n, err, d)
		}
	}
}

func TestIdleTimeout(t *testing.T) {
	ts := start(t, http.HandlerFunc(echo), func(s *Server) { s.IdleTimeout = 200 * time.Millisecond })
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET /ping HTTP/1.1\r\nHost: h\r\n\r\n"))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF || time.Since(start) > 1500*time.Millisecond {
		t.Fatalf("idle connection: %v after %s, want EOF after about 200ms", err, time.Since(start))
	}
}

func TestPanicClosesOnlyItsConnection(t *testing.T) {
	ts := start(t, http.HandlerFunc(echo), nil)
	out := exchange(t, ts.addr, "GET /panic HTTP/1.1\r\nHost: h\r\n\r\n")
	if out != "" {
		t.Errorf("a panicking handler's connection got %q, want it closed", out)
	}
	if got := answers(t, exchange(t, ts.addr, "GET /ping HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"), "GET"); len(got) != 1 || !strings.HasPrefix(got[0], "200 ") {
		t.Errorf("after a panic: %q", got)
	}
	if !strings.Contains(ts.logs.String(), "panic serving") || !strings.Contains(ts.logs.String(), "test panic") {
		t.Errorf("the panic is not in the error log: %q", ts.logs.String())
	}
}

func TestUnreadLargeBodyCloses(t *testing.T) {
	ts := start(t, http.HandlerFunc(echo), nil)
	body := strings.Repeat("b", maxDiscard+1)
	out := exchange(t, ts.addr, "POST /skip HTTP/1.1\r\nHost: h\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body+"GET /ping HTTP/1.1\r\nHost: h\r\n\r\n")
	if got := answers(t, out, "POST"); len(got) != 1 {
		t.Errorf("answers %q, want only the first: a body too long to skip ends the connection", got)
	}
}

func TestClientGone(t *testing.T) {
	gone := make(chan bool, 2)
	release := make(chan struct{})
	ts := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		gone <- w.(interface{ ClientGone() bool }).ClientGone()
	}), nil)
	for _, leave := range []bool{false, true} {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("GET /ping HTTP/1.1\r\nHost: h\r\n\r\n"))
		time.Sleep(50 * time.Millisecond)
		if leave {
			c.Close()
			time.Sleep(50 * time.Millisecond)
		}
		release <- struct{}{}
		got := <-gone
		c.Close()
		want := leave
		if got != want {
			t.Errorf("client left %v: ClientGone = %v, want %v", leave, got, want)
		}
	}
}

func TestShutdown(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	ts := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	}), nil)
	idle, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	idle.Write([]byte("GET /ping HTTP/1.1\r\nHost: h\r\n\r\n"))
	ibr := bufio.NewReader(idle)
	if resp, err := http.ReadResponse(ibr, nil); err != nil {
		t.Fatal(err)
	} else {
		io.ReadAll(resp.Body)
	}
	busy, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busy.Write([]byte("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n"))
	<-started

	// A grace that ends with the request still running is an error.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err = ts.s.Shutdown(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a request running past the grace = %v, want DeadlineExceeded", err)
	}
	idle.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := ibr.ReadByte(); err != io.EOF {
		t.Errorf("idle connection after Shutdown: %v, want EOF", err)
	}
	if _, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		t.Errorf("the listener still accepts after Shutdown")
	}
	close(release)
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := ts.s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown once the request ended = %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "ok" || !resp.Close {
		t.Errorf("the running request got %q, close %v; want ok and Connection: close", b, resp.Close)
	}
	if err := <-ts.done; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v, want http.ErrServerClosed", err)
	}
}

// TestRefusedBodyAnswerArrives: a handler that refuses a large body without
// reading it (413) must have its answer reach a client still sending.
func TestRefusedBodyAnswerArrives(t *testing.T) {
	ts := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Let the body fill the connection's buffers first, as a slow
		// handler would.
		time.Sleep(50 * time.Millisecond)
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		io.WriteString(w, "too large")
	}), nil)
	body := bytes.Repeat([]byte("b"), 8<<20)
	for i := range 20 {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			fmt.Fprintf(c, "POST /invocations HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n", len(body))
			c.Write(body)
		}()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("try %d: no answer to a refused body: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || string(b) != "too large" || err != nil {
			t.Fatalf("try %d: %d %q %v, want 413 too large", i, resp.StatusCode, b, err)
		}
		// The server half-closed after its answer: the client reads the end
		// of the stream, not a reset that could have destroyed the answer.
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("try %d: after the answer: %v, want EOF", i, err)
		}
		c.Close()
	}
}

func TestShutdownBeforeServe(t *testing.T) {
	s := &Server{Handler: http.HandlerFunc(echo), Fallback: &http.Server{}}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown before Serve = %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve after Shutdown = %v, want http.ErrServerClosed", err)
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Fatal("the listener Serve was given after Shutdown is still open")
	}
}
