package optml

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrFailureExists is returned by WriteFailure when a failure file is
// already there: the first reason written wins, as with the toolkit.
var ErrFailureExists = errors.New("failure file already exists")

// WriteFailure writes reason to /opt/ml/output/failure unless that file
// already exists (it is never overwritten; ErrFailureExists then). The file
// appears atomically, complete or not at all. Put the cause first: SageMaker
// keeps only the first FailureReasonMax bytes.
func (p Paths) WriteFailure(reason string) error {
	path := p.Failure()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := os.Lstat(path); err == nil {
		return ErrFailureExists
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+FailureFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.WriteString(reason)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// link(2) fails when path exists, so a failure file another process
	// wrote in the meantime still wins.
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ErrFailureExists
		}
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// WriteSuccess writes the toolkit's empty /opt/ml/output/success marker.
func (p Paths) WriteSuccess() error {
	if err := os.MkdirAll(p.Output(), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", p.Success(), err)
	}
	// An empty file cannot be seen half-written, so no temp file or fsync.
	f, err := os.OpenFile(p.Success(), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s: %w", p.Success(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", p.Success(), err)
	}
	return nil
}
