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

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/internal/extract"
)

// pinCreated makes the Engine image ref reproducible for SOURCE_DATE_EPOCH
// t when the builder did not (BuildKit before v0.13, as in Engines before
// 25.0, ignores rewrite-timestamp): the config's creation times become t,
// and layer entries newer than t (directories COPY creates, files RUN
// writes) are clamped to t. It returns the image ID.
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
	pinned, err := clampImage(img, t)
	if err != nil {
		return "", fmt.Errorf("pinning timestamps of %s: %w", ref, err)
	}
	if err := writeDaemon(ctx, dc, tag, pinned); err != nil {
		return "", err
	}
	// Best effort: the unpinned image may still carry another name.
	_, _ = dc.ImageRemove(ctx, ins.ID, client.ImageRemoveOptions{})
	after, err := dc.ImageInspect(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("inspecting %s: %w", ref, err)
	}
	return after.ID, nil
}

// clampImage returns img with its creation times set to t and every layer
// entry newer than t clamped to t. Layers with nothing to clamp are kept
// as they are, so base image layers stay shared.
func clampImage(img v1.Image, t time.Time) (v1.Image, error) {
	t = t.UTC()
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	out := empty.Image
	for _, l := range layers {
		nl, err := clampLayer(l, t)
		if err != nil {
			return nil, err
		}
		if out, err = mutate.AppendLayers(out, nl); err != nil {
			return nil, err
		}
	}
	ocf, err := out.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.RootFS = ocf.RootFS
	cf.Created = v1.Time{Time: t}
	for i := range cf.History {
		cf.History[i].Created = v1.Time{Time: t}
	}
	return mutate.ConfigFile(out, cf)
}

// clampLayer returns l, or a copy of it whose entries are no newer than t.
func clampLayer(l v1.Layer, t time.Time) (v1.Layer, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	need, err := newerThan(rc, t)
	rc.Close()
	if err != nil || !need {
		return l, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		pr, pw := io.Pipe()
		go func() {
			defer rc.Close()
			pw.CloseWithError(clampTar(rc, pw, t))
		}()
		return pr, nil
	})
}

func newerThan(r io.Reader, t time.Time) (bool, error) {
	tr := extract.NewReader(r)
	defer tr.Close()
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if hdr.ModTime.After(t) {
			return true, nil
		}
	}
}

func clampTar(r io.Reader, w io.Writer, t time.Time) error {
	tr, tw := extract.NewReader(r), tar.NewWriter(w)
	defer tr.Close()
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		if hdr.ModTime.After(t) {
			hdr.ModTime = t
		}
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		delete(hdr.PAXRecords, "mtime")
		delete(hdr.PAXRecords, "atime")
		delete(hdr.PAXRecords, "ctime")
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
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
