package testenv

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

// TarGz is a gzip-compressed tar of files (name to content, mode 0644),
// in name order: a sourcedir.tar.gz as the Python SDK uploads one.
func TarGz(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		body := files[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// S3 is a local server speaking S3's GetObject over path-style URLs, for
// code given its endpoint (AWS_ENDPOINT_URL_S3 and the like). It checks no
// signature (runtime/s3get's tests do); it records each request's
// Authorization header.
type S3 struct {
	URL string

	mu   sync.Mutex
	auth []string
}

// NewS3 serves objects, keyed "/bucket/key", until t ends; any other key
// gets S3's 404 NoSuchKey.
func NewS3(t testing.TB, objects map[string][]byte) *S3 {
	t.Helper()
	s := &S3{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		if obj, ok := objects[r.URL.Path]; ok && r.Method == http.MethodGet {
			w.Write(obj)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Authorizations returns the Authorization header of every request so far.
func (s *S3) Authorizations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.auth)
}
