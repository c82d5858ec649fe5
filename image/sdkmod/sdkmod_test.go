package sdkmod

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sagekit/sagekit/internal/testenv"
)

func TestPseudoVersion(t *testing.T) {
	at := time.Date(2026, 12, 3, 7, 4, 5, 0, time.UTC)
	for _, tc := range []struct{ prev, want string }{
		{"", "v0.0.0-20261203070405-0123456789ab"},
		{"v0.3.1", "v0.3.2-0.20261203070405-0123456789ab"},
		{"v1.0.0-rc.1", "v1.0.0-rc.1.0.20261203070405-0123456789ab"},
	} {
		if got := PseudoVersion(tc.prev, at, "0123456789ab"); got != tc.want {
			t.Errorf("PseudoVersion(%q) = %s, want %s", tc.prev, got, tc.want)
		}
	}
}

// TestModuleBuildsOffline serves the module from WriteProxy, with nothing
// else reachable but the modules already in the local module cache, to a
// project that imports every package under sdk/ and whose go.mod and
// go.sum hold only what the SDK says (Version, Requires, Sum): the build
// passes only if the zip holds every package sdk/ needs and the checksums
// are the ones the go command computes.
func TestModuleBuildsOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the SDK as an outside module")
	}
	ctx := context.Background()
	s, err := FromSource(ctx, testenv.ModuleRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Version, "v") || len(s.Sum) < 2 {
		t.Fatalf("FromSource = version %q, sum %q", s.Version, s.Sum)
	}
	for _, r := range s.Requires {
		if strings.HasPrefix(r.Path, Module) {
			t.Errorf("Requires lists %s, a part of sagekit itself", r.Path)
		}
	}
	dir := t.TempDir()
	url, err := s.WriteProxy(filepath.Join(dir, "proxy"))
	if err != nil {
		t.Fatal(err)
	}
	list := exec.Command("go", "list", "./sdk/...")
	list.Dir = testenv.ModuleRoot(t)
	pkgs, err := list.Output()
	if err != nil {
		t.Fatal(err)
	}
	var main strings.Builder
	main.WriteString("package main\n\nimport (\n")
	for _, p := range strings.Fields(string(pkgs)) {
		main.WriteString("\t_ \"" + p + "\"\n")
	}
	main.WriteString(")\n\nfunc main() {}\n")
	var mod strings.Builder
	mod.WriteString("module example.com/offline\n\ngo 1.26.8\n\nrequire " + Module + " " + s.Version + "\n")
	for _, r := range s.Requires {
		mod.WriteString("\nrequire " + r.Path + " " + r.Version + " // indirect\n")
	}
	proj := filepath.Join(dir, "proj")
	for name, data := range map[string]string{
		"go.mod":  mod.String(),
		"go.sum":  strings.Join(s.Sum, "\n") + "\n",
		"main.go": main.String(),
	} {
		if err := os.MkdirAll(proj, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proj, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shared, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "offline"), ".")
	build.Dir = proj
	build.Env = append(os.Environ(),
		"GOMODCACHE="+filepath.Join(dir, "modcache"),
		// The shared module cache's download directory is itself a module
		// proxy: the SDK's own requirements come from there, nothing from
		// the network.
		"GOPROXY="+url+",file://"+filepath.ToSlash(filepath.Join(strings.TrimSpace(string(shared)), "cache", "download"))+",off",
		"GOFLAGS=-mod=readonly -modcacherw",
		"GONOSUMDB="+Module,
		"GOWORK=off",
	)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building a project on the SDK module offline: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(proj, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(b)), strings.Join(s.Sum, "\n"); got != want {
		t.Errorf("the go command changed go.sum:\n%s\nwant\n%s", got, want)
	}
}

func TestGoEnv(t *testing.T) {
	env := GoEnv([]string{"HOME=/h"}, map[string]string{"GOPROXY": "https://corp.example,direct", "GONOSUMDB": "corp.example", "GOFLAGS": "-trimpath"}, "file:///p", true)
	want := []string{"HOME=/h", "GOPROXY=file:///p,https://corp.example,direct", "GONOSUMDB=corp.example," + Module, "GOFLAGS=-trimpath -mod=mod"}
	if strings.Join(env, " ") != strings.Join(want, " ") {
		t.Errorf("GoEnv = %q, want %q", env, want)
	}
	env = GoEnv(nil, map[string]string{"GOWORK": "/src/x/go.work"}, "file:///p", true)
	want = []string{"GOPROXY=file:///p,https://proxy.golang.org,direct", "GONOSUMDB=" + Module}
	if strings.Join(env, " ") != strings.Join(want, " ") {
		t.Errorf("GoEnv in workspace mode = %q, want %q", env, want)
	}
	env = GoEnv(nil, map[string]string{"GOFLAGS": "-mod=vendor"}, "file:///p", true)
	want = []string{"GOPROXY=file:///p,https://proxy.golang.org,direct", "GONOSUMDB=" + Module}
	if strings.Join(env, " ") != strings.Join(want, " ") {
		t.Errorf("GoEnv = %q, want %q", env, want)
	}
}
