package main

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/sagekit/sagekit/examples/go/tree"
	"github.com/sagekit/sagekit/platform"
)

// trainWithTree fits the example's tree on data and packs model.tar.gz.
func trainWithTree(work, data string) (string, error) {
	x, y, err := tree.ReadTrainingDir(data)
	if err != nil {
		return "", err
	}
	m, err := tree.Fit(x, y, tree.Params{MaxDepth: 3, MinSamplesSplit: 2})
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(m)
	dir := filepath.Join(work, "model")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, tree.ModelFile), b, 0o644); err != nil {
		return "", err
	}
	archive := filepath.Join(work, "model.tar.gz")
	return archive, platform.PackDirs(archive, dir)
}
