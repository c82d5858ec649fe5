package push_test

import (
	"archive/tar"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/sagekit/sagekit/image/ecr/ecrtest"
	"github.com/sagekit/sagekit/image/push"
)

const refName = "org.opencontainers.image.ref.name"

func writeLayout(t *testing.T) (string, layout.Path) {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	return dir, p
}

func TestOpenLayout(t *testing.T) {
	t.Parallel()
	a, b := randomImage(t, 1), randomImage(t, 1)
	dir, p := writeLayout(t)
	if err := p.AppendImage(a, layout.WithAnnotations(map[string]string{refName: "v1"})); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(b, layout.WithAnnotations(map[string]string{refName: "example.com/model:v2"})); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		src  string
		want v1.Hash
	}{
		{"oci:" + dir + ":v1", mustDigest(t, a)},
		{"oci:" + dir + ":v2", mustDigest(t, b)},
		{"oci:" + dir + "@" + mustDigest(t, b).String(), mustDigest(t, b)},
	}
	for _, tt := range tests {
		src, err := push.Open(context.Background(), tt.src, nil)
		if err != nil {
			t.Fatalf("Open(%q) error = %v", tt.src, err)
		}
		if src.Image == nil || mustDigest(t, src.Image) != tt.want {
			t.Errorf("Open(%q) = %+v, want image %s", tt.src, src, tt.want)
		}
	}
	// Two untagged-platform images and no selector: the user must choose.
	if _, err := push.Open(context.Background(), dir, nil); err == nil || !strings.Contains(err.Error(), "choose one") {
		t.Errorf("Open(%q) with two images error = %v, want a request to choose", dir, err)
	}
	if _, err := push.Open(context.Background(), "oci:"+dir+":v9", nil); err == nil || !strings.Contains(err.Error(), "v1") {
		t.Errorf("Open(:v9) error = %v, want the entries listed", err)
	}
}

// multiPlatformLayout writes what a multi-platform build exports: index.json
// listing one image index of two platforms.
func multiPlatformLayout(t *testing.T) (string, v1.ImageIndex) {
	t.Helper()
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: randomImage(t, 1), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: randomImage(t, 1), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	dir, p := writeLayout(t)
	if err := p.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	return dir, idx
}

func TestOpenMultiPlatformLayoutPushesIndex(t *testing.T) {
	t.Parallel()
	dir, idx := multiPlatformLayout(t)
	src, err := push.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatalf("Open(%q) error = %v", dir, err)
	}
	if src.Index == nil || mustDigest(t, src.Index) != mustDigest(t, idx) {
		t.Fatalf("Open(%q) = %+v, want the index", dir, src)
	}
	reg := ecrtest.NewRegistry(t, "", "")
	res, err := src.Push(context.Background(), reg.Host+"/model:multi", push.WithKeychain(anonymous))
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Index(mustRef(t, reg.Host+"/model:multi"))
	if err != nil || mustDigest(t, got) != res.Digest || res.Digest != mustDigest(t, idx) {
		t.Errorf("pushed %s, read back %v (err %v)", res.Digest, got, err)
	}
}

func TestOpenDockerTarball(t *testing.T) {
	t.Parallel()
	img := randomImage(t, 2)
	path := filepath.Join(t.TempDir(), "image.tar")
	tag, _ := name.NewTag("example.com/model:v1")
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatal(err)
	}
	src, err := push.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("Open(%q) error = %v", path, err)
	}
	if src.Kind != "tarball" || src.Image == nil {
		t.Fatalf("Open(%q) = %+v, want a tarball image", path, src)
	}
	want, _ := img.ConfigName()
	if got, _ := src.Image.ConfigName(); got != want {
		t.Errorf("config digest = %s, want %s", got, want)
	}
	reg := ecrtest.NewRegistry(t, "", "")
	res, err := src.Push(context.Background(), reg.Host+"/model:v1", push.WithKeychain(anonymous))
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(mustRef(t, reg.Host+"/model:v1"))
	if err != nil || desc.Digest != res.Digest {
		t.Errorf("pushed %s, read back %v (err %v)", res.Digest, desc, err)
	}
}

func TestOpenOCIArchive(t *testing.T) {
	t.Parallel()
	dir, idx := multiPlatformLayout(t)
	path := filepath.Join(t.TempDir(), "image.tar")
	tarDir(t, dir, path)
	src, err := push.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("Open(%q) error = %v", path, err)
	}
	defer src.Close()
	if src.Kind != "oci-archive" || src.Index == nil || mustDigest(t, src.Index) != mustDigest(t, idx) {
		t.Errorf("Open(%q) = %+v, want the archive's index", path, src)
	}
}

// TestOpenOCIArchiveRefusesEscapes: an OCI archive is unpacked within
// its directory; links that lead out of it are refused by name.
func TestOpenOCIArchiveRefusesEscapes(t *testing.T) {
	t.Parallel()
	dir, _ := multiPlatformLayout(t)
	for _, l := range [][2]string{{"a", "."}, {"b", "a/.."}} {
		if err := os.Symlink(l[1], filepath.Join(dir, l[0])); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "image.tar")
	tarDir(t, dir, path)
	_, err := push.Open(context.Background(), path, nil)
	if err == nil || !strings.Contains(err.Error(), `entry "b"`) {
		t.Errorf("Open(%q) = %v, want the link b refused", path, err)
	}
}

func TestOpenMissing(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"./nope.tar", "oci:" + t.TempDir()} {
		if _, err := push.Open(context.Background(), src, nil); err == nil {
			t.Errorf("Open(%q) succeeded", src)
		}
	}
}

func tarDir(t *testing.T, dir, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		link, _ := os.Readlink(p)
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = io.Copy(tw, in)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}
