package push

import (
	"context"
	"errors"
	"fmt"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/sagekit/sagekit/internal/extract"
)

// Source is an image or an index read from where it was built. Exactly one
// of Image and Index is set.
type Source struct {
	Image v1.Image
	Index v1.ImageIndex
	// Kind says where it came from: "docker", "oci-layout", "tarball" or
	// "oci-archive".
	Kind string

	cleanup func() error
}

// Close removes whatever Open unpacked.
func (s *Source) Close() error {
	if s.cleanup == nil {
		return nil
	}
	return s.cleanup()
}

// Push pushes the source's image or index to dst.
func (s *Source) Push(ctx context.Context, dst string, opts ...Option) (*Result, error) {
	if s.Index != nil {
		return Index(ctx, s.Index, dst, opts...)
	}
	return Image(ctx, s.Image, dst, opts...)
}

// DockerClient returns a client of the local Docker Engine; Open calls it
// only for Docker sources.
type DockerClient func() (daemon.Client, error)

// The annotations that name an entry of an OCI layout's index.json.
const (
	annotationRefName    = "org.opencontainers.image.ref.name"
	annotationContainerd = "io.containerd.image.name"
)

// Open reads the source src:
//
//   - oci:DIR, oci:DIR:TAG or oci:DIR@sha256:... - an OCI image layout;
//   - DIR holding index.json - the same, without the prefix;
//   - FILE.tar (or any existing file) - a docker save tarball, or an OCI
//     archive (a tarred OCI layout), told apart by their contents;
//   - docker:REF or anything else - an image in the local Docker Engine.
//
// A layout whose entry is an index (or whose entries all name platforms)
// gives an Index, so a multi-platform build is pushed as one.
func Open(ctx context.Context, src string, docker DockerClient) (*Source, error) {
	if rest, ok := strings.CutPrefix(src, "oci:"); ok {
		dir, sel := splitLayoutRef(rest)
		return openLayout(dir, sel)
	}
	if rest, ok := strings.CutPrefix(src, "docker:"); ok {
		return openDaemon(ctx, rest, docker)
	}
	if fi, err := os.Stat(src); err == nil {
		if fi.IsDir() {
			if _, err := os.Stat(filepath.Join(src, "index.json")); err != nil {
				return nil, fmt.Errorf("reading source %q: the directory holds no index.json, so it is not an OCI image layout", src)
			}
			return openLayout(src, "")
		}
		return openTarball(ctx, src)
	}
	if strings.HasSuffix(src, ".tar") || strings.HasPrefix(src, "./") || strings.HasPrefix(src, "/") {
		return nil, fmt.Errorf("reading source %q: no such file or directory", src)
	}
	return openDaemon(ctx, src, docker)
}

// splitLayoutRef splits "DIR:TAG" and "DIR@sha256:..." into the directory
// and the selector ("" when there is none).
func splitLayoutRef(s string) (dir, sel string) {
	if i := strings.LastIndex(s, "@sha256:"); i >= 0 {
		return s[:i], s[i+1:]
	}
	if i := strings.LastIndex(s, ":"); i >= 0 && !strings.ContainsAny(s[i+1:], `/\`) {
		if _, err := os.Stat(s); err != nil {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func openLayout(dir, sel string) (*Source, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %q: %w", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %q: %w", dir, err)
	}
	src, err := selectFromIndex(idx, sel)
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %q: %w", dir, err)
	}
	src.Kind = "oci-layout"
	return src, nil
}

// selectFromIndex picks the entry sel (a tag or sha256:digest) of a
// layout's index, or its only entry when sel is empty.
func selectFromIndex(idx v1.ImageIndex, sel string) (*Source, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var match []v1.Descriptor
	for _, d := range m.Manifests {
		if sel == "" || d.Digest.String() == sel || refMatches(d.Annotations[annotationRefName], sel) ||
			refMatches(d.Annotations[annotationContainerd], sel) {
			match = append(match, d)
		}
	}
	switch {
	case len(match) == 0 && strings.HasPrefix(sel, "sha256:"):
		// Not listed in index.json: perhaps a platform of a listed index.
		h, err := v1.NewHash(sel)
		if err != nil {
			return nil, err
		}
		if child, err := idx.ImageIndex(h); err == nil {
			if _, err := child.IndexManifest(); err == nil {
				return &Source{Index: child}, nil
			}
		}
		img, err := idx.Image(h)
		if err != nil {
			return nil, fmt.Errorf("no manifest %s in the layout", sel)
		}
		return &Source{Image: img}, nil
	case len(match) == 0 && sel != "":
		return nil, fmt.Errorf("no entry tagged %q (annotation %s); entries: %s", sel, annotationRefName, describe(m.Manifests))
	case len(match) == 0:
		return nil, errors.New("the layout lists no images")
	case len(match) == 1:
		return fromDescriptor(idx, match[0])
	}
	for _, d := range match {
		if !d.MediaType.IsImage() || d.Platform == nil {
			return nil, fmt.Errorf("the layout lists %d images; choose one with oci:DIR:TAG or oci:DIR@sha256:DIGEST: %s", len(match), describe(match))
		}
	}
	// Every entry is an image for one platform: index.json is the index.
	return &Source{Index: idx}, nil
}

func refMatches(ann, sel string) bool {
	return ann != "" && (ann == sel || strings.HasSuffix(ann, ":"+sel))
}

func fromDescriptor(idx v1.ImageIndex, d v1.Descriptor) (*Source, error) {
	switch {
	case d.MediaType.IsIndex():
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, err
		}
		return &Source{Index: child}, nil
	case d.MediaType.IsImage():
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		return &Source{Image: img}, nil
	}
	return nil, fmt.Errorf("entry %s has media type %q, neither an image nor an index", d.Digest, d.MediaType)
}

func describe(ds []v1.Descriptor) string {
	var parts []string
	for _, d := range ds {
		s := d.Digest.String()
		if n := d.Annotations[annotationRefName]; n != "" {
			s = n + " (" + s + ")"
		}
		if d.Platform != nil {
			s += " " + d.Platform.String()
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func openTarball(ctx context.Context, path string) (*Source, error) {
	names, err := tarNames(path)
	if err != nil {
		return nil, fmt.Errorf("reading tarball %q: %w", path, err)
	}
	if names["index.json"] && names["oci-layout"] {
		dir, err := os.MkdirTemp("", "sagekit-oci-")
		if err != nil {
			return nil, err
		}
		cleanup := func() error { return os.RemoveAll(dir) }
		if err := extract.File(ctx, path, dir); err != nil {
			cleanup()
			return nil, fmt.Errorf("unpacking OCI archive %q: %w", path, err)
		}
		src, err := openLayout(dir, "")
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("reading OCI archive %q: %w", path, err)
		}
		src.Kind, src.cleanup = "oci-archive", cleanup
		return src, nil
	}
	if !names["manifest.json"] {
		return nil, fmt.Errorf("reading tarball %q: it is neither a docker save tarball (manifest.json) nor an OCI archive (index.json, oci-layout)", path)
	}
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		return nil, fmt.Errorf("reading tarball %q: %w", path, err)
	}
	return &Source{Image: img, Kind: "tarball"}, nil
}

func tarNames(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names := map[string]bool{}
	tr := extract.NewReader(f)
	defer tr.Close()
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return nil, err
		}
		names[strings.TrimPrefix(h.Name, "./")] = true
	}
}

func openDaemon(ctx context.Context, ref string, docker DockerClient) (*Source, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("reading source %q: not a file, an OCI layout (oci:DIR) or an image name: %w", ref, err)
	}
	if docker == nil {
		return nil, fmt.Errorf("reading image %q from Docker: no Docker Engine client", ref)
	}
	c, err := docker()
	if err != nil {
		return nil, fmt.Errorf("connecting to the Docker Engine: %w; start it with `sudo systemctl start docker` (or set DOCKER_HOST)", err)
	}
	img, err := daemon.Image(r, daemon.WithClient(c), daemon.WithContext(ctx), daemon.WithFileBufferedOpener())
	if err != nil && (cerrdefs.IsNotFound(err) || strings.Contains(err.Error(), "No such image")) {
		return nil, fmt.Errorf("image %s is not in the Docker Engine: build it with `sagekit build -t %s DIR` (docker image ls lists what is there)", ref, ref)
	}
	if err != nil && client.IsErrConnectionFailed(err) {
		return nil, fmt.Errorf("connecting to the Docker Engine: %w; start it with `sudo systemctl start docker` (or set DOCKER_HOST)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading image %q from the Docker Engine: %w; check the name with 'docker image ls'", ref, err)
	}
	dir, err := os.MkdirTemp("", "sagekit-push-")
	if err != nil {
		return nil, err
	}
	return &Source{Image: compressOnce(img, dir), Kind: "docker", cleanup: func() error { return os.RemoveAll(dir) }}, nil
}
