package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	gofs "io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sagekit/sagekit/image/runtimebin"
	"github.com/tonistiigi/fsutil"
	"github.com/tonistiigi/fsutil/types"
)

// SagekitDir is the virtual directory added to every build context.
const SagekitDir = ".sagekit"

// ProjectFile is the project's sagekit settings file in the context dir.
const ProjectFile = "sagekit.json"

// project is the part of sagekit.json that build reads.
type project struct {
	Go *struct {
		Main string `json:"main"`
	} `json:"go"`
}

func readProject(dir string) (project, error) {
	var p project
	b, err := os.ReadFile(filepath.Join(dir, ProjectFile))
	if errors.Is(err, gofs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("reading %s: %w", ProjectFile, err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("reading %s: %w: fix the JSON", ProjectFile, err)
	}
	return p, nil
}

// stage writes the .sagekit directory for the given architectures into dir:
// linux-<arch>/sagekit-runtime and, when the project names a Go main
// package, linux-<arch>/algorithm compiled on the host.
func stageSagekit(ctx context.Context, log *slog.Logger, dir, contextDir string, arches []string, mtime time.Time) error {
	p, err := readProject(contextDir)
	if err != nil {
		return err
	}
	var goEnv []string
	if p.Go != nil && p.Go.Main != "" {
		var cleanup func()
		goEnv, cleanup, err = sdkGoEnv(ctx, contextDir)
		if err != nil {
			return err
		}
		defer cleanup()
	}
	for _, arch := range arches {
		sub := filepath.Join(dir, "linux-"+arch)
		if err := runtimebin.Write(ctx, arch, filepath.Join(sub, runtimebin.Name), contextDir); err != nil {
			return err
		}
		if p.Go != nil && p.Go.Main != "" {
			log.Info("compiling the Go algorithm", "package", p.Go.Main, "platform", "linux/"+arch)
			if err := buildGo(ctx, goEnv, contextDir, p.Go.Main, arch, filepath.Join(sub, "algorithm")); err != nil {
				return err
			}
		}
	}
	// Fixed times keep the COPY layers of unchanged binaries identical.
	return filepath.WalkDir(dir, func(p string, _ gofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, mtime, mtime)
	})
}

// buildGo compiles the Go main package pkg for linux/arch, as ko does:
// static, trimmed, no Go toolchain needed inside the build.
func buildGo(ctx context.Context, env []string, dir, pkg, arch, dst string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", dst, pkg)
	cmd.Dir = dir
	cmd.Env = append(env, "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	out, err := cmd.CombinedOutput()
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("building the Go algorithm %s: the go command is not installed: install Go or drop \"go\" from %s", pkg, ProjectFile)
	}
	if err != nil {
		return fmt.Errorf("building the Go algorithm %s for linux/%s: %w\n%s%s", pkg, arch, err, strings.TrimSpace(string(out)), sdkHint(ctx, dir, out))
	}
	return nil
}

// overlayFS is a build context with the directory extra mounted at the
// top-level name dir, hiding whatever the base context has there. Walk
// keeps fsutil's order (names sorted within each directory, depth first).
type overlayFS struct {
	base  fsutil.FS
	dir   string
	extra fsutil.FS
	stat  *types.Stat // of dir itself
}

func newOverlayFS(base fsutil.FS, dir string, extraRoot string, mtime time.Time) (fsutil.FS, error) {
	efs, err := fsutil.NewFS(extraRoot)
	if err != nil {
		return nil, err
	}
	return &overlayFS{
		base:  base,
		dir:   dir,
		extra: efs,
		stat:  &types.Stat{Path: dir, Mode: uint32(os.ModeDir | 0o755), ModTime: mtime.UnixNano()},
	}, nil
}

func (o *overlayFS) Open(p string) (io.ReadCloser, error) {
	if rest, ok := o.under(p); ok {
		return o.extra.Open(rest)
	}
	return o.base.Open(p)
}

// under reports whether p is dir or below it, and p relative to dir.
func (o *overlayFS) under(p string) (string, bool) {
	p = strings.TrimPrefix(filepath.ToSlash(filepath.Clean(p)), "/")
	if p == o.dir {
		return "", true
	}
	rest, ok := strings.CutPrefix(p, o.dir+"/")
	return rest, ok
}

func (o *overlayFS) Walk(ctx context.Context, target string, fn gofs.WalkDirFunc) error {
	t := strings.TrimPrefix(filepath.ToSlash(filepath.Clean(target)), "/")
	if t != "" && t != "." {
		if rest, ok := o.under(t); ok {
			return o.walkExtra(ctx, rest, fn)
		}
		return o.base.Walk(ctx, target, fn)
	}
	injected := false
	err := o.base.Walk(ctx, target, func(p string, d gofs.DirEntry, err error) error {
		sp := filepath.ToSlash(p)
		if _, ok := o.under(sp); ok {
			if d != nil && d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !injected && !strings.Contains(sp, "/") && sp > o.dir {
			injected = true
			if err := o.walkExtra(ctx, "", fn); err != nil {
				return err
			}
		}
		return fn(p, d, err)
	})
	if err != nil || injected {
		return err
	}
	return o.walkExtra(ctx, "", fn)
}

// walkExtra walks the extra directory from rest ("" for its root, which is
// then reported as dir itself), giving paths under dir.
func (o *overlayFS) walkExtra(ctx context.Context, rest string, fn gofs.WalkDirFunc) error {
	if rest == "" {
		if err := fn(o.dir, &fsutil.DirEntryInfo{Stat: o.stat.Clone()}, nil); err != nil {
			if errors.Is(err, filepath.SkipDir) {
				return nil
			}
			return err
		}
	}
	return o.extra.Walk(ctx, rest, func(p string, d gofs.DirEntry, err error) error {
		if err != nil {
			return fn(filepath.Join(o.dir, p), d, err)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*types.Stat)
		if !ok {
			return fmt.Errorf("walking %s: no stat for %s", o.dir, p)
		}
		st = st.Clone()
		st.Path = filepath.Join(o.dir, st.Path)
		return fn(filepath.Join(o.dir, p), &fsutil.DirEntryInfo{Stat: st}, nil)
	})
}

// clampTimes returns a context whose file times are no later than t, so
// COPY layers do not depend on when files were checked out.
func clampTimes(fs fsutil.FS, t time.Time) (fsutil.FS, error) {
	ns := t.UnixNano()
	return fsutil.NewFilterFS(fs, &fsutil.FilterOpt{Map: func(_ string, st *types.Stat) fsutil.MapResult {
		if st.ModTime > ns {
			st.ModTime = ns
		}
		return fsutil.MapResultKeep
	}})
}
