package extract

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sagekit/sagekit/internal/testenv"
)

// ent is one tar entry: type 0 is a regular file with body.
type ent struct {
	name string
	typ  byte
	link string
	body string
}

func tarOf(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, ModTime: time.Unix(1e9, 0)}
		switch e.typ {
		case 0:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.body))
		case tar.TypeDir:
			h.Mode = 0o755
		case tar.TypeChar, tar.TypeBlock:
			h.Devmajor, h.Devminor = 1, 3
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sandbox is a directory holding the root to unpack into and a file beside
// it that no archive may touch.
func sandbox(t testing.TB) (root, victim string) {
	t.Helper()
	base := t.TempDir()
	root, victim = filepath.Join(base, "root"), filepath.Join(base, "victim")
	if err := os.WriteFile(victim, []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, victim
}

// checkConfined fails when anything beside root appeared or changed, or a
// link in root resolves outside it.
func checkConfined(t testing.TB, root, victim string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(root))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if p := filepath.Join(filepath.Dir(root), e.Name()); p != root && p != victim {
			t.Errorf("%s was written outside the root", p)
		}
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "original" {
		t.Errorf("the file outside the root reads %q, %v; want it untouched", b, err)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return // nothing unpacked
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		if to, err := filepath.EvalSymlinks(p); err == nil && to != realRoot && !strings.HasPrefix(to, realRoot+"/") {
			t.Errorf("link %s resolves to %s, outside the root", p, to)
		}
		return nil
	})
}

func TestStreamRefusesEscapes(t *testing.T) {
	tests := []struct {
		name  string
		ents  []ent
		entry string // the entry the error must name
		want  error
	}{
		{"dot chain", []ent{{name: "a", typ: tar.TypeSymlink, link: "."}, {name: "b", typ: tar.TypeSymlink, link: "a/.."}, {name: "b/x", body: "pwned"}}, "b", ErrOutside},
		{"link made outward by a later link", []ent{{name: "b", typ: tar.TypeSymlink, link: "a/.."}, {name: "a", typ: tar.TypeSymlink, link: "."}}, "b", ErrOutside},
		{"write through a link made outward later", []ent{{name: "b", typ: tar.TypeSymlink, link: "a/.."}, {name: "a", typ: tar.TypeSymlink, link: "."}, {name: "b/victim", body: "pwned"}}, "b/victim", nil},
		{"long chain to /", []ent{
			{name: "d/e/f/", typ: tar.TypeDir},
			{name: "d/e/f/up", typ: tar.TypeSymlink, link: "../../.."},
			{name: "d/e/f/l1", typ: tar.TypeSymlink, link: "up/d/e/f/up"},
			{name: "d/e/f/l2", typ: tar.TypeSymlink, link: "l1/d/e/f/l1/" + strings.Repeat("../", 40)},
			{name: "d/e/f/l2/etc/passwd", body: "pwned"},
		}, "d/e/f/l2", ErrOutside},
		{"link to the file beside the root", []ent{{name: "v", typ: tar.TypeSymlink, link: "../victim"}, {name: "v", body: "pwned"}}, "v", ErrOutside},
		{"absolute link", []ent{{name: "v", typ: tar.TypeSymlink, link: "/etc/passwd"}}, "v", ErrOutside},
		{"link loop", []ent{{name: "p", typ: tar.TypeSymlink, link: "q/x"}, {name: "q", typ: tar.TypeSymlink, link: "p/x"}}, "p", ErrOutside},
		{"hard link outside", []ent{{name: "h", typ: tar.TypeLink, link: "../victim"}}, "h", ErrOutside},
		{"hard link absolute", []ent{{name: "h", typ: tar.TypeLink, link: "/etc/passwd"}}, "h", ErrOutside},
		{"hard link through an inside link", []ent{{name: "up", typ: tar.TypeSymlink, link: "."}, {name: "h", typ: tar.TypeLink, link: "up/../victim"}}, "h", ErrOutside},
		{"hard link to a symlink", []ent{{name: "d/s", typ: tar.TypeSymlink, link: "../x"}, {name: "h", typ: tar.TypeLink, link: "d/s"}}, "h", nil},
		{"absolute name", []ent{{name: "/tmp/x", body: "pwned"}}, "/tmp/x", ErrOutside},
		{"dot-dot name", []ent{{name: "../victim", body: "pwned"}}, "../victim", ErrOutside},
		{"inner dot-dot name", []ent{{name: "a/../../victim", body: "pwned"}}, "a/../../victim", ErrOutside},
		{"character device", []ent{{name: "null", typ: tar.TypeChar}}, "null", ErrType},
		{"block device", []ent{{name: "sda", typ: tar.TypeBlock}}, "sda", ErrType},
		{"fifo", []ent{{name: "pipe", typ: tar.TypeFifo}}, "pipe", ErrType},
	}
	for _, tt := range tests {
		for _, form := range []string{"file", "gzip", "stream"} {
			t.Run(tt.name+" "+form, func(t *testing.T) {
				root, victim := sandbox(t)
				b := tarOf(t, tt.ents...)
				var r io.Reader = bytes.NewReader(b) // seekable: skips by seeking
				switch form {
				case "gzip":
					r = bytes.NewReader(gz(t, b))
				case "stream":
					r = struct{ io.Reader }{r}
				}
				err := Stream(context.Background(), r, root)
				var ee *EntryError
				if !errors.As(err, &ee) || ee.Name != tt.entry {
					t.Fatalf("Stream = %v, want an error naming entry %q", err, tt.entry)
				}
				if tt.want != nil && !errors.Is(err, tt.want) {
					t.Errorf("Stream = %v, want errors.Is %v", err, tt.want)
				}
				if !strings.Contains(err.Error(), `"`+tt.entry+`"`) {
					t.Errorf("error %q does not name %q", err, tt.entry)
				}
				checkConfined(t, root, victim)
			})
		}
	}
}

func TestStreamUnpacks(t *testing.T) {
	root, victim := sandbox(t)
	b := gz(t, tarOf(t,
		ent{name: "./", typ: tar.TypeDir},
		ent{name: "./code/", typ: tar.TypeDir},
		ent{name: "./code/train.py", body: "print(1)"},
		ent{name: "code/lib/util.py", body: "x = 1"},
		ent{name: "latest", typ: tar.TypeSymlink, link: "code/train.py"},
		ent{name: "code/up", typ: tar.TypeSymlink, link: "../code/lib/../lib"},
		ent{name: "same", typ: tar.TypeLink, link: "code/train.py"},
		ent{name: "later", typ: tar.TypeSymlink, link: "notyet/f"},
		ent{name: "notyet/f", body: "made after its link"},
		ent{name: "over", typ: tar.TypeSymlink, link: "code/lib/util.py"},
		ent{name: "over", body: "replaces the link"},
	))
	if err := Stream(context.Background(), bytes.NewReader(b), root); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"code/train.py": "print(1)", "latest": "print(1)", "same": "print(1)", "code/up/util.py": "x = 1", "later": "made after its link", "over": "replaces the link", "code/lib/util.py": "x = 1"} {
		if got, err := os.ReadFile(filepath.Join(root, p)); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", p, got, err, want)
		}
	}
	a, _ := os.Stat(filepath.Join(root, "same"))
	c, _ := os.Stat(filepath.Join(root, "code/train.py"))
	if !os.SameFile(a, c) {
		t.Error("the hard link was not made: same and code/train.py are different files")
	}
	if fi, err := os.Lstat(filepath.Join(root, "over")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("over: %v, %v; want a regular file replacing the link", fi, err)
	}
	checkConfined(t, root, victim)
}

func TestReadable(t *testing.T) {
	root := t.TempDir()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o700})
	tw.WriteHeader(&tar.Header{Name: "d/f", Typeflag: tar.TypeReg, Mode: 0o600, Size: 1})
	tw.Write([]byte("x"))
	tw.Close()
	if err := Stream(context.Background(), &buf, root, WithReadable()); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]fs.FileMode{"d": 0o755, "d/f": 0o644} {
		if fi, err := os.Stat(filepath.Join(root, p)); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", p, fi.Mode().Perm(), err, want)
		}
	}
}

func TestRootfsLinks(t *testing.T) {
	root, victim := sandbox(t)
	b := tarOf(t,
		ent{name: "etc/", typ: tar.TypeDir},
		ent{name: "etc/alternatives/awk", body: "awk"},
		ent{name: "usr/bin/awk", typ: tar.TypeSymlink, link: "/etc/alternatives/awk"},
		ent{name: "usr/bin/up", typ: tar.TypeSymlink, link: "../../../../.."},
	)
	if err := Stream(context.Background(), bytes.NewReader(b), root, WithRootfs()); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			t.Skip("owners need root:", err)
		}
		t.Fatal(err)
	}
	if l, err := os.Readlink(filepath.Join(root, "usr/bin/awk")); err != nil || l != "/etc/alternatives/awk" {
		t.Errorf("usr/bin/awk -> %q, %v", l, err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "original" {
		t.Error("the file beside the root changed")
	}
}

func TestLimits(t *testing.T) {
	many := make([]ent, 10)
	for i := range many {
		many[i] = ent{name: "f" + string(rune('a'+i)), body: "x"}
	}
	tests := []struct {
		name     string
		archive  []byte
		opts     []Option
		env, msg string
	}{
		{"entries", tarOf(t, many...), []Option{WithLimits(Limits{Entries: 5})}, EnvMaxEntries, "more than 5 entries"},
		{"bytes", tarOf(t, ent{name: "big", body: strings.Repeat("x", 2000)}), []Option{WithLimits(Limits{Bytes: 1 << 10})}, EnvMaxBytes, "more than 1 KiB"},
		{"bytes with flag", tarOf(t, ent{name: "big", body: strings.Repeat("x", 2000)}), []Option{WithLimits(Limits{Bytes: 1000}), WithFlags()}, "--max-extract-bytes or " + EnvMaxBytes, "more than 1000 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Stream(context.Background(), bytes.NewReader(tt.archive), t.TempDir(), tt.opts...)
			if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), tt.env) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Stream = %v, want a limit error with %q and %q", err, tt.msg, tt.env)
			}
		})
	}
	// Negative limits remove the bound.
	if err := Stream(context.Background(), bytes.NewReader(tarOf(t, many...)), t.TempDir(), WithLimits(Limits{Entries: -1, Bytes: -1, Ratio: -1})); err != nil {
		t.Errorf("Stream with no limits = %v", err)
	}
}

// TestBomb: a 1 MB tar.gz of zeros that would become 1 GiB is refused
// after about a megabyte, at once.
func TestBomb(t *testing.T) {
	b := testenv.GzipBomb(t, "zeros")
	if len(b) > 2<<20 {
		t.Fatalf("the bomb is %d bytes, want about 1 MB", len(b))
	}
	root := t.TempDir()
	start := time.Now()
	err := Stream(context.Background(), bytes.NewReader(b), root)
	took := time.Since(start)
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), EnvMaxRatio) {
		t.Fatalf("Stream(bomb) = %v, want the ratio limit naming %s", err, EnvMaxRatio)
	}
	if took > 10*time.Second {
		t.Errorf("refusing the bomb took %v", took)
	}
	fi, err := os.Stat(filepath.Join(root, "zeros"))
	if err == nil && fi.Size() > 16<<20 {
		t.Errorf("%d bytes unpacked before the refusal", fi.Size())
	}
	t.Logf("%d-byte archive refused after %v", len(b), took)
}

func TestNotTar(t *testing.T) {
	for name, b := range map[string][]byte{"text": []byte("print('hello')\n" + strings.Repeat("x = 1\n", 200)), "short text": []byte("x = 1\n"), "bad gzip": gz(t, []byte(strings.Repeat("not a tar\n", 100)))} {
		if err := Stream(context.Background(), bytes.NewReader(b), t.TempDir()); !errors.Is(err, ErrNotTar) {
			t.Errorf("%s: Stream = %v, want ErrNotTar", name, err)
		}
	}
	// A training job that saved nothing has an empty model.tar.gz.
	for name, b := range map[string][]byte{"empty": nil, "empty tar": tarOf(t), "empty tar.gz": gz(t, tarOf(t))} {
		if err := Stream(context.Background(), bytes.NewReader(b), t.TempDir()); err != nil {
			t.Errorf("%s: Stream = %v, want an empty directory", name, err)
		}
	}
}

func TestLimitsFromEnv(t *testing.T) {
	env := map[string]string{EnvMaxBytes: "2GiB", EnvMaxEntries: "0", EnvMaxRatio: "50"}
	l, err := LimitsFromEnv(func(k string) string { return env[k] })
	if err != nil || l != (Limits{Bytes: 2 << 30, Entries: -1, Ratio: 50}) {
		t.Errorf("LimitsFromEnv = %+v, %v", l, err)
	}
	env = map[string]string{EnvMaxBytes: "lots", EnvMaxRatio: "-3"}
	if _, err := LimitsFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), EnvMaxBytes) || !strings.Contains(err.Error(), EnvMaxRatio) {
		t.Errorf("LimitsFromEnv(bad) = %v, want both variables named", err)
	}
}

// TestDefaultLimits: the process's default limits (what a binary's main
// read from SAGEKIT_MAX_EXTRACT_*) bound every unpacking given no
// WithLimits, so the variable a refusal names does raise or lower it; a
// malformed variable fails such an unpacking before anything is written.
func TestDefaultLimits(t *testing.T) {
	t.Cleanup(func() { SetDefaultLimits(Limits{}, nil) })
	two := tarOf(t, ent{name: "a", body: "x"}, ent{name: "b", body: "y"})

	SetDefaultLimits(Limits{Entries: 1}, nil)
	err := Stream(context.Background(), bytes.NewReader(two), t.TempDir())
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "more than 1 entries (raise the limit with "+EnvMaxEntries) {
		t.Errorf("Stream with a default of 1 entry = %v, want the entry limit naming %s", err, EnvMaxEntries)
	}
	if err := Stream(context.Background(), bytes.NewReader(two), t.TempDir(), WithLimits(Limits{Entries: 2})); err != nil {
		t.Errorf("Stream with WithLimits over the default = %v, want it unpacked", err)
	}

	SetDefaultLimits(Limits{}, errors.New(EnvMaxEntries+`="many": want a non-negative integer`))
	dir := t.TempDir()
	err = Stream(context.Background(), bytes.NewReader(two), dir)
	if err == nil || !strings.Contains(err.Error(), EnvMaxEntries+`="many"`) {
		t.Errorf("Stream with a malformed default = %v, want the variable named", err)
	}
	if des, _ := os.ReadDir(dir); len(des) != 0 {
		t.Errorf("with a malformed default %d entries were unpacked, want none", len(des))
	}
	if err := Stream(context.Background(), bytes.NewReader(two), t.TempDir(), WithLimits(Limits{})); err != nil {
		t.Errorf("Stream with WithLimits and a malformed default = %v, want it unpacked", err)
	}

	SetDefaultLimits(Limits{}, nil)
	if err := Stream(context.Background(), bytes.NewReader(two), t.TempDir()); err != nil {
		t.Errorf("Stream with the defaults reset = %v", err)
	}
}
