// Package testmodel makes the models tests serve: the Go example's
// decision tree fitted on its iris data, as a model directory and as the
// model.tar.gz SageMaker would unpack into it.
package testmodel

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/sagekit/sagekit/examples/go/tree"
	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/platform"
)

// IrisDir is the Go example's training data (a directory of CSV files).
func IrisDir(t testing.TB) string {
	return filepath.Join(testenv.ModuleRoot(t), "examples", "go", "local", "input", "data", "training")
}

// Iris fits the Go example's tree of the given depth on the iris data and
// returns a directory holding model.json and a model.tar.gz of it, both
// removed when t ends.
func Iris(t testing.TB, depth int) (dir, archive string) {
	t.Helper()
	x, y, err := tree.ReadTrainingDir(IrisDir(t))
	if err != nil {
		t.Fatal(err)
	}
	m, err := tree.Fit(x, y, tree.Params{MaxDepth: depth, MinSamplesSplit: 2})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	dir = filepath.Join(base, "model")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, tree.ModelFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	archive = filepath.Join(base, "model.tar.gz")
	if err := platform.PackDirs(archive, dir); err != nil {
		t.Fatal(err)
	}
	return dir, archive
}
