package codedir

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sagekit/sagekit/internal/extract"
	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/runtime/s3get"
)

type entry struct {
	name, body, link string
	mode             int64
	dir              bool
}

func tarball(t *testing.T, gz bool, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	var zw *gzip.Writer
	var tw *tar.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(&buf)
	}
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		switch {
		case e.dir:
			h.Typeflag, h.Size, h.Mode = tar.TypeDir, 0, 0o755
		case e.link != "":
			h.Typeflag, h.Size, h.Linkname = tar.TypeSymlink, 0, e.link
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

// tree lists dir's files as "path=body", links as "path->target", dirs as "path/".
func tree(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out = append(out, rel+"->"+target)
		case d.IsDir():
			out = append(out, rel+"/")
		default:
			b, _ := os.ReadFile(p)
			out = append(out, rel+"="+string(b))
		}
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, " ")
}

func write(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFill(t *testing.T) {
	code := []entry{{name: "train.py", body: "print(1)"}, {name: "pkg/", dir: true}, {name: "pkg/run.sh", body: "#!/bin/sh", mode: 0o755}, {name: "pkg/link", link: "run.sh"}}
	want := "pkg/ pkg/link->run.sh pkg/run.sh=#!/bin/sh train.py=print(1)"
	srcDir := t.TempDir()
	os.WriteFile(filepath.Join(srcDir, "train.py"), []byte("print(1)"), 0o644)
	tests := []struct {
		name, uri, want string
	}{
		{"tar.gz", write(t, "sourcedir.tar.gz", tarball(t, true, code...)), want},
		{"plain tar", write(t, "sourcedir.tar", tarball(t, false, code...)), want},
		{"directory", srcDir, "train.py=print(1)"},
		{"any other file", write(t, "train.py", []byte("print(2)")), "train.py=print(2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "code")
			if err := Fill(context.Background(), tt.uri, dir, s3get.Config{}, extract.Limits{}); err != nil {
				t.Fatalf("Fill: %v", err)
			}
			if got := tree(t, dir); got != tt.want {
				t.Errorf("code directory = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestFillKeepsModes(t *testing.T) {
	dir := t.TempDir()
	src := write(t, "s.tar.gz", tarball(t, true, entry{name: "run.sh", body: "x", mode: 0o755}))
	if err := Fill(context.Background(), src, dir, s3get.Config{}, extract.Limits{}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "run.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("run.sh mode = %v (%v), want 0755", fi.Mode(), err)
	}
}

func TestFillLeavesCodeAlone(t *testing.T) {
	src := write(t, "s.tar.gz", tarball(t, true, entry{name: "new.py", body: "new"}))
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "old.py"), []byte("old"), 0o644)
	if err := Fill(context.Background(), src, dir, s3get.Config{}, extract.Limits{}); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, dir); got != "old.py=old" {
		t.Errorf("code present: %s, want it untouched", got)
	}
	// Another Fill's staging directory (killed, or still running) is no
	// code, and is left alone.
	other := filepath.Join(t.TempDir(), "code")
	os.MkdirAll(filepath.Join(other, stagingPrefix+"123", "sub"), 0o755)
	os.WriteFile(filepath.Join(other, stagingPrefix+"123", "sub", "half.py"), []byte("half"), 0o644)
	if err := Fill(context.Background(), src, other, s3get.Config{}, extract.Limits{}); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, other); got != stagingPrefix+"123/ "+stagingPrefix+"123/sub/ "+stagingPrefix+"123/sub/half.py=half new.py=new" {
		t.Errorf("beside another fill's staging directory: %s", got)
	}
	if err := Fill(context.Background(), dir, dir, s3get.Config{}, extract.Limits{}); err != nil {
		t.Errorf("Fill(dir, dir) = %v, want nothing done", err)
	}
	if err := Fill(context.Background(), "", filepath.Join(t.TempDir(), "none"), s3get.Config{}, extract.Limits{}); err != nil {
		t.Errorf("Fill(\"\") = %v, want nothing done", err)
	}
}

// A bad archive leaves the code directory empty: nothing half-extracted,
// no staging directory.
func TestFillFailsWhole(t *testing.T) {
	outside := t.TempDir()
	good := tarball(t, true, entry{name: "a.py", body: strings.Repeat("a", 1<<16)}, entry{name: "b.py", body: "b"})
	tests := []struct {
		name, want string
		archive    []byte
	}{
		{"parent in a name", `entry "../evil.py"`, tarball(t, true, entry{name: "ok.py", body: "x"}, entry{name: "../evil.py", body: "x"})},
		{"through a symbolic link", `entry "out"`, tarball(t, true, entry{name: "ok.py", body: "x"}, entry{name: "out", link: outside}, entry{name: "out/evil.py", body: "x"})},
		{"through a chain of links", `entry "b"`, tarball(t, true, entry{name: "a", link: "."}, entry{name: "b", link: "a/.."}, entry{name: "b/evil.py", body: "x"})},
		{"over a limit", "SAGEKIT_MAX_EXTRACT_RATIO", testenv.GzipBomb(t, "weights.bin")},
		{"truncated", "unexpected EOF", good[:len(good)/2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "code")
			err := Fill(context.Background(), write(t, "s.tar.gz", tt.archive), dir, s3get.Config{}, extract.Limits{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Fill = %v, want an error containing %q", err, tt.want)
			}
			if got := tree(t, dir); got != "" {
				t.Errorf("after the failure the code directory holds %s, want nothing", got)
			}
			if got := tree(t, outside); got != "" {
				t.Errorf("outside the code directory: %s", got)
			}
		})
	}
	dir := t.TempDir()
	if err := Fill(context.Background(), filepath.Join(dir, "missing.tar.gz"), filepath.Join(dir, "code"), s3get.Config{}, extract.Limits{}); err == nil {
		t.Error("Fill(a missing file) = nil error")
	}
}

func TestFillFromS3(t *testing.T) {
	archive := tarball(t, true, entry{name: "inference.py", body: "def model_fn(d): pass"})
	srv := testenv.NewS3(t, map[string][]byte{"/bucket/job/sourcedir.tar.gz": archive})
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_ENDPOINT_URL_S3": srv.URL}
	cfg := s3get.FromEnv(func(k string) string { return env[k] })
	dir := filepath.Join(t.TempDir(), "code")
	if err := Fill(context.Background(), "s3://bucket/job/sourcedir.tar.gz", dir, cfg, extract.Limits{}); err != nil {
		t.Fatalf("Fill: %v", err)
	}
	if got := tree(t, dir); got != "inference.py=def model_fn(d): pass" {
		t.Errorf("code directory = %s", got)
	}
	if auth := srv.Authorizations(); len(auth) != 1 || !strings.HasPrefix(auth[0], "AWS4-HMAC-SHA256 Credential=AKID/") {
		t.Errorf("S3 requests' Authorization = %q, want one signed by AKID", auth)
	}
	dir = filepath.Join(t.TempDir(), "code")
	err := Fill(context.Background(), "s3://bucket/nope.tar.gz", dir, cfg, extract.Limits{})
	if err == nil || !strings.Contains(err.Error(), "404 NoSuchKey") {
		t.Errorf("Fill(a missing object) = %v, want S3's NoSuchKey", err)
	}
	if got := tree(t, dir); got != "" {
		t.Errorf("after the failure the code directory holds %s", got)
	}
}

// TestFillConcurrently: hosts sharing one mounted code directory fill it
// at once from the same archive; each succeeds and the code is whole.
func TestFillConcurrently(t *testing.T) {
	src := write(t, "s.tar.gz", tarball(t, true, entry{name: "a.py", body: "a"}, entry{name: "pkg/", dir: true}, entry{name: "pkg/b.py", body: "b"}))
	dir := filepath.Join(t.TempDir(), "code")
	errs := make(chan error, 8)
	for range 8 {
		go func() { errs <- Fill(context.Background(), src, dir, s3get.Config{}, extract.Limits{}) }()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Errorf("Fill: %v", err)
		}
	}
	if got := tree(t, dir); got != "a.py=a pkg/ pkg/b.py=b" {
		t.Errorf("code directory = %s, want a.py=a pkg/ pkg/b.py=b", got)
	}
}
