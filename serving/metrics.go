package serving

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sagekit/sagekit/sdk/optml"
)

// Routes as metrics label them.
const (
	routePing = iota
	routeInvocations
	routeExecutionParameters
	routeModels
	routeOther
	numRoutes
)

var routeNames = [numRoutes]string{"/ping", "/invocations", "/execution-parameters", "/models", "other"}

func routeOf(path string) int {
	switch {
	case path == optml.RoutePing:
		return routePing
	case path == optml.RouteInvocations:
		return routeInvocations
	case path == optml.RouteExecutionParameters:
		return routeExecutionParameters
	case path == optml.RouteModels || strings.HasPrefix(path, optml.RouteModels+"/"):
		return routeModels
	}
	return routeOther
}

// latencyBuckets are the histogram's upper bounds in seconds.
var latencyBuckets = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// metrics are lock-free counters, written as Prometheus text by writeTo.
type metrics struct {
	requests [numRoutes][600]atomic.Uint64 // by route and status code
	buckets  [numRoutes][len(latencyBuckets) + 1]atomic.Uint64
	sumNanos [numRoutes]atomic.Uint64
	rejected atomic.Uint64
	timeouts atomic.Uint64
}

func (m *metrics) observe(route, status int, d time.Duration) {
	if status < 0 || status >= 600 {
		status = 0
	}
	m.requests[route][status].Add(1)
	sec := d.Seconds()
	i := 0
	for i < len(latencyBuckets) && sec > latencyBuckets[i] {
		i++
	}
	m.buckets[route][i].Add(1)
	m.sumNanos[route].Add(uint64(d))
}

// recorder notes the status and size of a response for the access log and
// metrics; recorders are pooled so a request costs no allocation here.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

var recorderPool = sync.Pool{New: func() any { return new(recorder) }}

func getRecorder(w http.ResponseWriter) *recorder {
	rw := recorderPool.Get().(*recorder)
	rw.ResponseWriter, rw.status, rw.bytes = w, 0, 0
	return rw
}

func putRecorder(rw *recorder) {
	rw.ResponseWriter = nil
	recorderPool.Put(rw)
}

func (rw *recorder) WriteHeader(status int) {
	if rw.status == 0 {
		rw.status = status
	}
	rw.ResponseWriter.WriteHeader(status)
}

func (rw *recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	n, err := rw.ResponseWriter.Write(b)
	rw.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// observe writes the access-log line and updates the metrics.
func (s *Server) observe(r *http.Request, rw *recorder, route int, start time.Time) {
	now := time.Now()
	d := now.Sub(start)
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	s.metrics.observe(route, status, d)
	if s.o.accessWriter != nil {
		s.writeAccessLine(r, status, rw.bytes, d, now)
	} else if s.o.accessLog != nil {
		logAccess(s.o.accessLog, r, status, rw.bytes, d, now)
	}
}

// MetricsHandler serves the Prometheus text exposition of the server's
// counters (and the handler's, when it has a WriteMetrics(io.Writer) method).
func (s *Server) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		bw := bufio.NewWriter(w)
		s.writeMetrics(bw)
		bw.Flush()
	})
}

func (s *Server) writeMetrics(w io.Writer) {
	m := &s.metrics
	fmt.Fprintln(w, "# HELP sagekit_http_requests_total HTTP requests answered, by route and status code.")
	fmt.Fprintln(w, "# TYPE sagekit_http_requests_total counter")
	for r := 0; r < numRoutes; r++ {
		for code := range m.requests[r] {
			if n := m.requests[r][code].Load(); n > 0 {
				fmt.Fprintf(w, "sagekit_http_requests_total{route=%q,code=\"%d\"} %d\n", routeNames[r], code, n)
			}
		}
	}
	fmt.Fprintln(w, "# HELP sagekit_http_request_duration_seconds Time to answer, by route.")
	fmt.Fprintln(w, "# TYPE sagekit_http_request_duration_seconds histogram")
	for r := 0; r < numRoutes; r++ {
		var cum uint64
		for i := range m.buckets[r] {
			cum += m.buckets[r][i].Load()
			le := "+Inf"
			if i < len(latencyBuckets) {
				le = fmt.Sprint(latencyBuckets[i])
			}
			fmt.Fprintf(w, "sagekit_http_request_duration_seconds_bucket{route=%q,le=%q} %d\n", routeNames[r], le, cum)
		}
		fmt.Fprintf(w, "sagekit_http_request_duration_seconds_sum{route=%q} %g\n", routeNames[r], float64(m.sumNanos[r].Load())/1e9)
		fmt.Fprintf(w, "sagekit_http_request_duration_seconds_count{route=%q} %d\n", routeNames[r], cum)
	}
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", name, help, name, name, formatFloat(v))
	}
	counter := func(name, help string, v uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	gauge("sagekit_requests_in_flight", "Inference requests running or queued.", float64(s.admitted.Load()))
	gauge("sagekit_request_slots", "Inference requests that may run at once.", float64(cap(s.slots)))
	ready := 0.0
	if s.Ready() {
		ready = 1
	}
	gauge("sagekit_model_ready", "1 when the model is loaded and /ping answers 200.", ready)
	counter("sagekit_requests_rejected_total", "Requests answered 503 because the queue was full or no slot came free within the queue timeout.", m.rejected.Load())
	counter("sagekit_requests_timed_out_total", "Requests answered 504 at the request timeout.", m.timeouts.Load())
	if mw, ok := s.h.(interface{ WriteMetrics(io.Writer) }); ok {
		mw.WriteMetrics(w)
	}
}

func formatFloat(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprint(v)
}

func contextWithTimeout(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d)
}
