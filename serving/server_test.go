package serving_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/sdk/optml"
	"github.com/sagekit/sagekit/sdk/serve"
	"github.com/sagekit/sagekit/serving"
)

// start mounts a loaded server for h on a real HTTP listener.
func start(t *testing.T, h serve.Handler, opts ...serving.Option) *httptest.Server {
	t.Helper()
	s := serving.New(h, opts...)
	if err := s.Load(context.Background()); err != nil {
		t.Fatalf("Load: %v", err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts
}

func post(t *testing.T, url, contentType string, body []byte, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	return resp
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return string(b)
}

// errorJSON decodes the stack's own error body.
func errorJSON(t *testing.T, body string) (code int, msg string) {
	t.Helper()
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	return e.Code, e.Message
}

var echoLen = serve.HandlerFunc(func(ctx context.Context, req *serve.Request) (*serve.Response, error) {
	return &serve.Response{ContentType: "text/plain", Body: []byte(fmt.Sprint(len(req.Body)))}, nil
})

func TestPayloadLimit(t *testing.T) {
	ts := start(t, echoLen)
	tests := []struct {
		name   string
		size   int
		status int
	}{
		{"exactly 6 MiB", optml.MaxPayloadBytes, http.StatusOK},
		{"6 MiB + 1 byte", optml.MaxPayloadBytes + 1, http.StatusRequestEntityTooLarge},
		{"empty", 0, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := post(t, ts.URL+"/invocations", "application/octet-stream", make([]byte, tt.size))
			body := readBody(t, resp)
			if resp.StatusCode != tt.status {
				t.Fatalf("POST %d bytes: status %d, want %d (body %q)", tt.size, resp.StatusCode, tt.status, body)
			}
			if tt.status == http.StatusOK {
				if body != fmt.Sprint(tt.size) {
					t.Errorf("handler saw %s bytes, want %d", body, tt.size)
				}
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("413 Content-Type = %q, want application/json", ct)
			}
			code, msg := errorJSON(t, body)
			if code != 413 || !strings.Contains(msg, "6291456") {
				t.Errorf("413 body = %q, want code 413 and the 6291456-byte limit named", body)
			}
		})
	}
}

func TestPayloadLimitChunked(t *testing.T) {
	ts := start(t, echoLen, serving.WithMaxBodyBytes(1024))
	for _, n := range []int{1024, 1025} {
		// An io.Reader of unknown size is sent chunked, with no Content-Length.
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/invocations", io.MultiReader(bytes.NewReader(make([]byte, n))))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		want := http.StatusOK
		if n > 1024 {
			want = http.StatusRequestEntityTooLarge
		}
		if resp.StatusCode != want {
			t.Errorf("chunked body of %d bytes: status %d, want %d", n, resp.StatusCode, want)
		}
	}
}

func TestTimeout(t *testing.T) {
	// The handler ignores its context: the stack must answer anyway.
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slow := serve.HandlerFunc(func(ctx context.Context, req *serve.Request) (*serve.Response, error) {
		<-release
		return &serve.Response{}, nil
	})
	ts := start(t, slow, serving.WithTimeout(300*time.Millisecond))
	t0 := time.Now()
	resp := post(t, ts.URL+"/invocations", "text/csv", []byte("1,2"))
	body := readBody(t, resp)
	took := time.Since(t0)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("slow handler: status %d, want 504 (body %q)", resp.StatusCode, body)
	}
	if code, _ := errorJSON(t, body); code != 504 {
		t.Errorf("504 body = %q", body)
	}
	if took > 2*time.Second {
		t.Errorf("504 came after %v, want about the 300ms timeout", took)
	}
}

func TestHeaders(t *testing.T) {
	var mu sync.Mutex
	var got *serve.Request
	h := serve.HandlerFunc(func(ctx context.Context, req *serve.Request) (*serve.Response, error) {
		mu.Lock()
		got = req
		mu.Unlock()
		resp := &serve.Response{Body: []byte("ok")}
		if string(req.Body) == "attrs" {
			resp.ContentType = "application/x-custom"
			resp.CustomAttributes = "trace=1"
		}
		return resp, nil
	})
	ts := start(t, h)

	resp := post(t, ts.URL+"/invocations", "text/csv; charset=utf-8", []byte("plain"),
		"Accept", "application/jsonlines;q=0.9, text/csv",
		"X-Amzn-SageMaker-Custom-Attributes", "c=1",
		"X-Amzn-SageMaker-Inference-Id", "id-7",
		"X-Unknown", "dropped")
	readBody(t, resp)
	mu.Lock()
	if got.ContentType != "text/csv; charset=utf-8" {
		t.Errorf("handler Content-Type = %q, want it untouched", got.ContentType)
	}
	if got.Accept != "application/jsonlines;q=0.9, text/csv" {
		t.Errorf("handler Accept = %q, want it untouched", got.Accept)
	}
	wantHdr := http.Header{
		"X-Amzn-Sagemaker-Custom-Attributes": {"c=1"},
		"X-Amzn-Sagemaker-Inference-Id":      {"id-7"},
	}
	if diff := cmp.Diff(wantHdr, got.Header); diff != "" {
		t.Errorf("handler headers (-want +got):\n%s", diff)
	}
	mu.Unlock()
	if v := resp.Header.Get(optml.HeaderCustomAttributes); v != "" {
		t.Errorf("custom attributes echoed as %q though the handler set none", v)
	}
	if ct := resp.Header.Get("Content-Type"); ct == "" {
		t.Error("response has no Content-Type")
	}

	resp = post(t, ts.URL+"/invocations", "text/csv", []byte("attrs"), "Accept", "text/csv")
	readBody(t, resp)
	if v := resp.Header.Get(optml.HeaderCustomAttributes); v != "trace=1" {
		t.Errorf("custom attributes = %q, want the handler's trace=1", v)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-custom" {
		t.Errorf("Content-Type = %q, want the handler's", ct)
	}

	// With no type from the handler, a single concrete Accept is used.
	resp = post(t, ts.URL+"/invocations", "text/csv", []byte("x"), "Accept", "text/csv")
	readBody(t, resp)
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv" {
		t.Errorf("Content-Type = %q, want text/csv from Accept", ct)
	}
}

func TestHandlerErrors(t *testing.T) {
	h := serve.HandlerFunc(func(ctx context.Context, req *serve.Request) (*serve.Response, error) {
		switch string(req.Body) {
		case "415":
			return nil, serve.Errorf(http.StatusUnsupportedMediaType, "only text/csv")
		case "panic":
			panic("boom")
		case "oom":
			return nil, fmt.Errorf("allocating: %w", serve.ErrOutOfResources)
		}
		return nil, errors.New("plain failure")
	})
	ts := start(t, h)
	tests := []struct {
		body   string
		status int
		msg    string
	}{
		{"415", 415, "only text/csv"},
		{"panic", 500, "boom"},
		{"oom", 507, "out of memory"},
		{"other", 500, "plain failure"},
	}
	for _, tt := range tests {
		resp := post(t, ts.URL+"/invocations", "text/plain", []byte(tt.body))
		body := readBody(t, resp)
		code, msg := errorJSON(t, body)
		if resp.StatusCode != tt.status || code != tt.status || !strings.Contains(msg, tt.msg) {
			t.Errorf("%s: status %d, body %q; want %d with %q", tt.body, resp.StatusCode, body, tt.status, tt.msg)
		}
		if resp.Header.Get("Content-Type") == "" {
			t.Errorf("%s: error response has no Content-Type", tt.body)
		}
	}
}

func TestRoutes(t *testing.T) {
	ts := start(t, echoLen, serving.WithExecutionParameters(optml.ExecutionParameters{BatchStrategy: "SingleRecord"}), serving.WithConcurrency(4))
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/ping", 200, "{\"status\":\"Healthy\"}\n"},
		{"GET", "/nope", 404, "{}"},
		{"GET", "/models", 404, "{}"}, // multi-model off
		{"GET", "/execution-parameters", 200, "{\"MaxConcurrentTransforms\":4,\"BatchStrategy\":\"SingleRecord\",\"MaxPayloadInMB\":6}\n"},
		{"DELETE", "/ping", 405, ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, ts.URL+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != tt.status || (tt.body != "" && body != tt.body) {
			t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.path, resp.StatusCode, body, tt.status, tt.body)
		}
	}
}

func TestPingBeforeLoad(t *testing.T) {
	loaded := make(chan struct{})
	h := &gatedLoad{gate: loaded}
	s := serving.New(h)
	ts := httptest.NewServer(s)
	defer ts.Close()
	if code := get(t, ts.URL+"/ping"); code != http.StatusServiceUnavailable {
		t.Errorf("/ping before Load = %d, want 503", code)
	}
	resp := post(t, ts.URL+"/invocations", "text/csv", []byte("1"))
	readBody(t, resp)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/invocations before Load = %d, want 503", resp.StatusCode)
	}
	done := make(chan error)
	go func() { done <- s.Load(context.Background()) }()
	if code := get(t, ts.URL+"/ping"); code != http.StatusServiceUnavailable {
		t.Errorf("/ping while loading = %d, want 503", code)
	}
	close(loaded)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if code := get(t, ts.URL+"/ping"); code != http.StatusOK {
		t.Errorf("/ping after Load = %d, want 200", code)
	}
}

type gatedLoad struct{ gate chan struct{} }

func (g *gatedLoad) Load(ctx context.Context, dir string) error {
	<-g.gate
	return nil
}

func (g *gatedLoad) Invoke(ctx context.Context, req *serve.Request) (*serve.Response, error) {
	return &serve.Response{}, nil
}

func TestStartupTimeout(t *testing.T) {
	h := &gatedLoad{gate: make(chan struct{})}
	defer close(h.gate)
	s := serving.New(h, serving.WithStartupTimeout(100*time.Millisecond))
	err := s.Load(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "start-up timeout") {
		t.Errorf("Load past the start-up timeout = %v, want a start-up timeout error", err)
	}
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	readBody(t, resp)
	return resp.StatusCode
}

// blocking is a handler whose invocations wait until released.
type blocking struct {
	started chan struct{}
	release chan struct{}
}

func newBlocking() *blocking {
	return &blocking{started: make(chan struct{}, 100), release: make(chan struct{})}
}

func (b *blocking) Load(context.Context, string) error { return nil }

func (b *blocking) Invoke(ctx context.Context, req *serve.Request) (*serve.Response, error) {
	b.started <- struct{}{}
	<-b.release
	return &serve.Response{ContentType: "text/plain", Body: []byte("done")}, nil
}

func TestQueueFullAndPingUnderLoad(t *testing.T) {
	b := newBlocking()
	s := serving.New(b, serving.WithConcurrency(2), serving.WithQueue(2))
	if err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	var wg sync.WaitGroup
	statuses := make(chan int, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := post(t, ts.URL+"/invocations", "text/plain", []byte("x"))
			readBody(t, resp)
			statuses <- resp.StatusCode
		}()
	}
	<-b.started
	<-b.started
	// Two running and two queued: the fifth gets 503 at once.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(metricsText(s), "sagekit_requests_in_flight 4\n") {
		if time.Now().After(deadline) {
			t.Fatalf("the four requests never all arrived:\n%s", metricsText(s))
		}
		time.Sleep(5 * time.Millisecond)
	}
	t0 := time.Now()
	resp := post(t, ts.URL+"/invocations", "text/plain", []byte("x"))
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "capacity") {
		t.Errorf("past the queue: %d %q, want 503 saying the server is at capacity", resp.StatusCode, body)
	}
	if took := time.Since(t0); took > time.Second {
		t.Errorf("503 past the queue took %v, want it at once", took)
	}
	// Every slot is busy: /ping still answers at once.
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		if code := get(t, ts.URL+"/ping"); code != http.StatusOK {
			t.Errorf("/ping under load = %d, want 200", code)
		}
		if took := time.Since(t0); took > 500*time.Millisecond {
			t.Errorf("/ping under load took %v, want well under the 2 s limit", took)
		}
	}
	close(b.release)
	wg.Wait()
	close(statuses)
	for code := range statuses {
		if code != http.StatusOK {
			t.Errorf("admitted request finished with %d, want 200", code)
		}
	}
}

func TestShutdownDrains(t *testing.T) {
	b := newBlocking()
	s := serving.New(b, serving.WithShutdownTimeout(10*time.Second))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	waitReady(t, url)

	result := make(chan string, 1)
	go func() {
		resp := post(t, url+"/invocations", "text/plain", []byte("x"))
		result <- fmt.Sprint(resp.StatusCode, " ", readBody(t, resp))
	}()
	<-b.started
	cancel() // SIGTERM
	deadline := time.Now().Add(5 * time.Second)
	for s.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("server still ready after its context ended")
		}
		time.Sleep(5 * time.Millisecond)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ping", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/ping while draining = %d, want 503", rec.Code)
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) before the in-flight request finished", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(b.release)
	if got := <-result; got != "200 done" {
		t.Errorf("in-flight request during shutdown = %q, want 200 done", got)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve = %v, want nil after a clean drain", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the drain")
	}
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url + "/ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s/ping never answered 200", url)
}

func TestRunReportsBindErrorAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := serving.New(echoLen, serving.WithAddr(ln.Addr().String()))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t0 := time.Now()
	err = s.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "listening on") {
		t.Fatalf("Run on a busy port = %v, want a listening error", err)
	}
	if time.Since(t0) > time.Second {
		t.Errorf("the bind error took %v to surface", time.Since(t0))
	}
}

func TestLoadFailureEndsRun(t *testing.T) {
	h := &failingLoad{}
	s := serving.New(h, serving.WithAddr("127.0.0.1:0"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Run(ctx); err == nil || !strings.Contains(err.Error(), "no model.bin") {
		t.Errorf("Run with a failing Load = %v, want the load error", err)
	}
}

type failingLoad struct{}

func (failingLoad) Load(context.Context, string) error { return errors.New("no model.bin") }
func (failingLoad) Invoke(context.Context, *serve.Request) (*serve.Response, error) {
	return nil, nil
}

func metricsText(s *serving.Server) string {
	rec := httptest.NewRecorder()
	s.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func TestMetrics(t *testing.T) {
	s := serving.New(echoLen)
	if err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	resp := post(t, ts.URL+"/invocations", "text/csv", []byte("1"))
	readBody(t, resp)
	get(t, ts.URL+"/nope")
	rec := httptest.NewRecorder()
	s.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := rec.Body.String()
	for _, want := range []string{
		`sagekit_http_requests_total{route="/invocations",code="200"} 1`,
		`sagekit_http_requests_total{route="other",code="404"} 1`,
		`sagekit_http_request_duration_seconds_count{route="/invocations"} 1`,
		"sagekit_model_ready 1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q:\n%s", want, out)
		}
	}
}

func TestLineBuffer(t *testing.T) {
	var mu sync.Mutex
	var out bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(p)
	})
	b := serving.NewLineBuffer(w, 20*time.Millisecond)
	b.Write([]byte("one\n"))
	b.Write([]byte("two\n"))
	mu.Lock()
	if out.Len() != 0 {
		t.Errorf("lines written at once (%q), want them batched", out.String())
	}
	mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := out.String()
		mu.Unlock()
		if got == "one\ntwo\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch = %q after the interval, want both lines", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
	big := bytes.Repeat([]byte("x"), 70<<10)
	b.Write(big)
	mu.Lock()
	if out.Len() != 8+len(big) {
		t.Errorf("a batch over 64 KiB was held back (%d bytes out)", out.Len())
	}
	mu.Unlock()
	b.Write([]byte("last\n"))
	b.Flush()
	mu.Lock()
	if !strings.HasSuffix(out.String(), "last\n") {
		t.Error("Flush did not write the held line")
	}
	mu.Unlock()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// sleepy answers after d, or fails when its context ends first.
func sleepy(d time.Duration) serve.Handler {
	return serve.HandlerFunc(func(ctx context.Context, req *serve.Request) (*serve.Response, error) {
		select {
		case <-time.After(d):
			return &serve.Response{Body: []byte("done")}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
}

// postAll sends n requests at once and returns their statuses, in order of
// their answers, and each answer's Retry-After.
func postAll(t *testing.T, url string, n int) (codes []int, retryAfter []string) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(url+"/invocations", "text/plain", strings.NewReader("x"))
			if err != nil {
				t.Errorf("POST: %v", err)
				return
			}
			readBody(t, resp)
			mu.Lock()
			codes = append(codes, resp.StatusCode)
			retryAfter = append(retryAfter, resp.Header.Get("Retry-After"))
			mu.Unlock()
		}()
	}
	wg.Wait()
	return codes, retryAfter
}

// TestTimeoutCountsOnlyTheHandler: three requests for one slot, each taking
// 300 ms of a 400 ms timeout. The last waits 600 ms for the slot, which is
// not its handler's time: all three are answered.
func TestTimeoutCountsOnlyTheHandler(t *testing.T) {
	ts := start(t, sleepy(300*time.Millisecond), serving.WithConcurrency(1), serving.WithTimeout(400*time.Millisecond), serving.WithQueueTimeout(5*time.Second))
	codes, _ := postAll(t, ts.URL, 3)
	if diff := cmp.Diff([]int{200, 200, 200}, codes); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

// TestQueueTimeout: a request that gets no slot within the queue timeout is
// answered 503 with Retry-After, not 504.
func TestQueueTimeout(t *testing.T) {
	ts := start(t, sleepy(500*time.Millisecond), serving.WithConcurrency(1), serving.WithQueueTimeout(100*time.Millisecond))
	codes, retry := postAll(t, ts.URL, 2)
	if diff := cmp.Diff([]int{503, 200}, codes); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if retry[0] != "1" {
		t.Errorf("503 past the queue timeout has Retry-After %q, want \"1\"", retry[0])
	}
}

// TestBodyTimeout: a body that stops arriving gets 408 at the body timeout,
// and meanwhile holds no slot: a request sent at once is served.
func TestBodyTimeout(t *testing.T) {
	s := serving.New(echoLen, serving.WithConcurrency(1), serving.WithQueue(-1), serving.WithBodyTimeout(300*time.Millisecond))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	url := "http://" + ln.Addr().String()
	waitReady(t, url)

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
	time.Sleep(50 * time.Millisecond)
	resp := post(t, url+"/invocations", "text/plain", []byte("hello"))
	if body := readBody(t, resp); resp.StatusCode != 200 || body != "5" {
		t.Errorf("request beside a stalled body = %d %q, want 200 \"5\"", resp.StatusCode, body)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	answer, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the stalled request's answer: %v", err)
	}
	if body := readBody(t, answer); answer.StatusCode != http.StatusRequestTimeout || !strings.Contains(body, "did not arrive") {
		t.Errorf("stalled body = %d %q, want 408 saying it did not arrive", answer.StatusCode, body)
	}
}

// TestBodyArrivesWhole: bodies around the size allocated up front arrive
// whole, in pieces or at once, with and without Content-Length; with it,
// the handler's buffer is exactly that long.
func TestBodyArrivesWhole(t *testing.T) {
	digest := serve.HandlerFunc(func(ctx context.Context, req *serve.Request) (*serve.Response, error) {
		return &serve.Response{Body: []byte(fmt.Sprintf("%d %d %x", len(req.Body), cap(req.Body), sha256.Sum256(req.Body)))}, nil
	})
	ts := start(t, digest)
	for _, n := range []int{1, 64<<10 - 1, 64 << 10, 64<<10 + 1, 200_000, optml.MaxPayloadBytes} {
		body := make([]byte, n)
		rand.Read(body)
		sum := fmt.Sprintf("%x", sha256.Sum256(body))
		for _, chunked := range []bool{false, true} {
			pr, pw := io.Pipe()
			go func() {
				// In pieces, as a network delivers them.
				for b := body; len(b) > 0; {
					k := min(len(b), 7919)
					pw.Write(b[:k])
					b = b[k:]
				}
				pw.Close()
			}()
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/invocations", pr)
			if !chunked {
				req.ContentLength = int64(n)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got := readBody(t, resp)
			want := fmt.Sprintf("%d %d %s", n, n, sum)
			if chunked {
				f := strings.Fields(got)
				if len(f) == 3 {
					f[1] = fmt.Sprint(n) // capacity is free without a length
				}
				got = strings.Join(f, " ")
			}
			if resp.StatusCode != http.StatusOK || got != want {
				t.Errorf("%d bytes (chunked %v): %d %q, want 200 %q", n, chunked, resp.StatusCode, got, want)
			}
		}
	}
}

// TestQueuedRequestOfAGoneClientIsDropped: a request that waited for a slot
// and whose client hung up meanwhile never reaches the handler.
func TestQueuedRequestOfAGoneClientIsDropped(t *testing.T) {
	var calls atomic.Int32
	h := serve.HandlerFunc(func(ctx context.Context, req *serve.Request) (*serve.Response, error) {
		calls.Add(1)
		time.Sleep(300 * time.Millisecond)
		return &serve.Response{Body: []byte("ok")}, nil
	})
	s := serving.New(h, serving.WithConcurrency(1))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	url := "http://" + ln.Addr().String()
	waitReady(t, url)

	first := make(chan *http.Response, 1)
	go func() { first <- post(t, url+"/invocations", "text/plain", []byte("a")) }()
	for calls.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	// Queued behind the first, then gone.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nb")
	time.Sleep(50 * time.Millisecond)
	c.Close()
	if resp := <-first; readBody(t, resp) != "ok" {
		t.Fatal("the first request was not answered")
	}
	time.Sleep(400 * time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want once: the queued request of a client that left reached it", n)
	}
}
