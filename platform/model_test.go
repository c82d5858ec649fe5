package platform_test

import (
	"archive/tar"
	"compress/gzip"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/platform"
)

// archiveNames lists the entries of a gzip tar.
func archiveNames(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	sort.Strings(names)
	return names
}

func TestPackDirsAndUnpack(t *testing.T) {
	host1, host2, outside := t.TempDir(), t.TempDir(), t.TempDir()
	writeFiles(t, host1, map[string]string{"model.json": "1", "sub/w.bin": "w"})
	writeFiles(t, host2, map[string]string{"model.json": "2", "algo-2.txt": "x"})
	writeFiles(t, outside, map[string]string{"vocab.txt": "v"})
	if err := os.Symlink(filepath.Join(outside, "vocab.txt"), filepath.Join(host1, "vocab.txt")); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "model.tar.gz")
	if err := platform.PackDirs(dst, host1, host2, filepath.Join(host1, "missing")); err != nil {
		t.Fatal(err)
	}
	want := []string{"algo-2.txt", "model.json", "sub/", "sub/w.bin", "vocab.txt"}
	if diff := cmp.Diff(want, archiveNames(t, dst)); diff != "" {
		t.Errorf("archive entries (-want +got):\n%s", diff)
	}
	dir, cleanup, err := platform.ModelDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	got := readOutputs(t, dir)
	wantFiles := map[string]string{"algo-2.txt": "x", "model.json": "1", "sub/w.bin": "w", "vocab.txt": "v"}
	if diff := cmp.Diff(wantFiles, got); diff != "" {
		t.Errorf("unpacked model (-want +got):\n%s", diff)
	}
	cleanup()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cleanup left %s behind", dir)
	}
	if d, _, err := platform.ModelDir(host2); err != nil || d != host2 {
		t.Errorf("ModelDir(dir) = %q, %v; want the directory itself", d, err)
	}
}

func TestUnpackModelRejectsEscapes(t *testing.T) {
	for _, h := range []*tar.Header{
		{Name: "../evil", Typeflag: tar.TypeReg},
		{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "../../etc/passwd"},
		{Name: "abs", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"},
	} {
		t.Run(h.Name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "m.tar.gz")
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			zw := gzip.NewWriter(f)
			tw := tar.NewWriter(zw)
			h.Mode = 0o644
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			tw.Close()
			zw.Close()
			f.Close()
			if err := platform.UnpackModel(p, t.TempDir()); err == nil {
				t.Errorf("UnpackModel accepted %q -> %q", h.Name, h.Linkname)
			}
		})
	}
}
