package build

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func tarLayer(t *testing.T, entries map[string]time.Time) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range []string{"old", "usr/", "new"} {
		mt, ok := entries[name]
		if !ok {
			continue
		}
		hdr := &tar.Header{Name: name, Mode: 0o644, ModTime: mt, Typeflag: tar.TypeReg, Size: 1}
		if name[len(name)-1] == '/' {
			hdr.Typeflag, hdr.Size, hdr.Mode = tar.TypeDir, 0, 0o755
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			tw.Write([]byte("x"))
		}
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestClampImage(t *testing.T) {
	epoch := time.Unix(1700000000, 0).UTC()
	early, late := epoch.Add(-time.Hour), epoch.Add(time.Hour)
	kept := tarLayer(t, map[string]time.Time{"old": early})
	changed := tarLayer(t, map[string]time.Time{"old": early, "usr/": late, "new": late})
	img, err := mutate.AppendLayers(empty.Image, kept, changed)
	if err != nil {
		t.Fatal(err)
	}
	out, err := clampImage(img, epoch)
	if err != nil {
		t.Fatalf("clampImage: %v", err)
	}
	cf, err := out.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !cf.Created.Time.Equal(epoch) {
		t.Errorf("created = %v, want %v", cf.Created.Time, epoch)
	}
	layers, err := out.Layers()
	if err != nil {
		t.Fatal(err)
	}
	d0, _ := layers[0].DiffID()
	k0, _ := kept.DiffID()
	if d0 != k0 {
		t.Errorf("a layer with nothing newer than the epoch changed: %s -> %s", k0, d0)
	}
	if len(cf.RootFS.DiffIDs) != 2 || cf.RootFS.DiffIDs[0] != k0 {
		t.Errorf("config diff_ids = %v, want the kept layer first", cf.RootFS.DiffIDs)
	}
	rc, err := layers[1].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	want := map[string]time.Time{"old": early, "usr/": epoch, "new": epoch}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !hdr.ModTime.Equal(want[hdr.Name]) {
			t.Errorf("%s mtime = %v, want %v", hdr.Name, hdr.ModTime, want[hdr.Name])
		}
		delete(want, hdr.Name)
	}
	if len(want) != 0 {
		t.Errorf("entries missing after clamping: %v", want)
	}
	// Clamping twice gives the same image.
	again, err := clampImage(out, epoch)
	if err != nil {
		t.Fatal(err)
	}
	h1, _ := out.Digest()
	h2, _ := again.Digest()
	if h1 != h2 {
		t.Errorf("clampImage is not idempotent: %s then %s", h1, h2)
	}
}

func TestTranslate(t *testing.T) {
	tests := []struct{ in, want string }{
		{"failed to solve: unknown cache exporter: \"local\"", "cannot export cache"},
		{"process \"/bin/sh -c true\" did not complete successfully: exec format error", "no emulation is installed"},
		{"failed to resolve source metadata for docker.io/library/x:1: pull access denied", "none can be reached"},
		{"failed to solve with frontend dockerfile.v0: failed to create LLB definition: dockerfile parse error line 3: unknown instruction: ECHO", "Dockerfile:3: unknown instruction: ECHO"},
		{"something else", "something else"},
	}
	for _, tt := range tests {
		got := translate(errString(tt.in), "Dockerfile", "linux/arm64").Error()
		if !bytes.Contains([]byte(got), []byte(tt.want)) {
			t.Errorf("translate(%q) = %q, want it to contain %q", tt.in, got, tt.want)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }
