package build

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	gofs "io/fs"
	"os"
	"path/filepath"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/moby/client"
)

// pinCreated sets the creation times in the config of the Engine image ref
// to t, when the builder left them at the build time (BuildKit before
// v0.13 ignores rewrite-timestamp), and returns the image ID. The layers are
// unchanged, so the Engine reuses them; only the config is new.
func pinCreated(ctx context.Context, dc *client.Client, ref string, t time.Time) (string, error) {
	ins, err := dc.ImageInspect(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("inspecting %s: %w", ref, err)
	}
	if created, err := time.Parse(time.RFC3339Nano, ins.Created); err == nil && created.Equal(t) {
		return ins.ID, nil
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return "", err
	}
	img, err := daemon.Image(tag, daemon.WithClient(dc), daemon.WithContext(ctx), daemon.WithFileBufferedOpener())
	if err != nil {
		return "", fmt.Errorf("reading %s from the Docker Engine: %w", ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: t.UTC()}
	for i := range cf.History {
		cf.History[i].Created = v1.Time{Time: t.UTC()}
	}
	pinned, err := mutate.ConfigFile(img, cf)
	if err != nil {
		return "", err
	}
	if err := writeDaemon(ctx, dc, tag, pinned); err != nil {
		return "", err
	}
	if _, err := dc.ImageRemove(ctx, ins.ID, client.ImageRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
		return "", fmt.Errorf("removing the unpinned image: %w", err)
	}
	after, err := dc.ImageInspect(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("inspecting %s: %w", ref, err)
	}
	return after.ID, nil
}

// writeDaemon loads img into the Engine as tag and checks the load stream
// for errors, which daemon.Write returns as text rather than as an error.
func writeDaemon(ctx context.Context, dc *client.Client, tag name.Tag, img v1.Image) error {
	out, err := daemon.Write(tag, img, daemon.WithClient(dc), daemon.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("loading %s into the Docker Engine: %w", tag, err)
	}
	return loadStreamError(stringReader(out))
}

// assemble reads each platform's image back from the Engine with OCI media
// types; for several platforms it returns them as one OCI index.
func assemble(ctx context.Context, dc *client.Client, platforms, refs []string) (v1.Image, v1.ImageIndex, error) {
	var imgs []v1.Image
	for _, ref := range refs {
		r, err := name.ParseReference(ref)
		if err != nil {
			return nil, nil, err
		}
		img, err := daemon.Image(r, daemon.WithClient(dc), daemon.WithContext(ctx), daemon.WithFileBufferedOpener())
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s from the Docker Engine: %w", ref, err)
		}
		if img, err = toOCI(img); err != nil {
			return nil, nil, err
		}
		imgs = append(imgs, img)
	}
	if len(imgs) == 1 {
		return imgs[0], nil, nil
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for i, img := range imgs {
		p := platformOf(platforms[i])
		if cf, err := img.ConfigFile(); err == nil && cf.Variant != "" {
			p.Variant = cf.Variant
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1, Platform: &p},
		})
	}
	return nil, idx, nil
}

// toOCI rebuilds img with OCI manifest, config and layer media types, so an
// index of such images mixes no Docker types. Layer bytes are unchanged.
func toOCI(img v1.Image) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	adds := make([]mutate.Addendum, len(layers))
	for i, l := range layers {
		adds[i] = mutate.Addendum{Layer: l, MediaType: types.OCILayer}
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	out, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, err
	}
	return mutate.ConfigFile(out, cf.DeepCopy())
}

// writeOutput writes the image or index to o.Dest.
func writeOutput(o *Output, img v1.Image, idx v1.ImageIndex, tags []string) error {
	tmp := o.Dest + ".tmp"
	switch o.Type {
	case OutputDocker:
		ref := "sagekit.local/image:latest"
		if len(tags) > 0 {
			ref = tags[0]
		}
		refs := map[name.Reference]v1.Image{}
		for _, t := range append([]string{ref}, tags...) {
			tag, err := name.NewTag(t)
			if err != nil {
				return fmt.Errorf("tag %s: %w", t, err)
			}
			refs[tag] = img
		}
		if err := tarball.MultiRefWriteToFile(tmp, refs); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("writing %s: %w", o.Dest, err)
		}
	case OutputOCI:
		dir, err := os.MkdirTemp("", "sagekit-oci-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		p, err := layout.Write(dir, empty.Index)
		if err != nil {
			return err
		}
		var opts []layout.Option
		if len(tags) > 0 {
			t, err := name.NewTag(tags[0])
			if err != nil {
				return fmt.Errorf("tag %s: %w", tags[0], err)
			}
			opts = append(opts, layout.WithAnnotations(map[string]string{
				"io.containerd.image.name":          t.Name(),
				"org.opencontainers.image.ref.name": t.TagStr(),
			}))
		}
		if idx != nil {
			err = p.AppendIndex(idx, opts...)
		} else {
			err = p.AppendImage(img, opts...)
		}
		if err != nil {
			return fmt.Errorf("writing the OCI layout: %w", err)
		}
		if err := tarDir(dir, tmp); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("writing %s: %w", o.Dest, err)
		}
	}
	return os.Rename(tmp, o.Dest)
}

// tarDir writes dir as a tar with fixed times and owners, in name order,
// so the same layout gives the same bytes.
func tarDir(dir, dst string) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d gofs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if d.IsDir() {
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, hdr.Name+"/", 0o755
			return tw.WriteHeader(hdr)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeReg, 0o644, fi.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
