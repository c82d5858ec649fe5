package templates

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sagekit/sagekit/sdk/optml"
)

// ErrNotEmpty is returned (wrapped in a *NotEmptyError) by Write for a
// directory that already holds files, unless WithForce is given.
var ErrNotEmpty = errors.New("directory is not empty")

// NotEmptyError names the non-empty directory Write refused.
type NotEmptyError struct{ Dir string }

func (e *NotEmptyError) Error() string {
	return fmt.Sprintf("%s is not empty: choose an empty or new directory, or pass --force to overwrite the files the template writes", e.Dir)
}

// Unwrap makes errors.Is(err, ErrNotEmpty) true.
func (e *NotEmptyError) Unwrap() error { return ErrNotEmpty }

type writeOptions struct {
	force bool
}

// WriteOption changes how Write behaves.
type WriteOption func(*writeOptions)

// WithForce lets Write put files into a non-empty directory, replacing the
// files the template writes and leaving every other file alone. Default false.
func WithForce(force bool) WriteOption { return func(o *writeOptions) { o.force = force } }

// Write puts files below dir. A missing dir is created. A dir that holds
// anything is refused with a *NotEmptyError unless WithForce(true).
//
// Each file is written atomically (temporary file, then rename). A new
// directory is filled under a temporary name and renamed into place, so an
// interrupted Write leaves either the whole project or nothing.
func Write(dir string, files []File, opts ...WriteOption) error {
	var o writeOptions
	for _, opt := range opts {
		opt(&o)
	}
	for _, f := range files {
		if !fs.ValidPath(f.Path) || strings.Contains(f.Path, `\`) {
			return fmt.Errorf("writing %s: invalid file path %q", dir, f.Path)
		}
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return writeNew(dir, files)
	case err != nil:
		return fmt.Errorf("reading %s: %w", dir, err)
	case len(entries) > 0 && !o.force:
		return &NotEmptyError{Dir: dir}
	}
	return writeFiles(dir, files)
}

// writeNew fills a sibling temporary directory and renames it to dir.
func writeNew(dir string, files []File) error {
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp) // nothing left after a successful rename
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := writeFiles(tmp, files); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return nil
}

func writeFiles(dir string, files []File) error {
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Dir(p), err)
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		if err := optml.WriteFileAtomic(p, f.Data, mode); err != nil {
			return err
		}
	}
	return nil
}
