package build

import (
	"context"
	gofs "io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tonistiigi/fsutil"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOverlayFSWalk(t *testing.T) {
	base, extra := t.TempDir(), t.TempDir()
	writeFiles(t, base, map[string]string{
		"-dash": "", ".dockerignore": "", ".sagekit/stale": "hidden", "Dockerfile": "", "cmd/main.go": "", "z": "",
	})
	writeFiles(t, extra, map[string]string{"linux-amd64/sagekit-runtime": "rt"})
	bfs, err := fsutil.NewFS(base)
	if err != nil {
		t.Fatal(err)
	}
	o, err := newOverlayFS(bfs, SagekitDir, extra, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opt  *fsutil.FilterOpt
		want []string
	}{
		{"all", nil, []string{"-dash", ".dockerignore", ".sagekit", ".sagekit/linux-amd64", ".sagekit/linux-amd64/sagekit-runtime", "Dockerfile", "cmd", "cmd/main.go", "z"}},
		{"include", &fsutil.FilterOpt{IncludePatterns: []string{".sagekit/linux-amd64/sagekit-runtime", "z"}}, []string{".sagekit", ".sagekit/linux-amd64", ".sagekit/linux-amd64/sagekit-runtime", "z"}},
		{"exclude", &fsutil.FilterOpt{ExcludePatterns: []string{"cmd", ".sagekit"}}, []string{"-dash", ".dockerignore", "Dockerfile", "z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := fsutil.NewFilterFS(o, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			err = fs.Walk(context.Background(), "", func(p string, _ gofs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				got = append(got, filepath.ToSlash(p))
				return nil
			})
			if err != nil {
				t.Fatalf("Walk: %v", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Walk paths (-want +got):\n%s", d)
			}
		})
	}
	rc, err := o.Open(".sagekit/linux-amd64/sagekit-runtime")
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
}

func TestOverlayFSWalkTarget(t *testing.T) {
	base, extra := t.TempDir(), t.TempDir()
	writeFiles(t, base, map[string]string{"Dockerfile": "", "cmd/main.go": ""})
	writeFiles(t, extra, map[string]string{"linux-amd64/sagekit-runtime": "rt"})
	bfs, err := fsutil.NewFS(base)
	if err != nil {
		t.Fatal(err)
	}
	o, err := newOverlayFS(bfs, SagekitDir, extra, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string][]string{
		".sagekit":             {".sagekit"},
		".sagekit/linux-amd64": {".sagekit/linux-amd64"},
		"cmd":                  {"cmd"},
	} {
		var got []string
		err := o.Walk(context.Background(), target, func(p string, d gofs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			got = append(got, filepath.ToSlash(p))
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		})
		if err != nil {
			t.Errorf("Walk(%q): %v", target, err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("Walk(%q) paths (-want +got):\n%s", target, d)
		}
	}
}
