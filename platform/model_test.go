package platform_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/internal/testenv"
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
	dir, cleanup, err := platform.ModelDir(context.Background(), dst, platform.ExtractLimits{})
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
	if d, _, err := platform.ModelDir(context.Background(), host2, platform.ExtractLimits{}); err != nil || d != host2 {
		t.Errorf("ModelDir(dir) = %q, %v; want the directory itself", d, err)
	}
}

// writeModelTar writes a model.tar.gz of headers (regular files hold
// their name as content) and returns its path.
func writeModelTar(t *testing.T, hs ...*tar.Header) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "model.tar.gz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	for _, h := range hs {
		h.Mode = 0o644
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Name))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(h.Name))
		}
	}
	tw.Close()
	zw.Close()
	f.Close()
	return p
}

func TestUnpackModelRejectsEscapes(t *testing.T) {
	tests := []struct {
		name  string
		hs    []*tar.Header
		entry string
	}{
		{"dot-dot", []*tar.Header{{Name: "../evil", Typeflag: tar.TypeReg}}, "../evil"},
		{"link outside", []*tar.Header{{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "../../etc/passwd"}}, "link"},
		{"absolute link", []*tar.Header{{Name: "abs", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}, "abs"},
		// Each link checked as text stays inside; followed, b is the
		// model directory's parent.
		{"link chain", []*tar.Header{
			{Name: "a", Typeflag: tar.TypeSymlink, Linkname: "."},
			{Name: "b", Typeflag: tar.TypeSymlink, Linkname: "a/.."},
			{Name: "b/escaped", Typeflag: tar.TypeReg},
		}, "b"},
		{"hard link outside", []*tar.Header{{Name: "h", Typeflag: tar.TypeLink, Linkname: "../escaped"}}, "h"},
		{"device", []*tar.Header{{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}, "null"},
		{"fifo", []*tar.Header{{Name: "pipe", Typeflag: tar.TypeFifo}}, "pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeModelTar(t, tt.hs...)
			parent := t.TempDir()
			dir := filepath.Join(parent, "model")
			err := platform.UnpackModel(context.Background(), p, dir, platform.ExtractLimits{})
			if err == nil || !strings.Contains(err.Error(), strconv.Quote(tt.entry)) {
				t.Errorf("UnpackModel = %v, want an error naming entry %q", err, tt.entry)
			}
			if _, err := os.Lstat(filepath.Join(parent, "escaped")); err == nil {
				t.Errorf("the archive wrote %s, outside the model directory", filepath.Join(parent, "escaped"))
			}
		})
	}
}

// TestUnpackModelHardLink: a hard link to a file of the archive is made.
func TestUnpackModelHardLink(t *testing.T) {
	p := writeModelTar(t, &tar.Header{Name: "w.bin", Typeflag: tar.TypeReg}, &tar.Header{Name: "alias.bin", Typeflag: tar.TypeLink, Linkname: "w.bin"})
	dir := t.TempDir()
	if err := platform.UnpackModel(context.Background(), p, dir, platform.ExtractLimits{}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "alias.bin")); err != nil || string(b) != "w.bin" {
		t.Errorf("alias.bin = %q, %v; want the content of w.bin", b, err)
	}
}

// TestModelDirRefusesBomb: a 1 MB model.tar.gz of zeros that would fill
// 1 GiB is refused at once, and the error says how to allow it.
func TestModelDirRefusesBomb(t *testing.T) {
	p := filepath.Join(t.TempDir(), "model.tar.gz")
	if err := os.WriteFile(p, testenv.GzipBomb(t, "weights.bin"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, err := platform.ModelDir(context.Background(), p, platform.ExtractLimits{})
	if err == nil || !strings.Contains(err.Error(), "--max-extract-ratio or SAGEKIT_MAX_EXTRACT_RATIO") {
		t.Fatalf("ModelDir(bomb) = %v, want a refusal naming --max-extract-ratio and SAGEKIT_MAX_EXTRACT_RATIO", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("refusing took %v", d)
	}
	// With the bound lifted only the size limit is left.
	_, _, err = platform.ModelDir(context.Background(), p, platform.ExtractLimits{Ratio: -1, Bytes: 8 << 20})
	if err == nil || !strings.Contains(err.Error(), "more than 8 MiB") {
		t.Errorf("ModelDir(bomb, 8 MiB) = %v, want the size limit", err)
	}
}
