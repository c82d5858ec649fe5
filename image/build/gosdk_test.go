package build

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sagekit/sagekit/image/sdkmod"
	"github.com/sagekit/sagekit/templates"
)

// TestBuildGoOffersCarriedSDK compiles a generated go project whose go.sum
// was deleted, with an empty module cache and no proxy but the local cache
// of third-party modules: the SDK can only come from the copy sagekit
// carries, and its checksums land in go.sum.
func TestBuildGoOffersCarriedSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a generated project")
	}
	ctx := context.Background()
	s, err := sdkmod.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	opts := templates.Options{Name: "iris", SDKVersion: s.Version}
	for _, r := range s.Requires {
		opts.SDKRequires = append(opts.SDKRequires, templates.Requirement{Path: r.Path, Version: r.Version})
	}
	files, err := templates.Render(templates.Go, opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "iris")
	if err := templates.Write(dir, files); err != nil {
		t.Fatal(err)
	}
	shared, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOMODCACHE", filepath.Join(t.TempDir(), "modcache"))
	proxy := thirdPartyProxy(t, filepath.Join(strings.TrimSpace(string(shared)), "cache", "download"))
	t.Setenv("GOPROXY", "file://"+filepath.ToSlash(proxy)+",off")
	t.Setenv("GOFLAGS", "-modcacherw")
	t.Setenv("GOWORK", "off")
	t.Setenv("GOSUMDB", "off") // no checksum database here; go.sum records what it builds

	env, cleanup, err := sdkGoEnv(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if err := buildGo(ctx, env, dir, "./cmd/algorithm", "amd64", filepath.Join(t.TempDir(), "algorithm")); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range s.Sum {
		if !strings.Contains(string(sum), line+"\n") {
			t.Errorf("go.sum lacks %q:\n%s", line, sum)
		}
	}

	// Without the carried copy the same build fails, and says why.
	err = buildGo(ctx, append(os.Environ(), "GOMODCACHE="+filepath.Join(t.TempDir(), "modcache")), dir, "./cmd/algorithm", "amd64", filepath.Join(t.TempDir(), "algorithm"))
	if err == nil {
		t.Fatal("building with GOPROXY=off and an empty module cache passed; the test proves nothing")
	}
	if !strings.Contains(err.Error(), sdkmod.Module) {
		t.Errorf("the failed build does not name the module: %v", err)
	}
}

// thirdPartyProxy is a file proxy of the shared module cache without
// sagekit's own module: other tests (and `sagekit init`) put the carried SDK
// in that cache, and a proxy that still offered it would let the build
// below pass without the copy sagekit carries.
func thirdPartyProxy(t *testing.T, download string) string {
	t.Helper()
	// mirror links every entry of from into to, except skip.
	mirror := func(from, to, skip string) {
		entries, err := os.ReadDir(from)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() == skip {
				continue
			}
			if err := os.Symlink(filepath.Join(from, e.Name()), filepath.Join(to, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	host, rest, _ := strings.Cut(sdkmod.Module, "/") // github.com, sagekit/sagekit
	org, _, _ := strings.Cut(rest, "/")
	proxy := t.TempDir()
	mirror(download, proxy, host)
	if err := os.Mkdir(filepath.Join(proxy, host), 0o755); err != nil {
		t.Fatal(err)
	}
	mirror(filepath.Join(download, host), filepath.Join(proxy, host), org)
	return proxy
}

func TestSDKHint(t *testing.T) {
	s, err := sdkmod.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n\ngo 1.26.8\n\nrequire github.com/sagekit/sagekit v0.1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := requiredSDK(dir); got != "v0.1.0" {
		t.Errorf("requiredSDK = %q, want v0.1.0", got)
	}
	hint := sdkHint(context.Background(), dir, []byte("reading github.com/sagekit/sagekit/@v/v0.1.0.info: 404 Not Found"))
	if want := "go mod edit -require=" + sdkmod.Module + "@" + s.Version; !strings.Contains(hint, want) {
		t.Errorf("sdkHint = %q, want it to say %q", hint, want)
	}
	if hint := sdkHint(context.Background(), dir, []byte("undefined: foo")); hint != "" {
		t.Errorf("sdkHint for an error of the project's own = %q, want none", hint)
	}
}
