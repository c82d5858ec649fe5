package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// fileLayer is an uncompressed layer tar on disk whose diff ID is known,
// so nothing reads it until the Engine needs its bytes.
type fileLayer struct {
	v1.Layer
	size int64
}

func (l *fileLayer) UncompressedSize() (int64, error) { return l.size, nil }

type uncompressedFile struct {
	open   func() (io.ReadCloser, error)
	diffID v1.Hash
}

func (u *uncompressedFile) DiffID() (v1.Hash, error)             { return u.diffID, nil }
func (u *uncompressedFile) Uncompressed() (io.ReadCloser, error) { return u.open() }
func (u *uncompressedFile) MediaType() (types.MediaType, error)  { return types.DockerLayer, nil }

func newFileLayer(p string, diffID v1.Hash, size int64) (v1.Layer, error) {
	l, err := partial.UncompressedToLayer(&uncompressedFile{open: func() (io.ReadCloser, error) { return os.Open(p) }, diffID: diffID})
	if err != nil {
		return nil, err
	}
	return &fileLayer{Layer: l, size: size}, nil
}

func newBytesLayer(b []byte) (v1.Layer, error) {
	sum := sha256.Sum256(b)
	u := &uncompressedFile{
		open:   func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(string(b))), nil },
		diffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])},
	}
	l, err := partial.UncompressedToLayer(u)
	if err != nil {
		return nil, err
	}
	return &fileLayer{Layer: l, size: int64(len(b))}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func cloneConfig(c v1.Config) v1.Config {
	raw, _ := json.Marshal(c)
	var out v1.Config
	_ = json.Unmarshal(raw, &out)
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
