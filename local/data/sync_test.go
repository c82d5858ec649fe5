package data

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// tree lists the files under dir with their contents.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			out[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	return out
}

func TestFetchAndMirror(t *testing.T) {
	ctx := t.Context()
	remote, local := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(remote, "sub"), 0o755)
	os.WriteFile(filepath.Join(remote, "a.ckpt"), []byte("a1"), 0o644)
	os.WriteFile(filepath.Join(remote, "sub", "b.ckpt"), []byte("b1"), 0o644)
	var m Mover
	loc := Location{Scheme: "file", Path: remote}
	got, err := m.Fetch(ctx, loc, local)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if d := cmp.Diff([]string{"a.ckpt", "sub/b.ckpt"}, got); d != "" {
		t.Errorf("Fetch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(tree(t, remote), tree(t, local)); d != "" {
		t.Errorf("after Fetch (-remote +local):\n%s", d)
	}
	mi := m.Mirror(local, loc, got)
	// A new file, a changed one, a deleted one.
	os.WriteFile(filepath.Join(local, "c.ckpt"), []byte("c1"), 0o644)
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(filepath.Join(local, "a.ckpt"), []byte("a2-longer"), 0o644)
	os.Remove(filepath.Join(local, "sub", "b.ckpt"))
	if err := mi.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a.ckpt": "a2-longer", "c.ckpt": "c1"}
	if d := cmp.Diff(want, tree(t, remote)); d != "" {
		t.Errorf("after Sync (-want +got):\n%s", d)
	}
	// Nothing at a missing location is not an error.
	if got, err := m.Fetch(ctx, Location{Scheme: "file", Path: filepath.Join(remote, "none")}, t.TempDir()); err != nil || len(got) != 0 {
		t.Errorf("Fetch of a missing directory = %v, %v; want nothing, no error", got, err)
	}
}
