// Package testenv holds what the project's tests share: finding the Docker
// Engine and building the runtime binary once per test binary.
package testenv

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// EnvRequireDocker, when "1", turns a missing Docker Engine into a test
// failure instead of a skip. CI sets it.
const EnvRequireDocker = "SAGEKIT_REQUIRE_DOCKER"

// Docker returns a client for the local engine, or skips the test when there
// is none (fails under SAGEKIT_REQUIRE_DOCKER=1). Under -short it skips
// without looking: the short set runs without an engine, whatever
// SAGEKIT_REQUIRE_DOCKER says.
func Docker(t testing.TB) *client.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped under -short: needs the Docker Engine")
	}
	c, err := client.New(client.FromEnv)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = c.Ping(ctx, client.PingOptions{})
	}
	if err != nil {
		if os.Getenv(EnvRequireDocker) == "1" {
			t.Fatalf("Docker Engine required (%s=1) but not reachable: %v", EnvRequireDocker, err)
		}
		t.Skipf("skipped: no Docker Engine: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// SkipShort skips t under -short, saying why it is left out of the short
// set: what it needs (a Python with scikit-learn, a Go build, ...) or how
// long it runs. The short set is what runs without Docker in a minute.
func SkipShort(t testing.TB, why string) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped under -short: " + why)
	}
}

var (
	buildOnce sync.Map // key "goos/goarch/pkg" -> *built
)

type built struct {
	once sync.Once
	path string
	err  error
}

// Binary builds the main package pkg (an import path or ./relative to the
// module root) for linux/goarch as a static binary, once per test process,
// and returns its path.
func Binary(t testing.TB, pkg, goarch string) string {
	t.Helper()
	v, _ := buildOnce.LoadOrStore("linux/"+goarch+"/"+pkg, &built{})
	b := v.(*built)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "sagekit-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, filepath.Base(pkg))
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", b.path, pkg)
		cmd.Dir = ModuleRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.err = &buildError{pkg: pkg, out: string(out), err: err}
		}
	})
	if b.err != nil {
		t.Fatalf("building %s: %v", pkg, b.err)
	}
	return b.path
}

// Runtime returns a linux sagekit-runtime binary for the host architecture.
func Runtime(t testing.TB) string {
	return Binary(t, "./runtime/cmd/sagekit-runtime", runtime.GOARCH)
}

type buildError struct {
	pkg, out string
	err      error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// ModuleRoot is the directory holding go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(string(out[:len(out)-1]))
}

// SyncBuffer is a bytes.Buffer that goroutines (a server's log, a worker's
// output copier) may write to while a test reads it.
type SyncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

// String returns what has been written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Writes returns how many Write calls there have been.
func (s *SyncBuffer) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}
