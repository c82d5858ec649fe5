package extract

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// ErrOutside is what an entry that would land outside the directory
// matches with errors.Is.
var ErrOutside = errors.New("resolves outside the directory")

// ErrType is what a device, FIFO or other special entry matches with
// errors.Is.
var ErrType = errors.New("special file")

// EntryError is an entry refused or failed, by its name in the archive.
type EntryError struct {
	Name string
	Err  error
}

func (e *EntryError) Error() string { return fmt.Sprintf("entry %q: %v", e.Name, e.Err) }
func (e *EntryError) Unwrap() error { return e.Err }

// File unpacks the file archive into dir, which is created if missing.
func File(ctx context.Context, archive, dir string, opts ...Option) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	return Stream(ctx, f, dir, opts...)
}

// Stream unpacks the archive read from r into dir, which is created if
// missing. An input that is no tar gives ErrNotTar, before anything is
// written; an empty one unpacks to nothing. On another error what was
// unpacked so far stays (links pointing outside excepted): unpack into a
// new directory and remove it on failure.
func Stream(ctx context.Context, r io.Reader, dir string, opts ...Option) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	x := &extractor{ctx: ctx, root: root, r: NewReader(r, opts...)}
	x.o = x.r.o
	defer x.r.Close()
	return x.run()
}

type extractor struct {
	ctx   context.Context
	root  *os.Root
	r     *Reader
	o     options
	links []link    // symbolic links made, checked again at the end
	dirs  []dirMeta // directories whose mode and times are set last
}

type link struct{ name, entry, target string }

type dirMeta struct {
	name  string
	mode  fs.FileMode
	mtime time.Time
}

func (x *extractor) run() error {
	if err := x.entries(); err != nil {
		x.sweep() // the tree never keeps an outward link, even on failure
		return err
	}
	if err := x.sweep(); err != nil {
		return err
	}
	// Deepest first, so setting a parent's time comes after its children
	// changed it, and a read-only directory is made so after its content.
	for _, d := range slices.Backward(x.dirs) {
		if err := x.root.Chmod(d.name, d.mode); err != nil {
			return &EntryError{Name: d.name, Err: err}
		}
		if x.o.rootfs {
			if err := x.root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
				return &EntryError{Name: d.name, Err: err}
			}
		}
	}
	return nil
}

func (x *extractor) entries() error {
	for {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		h, err := x.r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := x.entry(h); err != nil {
			var le *LimitError
			if errors.As(err, &le) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return &EntryError{Name: h.Name, Err: err}
		}
	}
}

// sweep checks every link made on the final tree and removes those that
// point outside, returning an error for the first.
func (x *extractor) sweep() error {
	// A link made early may have been turned outward by links made after
	// it (l -> a/.., then a -> .): every link is checked on the final tree.
	// Such links are removed, so the tree never holds one.
	var outward error
	for _, l := range x.links {
		if !x.inside(path.Dir(l.name), l.target) {
			if err := x.root.Remove(l.name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return &EntryError{Name: l.entry, Err: fmt.Errorf("removing a link that %w: %v", ErrOutside, err)}
			}
			if outward == nil {
				outward = &EntryError{Name: l.entry, Err: fmt.Errorf("link to %q %w (or loops) once the archive's later links are in place", l.target, ErrOutside)}
			}
		}
	}
	return outward
}

// clean returns the entry's name relative to the root, "" for the root
// itself, refusing absolute names and "..".
func clean(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("absolute name %w", ErrOutside)
	}
	var parts []string
	for _, p := range strings.Split(name, "/") {
		switch p {
		case "", ".":
		case "..":
			return "", fmt.Errorf("name with \"..\" %w", ErrOutside)
		default:
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/"), nil
}

func (x *extractor) entry(h *tar.Header) error {
	name, err := clean(h.Name)
	if err != nil {
		return err
	}
	switch h.Typeflag {
	case tar.TypeXGlobalHeader, tar.TypeXHeader:
		return nil
	case tar.TypeChar, tar.TypeBlock:
		return fmt.Errorf("a device (%w): an archive to unpack holds files, directories and links only", ErrType)
	case tar.TypeFifo:
		return fmt.Errorf("a FIFO (%w): an archive to unpack holds files, directories and links only", ErrType)
	}
	if name == "" {
		if h.Typeflag == tar.TypeDir {
			return nil // the root itself: its mode is the caller's
		}
		return fmt.Errorf("a file named as the directory itself")
	}
	mode := h.FileInfo().Mode()
	switch h.Typeflag {
	case tar.TypeDir:
		perm := mode.Perm() | 0o700
		if x.o.readable {
			perm |= 0o555
		}
		if err := x.root.MkdirAll(name, 0o700); err != nil {
			return err
		}
		final := perm
		if x.o.rootfs {
			final = mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
			if err := x.root.Lchown(name, h.Uid, h.Gid); err != nil {
				return err
			}
		}
		x.dirs = append(x.dirs, dirMeta{name: name, mode: final, mtime: h.ModTime})
		return nil
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeCont:
		return x.file(name, h, mode)
	case tar.TypeSymlink:
		return x.symlink(name, h)
	case tar.TypeLink:
		return x.hardlink(name, h)
	default:
		return fmt.Errorf("an entry of type %q (%w) that is not a file, a directory or a link", h.Typeflag, ErrType)
	}
}

// replace makes room for a new entry at name: an existing file or link is
// removed (never written through), a directory is an error.
func (x *extractor) replace(name string) error {
	if err := x.root.MkdirAll(path.Dir(name), 0o755); err != nil {
		return err
	}
	fi, err := x.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return errors.New("a directory of that name is already unpacked")
	}
	return x.root.Remove(name)
}

func (x *extractor) file(name string, h *tar.Header, mode fs.FileMode) error {
	if err := x.replace(name); err != nil {
		return err
	}
	perm := mode.Perm()
	if x.o.readable {
		perm |= 0o444
	}
	f, err := x.root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm|0o200)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, ctxReader{x.ctx, x.r})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if x.o.rootfs {
		return x.restore(name, h, mode)
	}
	if perm&0o200 == 0 || x.o.readable {
		return x.root.Chmod(name, perm) // the umask does not apply, as with tar
	}
	return nil
}

// restore sets owner, mode (set-id bits included, which chown clears) and
// times of a rootfs entry.
func (x *extractor) restore(name string, h *tar.Header, mode fs.FileMode) error {
	if err := x.root.Lchown(name, h.Uid, h.Gid); err != nil {
		return err
	}
	if err := x.root.Chmod(name, mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	return x.root.Chtimes(name, h.ModTime, h.ModTime)
}

func (x *extractor) symlink(name string, h *tar.Header) error {
	target := h.Linkname
	if target == "" {
		return errors.New("a link with no target")
	}
	if !x.inside(path.Dir(name), target) {
		return fmt.Errorf("link to %q %w", target, ErrOutside)
	}
	if err := x.replace(name); err != nil {
		return err
	}
	if err := x.root.Symlink(target, name); err != nil {
		return err
	}
	x.links = append(x.links, link{name: name, entry: h.Name, target: target})
	if x.o.rootfs {
		return x.root.Lchown(name, h.Uid, h.Gid)
	}
	return nil
}

func (x *extractor) hardlink(name string, h *tar.Header) error {
	old, err := clean(h.Linkname)
	if err != nil || old == "" {
		return fmt.Errorf("hard link to %q %w", h.Linkname, ErrOutside)
	}
	// The target as the archive's own earlier entry, reached without
	// following a link at its end: a hard link to a symbolic link would
	// carry a relative target to another directory.
	fi, err := x.root.Lstat(old)
	if err != nil {
		return fmt.Errorf("hard link to %q, which is not unpacked before it: %w", h.Linkname, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("hard link to %q, which is not a regular file", h.Linkname)
	}
	if !x.inside(path.Dir(old), path.Base(old)) {
		return fmt.Errorf("hard link to %q %w", h.Linkname, ErrOutside)
	}
	if old == name {
		return nil
	}
	if err := x.replace(name); err != nil {
		return err
	}
	return x.root.Link(old, name)
}

// inside reports whether target, read as a symbolic link's target in the
// directory dir (relative to the root, "." for the root), names a path in
// the root, following the links already unpacked.
func (x *extractor) inside(dir, target string) bool {
	var stack []string
	if dir != "." {
		stack = strings.Split(dir, "/")
	}
	hops := 0
	_, ok := x.walk(stack, target, &hops)
	return ok
}

// maxHops bounds the links followed in one resolution, as the kernel's
// ELOOP does.
const maxHops = 40

func (x *extractor) walk(stack []string, target string, hops *int) ([]string, bool) {
	if strings.HasPrefix(target, "/") {
		if !x.o.rootfs {
			return nil, false
		}
		stack = stack[:0]
	}
	for _, c := range strings.Split(target, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) == 0 {
				if x.o.rootfs {
					continue
				}
				return nil, false
			}
			stack = stack[:len(stack)-1]
			continue
		}
		stack = append(stack, c)
		fi, err := x.root.Lstat(strings.Join(stack, "/"))
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			continue // a directory, or nothing yet: read as written
		}
		if *hops++; *hops > maxHops {
			return nil, false
		}
		next, err := x.root.Readlink(strings.Join(stack, "/"))
		if err != nil {
			return nil, false
		}
		var ok bool
		if stack, ok = x.walk(stack[:len(stack)-1], next, hops); !ok {
			return nil, false
		}
	}
	return stack, true
}

// ctxReader ends a long copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
