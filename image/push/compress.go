package push

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// compressOnce wraps an image whose layers are stored uncompressed (as the
// Docker Engine's 'docker save' gives them) so that each layer is
// compressed once, into a file under dir, and its digest taken on the way.
// Left to itself go-containerregistry compresses such a layer twice: once
// for the digest, once for the upload. The config bytes are kept as they
// are, so the config digest stays the engine's image ID.
func compressOnce(src v1.Image, dir string) v1.Image {
	img, _ := partial.CompressedToImage(&onceImage{src: src, dir: dir})
	return img
}

type onceImage struct {
	src v1.Image
	dir string

	once     sync.Once
	err      error
	config   []byte
	manifest []byte
	layers   map[v1.Hash]*fileLayer
}

var _ partial.CompressedImageCore = (*onceImage)(nil)

func (i *onceImage) prepare() error {
	i.once.Do(func() { i.err = i.compress() })
	return i.err
}

func (i *onceImage) compress() error {
	cfg, err := i.src.RawConfigFile()
	if err != nil {
		return err
	}
	layers, err := i.src.Layers()
	if err != nil {
		return err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.DockerManifestSchema2,
		Config:        v1.Descriptor{MediaType: types.DockerConfigJSON, Size: int64(len(cfg)), Digest: sha256Hash(sha256Sum(cfg))},
	}
	i.layers = map[v1.Hash]*fileLayer{}
	for n, l := range layers {
		fl, err := compressLayer(l, filepath.Join(i.dir, fmt.Sprintf("layer-%03d.tar.gz", n)))
		if err != nil {
			return fmt.Errorf("compressing layer %d: %w", n+1, err)
		}
		i.layers[fl.digest] = fl
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.DockerLayer, Size: fl.size, Digest: fl.digest})
	}
	i.config = cfg
	i.manifest, err = json.Marshal(m)
	return err
}

func compressLayer(l v1.Layer, path string) (*fileLayer, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	cw := &countWriter{}
	zw, err := gzip.NewWriterLevel(io.MultiWriter(f, h, cw), gzip.BestSpeed)
	if err != nil {
		f.Close()
		return nil, err
	}
	_, err = io.Copy(zw, rc)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return &fileLayer{path: path, digest: sha256Hash(h), size: cw.n}, nil
}

func (i *onceImage) RawConfigFile() ([]byte, error) {
	if err := i.prepare(); err != nil {
		return nil, err
	}
	return i.config, nil
}

func (i *onceImage) MediaType() (types.MediaType, error) { return types.DockerManifestSchema2, nil }

func (i *onceImage) RawManifest() ([]byte, error) {
	if err := i.prepare(); err != nil {
		return nil, err
	}
	return i.manifest, nil
}

func (i *onceImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if err := i.prepare(); err != nil {
		return nil, err
	}
	if l, ok := i.layers[h]; ok {
		return l, nil
	}
	if h == sha256Hash(sha256Sum(i.config)) {
		return &configLayer{raw: i.config, digest: h}, nil
	}
	return nil, fmt.Errorf("no layer %s in the image", h)
}

type fileLayer struct {
	path   string
	digest v1.Hash
	size   int64
}

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }

type configLayer struct {
	raw    []byte
	digest v1.Hash
}

func (l *configLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *configLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.raw)), nil
}
func (l *configLayer) Size() (int64, error)                { return int64(len(l.raw)), nil }
func (l *configLayer) MediaType() (types.MediaType, error) { return types.DockerConfigJSON, nil }

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

func sha256Sum(b []byte) hash.Hash {
	h := sha256.New()
	h.Write(b)
	return h
}

func sha256Hash(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}
