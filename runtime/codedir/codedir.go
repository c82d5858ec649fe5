// Package codedir fills a code directory from where SageMaker says the code
// is (sagemaker_submit_directory, SAGEMAKER_SUBMIT_DIRECTORY): the
// toolkits' files.download_and_extract, with an s3:// object downloaded by
// runtime/s3get. Whatever it writes is assembled beside the final entries
// and moved in at the end, so a failure leaves the directory as it was.
package codedir

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/sagekit/sagekit/internal/extract"
	"github.com/sagekit/sagekit/runtime/s3get"
)

// stagingPrefix names the directory inside dir where Fill assembles the
// code before moving it into place.
const stagingPrefix = ".sagekit-staging-"

// Fill fills dir from uri, as the toolkits do: nothing when uri is empty or
// dir itself, or when dir already holds anything but other Fills' staging
// directories. Otherwise an s3:// URI is
// downloaded first; then a tar (gzip-compressed or not) is extracted into
// dir through internal/extract within limits (so it cannot write outside
// dir, nor more than the limits allow), a directory copied, and any other
// file copied in.
func Fill(ctx context.Context, uri, dir string, s3 s3get.Config, limits extract.Limits) error {
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
	if err := assemble(ctx, src, staging, limits); err != nil {
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
func assemble(ctx context.Context, src, staging string, limits extract.Limits) error {
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
	err = extract.ErrNotTar // an empty file is code, not an empty archive
	if fi.Size() > 0 {
		err = extract.File(ctx, src, staging, extract.WithLimits(limits))
	}
	if !errors.Is(err, extract.ErrNotTar) {
		if err != nil {
			return fmt.Errorf("extracting %s: %w", filepath.Base(src), err)
		}
		return nil
	}
	// Not a tar (nothing was written): the file itself is the code, as the
	// toolkits copy it.
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(staging, filepath.Base(src)), b, fi.Mode().Perm())
}
