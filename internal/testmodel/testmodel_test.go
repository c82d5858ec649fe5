package testmodel_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sagekit/sagekit/examples/go/tree"
	"github.com/sagekit/sagekit/internal/testmodel"
	"github.com/sagekit/sagekit/platform"
)

func TestIrisArchiveHoldsTheDirectory(t *testing.T) {
	dir, archive := testmodel.Iris(t, 2)
	want, err := os.ReadFile(filepath.Join(dir, tree.ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := platform.UnpackModel(t.Context(), archive, out, platform.ExtractLimits{}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(out, tree.ModelFile))
	if err != nil || string(got) != string(want) {
		t.Errorf("%s in model.tar.gz = %.60q, %v, want the directory's %.60q", tree.ModelFile, got, err, want)
	}
}
