package readme

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/templates"
)

// installed copies the sagekit that `make build` made to a directory of
// its own, away from the checkout, and returns that directory.
func installed(t *testing.T) string {
	t.Helper()
	src := filepath.Join(testenv.ModuleRoot(t), "bin", "sagekit")
	b, err := os.ReadFile(src)
	if err != nil {
		if os.Getenv(testenv.EnvRequireDocker) == "1" {
			t.Fatalf("reading %s: %v (make build makes it)", src, err)
		}
		t.Skipf("skipped: %s is missing: run make build (make test does)", src)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sagekit"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// userEnv is a new user's environment: a fresh HOME and PATH starting
// with binDir. The Go caches stay the shared ones, so nothing is
// downloaded or compiled again, and GOPROXY is this machine's.
func userEnv(t *testing.T, binDir string) []string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE", "GOCACHE", "GOPROXY").Output()
	if err != nil {
		t.Fatal(err)
	}
	v := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(v) != 3 {
		t.Fatalf("go env = %q", out)
	}
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "HOME", "PATH", "GOMODCACHE", "GOCACHE", "GOPROXY", "GOWORK", "PWD", "OLDPWD":
		default:
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+t.TempDir(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"GOMODCACHE="+v[0], "GOCACHE="+v[1], "GOPROXY="+v[2])
}

// sh runs script with bash -e in dir and fails the test when it fails.
func sh(t *testing.T, dir string, env []string, script string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("$ %s(%s)", script, time.Since(start).Round(100*time.Millisecond))
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(out.String(), 60))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestGeneratedREADMEs writes a project with every template, on the CPU
// and the GPU base, and runs every command block of its README as written,
// in order, in the project directory. There is no GPU here, so a GPU
// project's README runs up to its build. The projects run one after
// another: their READMEs serve on port 8080.
func TestGeneratedREADMEs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds, trains, serves and tests an image per template")
	}
	bin := installed(t)
	testenv.Docker(t)
	env := userEnv(t, bin)
	for _, tmpl := range templates.Names() {
		for _, gpu := range []bool{false, true} {
			kind := "cpu"
			if gpu {
				kind = "gpu"
			}
			t.Run(tmpl+"-"+kind, func(t *testing.T) {
				name := fmt.Sprintf("readme-%s-%s-%d", tmpl, kind, os.Getpid())
				work := t.TempDir()
				t.Cleanup(func() {
					ctx := context.WithoutCancel(context.Background())
					_ = exec.CommandContext(ctx, "docker", "rm", "-f", name+"-serve").Run()
					_ = exec.CommandContext(ctx, "docker", "rmi", "-f", name).Run()
				})
				init := "sagekit init " + name + " --template " + tmpl
				if gpu {
					init += " --gpu"
				}
				sh(t, work, env, init)
				dir := filepath.Join(work, name)
				md, err := os.ReadFile(filepath.Join(dir, "README.md"))
				if err != nil {
					t.Fatal(err)
				}
				blocks := Blocks(string(md))
				if len(blocks) < 4 {
					t.Fatalf("README.md has %d command blocks:\n%s", len(blocks), md)
				}
				for _, b := range blocks {
					sh(t, dir, env, b)
					if gpu && strings.HasPrefix(b, "sagekit build") {
						return // the rest needs a GPU
					}
				}
				if gpu {
					t.Fatal("the README has no sagekit build block")
				}
				for _, f := range []string{"out/model.tar.gz", "local/model"} {
					if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
						t.Errorf("after the README: %v", err)
					}
				}
			})
		}
	}
}

// TestQuickStart runs the quick start of the repository README as written,
// installing into a temporary PREFIX and writing the project outside the
// checkout, with a fresh HOME. `make check`, its second command, is what
// runs this test, so it is left out.
func TestQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds, installs and runs the quick start")
	}
	installed(t) // skips where make build has not run
	testenv.Docker(t)
	root := testenv.ModuleRoot(t)
	md, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(md)
	i := strings.Index(s, "## Quick start")
	if i < 0 {
		t.Fatal("README.md has no ## Quick start")
	}
	blocks := Blocks(s[i:])
	if len(blocks) == 0 {
		t.Fatal("the quick start has no command block")
	}
	cmds := Commands(blocks[0])
	if len(cmds) != 2 || cmds[1] != "make check" {
		t.Fatalf("the quick start is %q; want two commands, the second make check", cmds)
	}
	tmp := t.TempDir()
	prefix, project := filepath.Join(tmp, "prefix"), filepath.Join(tmp, "work", "quickstart")
	tag := fmt.Sprintf("readme-quickstart-%d:latest", os.Getpid())
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", tag).Run() })
	env := append(userEnv(t, filepath.Join(prefix, "bin")), "PREFIX="+prefix, "QUICKSTART="+project, "QUICKSTART_TAG="+tag)
	sh(t, root, env, cmds[0])
	if _, err := os.Stat(filepath.Join(prefix, "bin", "sagekit")); err != nil {
		t.Errorf("the quick start installed nothing: %v", err)
	}
	if _, err := os.Stat(filepath.Join(project, "out", "model.tar.gz")); err != nil {
		t.Errorf("the quick start trained no model: %v", err)
	}
	if _, err := os.Stat(filepath.Join(project, "go.work")); err == nil {
		t.Errorf("the quick start project builds against the checkout (go.work)")
	}
}
