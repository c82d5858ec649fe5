package load

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const wrkOutput = `Running 2s test @ http://127.0.0.1:8080/invocations
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   210.55us  412.01us   12.34ms   95.12%
    Req/Sec    38.93k     2.01k   42.10k    71.00%
  Latency Distribution
     50%  150.00us
     75%  190.00us
     90%  250.00us
     99%    2.39ms
  77852 requests in 2.00s, 8.02MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec:  38926.10
Transfer/sec:      4.01MB
`

func TestParseWrk(t *testing.T) {
	r, err := ParseWrk([]byte(wrkOutput))
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Requests: 77852, Non2xx: 5, SocketErrors: 3, RPS: 38926.10,
		P50: 150 * time.Microsecond, P90: 250 * time.Microsecond, P99: 2390 * time.Microsecond, Max: 12340 * time.Microsecond}
	if r != want {
		t.Errorf("ParseWrk = %+v, want %+v", r, want)
	}
	if _, err := ParseWrk([]byte("unable to connect")); err == nil {
		t.Error("ParseWrk(garbage) succeeded, want an error")
	}
}

func TestLoops(t *testing.T) {
	var calls, closes atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if calls.Add(1)%7 == 0 {
			closes.Add(1)
			w.Header().Set("Connection", "close")
		}
		if r.URL.Path == "/bad" {
			w.WriteHeader(http.StatusTeapot)
		}
		w.Write([]byte(strings.Repeat("x", 5000)))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	ok := Target{Addr: addr, Path: "/invocations", ContentType: "text/csv", Body: []byte("1,2\n")}

	if r := Sequential(ctx, ok, 20); r.Requests != 20 || r.Errors() != 0 || r.Max == 0 {
		t.Errorf("Sequential = %+v, want 20 requests, no errors", r)
	}
	if r := OpenLoop(ctx, ok, 200, 200*time.Millisecond, 1, time.Second); r.Requests != 40 || r.Errors() != 0 {
		t.Errorf("OpenLoop = %+v, want 40 requests, no errors", r)
	}
	if r := ClosedLoop(ctx, Target{Addr: addr, Path: "/bad"}, 1, 100*time.Millisecond); r.Requests == 0 || r.Non2xx != r.Requests {
		t.Errorf("ClosedLoop(/bad) = %+v, want every request non-2xx", r)
	}
	status, body, err := Get(ok)
	if err != nil || status != 200 || len(body) != 5000 {
		t.Errorf("Get = %d, %d bytes, %v; want 200, 5000 bytes", status, len(body), err)
	}
	if closes.Load() == 0 {
		t.Error("the server never closed a connection: the reconnect path went untested")
	}
}
