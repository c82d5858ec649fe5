package testenv

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"sync"
	"testing"
)

// bombMember is one gzip member of 4 MiB of zeros (about 4 KB).
var bombMember = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(make([]byte, 4<<20))
	zw.Close()
	return buf.Bytes()
})

// GzipBomb is a tar.gz of about 1 MB holding one file, name, of 1 GiB of
// zeros. It is built of gzip members (one for the tar header, then members
// of 4 MiB of zeros, whose trailing zeros end the tar), so making it costs
// one 4 MiB compression.
func GzipBomb(t testing.TB, name string) []byte {
	t.Helper()
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 1 << 30, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(hdr.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	for range 1<<30/(4<<20) + 1 {
		out.Write(bombMember())
	}
	return out.Bytes()
}
