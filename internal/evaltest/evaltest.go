// Package evaltest builds the images the evaluate tests run: the fixture
// algorithm (internal/evaltest/evalfixture), the Go example and the Python
// template, each under a tag unique to the test and removed after it.
package evaltest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/image/build"
	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/templates"
)

// EnvRequireBase, when "1", turns a missing sagekit/python base image into a
// failure instead of a skip.
const EnvRequireBase = "SAGEKIT_REQUIRE_BASE"

// PythonBase is the local base image of the Python template.
const PythonBase = "sagekit/python:bookworm"

// Iris is the iris data the templates ship, label in column 0.
func Iris(t testing.TB) string {
	return filepath.Join(testenv.ModuleRoot(t), "examples", "go", "local", "input", "data", "training", "iris.csv")
}

func tag(name string) string {
	return fmt.Sprintf("sagekit-test/evaluate-%s:%d", name, time.Now().UnixNano())
}

func buildDir(ctx context.Context, t testing.TB, dc *client.Client, name, dir string, args map[string]string) string {
	t.Helper()
	image := tag(name)
	t.Cleanup(func() {
		dc.ImageRemove(context.WithoutCancel(ctx), image, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
	if _, err := build.Run(ctx, build.Options{ContextDir: dir, Tags: []string{image}, BuildArgs: args, Docker: dc}); err != nil {
		t.Fatalf("building %s: %v", dir, err)
	}
	return image
}

// Fixture builds the fixture algorithm into a FROM scratch image.
func Fixture(ctx context.Context, t testing.TB, dc *client.Client) string {
	t.Helper()
	bin := testenv.Binary(t, "./internal/evaltest/evalfixture", runtime.GOARCH)
	dir := t.TempDir()
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "evalfixture"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	df := "FROM scratch\nCOPY evalfixture /evalfixture\nENTRYPOINT [\"/evalfixture\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	return buildDir(ctx, t, dc, "fixture", dir, nil)
}

// GoExample builds examples/go.
func GoExample(ctx context.Context, t testing.TB, dc *client.Client) string {
	t.Helper()
	return buildDir(ctx, t, dc, "go", filepath.Join(testenv.ModuleRoot(t), "examples", "go"), nil)
}

// PythonTemplate renders the Python template and builds it on the local
// Python base, skipping the test when that base is missing (failing it
// under SAGEKIT_REQUIRE_BASE=1).
func PythonTemplate(ctx context.Context, t testing.TB, dc *client.Client) string {
	t.Helper()
	if _, err := dc.ImageInspect(ctx, PythonBase); err != nil {
		msg := fmt.Sprintf("base image %s is not in the local image store: run `sagekit base` first", PythonBase)
		if os.Getenv(EnvRequireBase) == "1" {
			t.Fatalf("%s (%s=1)", msg, EnvRequireBase)
		}
		t.Skipf("skipped: %s", msg)
	}
	files, err := templates.Render(templates.Python, templates.Options{Name: "sagekit-test-evaluate"})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "project")
	if err := templates.Write(dir, files); err != nil {
		t.Fatal(err)
	}
	return buildDir(ctx, t, dc, "python", dir, map[string]string{"BASE_IMAGE": PythonBase})
}

// Leftovers lists the containers, running or not, made from image.
func Leftovers(ctx context.Context, t testing.TB, dc *client.Client, image string) []string {
	t.Helper()
	cs, err := dc.ContainerList(context.WithoutCancel(ctx), client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("ancestor", image)})
	if err != nil {
		t.Fatalf("listing containers: %v", err)
	}
	var out []string
	for _, c := range cs.Items {
		out = append(out, c.ID[:12]+" "+strings.Join(c.Names, ","))
	}
	return out
}
