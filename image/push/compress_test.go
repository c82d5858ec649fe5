package push

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func TestCompressOnce(t *testing.T) {
	src, err := random.Image(4096, 3)
	if err != nil {
		t.Fatal(err)
	}
	img := compressOnce(src, t.TempDir())
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate.Image: %v", err)
	}
	want, _ := src.RawConfigFile()
	got, err := img.RawConfigFile()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("config bytes changed (err %v)", err)
	}
	srcLayers, _ := src.Layers()
	layers, err := img.Layers()
	if err != nil || len(layers) != len(srcLayers) {
		t.Fatalf("Layers() = %d layers, %v; want %d", len(layers), err, len(srcLayers))
	}
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		io.Copy(h, rc)
		rc.Close()
		diffID, _ := srcLayers[i].DiffID()
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != diffID.String() {
			t.Errorf("layer %d uncompresses to %s, want the source's %s", i, got, diffID)
		}
	}
}
