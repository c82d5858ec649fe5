package runtimebin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Module is the import path of the module whose source holds the runtime.
const Module = "github.com/sagekit/sagekit"

// Package is the import path of the runtime's main package.
const Package = Module + "/runtime/cmd/sagekit-runtime"

// Name is the runtime's file name inside the build context and the image.
const Name = "sagekit-runtime"

// Arches are the architectures sagekit carries a runtime for.
var Arches = []string{"amd64", "arm64"}

// ErrNotFound means no runtime binary for an architecture could be found or
// built.
var ErrNotFound = errors.New("sagekit-runtime binary not found")

// Write writes the linux/goarch runtime to dst with mode 0755. It uses, in
// order: the embedded binary, a file next to the executable, and a build
// from the module source when workDir lies inside it (once per process).
func Write(ctx context.Context, goarch, dst, workDir string) error {
	if !supported(goarch) {
		return fmt.Errorf("%w for linux/%s: sagekit carries runtimes for linux/%s only", ErrNotFound, goarch, strings.Join(Arches, ", linux/"))
	}
	if b := embedded(goarch); len(b) > 0 {
		return writeFile(dst, bytes.NewReader(b))
	}
	if p := besideExecutable(goarch); p != "" {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("opening %s: %w", p, err)
		}
		defer f.Close()
		return writeFile(dst, f)
	}
	if b := builtBefore(goarch); b != nil {
		return writeFile(dst, bytes.NewReader(b))
	}
	if dir, ok := moduleRoot(ctx, workDir); ok {
		return buildFromSource(ctx, dir, goarch, dst)
	}
	return fmt.Errorf("%w for linux/%s: build sagekit with `make build`, or put the runtime at bin/linux-%s/%s next to the sagekit executable", ErrNotFound, goarch, goarch, Name)
}

func supported(goarch string) bool {
	for _, a := range Arches {
		if a == goarch {
			return true
		}
	}
	return false
}

func writeFile(dst string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	return f.Close()
}

// besideExecutable looks for the runtime where `make build` and an unpacked
// release put it, relative to the running executable.
func besideExecutable(goarch string) string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	dir := filepath.Dir(exe)
	for _, p := range []string{
		filepath.Join(dir, "linux-"+goarch, Name),
		filepath.Join(dir, "..", "lib", "sagekit", "linux-"+goarch, Name),
		filepath.Join(dir, "bin", "linux-"+goarch, Name),
	} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// moduleRoot reports the root of the sagekit module when dir (or the
// current directory) lies inside its source.
func moduleRoot(ctx context.Context, dir string) (string, bool) {
	for _, d := range []string{dir, "."} {
		if d == "" {
			continue
		}
		cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Path}} {{.Dir}}")
		cmd.Dir = d
		out, err := cmd.Output()
		if err != nil {
			continue
		}
		path, root, ok := strings.Cut(strings.TrimSpace(string(out)), " ")
		if ok && path == Module {
			return root, true
		}
	}
	return "", false
}

var (
	srcMu    sync.Mutex
	srcBuilt = map[string][]byte{} // goarch -> the binary built by this process
)

// builtBefore returns the runtime this process built from source, or nil.
func builtBefore(goarch string) []byte {
	srcMu.Lock()
	defer srcMu.Unlock()
	return srcBuilt[goarch]
}

// buildFromSource builds the runtime into dst once per process and
// architecture; later calls write the same bytes again. The binary is kept
// in memory (about 10 MB) because dst usually lies in a build's staging
// directory, which is gone by the next call.
func buildFromSource(ctx context.Context, root, goarch, dst string) error {
	srcMu.Lock()
	defer srcMu.Unlock()
	if b, ok := srcBuilt[goarch]; ok {
		return writeFile(dst, bytes.NewReader(b))
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", dst, Package)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s for linux/%s: %w\n%s", Package, goarch, err, out)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		return fmt.Errorf("reading the runtime just built: %w", err)
	}
	srcBuilt[goarch] = b
	return nil
}
