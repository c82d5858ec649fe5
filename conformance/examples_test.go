package conformance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/conformance"
	"github.com/sagekit/sagekit/image/build"
	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/sdk/optml"
)

// envRequireBase, when "1", turns a missing sagekit/* base image into a
// failure instead of a skip. CI sets it after `sagekit base`.
const envRequireBase = "SAGEKIT_REQUIRE_BASE"

// example is one project under examples/.
type example struct {
	name, dir string
	Template  string `json:"template"`
	GPU       bool   `json:"gpu"`
}

// examples lists the projects under examples/ (directories with a
// sagekit.json).
func examples(t testing.TB) []example {
	t.Helper()
	root := filepath.Join(testenv.ModuleRoot(t), "examples")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []example
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(root, e.Name(), "sagekit.json"))
		if err != nil {
			continue
		}
		ex := example{name: e.Name(), dir: filepath.Join(root, e.Name())}
		if err := json.Unmarshal(b, &ex); err != nil {
			t.Fatalf("%s/sagekit.json: %v", e.Name(), err)
		}
		out = append(out, ex)
	}
	if len(out) == 0 {
		t.Fatalf("no examples under %s", root)
	}
	return out
}

// baseArgs points an example at its local base image, skipping (or
// failing under SAGEKIT_REQUIRE_BASE=1) when that base is missing.
func baseArgs(ctx context.Context, t testing.TB, dc *client.Client, ex example) map[string]string {
	t.Helper()
	var candidates []string
	switch {
	case ex.Template == "go" && !ex.GPU:
		return nil // FROM scratch
	case ex.GPU:
		candidates = []string{"sagekit/cuda:bookworm", "sagekit/base:bookworm"}
	case ex.Template == "python":
		candidates = []string{"sagekit/python:bookworm"}
	default:
		candidates = []string{"sagekit/base:bookworm"}
	}
	for _, img := range candidates {
		if _, err := dc.ImageInspect(ctx, img); err == nil {
			return map[string]string{"BASE_IMAGE": img}
		}
	}
	msg := fmt.Sprintf("base image %s is not in the local image store: run `sagekit base` first", strings.Join(candidates, " or "))
	if os.Getenv(envRequireBase) == "1" {
		t.Fatalf("%s (%s=1)", msg, envRequireBase)
	}
	t.Skipf("skipped: %s", msg)
	return nil
}

// buildExample builds ex with sagekit's build library and returns the tag.
func buildExample(ctx context.Context, t testing.TB, dc *client.Client, ex example) string {
	t.Helper()
	args := baseArgs(ctx, t, dc, ex)
	tag := fmt.Sprintf("sagekit-conformance-example/%s:%d", ex.name, time.Now().UnixNano())
	t.Cleanup(func() {
		dc.ImageRemove(context.WithoutCancel(ctx), tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
	if _, err := build.Run(ctx, build.Options{ContextDir: ex.dir, Tags: []string{tag}, BuildArgs: args, Docker: dc}); err != nil {
		t.Fatalf("building %s: %v", ex.dir, err)
	}
	return tag
}

// exampleOptions feeds the suite the example's own sample data.
func exampleOptions(t testing.TB, ex example) []conformance.Option {
	t.Helper()
	local := optml.At(filepath.Join(ex.dir, "local"))
	var opts []conformance.Option
	if hp, err := local.LoadHyperparameters(); err == nil {
		opts = append(opts, conformance.WithHyperparameters(hp))
	}
	if entries, err := os.ReadDir(local.Data()); err == nil {
		for _, e := range entries {
			if e.IsDir() {
				opts = append(opts, conformance.WithData(e.Name(), local.Channel(e.Name())))
			}
		}
	}
	if payload, err := os.ReadFile(filepath.Join(ex.dir, "local", "payload.csv")); err == nil {
		opts = append(opts, conformance.WithPayload(payload, "text/csv"))
	}
	// The answer to payload.csv without an Accept header, where the example
	// records it (the toolkit examples).
	if want, err := os.ReadFile(filepath.Join(ex.dir, "local", "expected-output.json")); err == nil {
		opts = append(opts, conformance.WithExpectBodyContains(string(want)))
	}
	return opts
}

// TestExamplesConform: every example image passes the whole cpu profile,
// with SageMaker's own time limits.
func TestExamplesConform(t *testing.T) {
	dc := testenv.Docker(t)
	for _, ex := range examples(t) {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			tag := buildExample(ctx, t, dc, ex)
			opts := append(exampleOptions(t, ex), conformance.WithClient(dc))
			rep := conformance.Run(t, tag, opts...)
			if rep == nil {
				return
			}
			if failed := rep.Failed(); len(failed) > 0 {
				t.Errorf("failed rules: %v", failed)
			}
			for _, r := range rep.Results {
				// A training program that finishes within a second leaves
				// nothing to stop; any other skip hides a rule.
				if r.Status == conformance.StatusSkip && r.ID != "C-TR-08" {
					t.Errorf("%s was skipped (%s): an example must show every rule", r.ID, r.Message)
				}
			}
		})
	}
}

// BenchmarkSuiteGoImage times the whole cpu profile on the Go example
// image (bound: 60 s).
func BenchmarkSuiteGoImage(b *testing.B) {
	dc := testenv.Docker(b)
	var ex example
	for _, e := range examples(b) {
		if e.name == "go" {
			ex = e
		}
	}
	if ex.name == "" {
		b.Fatal("no examples/go")
	}
	tag := buildExample(b.Context(), b, dc, ex)
	opts := append(exampleOptions(b, ex), conformance.WithClient(dc))
	for b.Loop() {
		rep, err := conformance.Check(b.Context(), tag, opts...)
		if err != nil {
			b.Fatal(err)
		}
		if !rep.Passed() {
			b.Fatalf("the Go example fails: %v", rep.Failed())
		}
	}
}
