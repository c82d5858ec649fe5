package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/sagekit/sagekit/internal/testenv"
)

const module = "github.com/sagekit/sagekit/"

// allowedRuntimeDeps lists what the in-image runtime may link besides the
// standard library: the SDK, the serving stack, the version stamp and small
// libraries. Anything else makes every image bigger and must be argued for.
var allowedRuntimeDeps = []string{
	module + "sdk/",
	module + "serving",
	module + "runtime/", // the launcher, toolkit compatibility, S3 download, code directory
	module + "internal/version",
	module + "internal/extract", // the standard library only: archives unpacked within their directory
	module + "internal/redact",  // the standard library only: credentials scrubbed from logs and errors
	"github.com/gorilla/mux",
}

// forbiddenLibDeps must never reach sdk/, runtime/ or serving/: they are for
// the CLI.
var forbiddenLibDeps = []string{
	"github.com/docker/",
	"github.com/moby/",
	"github.com/spf13/cobra",
	"github.com/aws/",
	"github.com/google/go-containerregistry",
	"github.com/testcontainers/",
	"google.golang.org/grpc",
}

func goListDeps(t *testing.T, pkgs ...string) []string {
	t.Helper()
	args := append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}"}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	var deps []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			deps = append(deps, l)
		}
	}
	return deps
}

func TestRuntimeImportsOnlyAllowedPackages(t *testing.T) {
	deps := goListDeps(t, ".")
	if len(deps) == 0 {
		t.Fatal("go list returned no packages")
	}
	for _, d := range deps {
		if d == module+"runtime/cmd/sagekit-runtime" {
			continue
		}
		ok := false
		for _, a := range allowedRuntimeDeps {
			if strings.HasPrefix(d, a) {
				ok = true
				break
			}
		}
		if !ok {
			t.Errorf("sagekit-runtime imports %s: only sdk/, runtime/, serving/, the standard library and small libraries are allowed", d)
		}
	}
}

func TestLibrariesImportNoToolingPackages(t *testing.T) {
	for _, d := range goListDeps(t, "../../../sdk/...", "../../../runtime/...", "../../../serving/...") {
		for _, f := range forbiddenLibDeps {
			if strings.HasPrefix(d, f) {
				t.Errorf("sdk/, runtime/ or serving/ depends on %s: keep Docker, BuildKit, cobra, AWS and registry code out of the runtime's libraries", d)
			}
		}
	}
}

func TestRuntimeBinaryIsSmallAndStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped: builds the runtime (short mode)")
	}
	const maxBytes = 10 << 20
	for _, arch := range []string{runtime.GOARCH, "arm64"} {
		path := testenv.Binary(t, "./runtime/cmd/sagekit-runtime", arch)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > maxBytes {
			t.Errorf("linux/%s sagekit-runtime is %d bytes, over the %d-byte budget", arch, fi.Size(), maxBytes)
		}
		f, err := elf.Open(path)
		if err != nil {
			t.Fatalf("reading ELF %s: %v", path, err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("linux/%s sagekit-runtime is dynamically linked (has PT_INTERP)", arch)
			}
		}
		f.Close()
		t.Logf("linux/%s sagekit-runtime: %.1f MB", arch, float64(fi.Size())/1e6)
	}
}
