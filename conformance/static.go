package conformance

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/internal/extract"
	"github.com/sagekit/sagekit/internal/owner"
	"github.com/sagekit/sagekit/sdk/optml"
)

// ErrImageNotFound is returned when the engine does not have the image.
var ErrImageNotFound = errors.New("image not found in the container engine")

// inspectImage reads the image config from the engine: cheap, no layers.
func inspectImage(ctx context.Context, dc *client.Client, ref string) (Image, error) {
	img := Image{Ref: ref}
	ins, err := dc.ImageInspect(ctx, ref)
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "no such image") || strings.Contains(err.Error(), "not found") {
			return img, fmt.Errorf("%w: %s: build it with `sagekit build -t %s DIR`", ErrImageNotFound, ref, ref)
		}
		return img, fmt.Errorf("inspecting %s: %w", ref, err)
	}
	img.ID, img.Size = ins.ID, ins.Size
	r, err := name.ParseReference(ref)
	if err != nil {
		// C-IMG-02 reports the reference; read the config by id instead.
		r, err = name.NewDigest("sagekit.invalid/image@" + ins.ID)
		if err != nil {
			return img, fmt.Errorf("parsing %s: %w", ref, err)
		}
	}
	di, err := daemon.Image(r, daemon.WithClient(dc), daemon.WithContext(ctx))
	if err != nil {
		return img, fmt.Errorf("reading the config of %s: %w", ref, err)
	}
	cf, err := di.ConfigFile()
	if err != nil {
		return img, fmt.Errorf("reading the config of %s: %w", ref, err)
	}
	img.OS, img.Architecture = cf.OS, cf.Architecture
	img.Entrypoint, img.Cmd, img.User, img.Labels = cf.Config.Entrypoint, cf.Config.Cmd, cf.Config.User, cf.Config.Labels
	return img, nil
}

// fileFacts is what the suite looks for in the image's file system.
type fileFacts struct {
	optML   []string // files under opt/ml
	drivers []string // NVIDIA kernel modules and driver libraries
	cudart  string   // a libcudart.so* path
	getent  bool     // usr/bin/getent or bin/getent
}

// listFilesOf streams `docker save` of ref and reads only the tar headers
// of each layer, so even a multi-gigabyte image is listed without being
// stored. Whiteouts of later layers are applied.
func listFilesOf(ctx context.Context, dc *client.Client, ref string) (fileFacts, error) {
	rc, err := dc.ImageSave(ctx, []string{ref})
	if err != nil {
		return fileFacts{}, fmt.Errorf("saving %s: %w", ref, err)
	}
	defer rc.Close()
	layers := map[string][]string{} // blob path in the archive → file paths
	var manifest []struct{ Layers []string }
	// The image may be larger than any one archive sagekit unpacks; each
	// layer is read within the limits below.
	tr := extract.NewReader(rc, extract.WithLimits(extract.Limits{Bytes: -1}))
	defer tr.Close()
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fileFacts{}, fmt.Errorf("reading the image archive: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Name == "manifest.json" {
			if err := json.NewDecoder(tr).Decode(&manifest); err != nil {
				return fileFacts{}, fmt.Errorf("reading manifest.json: %w", err)
			}
			continue
		}
		if !strings.HasSuffix(h.Name, "/layer.tar") && !strings.HasPrefix(h.Name, "blobs/") {
			continue
		}
		files, ok := layerFiles(tr)
		if ok {
			layers[h.Name] = files
		}
	}
	if len(manifest) == 0 {
		return fileFacts{}, errors.New("the image archive has no manifest.json")
	}
	ordered := make([][]string, 0, len(manifest[0].Layers))
	for _, l := range manifest[0].Layers {
		ordered = append(ordered, layers[l])
	}
	fs := applyLayers(ordered)
	return factsOf(fs), nil
}

// applyLayers returns the files of the image whose layers, bottom first,
// hold these paths, applying whiteouts (.wh.<name> and .wh..wh..opq).
func applyLayers(layers [][]string) map[string]bool {
	fs := map[string]bool{}
	for _, files := range layers {
		for _, f := range files {
			dir, base := path.Split(f)
			switch {
			case base == ".wh..wh..opq":
				for k := range fs {
					if strings.HasPrefix(k, dir) {
						delete(fs, k)
					}
				}
			case strings.HasPrefix(base, ".wh."):
				gone := dir + strings.TrimPrefix(base, ".wh.")
				for k := range fs {
					if k == gone || strings.HasPrefix(k, gone+"/") {
						delete(fs, k)
					}
				}
			default:
				fs[f] = true
			}
		}
	}
	return fs
}

// layerFiles lists the regular files and links in a layer, which may be a
// plain or gzip-compressed tar. ok is false for blobs that are not layers.
func layerFiles(r io.Reader) ([]string, bool) {
	tr := extract.NewReader(r)
	defer tr.Close()
	var files []string
	for {
		h, err := tr.Next()
		if err != nil {
			return files, err == io.EOF || len(files) > 0
		}
		if h.Typeflag == tar.TypeDir {
			continue
		}
		files = append(files, strings.TrimPrefix(path.Clean("/"+h.Name), "/"))
	}
}

func factsOf(fs map[string]bool) fileFacts {
	var f fileFacts
	root := strings.TrimPrefix(optml.DefaultRoot, "/") + "/"
	for p := range fs {
		base := path.Base(p)
		switch {
		case strings.HasPrefix(p, root):
			f.optML = append(f.optML, "/"+p)
		case p == "usr/bin/getent" || p == "bin/getent":
			f.getent = true
		}
		if driverFile(p) {
			f.drivers = append(f.drivers, "/"+p)
		}
		if strings.HasPrefix(base, "libcudart.so") && (f.cudart == "" || p < f.cudart) {
			f.cudart = p
		}
	}
	sort.Strings(f.optML)
	sort.Strings(f.drivers)
	return f
}

// driverFile reports whether p is part of the NVIDIA kernel driver or its
// user-space driver libraries, which the host provides. CUDA's stub and
// forward-compatibility copies are allowed.
func driverFile(p string) bool {
	base := path.Base(p)
	if strings.HasSuffix(base, ".ko") || strings.HasSuffix(base, ".ko.xz") || strings.HasSuffix(base, ".ko.zst") {
		return strings.HasPrefix(base, "nvidia")
	}
	if slices.Contains(strings.Split(path.Dir(p), "/"), "stubs") || slices.Contains(strings.Split(path.Dir(p), "/"), "compat") {
		return false
	}
	return strings.HasPrefix(base, "libcuda.so.") || strings.HasPrefix(base, "libnvidia-ml.so.") ||
		strings.HasPrefix(base, "libnvidia-ptxjitcompiler.so.") || strings.HasPrefix(base, "libnvidia-glcore.so.")
}

// mergedFactsOf reads what the cpu profile needs of the image's files,
// the files under /opt/ml and whether getent is there, from a container
// created from ref and never started. The engine reads its merged file
// system, so whiteouts of later layers are applied as in listFilesOf,
// without exporting every layer of the image.
func mergedFactsOf(ctx context.Context, dc *client.Client, ref string, labels map[string]string) (fileFacts, error) {
	var f fileFacts
	// With its owner, as every container sagekit creates: a suite killed
	// before the removal below has it removed by the next command.
	labels = maps.Clone(labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, owner.Labels())
	c, err := dc.ContainerCreate(ctx, client.ContainerCreateOptions{
		// Any entrypoint will do: the container never starts, and an image
		// with neither ENTRYPOINT nor CMD could not be created otherwise.
		Config:     &container.Config{Image: ref, Labels: labels, Entrypoint: []string{"/sagekit-conformance-never-started"}},
		HostConfig: &container.HostConfig{NetworkMode: "none"},
	})
	if err != nil {
		return f, fmt.Errorf("creating a container of %s to read its files: %w", ref, err)
	}
	defer dc.ContainerRemove(context.WithoutCancel(ctx), c.ID, client.ContainerRemoveOptions{Force: true})
	cp, err := dc.CopyFromContainer(ctx, c.ID, client.CopyFromContainerOptions{SourcePath: optml.DefaultRoot})
	switch {
	case cerrdefs.IsNotFound(err):
	case err != nil:
		return f, fmt.Errorf("reading %s in %s: %w", optml.DefaultRoot, ref, err)
	default:
		defer cp.Content.Close()
		tr := extract.NewReader(cp.Content)
		defer tr.Close()
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return f, fmt.Errorf("reading %s in %s: %w", optml.DefaultRoot, ref, err)
			}
			if h.Typeflag == tar.TypeDir {
				continue
			}
			// The archive's entries start with the directory's own name (ml/).
			_, rest, _ := strings.Cut(path.Clean(h.Name), "/")
			f.optML = append(f.optML, path.Join(optml.DefaultRoot, rest))
		}
	}
	for _, p := range []string{"/usr/bin/getent", "/bin/getent"} {
		if _, err := dc.ContainerStatPath(ctx, c.ID, client.ContainerStatPathOptions{Path: p}); err == nil {
			f.getent = true
			break
		}
	}
	sort.Strings(f.optML)
	return f, nil
}
