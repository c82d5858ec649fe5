package train

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrNoCheckpoint is returned by Latest when the directory holds none.
var ErrNoCheckpoint = errors.New("no checkpoint")

// WriteModel writes data to name below the model directory atomically.
// name is a slash-separated relative path; missing directories are made.
func WriteModel(env *Env, name string, data []byte) error {
	return WriteModelFunc(env, name, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteModelFunc is WriteModel for content produced by write; nothing is
// left behind when write fails.
func WriteModelFunc(env *Env, name string, write func(w io.Writer) error) error {
	path, err := within(env.ModelDir(), name)
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, write)
}

// WriteFileAtomic writes a temporary file next to path with write, syncs
// it and renames it over path, so readers (and SageMaker's uploads) see the
// old file or the whole new one, never a part.
func WriteFileAtomic(path string, write func(w io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	err = write(f)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// within joins a relative slash path to dir, refusing paths that leave it.
func within(dir, name string) (string, error) {
	clean := filepath.Clean(filepath.FromSlash(name))
	if name == "" || filepath.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("file name %q: use a relative path inside %s", name, dir)
	}
	return filepath.Join(dir, clean), nil
}

// Checkpoints saves and finds checkpoint files in one directory.
type Checkpoints struct {
	dir string
}

// NewCheckpoints works in dir.
func NewCheckpoints(dir string) *Checkpoints { return &Checkpoints{dir: dir} }

// Dir is the checkpoint directory.
func (c *Checkpoints) Dir() string { return c.dir }

// Save writes data as the checkpoint name, atomically.
func (c *Checkpoints) Save(name string, data []byte) error {
	return c.SaveFunc(name, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// SaveFunc is Save for content produced by write.
func (c *Checkpoints) SaveFunc(name string, write func(w io.Writer) error) error {
	path, err := within(c.dir, name)
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, write)
}

// List returns the checkpoint file names in the top of the directory,
// oldest first by name, with digit runs compared as numbers ("ckpt-9"
// before "ckpt-10"). Hidden files (temporary files among them) are left
// out; a missing directory holds none.
func (c *Checkpoints) List() ([]string, error) {
	entries, err := os.ReadDir(c.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing checkpoints: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Slice(names, func(i, j int) bool { return naturalLess(names[i], names[j]) })
	return names, nil
}

// Latest returns the path of the newest checkpoint (the last of List), or
// an error wrapping ErrNoCheckpoint when there is none, so a program starts
// fresh.
func (c *Checkpoints) Latest() (string, error) {
	names, err := c.List()
	if err != nil {
		return "", err
	}
	if len(names) == 0 {
		return "", fmt.Errorf("%w in %s", ErrNoCheckpoint, c.dir)
	}
	return filepath.Join(c.dir, names[len(names)-1]), nil
}

// Restore reads the newest checkpoint; see Latest.
func (c *Checkpoints) Restore() (name string, data []byte, err error) {
	path, err := c.Latest()
	if err != nil {
		return "", nil, err
	}
	data, err = os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("restoring checkpoint: %w", err)
	}
	return filepath.Base(path), data, nil
}

// Prune removes all but the newest keep checkpoints. Deleting a local
// checkpoint also deletes its copy in S3.
func (c *Checkpoints) Prune(keep int) error {
	names, err := c.List()
	if err != nil {
		return err
	}
	var errs []error
	for i := 0; i < len(names)-keep; i++ {
		if err := os.Remove(filepath.Join(c.dir, names[i])); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// naturalLess compares a and b with runs of ASCII digits as numbers.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da > 0 && db > 0 {
			na := strings.TrimLeft(a[:da], "0")
			nb := strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			if da != db { // same number, fewer leading zeros first
				return da < db
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitPrefix(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
