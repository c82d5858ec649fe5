package tree

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/sagekit/sagekit/sdk/serve"
)

// A depth-2 tree: x0 <= 0.1 (as float32) -> class 7, else x1 <= 2 -> 8 or 9.
const treeJSON = `{"n_features": 2, "children_left": [1, -1, 3, -1, -1], "children_right": [2, -1, 4, -1, -1],
 "feature": [0, -2, 1, -2, -2], "threshold": ["0x1.99999a0000000p-4", "-0x1.0p+1", "0x1.0p+1", "-0x1.0p+1", "-0x1.0p+1"],
 "class": [0, 7, 0, 8, 9]}`

func TestHandler(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tree.json"), []byte(treeJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	var h Handler
	ctx := context.Background()
	if err := h.Load(ctx, dir); err != nil {
		t.Fatal(err)
	}
	// The threshold is float32(0.1). 0.1000000025 is above it as a float64
	// but rounds to it as a float32, so it goes left only when compared as
	// sklearn compares.
	resp, err := h.Invoke(ctx, &serve.Request{ContentType: "text/csv; charset=utf-8",
		Body: []byte("0.1,5\n0.1000000025,5\n0.2,1\n0.2,3\n")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(resp.Body), "7\n7\n8\n9\n"; got != want {
		t.Errorf("Invoke body = %q, want %q", got, want)
	}
	var se *serve.Error
	if _, err := h.Invoke(ctx, &serve.Request{ContentType: "application/json", Body: []byte("[[1,2]]")}); !errors.As(err, &se) || se.Status != http.StatusUnsupportedMediaType {
		t.Errorf("Invoke(application/json) error = %v, want 415", err)
	}
	if _, err := h.Invoke(ctx, &serve.Request{ContentType: "text/csv", Body: []byte("1,2,3\n")}); !errors.As(err, &se) || se.Status != http.StatusBadRequest {
		t.Errorf("Invoke(3 features) error = %v, want 400", err)
	}
}

func TestLoadRejectsBrokenTrees(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tree.json")
	for _, s := range []string{`{}`, `{"n_features": 1, "children_left": [5], "children_right": [1], "feature": [0], "threshold": ["0x0p+0"], "class": [0]}`} {
		os.WriteFile(path, []byte(s), 0o644)
		if _, err := Load(path); err == nil {
			t.Errorf("Load(%s) succeeded, want an error", s)
		}
	}
}
