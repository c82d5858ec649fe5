package build

import (
	"bytes"
	"context"
	"fmt"
	gofs "io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/dockerignore" //nolint:staticcheck // the same reader the Dockerfile frontend uses
	"github.com/tonistiigi/fsutil"
	"github.com/tonistiigi/fsutil/types"
)

// readIgnore parses a .dockerignore as the Dockerfile frontend does.
func readIgnore(b []byte) ([]string, error) {
	pats, err := dockerignore.ReadAll(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("reading .dockerignore: %w", err)
	}
	return pats, nil
}

// contextIndex is the build context as BuildKit would receive it
// (.dockerignore applied by fsutil's filter, .sagekit/ laid over it), with
// every entry's metadata.
type contextIndex struct {
	fs      fsutil.FS
	entries map[string]*types.Stat // by slash path relative to the root, no leading slash
	paths   []string               // sorted
}

func indexContext(ctx context.Context, fs fsutil.FS, excludes []string) (*contextIndex, error) {
	if len(excludes) > 0 {
		var err error
		if fs, err = fsutil.NewFilterFS(fs, &fsutil.FilterOpt{ExcludePatterns: excludes}); err != nil {
			return nil, fmt.Errorf("applying .dockerignore: %w", err)
		}
	}
	ix := &contextIndex{fs: fs, entries: map[string]*types.Stat{}}
	err := fs.Walk(ctx, "", func(p string, d gofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*types.Stat)
		if !ok {
			return fmt.Errorf("no stat for %s", p)
		}
		p = filepath.ToSlash(p)
		ix.entries[p] = st
		ix.paths = append(ix.paths, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the build context: %w", err)
	}
	sort.Strings(ix.paths)
	return ix, nil
}

// children lists the entries below dir ("" for the root), depth first in
// name order.
func (ix *contextIndex) children(dir string) []string {
	prefix := dir + "/"
	if dir == "" {
		prefix = ""
	}
	i := sort.SearchStrings(ix.paths, prefix)
	var out []string
	for ; i < len(ix.paths) && strings.HasPrefix(ix.paths[i], prefix); i++ {
		if ix.paths[i] != dir {
			out = append(out, ix.paths[i])
		}
	}
	// Sorting by path components keeps each directory before its entries
	// and matches a depth-first walk.
	sort.Slice(out, func(a, b int) bool { return lessPath(out[a], out[b]) })
	return out
}

func lessPath(a, b string) bool {
	return strings.ReplaceAll(a, "/", "\x00") < strings.ReplaceAll(b, "/", "\x00")
}

// resolve follows a symlink named as a COPY source to what it points at,
// inside the context, as BuildKit's copy does for the sources it is given.
func (ix *contextIndex) resolve(p string) (string, *types.Stat, bool) {
	for range 40 {
		st, ok := ix.entries[p]
		if !ok {
			return "", nil, false
		}
		if os.FileMode(st.Mode)&os.ModeSymlink == 0 {
			return p, st, true
		}
		t := st.Linkname
		if !path.IsAbs(t) {
			t = path.Join(path.Dir("/"+p), t)
		}
		p = strings.TrimPrefix(path.Clean(t), "/")
	}
	return "", nil, false
}

// glob returns the context paths matching pattern, sorted.
func (ix *contextIndex) glob(pattern string) ([]string, error) {
	var out []string
	depth := strings.Count(pattern, "/")
	for _, p := range ix.paths {
		if strings.Count(p, "/") != depth {
			continue
		}
		ok, err := path.Match(pattern, p)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

func hasWildcard(s string) bool { return strings.ContainsAny(s, "*?[") }
