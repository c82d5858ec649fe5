package build

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	//nolint:staticcheck // the same reader the Dockerfile frontend uses
	"github.com/tonistiigi/fsutil"
	"github.com/tonistiigi/fsutil/types"
)

// layerEntry is one entry of a layer being made.
type layerEntry struct {
	name     string // absolute path in the image, no trailing slash
	src      string // context path of a regular file's content
	mode     os.FileMode
	linkname string
	mtime    time.Time
	size     int64
	created  bool // a directory the copy creates, carrying the build time
}

func (e *layerEntry) isDir() bool { return e.mode.IsDir() }

// fsView answers what exists in the image being assembled: the entries
// earlier layers added, then the base image.
type fsView struct {
	layers map[string]os.FileMode
	base   *baseFS
}

// kind returns the mode of p (absolute, clean) in the image, and whether
// it exists.
func (v *fsView) kind(ctx context.Context, p string) (os.FileMode, bool, error) {
	if p == "/" {
		return os.ModeDir | 0o755, true, nil
	}
	if m, ok := v.layers[p]; ok {
		return m, true, nil
	}
	if v.base == nil {
		return 0, false, nil
	}
	// A parent the base lacks means p is absent there too.
	if parent := path.Dir(p); parent != "/" {
		if _, ok := v.layers[parent]; !ok {
			pm, ok, err := v.kind(ctx, parent)
			if err != nil || !ok || !pm.IsDir() {
				return 0, false, err
			}
		}
	}
	return v.base.stat(ctx, p)
}

// copyLayer is the planned content of one COPY or ADD layer.
type copyLayer struct {
	entries []*layerEntry
}

// planCopy turns an expanded COPY or ADD into the entries of its layer,
// following BuildKit's rules: sources relative to the context root (with
// wildcards), a directory copies its contents, a destination ending in a
// slash (or several sources, or an existing directory) receives sources
// by name, missing parents are created.
func planCopy(ctx context.Context, ix *contextIndex, view *fsView, file string, lineNo int, instr string, sources []string, dest string, add bool, chmod *os.FileMode, buildTime time.Time) (*copyLayer, error) {
	destDir := strings.HasSuffix(dest, "/")
	dest = path.Clean(dest)
	type src struct {
		ctxPath string
		st      *types.Stat
	}
	var srcs []src
	for _, s := range sources {
		clean := strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(s)), "/")
		var matches []string
		if hasWildcard(clean) {
			m, err := ix.glob(clean)
			if err != nil {
				return nil, fallback("%s:%d: %s: pattern %q: %v", file, lineNo, instr, s, err)
			}
			if len(m) == 0 {
				return nil, fallback("%s:%d: %s: %q matches no file", file, lineNo, instr, s)
			}
			matches = m
		} else {
			matches = []string{clean}
		}
		for _, m := range matches {
			if m == "" {
				srcs = append(srcs, src{"", &types.Stat{Mode: uint32(os.ModeDir | 0o755)}})
				continue
			}
			p, st, ok := ix.resolve(m)
			if !ok {
				return nil, &SyntaxError{File: file, Line: lineNo, Msg: fmt.Sprintf("%s: %q not found in the build context (or excluded by .dockerignore): add it or fix the path", instr, s)}
			}
			srcs = append(srcs, src{p, st})
		}
	}
	if len(sources) > 1 || len(srcs) > 1 {
		destDir = true
	}
	out := map[string]*layerEntry{}
	var ensureDir func(p string) error
	ensureDir = func(p string) error {
		if p == "/" {
			return nil
		}
		if e, ok := out[p]; ok {
			if !e.isDir() {
				return fallback("%s:%d: %s: %s is both a file and a directory", file, lineNo, instr, p)
			}
			return nil
		}
		m, ok, err := view.kind(ctx, p)
		if err != nil {
			return err
		}
		if ok {
			if !m.IsDir() {
				return fallback("%s:%d: %s: %s is not a directory in the image", file, lineNo, instr, p)
			}
			return nil
		}
		if err := ensureDir(path.Dir(p)); err != nil {
			return err
		}
		out[p] = &layerEntry{name: p, mode: os.ModeDir | 0o755, mtime: buildTime, created: true}
		return nil
	}
	put := func(target string, ctxPath string, st *types.Stat) error {
		mode := os.FileMode(st.Mode)
		e := &layerEntry{name: target, mode: mode, mtime: time.Unix(0, st.ModTime), linkname: st.Linkname, size: st.Size}
		switch {
		case mode.IsRegular():
			e.src = ctxPath
		case mode.IsDir(), mode&os.ModeSymlink != 0:
			e.size = 0
		default:
			return fallback("%s:%d: %s: %s is a special file", file, lineNo, instr, ctxPath)
		}
		if chmod != nil {
			// --chmod sets every copied file and directory (not the
			// directories the copy creates); BuildKit's handling of
			// symlinks under it is left to BuildKit.
			if mode&os.ModeSymlink != 0 {
				return fallback("%s:%d: %s --chmod copies a symlink (%s)", file, lineNo, instr, ctxPath)
			}
			e.mode = mode&os.ModeType | fromUnixMode(uint32(*chmod))
		}
		if old, ok := out[target]; ok && old.isDir() && e.isDir() {
			return nil
		}
		// A directory in the image is replaced only by a directory.
		if m, ok, err := view.kind(ctx, target); err != nil {
			return err
		} else if ok && m.IsDir() && !e.isDir() {
			return fallback("%s:%d: %s: %s is a directory in the image", file, lineNo, instr, target)
		} else if ok && m&os.ModeSymlink != 0 {
			return fallback("%s:%d: %s: %s is a symlink in the image", file, lineNo, instr, target)
		}
		out[target] = e
		return nil
	}
	for _, s := range srcs {
		mode := os.FileMode(s.st.Mode)
		if mode.IsDir() {
			// The directory's contents go into dest.
			if err := ensureDir(dest); err != nil {
				return nil, err
			}
			for _, c := range ix.children(s.ctxPath) {
				rel := strings.TrimPrefix(c, s.ctxPath)
				rel = strings.TrimPrefix(rel, "/")
				if err := put(path.Join(dest, rel), c, ix.entries[c]); err != nil {
					return nil, err
				}
			}
			continue
		}
		if add && mode.IsRegular() {
			if arch, err := isArchive(ix.fs, s.ctxPath); err != nil {
				return nil, err
			} else if arch {
				return nil, fallback("%s:%d: ADD of an archive (%s) unpacks it", file, lineNo, s.ctxPath)
			}
		}
		target := dest
		if !destDir {
			if m, ok, err := view.kind(ctx, dest); err != nil {
				return nil, err
			} else if ok && m.IsDir() {
				destDir = true
			}
			if e, ok := out[dest]; ok && e.isDir() {
				destDir = true
			}
		}
		if destDir {
			if err := ensureDir(dest); err != nil {
				return nil, err
			}
			target = path.Join(dest, path.Base(s.ctxPath))
		} else if err := ensureDir(path.Dir(dest)); err != nil {
			return nil, err
		}
		if err := put(target, s.ctxPath, s.st); err != nil {
			return nil, err
		}
	}
	l := &copyLayer{}
	for _, e := range out {
		l.entries = append(l.entries, e)
	}
	sort.Slice(l.entries, func(a, b int) bool { return lessPath(l.entries[a].name, l.entries[b].name) })
	return l, nil
}

// isArchive reports whether ADD would unpack the file: a tar, possibly
// compressed.
func isArchive(fs fsutil.FS, p string) (bool, error) {
	rc, err := fs.Open(p)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(rc, head)
	head = head[:n]
	for _, magic := range [][]byte{{0x1f, 0x8b}, []byte("BZh"), {0xfd, '7', 'z', 'X', 'Z', 0}, {0x28, 0xb5, 0x2f, 0xfd}} {
		if bytes.HasPrefix(head, magic) {
			return true, nil
		}
	}
	return n >= 262 && bytes.Equal(head[257:262], []byte("ustar")), nil
}

// key is the layer cache key: the instruction, and every entry's metadata
// and content digest. Created directories count by name only (and by time
// under SOURCE_DATE_EPOCH, which sets it).
func (l *copyLayer) key(fs fsutil.FS, instr string, epoch *time.Time) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "sagekit copy layer v1\n%s\n", instr)
	if epoch != nil {
		fmt.Fprintf(h, "epoch %d\n", epoch.Unix())
	}
	for _, e := range l.entries {
		if e.created {
			fmt.Fprintf(h, "mkdir %q\n", e.name)
			continue
		}
		fmt.Fprintf(h, "%q %o %q %d %d", e.name, uint32(e.mode), e.linkname, e.mtime.UnixNano(), e.size)
		if e.src != "" {
			d, err := digestFile(fs, e.src)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, " %s", d)
		}
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func digestFile(fs fsutil.FS, p string) (string, error) {
	rc, err := fs.Open(p)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeTar writes the layer as an uncompressed tar: root-owned entries
// (COPY without --chown), times in whole seconds.
func (l *copyLayer) writeTar(w io.Writer, fs fsutil.FS) error {
	tw := tar.NewWriter(w)
	for _, e := range l.entries {
		name := strings.TrimPrefix(e.name, "/")
		hdr := &tar.Header{
			Name:    name,
			Mode:    int64(unixMode(e.mode)),
			ModTime: e.mtime.Truncate(time.Second),
			Format:  tar.FormatPAX,
		}
		switch {
		case e.isDir():
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
		case e.mode&os.ModeSymlink != 0:
			hdr.Typeflag = tar.TypeSymlink
			hdr.Linkname = e.linkname
		default:
			hdr.Typeflag = tar.TypeReg
			hdr.Size = e.size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if e.src == "" {
			continue
		}
		rc, err := fs.Open(e.src)
		if err != nil {
			return fmt.Errorf("reading %s: %w", e.src, err)
		}
		n, err := io.Copy(tw, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("reading %s: %w", e.src, err)
		}
		if n != e.size {
			return fmt.Errorf("%s changed while the layer was written", e.src)
		}
	}
	return tw.Close()
}

// unixMode converts Go's mode bits to the tar header's.
func unixMode(m os.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// fromUnixMode converts a mode's permission and special bits to Go's.
func fromUnixMode(u uint32) os.FileMode {
	m := os.FileMode(u & 0o777)
	if u&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if u&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if u&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m
}

// cacheRecord is what the layer cache keeps next to a layer's tar.
type cacheRecord struct {
	DiffID string `json:"diffID"`
	Size   int64  `json:"size"`
}

func readJSON(p string, v any) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// writeFileAtomic writes a file by renaming a complete temporary file
// into place, so readers never see part of one.
func writeFileAtomic(p string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-"+filepath.Base(p)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}
