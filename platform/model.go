package platform

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sagekit/sagekit/internal/extract"
)

// PackDirs writes the contents of dirs into the gzip tar dst, entries at
// the archive root with no leading directory, as SageMaker packs
// /opt/ml/model into model.tar.gz and /opt/ml/output/data into
// output.tar.gz (contract §1.10). Symbolic links are followed, as the SDK's
// local mode does. With several dirs (one per host) the trees are merged;
// where two hosts wrote the same path the first dir wins. dst is written
// to a temporary file and renamed, so it is never seen half-written.
func PackDirs(dst string, dirs ...string) (err error) {
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	seen := map[string]bool{}
	for _, dir := range dirs {
		if err := addTree(tw, dir, "", seen); err != nil {
			return fmt.Errorf("packing %s into %s: %w", dir, filepath.Base(dst), err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	return nil
}

func addTree(tw *tar.Writer, dir, prefix string, seen map[string]bool) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		name := prefix + filepath.ToSlash(rel)
		// Follow symbolic links (tar.add(..., dereference=True)).
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			name += "/"
		}
		if seen[name] {
			return nil
		}
		seen[name] = true
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		h.Name = name
		h.Uname, h.Gname = "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.IsDir() {
			if d.Type()&fs.ModeSymlink != 0 {
				// WalkDir does not descend into linked directories.
				return addTree(tw, p, name, seen)
			}
			return nil
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		r, err := os.Open(p)
		if err != nil {
			return err
		}
		defer r.Close()
		_, err = io.Copy(tw, r)
		return err
	})
}

// ExtractLimits bound what unpacking a model archive may write: total
// size, entry count and compression ratio. Zero fields take the defaults
// (50 GiB, 1,000,000 entries, 1000:1); a negative one removes that bound.
type ExtractLimits = extract.Limits

// UnpackModel extracts the tar archive (gzip-compressed or not) into dir
// (created if missing), as SageMaker unpacks model.tar.gz into
// /opt/ml/model (contract §2.3). Entries that would land outside dir, by
// name or through the archive's own links, devices and FIFOs are refused
// with an error naming the entry; an archive over a limit is refused with
// an error naming the flag and variable that raise it.
func UnpackModel(ctx context.Context, archive, dir string, limits ExtractLimits) error {
	err := extract.File(ctx, archive, dir, extract.WithLimits(limits), extract.WithFlags(), extract.WithReadable())
	switch {
	case err == nil:
		return nil
	case errors.Is(err, extract.ErrNotTar):
		return fmt.Errorf("reading %s: %w (the model must be a directory or a gzip tar such as model.tar.gz)", archive, err)
	default:
		return fmt.Errorf("unpacking %s: %w", archive, err)
	}
}

// ModelDir returns a directory holding the model at path: path itself when
// it is a directory, else a new temporary directory with the archive
// unpacked into it. Call cleanup when the model is no longer served.
func ModelDir(ctx context.Context, path string, limits ExtractLimits) (dir string, cleanup func(), err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", nil, fmt.Errorf("finding the model: %w", err)
	}
	if fi.IsDir() {
		abs, err := filepath.Abs(path)
		if err != nil {
			return "", nil, fmt.Errorf("finding the model: %w", err)
		}
		return abs, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "sagekit-model-")
	if err != nil {
		return "", nil, fmt.Errorf("unpacking the model: %w", err)
	}
	cleanup = func() { os.RemoveAll(tmp) }
	// Readable by an image that runs as another user.
	if err := os.Chmod(tmp, 0o755); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("unpacking the model: %w", err)
	}
	if err := UnpackModel(ctx, path, tmp, limits); err != nil {
		cleanup()
		return "", nil, err
	}
	return tmp, cleanup, nil
}
