// Package codedir fills a code directory from where SageMaker says the code
// is (sagemaker_submit_directory, SAGEMAKER_SUBMIT_DIRECTORY): the
// toolkits' files.download_and_extract, with an s3:// object downloaded by
// internal/s3get. Whatever it writes is assembled beside the final entries
// and moved in at the end, so a failure leaves the directory as it was.
package codedir

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/sagekit/sagekit/internal/s3get"
)

// stagingPrefix names the directory inside dir where Fill assembles the
// code before moving it into place.
const stagingPrefix = ".sagekit-staging-"

// Fill fills dir from uri, as the toolkits do: nothing when uri is empty or
// dir itself, or when dir already holds anything but other Fills' staging
// directories. Otherwise an s3:// URI is
// downloaded first; then a tar (gzip-compressed or not) is extracted into
// dir, a directory copied, and any other file copied in.
func Fill(ctx context.Context, uri, dir string, s3 s3get.Config) error {
	if uri == "" || filepath.Clean(uri) == filepath.Clean(dir) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the code directory: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading the code directory: %w", err)
	}
	// Another Fill's staging directory is no code: it may be a fill that
	// was killed, or one still running (hosts sharing a mounted code
	// directory), so it is neither counted nor touched.
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), stagingPrefix) {
			return nil
		}
	}
	// Staged inside dir itself: the same file system, so the entries move
	// into place by rename even when dir is a mount point.
	staging, err := os.MkdirTemp(dir, stagingPrefix)
	if err != nil {
		return fmt.Errorf("creating a staging directory: %w", err)
	}
	defer os.RemoveAll(staging)
	src := uri
	if strings.HasPrefix(uri, "s3://") {
		_, key, err := s3get.ParseURI(uri)
		if err != nil {
			return err
		}
		download, err := os.MkdirTemp("", "sagekit-code-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(download)
		src = filepath.Join(download, path.Base(key))
		if err := s3.Download(ctx, uri, src); err != nil {
			return err
		}
	}
	if err := assemble(src, staging); err != nil {
		return err
	}
	moved, err := os.ReadDir(staging)
	if err != nil {
		return err
	}
	for _, e := range moved {
		dst := filepath.Join(dir, e.Name())
		if err := os.Rename(filepath.Join(staging, e.Name()), dst); err != nil {
			if _, serr := os.Lstat(dst); serr == nil {
				continue // a concurrent Fill of the same uri moved it in first
			}
			return fmt.Errorf("moving %s into the code directory: %w", e.Name(), err)
		}
	}
	return nil
}

// assemble puts what src holds into the empty directory staging.
func assemble(src, staging string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		if err := os.CopyFS(staging, os.DirFS(src)); err != nil {
			return fmt.Errorf("copying %s: %w", src, err)
		}
		return nil
	}
	ok, err := extractTar(src, staging)
	if err != nil || ok {
		return err
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(staging, filepath.Base(src)), b, fi.Mode().Perm())
}

// extractTar extracts the tar (gzip-compressed or not) at file into dir; it
// reports false when the file is not a tar. Entries cannot leave dir, by
// name or through a symbolic link extracted before them.
func extractTar(file, dir string) (bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return false, fmt.Errorf("reading %s: %w", file, err)
		}
		defer zr.Close()
		r = zr
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return false, err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	first := true
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return !first, nil
		}
		if err != nil {
			if first {
				return false, nil
			}
			return true, fmt.Errorf("extracting %s: %w", file, err)
		}
		first = false
		name := path.Clean(strings.TrimPrefix(h.Name, "/"))
		if name == "." {
			continue
		}
		if name == ".." || strings.HasPrefix(name, "../") {
			return true, fmt.Errorf("extracting %s: %q leaves the code directory", file, h.Name)
		}
		mode := os.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			err = root.MkdirAll(name, mode|0o700)
		case tar.TypeReg:
			err = extractFile(root, name, mode, tr)
		case tar.TypeSymlink:
			if err = root.MkdirAll(path.Dir(name), 0o755); err == nil {
				err = root.Symlink(h.Linkname, name)
			}
		}
		if err != nil {
			return true, fmt.Errorf("extracting %s from %s: %w", h.Name, file, err)
		}
	}
}

func extractFile(root *os.Root, name string, mode os.FileMode, r io.Reader) error {
	if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
		return err
	}
	out, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
