package serving_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/sagekit/sagekit/sdk/serve"
	"github.com/sagekit/sagekit/serving"
)

// discardWriter is a reusable ResponseWriter, so the benchmark counts the
// stack's allocations only.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

var noop = serve.HandlerFunc(func(ctx context.Context, req *serve.Request) (*serve.Response, error) {
	return &serve.Response{ContentType: "text/csv", Body: req.Body}, nil
})

// BenchmarkInvocations is the per-request cost of the front around a no-op
// Go handler, network excluded.
func BenchmarkInvocations(b *testing.B) {
	s := serving.New(noop)
	if err := s.Load(context.Background()); err != nil {
		b.Fatal(err)
	}
	body := []byte("5.1,3.5,1.4,0.2\n")
	br := bytes.NewReader(body)
	req, _ := http.NewRequest(http.MethodPost, "/invocations", io.NopCloser(br))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "text/csv")
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		br.Reset(body)
		clear(w.h)
		s.ServeHTTP(w, req)
	}
}

func BenchmarkPing(b *testing.B) {
	s := serving.New(noop)
	if err := s.Load(context.Background()); err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "/ping", nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		s.ServeHTTP(w, req)
	}
}

func BenchmarkInvocationsAccessLog(b *testing.B) {
	lb := serving.NewLineBuffer(io.Discard, 0)
	log := slog.New(slog.NewJSONHandler(lb, nil))
	s := serving.New(noop, serving.WithAccessLog(log))
	if err := s.Load(context.Background()); err != nil {
		b.Fatal(err)
	}
	body := []byte("5.1,3.5,1.4,0.2\n")
	br := bytes.NewReader(body)
	req, _ := http.NewRequest(http.MethodPost, "/invocations", io.NopCloser(br))
	req.ContentLength = int64(len(body))
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("Content-Type", "text/csv")
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		br.Reset(body)
		clear(w.h)
		s.ServeHTTP(w, req)
	}
}

func BenchmarkInvocationsAccessLogWriter(b *testing.B) {
	s := serving.New(noop, serving.WithAccessLogWriter(serving.NewLineBuffer(io.Discard, 0)))
	if err := s.Load(context.Background()); err != nil {
		b.Fatal(err)
	}
	body := []byte("5.1,3.5,1.4,0.2\n")
	br := bytes.NewReader(body)
	req, _ := http.NewRequest(http.MethodPost, "/invocations", io.NopCloser(br))
	req.ContentLength = int64(len(body))
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("Content-Type", "text/csv")
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		br.Reset(body)
		clear(w.h)
		s.ServeHTTP(w, req)
	}
}
