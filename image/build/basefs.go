package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/internal/owner"
)

// baseFS answers which paths exist in a base image, and as what, without
// reading its layers: it asks the Engine about a container created (never
// started) from the image. Answers are kept per image ID under the cache
// directory, since an image ID names fixed content.
type baseFS struct {
	dc        *client.Client
	image     string // image ID
	cacheFile string // "" for no cache

	mu      sync.Mutex
	known   map[string]uint32 // path -> os.FileMode; absent paths hold notExist
	dirty   bool
	created string // container ID
}

const notExist = ^uint32(0)

func newBaseFS(dc *client.Client, imageID, cacheDir string) *baseFS {
	b := &baseFS{dc: dc, image: imageID, known: map[string]uint32{}}
	if cacheDir != "" {
		b.cacheFile = filepath.Join(cacheDir, "base-paths", strings.TrimPrefix(imageID, "sha256:")+".json")
		_ = readJSON(b.cacheFile, &b.known)
	}
	return b
}

func (b *baseFS) stat(ctx context.Context, p string) (os.FileMode, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if m, ok := b.known[p]; ok {
		if m == notExist {
			return 0, false, nil
		}
		return os.FileMode(m), true, nil
	}
	if b.created == "" {
		// Labelled with this process, so that a build killed before close
		// has its container removed by the next command; and that command
		// is this one for builds killed before.
		_, _ = owner.Reap(ctx, b.dc)
		c, err := b.dc.ContainerCreate(ctx, client.ContainerCreateOptions{
			Config: &container.Config{Image: b.image, Entrypoint: []string{"/sagekit-never-started"}, Labels: owner.Labels()},
		})
		if err != nil {
			return 0, false, fmt.Errorf("reading the base image's file system: %w", err)
		}
		b.created = c.ID
	}
	res, err := b.dc.ContainerStatPath(ctx, b.created, client.ContainerStatPathOptions{Path: p})
	b.dirty = true
	if err != nil {
		if isNotFound(err) {
			b.known[p] = notExist
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("reading %s in the base image: %w", p, err)
	}
	m := res.Stat.Mode
	b.known[p] = uint32(m)
	return m, true, nil
}

// close removes the container and saves what was learnt.
func (b *baseFS) close(ctx context.Context) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.created != "" {
		_, _ = b.dc.ContainerRemove(context.WithoutCancel(ctx), b.created, client.ContainerRemoveOptions{Force: true})
		b.created = ""
	}
	if b.dirty && b.cacheFile != "" {
		_ = writeFileAtomic(b.cacheFile, func(w io.Writer) error { return json.NewEncoder(w).Encode(b.known) })
	}
}

// isNotFound reports an Engine 404, which the client marks with a
// NotFound method (containerd's errdefs).
func isNotFound(err error) bool {
	var nf interface{ NotFound() }
	return errors.As(err, &nf) || strings.Contains(err.Error(), "No such container:path") || strings.Contains(err.Error(), "Could not find the file") || strings.Contains(err.Error(), "404 Not Found")
}
