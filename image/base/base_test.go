package base

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/sagekit/sagekit/internal/testenv"
)

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// tarEntries lists a tar's entry names and, for hard links, their targets.
func tarEntries(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[hdr.Name] = hdr.Linkname
	}
}

func keys(m map[string]string) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

func TestWriteLayerFull(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"etc/os-release": "ID=debian\n", "usr/bin/a": "bin", "tmp/": ""})
	if err := os.Link(filepath.Join(dir, "usr/bin/a"), filepath.Join(dir, "usr/bin/b")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a", filepath.Join(dir, "usr/bin/c")); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "layer.tar")
	if err := writeLayer(dir, dst, nil); err != nil {
		t.Fatalf("writeLayer: %v", err)
	}
	got := tarEntries(t, dst)
	want := map[string]string{"etc/": "", "etc/os-release": "", "tmp/": "", "usr/": "", "usr/bin/": "", "usr/bin/a": "", "usr/bin/b": "usr/bin/a", "usr/bin/c": "a"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("layer entries (-want +got):\n%s", d)
	}
	// Same tree, same bytes.
	dst2 := filepath.Join(t.TempDir(), "layer.tar")
	if err := writeLayer(dir, dst2, nil); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(dst)
	b, _ := os.ReadFile(dst2)
	if !bytes.Equal(a, b) {
		t.Error("writing the same tree twice gave different layers")
	}
}

func TestWriteLayerDiff(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"keep": "k", "change": "old", "remove": "r", "gone/one": "1", "gone/two": "2", "usr/lib/x": "x",
	})
	before, err := takeSnapshot(dir)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // let ctime move
	writeTree(t, dir, map[string]string{"change": "new", "usr/lib/added": "a"})
	if err := os.Remove(filepath.Join(dir, "remove")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "gone")); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "layer.tar")
	if err := writeLayer(dir, dst, before); err != nil {
		t.Fatalf("writeLayer: %v", err)
	}
	got := keys(tarEntries(t, dst))
	want := []string{"change", "usr/lib/", "usr/lib/added", ".wh.gone", ".wh.remove"}
	sort.Strings(want)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("diff layer entries (-want +got):\n%s", d)
	}
}

func TestClean(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"proc/x": "", "sys/y": "", "dev/null": "", "var/lib/apt/lists/deb_Packages": "", "var/cache/apt/pkgcache.bin": "",
		"var/log/dpkg.log": "", "etc/resolv.conf": "nameserver 1.1.1.1", "etc/hostname": "builder", "tmp/t": "",
		"usr/sbin/policy-rc.d": "exit 101", "etc/keep": "kept", "var/lib/dpkg/status": "kept",
	})
	if err := clean(dir); err != nil {
		t.Fatalf("clean: %v", err)
	}
	var left []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			left = append(left, rel)
		}
		return nil
	})
	if d := cmp.Diff([]string{"etc/keep", "var/lib/dpkg/status"}, left); d != "" {
		t.Errorf("files left by clean (-want +got):\n%s", d)
	}
	for _, d := range []string{"proc", "sys", "dev", "tmp", "var/lib/apt/lists/partial"} {
		if fi, err := os.Stat(filepath.Join(dir, d)); err != nil || !fi.IsDir() {
			t.Errorf("clean removed the directory %s", d)
		}
	}
}

// fakeRootfs writes a layer tar holding a static sagekit-runtime, a stand-in
// for a debootstrap rootfs that needs no mirror.
func fakeRootfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	rt, err := os.ReadFile(testenv.Runtime(t))
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, dir, map[string]string{"etc/debian_version": "12.0\n", "tmp/": ""})
	if err := os.MkdirAll(filepath.Join(dir, "usr/local/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "usr/local/bin/sagekit-runtime"), rt, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := writeLayer(dir, dst, nil); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestAssemble(t *testing.T) {
	layer := fakeRootfs(t)
	created := time.Date(2026, 7, 11, 10, 16, 37, 0, time.UTC)
	img, err := Assemble([]Layer{{Path: layer, CreatedBy: "fake"}}, "arm64", []string{"A=b"}, map[string]string{"dev.sagekit.base": "base"}, created)
	if err != nil {
		t.Fatalf("Assemble: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "arm64" || cf.Variant != "v8" {
		t.Errorf("platform = %s/%s/%s, want linux/arm64/v8", cf.OS, cf.Architecture, cf.Variant)
	}
	if d := cmp.Diff([]string{DefaultPath, "A=b"}, cf.Config.Env); d != "" {
		t.Errorf("env (-want +got):\n%s", d)
	}
	if cf.Config.Labels["dev.sagekit.base"] != "base" || !cf.Created.Time.Equal(created) {
		t.Errorf("labels %v created %v", cf.Config.Labels, cf.Created)
	}
	if len(cf.History) != 1 || cf.History[0].CreatedBy != "fake" || len(cf.RootFS.DiffIDs) != 1 {
		t.Errorf("history %+v diff_ids %v, want one layer made by fake", cf.History, cf.RootFS.DiffIDs)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON || m.Layers[0].MediaType != types.OCILayer {
		t.Errorf("media types %s %s %s, want OCI throughout", m.MediaType, m.Config.MediaType, m.Layers[0].MediaType)
	}
}

func TestWriteToEngine(t *testing.T) {
	dc := testenv.Docker(t)
	t.Parallel()
	img, err := Assemble([]Layer{{Path: fakeRootfs(t), CreatedBy: "fake"}}, runtime.GOARCH, nil, map[string]string{"dev.sagekit.test": "true"}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	ref := fmt.Sprintf("sagekit-test/base-fake:%d", time.Now().UnixNano())
	t.Cleanup(func() { dc.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true}) })
	id, size, err := Write(context.Background(), dc, ref, img)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	ins, err := dc.ImageInspect(context.Background(), ref)
	if err != nil {
		t.Fatalf("inspecting %s: %v", ref, err)
	}
	if ins.ID != id || ins.Size != size || ins.Os != "linux" || ins.Architecture != runtime.GOARCH {
		t.Errorf("Engine has %s %d %s/%s, Write said %s %d", ins.ID, ins.Size, ins.Os, ins.Architecture, id, size)
	}
	if got := run(t, dc, ref, "/usr/local/bin/sagekit-runtime", "version"); !strings.HasPrefix(got, "sagekit-runtime ") {
		t.Errorf("running the image printed %q", got)
	}
}

func run(t *testing.T, dc *client.Client, image string, cmd ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := dc.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: image, Cmd: cmd, Labels: map[string]string{"dev.sagekit.test": "true"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer dc.ContainerRemove(context.Background(), c.ID, client.ContainerRemoveOptions{Force: true})
	if _, err := dc.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	w := dc.ContainerWait(ctx, c.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case err := <-w.Error:
		t.Fatal(err)
	case <-w.Result:
	}
	logs, err := dc.ContainerLogs(ctx, c.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	var out bytes.Buffer
	stdcopy.StdCopy(&out, &out, logs)
	return out.String()
}

func TestSelectSpecs(t *testing.T) {
	got, err := selectSpecs([]string{"cuda", "base"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key != "base" || got[1].Key != "cuda" {
		t.Errorf("selectSpecs(cuda, base) = %v, want base then cuda", got)
	}
	if _, err := selectSpecs([]string{"java"}); err == nil || !strings.Contains(err.Error(), "choose from base, python, cuda") {
		t.Errorf("selectSpecs(java) error = %v", err)
	}
}

// TestRunDebootstrap makes the real images from Debian's mirror; CI runs
// `sagekit base` on its own, so this runs only with SAGEKIT_BASE_TESTS=1.
func TestRunDebootstrap(t *testing.T) {
	if os.Getenv("SAGEKIT_BASE_TESTS") != "1" {
		t.Skip("skipped: set SAGEKIT_BASE_TESTS=1 to run debootstrap against Debian's mirror (minutes)")
	}
	dc := testenv.Docker(t)
	res, err := Run(context.Background(), Options{Only: []string{"base", "python"}, Docker: dc, Version: "test"})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, r := range res {
		ins, err := dc.ImageInspect(context.Background(), r.Ref)
		if err != nil {
			t.Fatalf("%s not in the Engine after Run: %v", r.Ref, err)
		}
		if ins.Architecture != runtime.GOARCH || ins.Config.Labels["dev.sagekit.debian.suite"] != Suite {
			t.Errorf("%s: arch %s labels %v", r.Ref, ins.Architecture, ins.Config.Labels)
		}
	}
	out := run(t, dc, "sagekit/python:"+Suite, "python3", "-c", "import numpy, scipy, pandas, sklearn; print('ok')")
	if out != "ok\n" {
		t.Errorf("python3 in sagekit/python printed %q", out)
	}
}

// TestFingerprint: the fingerprint follows what goes into the image, so a
// changed package list is not mistaken for the image already in the store.
func TestFingerprint(t *testing.T) {
	s, ok := Lookup("python")
	if !ok {
		t.Fatal("no python spec")
	}
	fp := s.Fingerprint()
	if fp != s.Fingerprint() || len(fp) != 16 {
		t.Fatalf("Fingerprint() = %q, not stable or not 16 hex digits", fp)
	}
	changed := s
	changed.Packages = append(append([]string(nil), s.Packages...), "python3-extra")
	if changed.Fingerprint() == fp {
		t.Error("adding a package did not change the fingerprint")
	}
	changed = s
	changed.Env = nil
	if changed.Fingerprint() == fp {
		t.Error("changing the environment did not change the fingerprint")
	}
	seen := map[string]string{}
	for _, s := range Specs {
		if other, dup := seen[s.Fingerprint()]; dup {
			t.Errorf("%s and %s share a fingerprint", s.Key, other)
		}
		seen[s.Fingerprint()] = s.Key
	}
}

// TestUnpackRoundTrip: a layer unpacked and written again is the same
// entries (owners, set-id bits, times, hard and absolute links kept), and
// a device is refused by name.
func TestUnpackRoundTrip(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("keeping owners needs root, as building a base does")
	}
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"etc/alternatives/awk": "awk", "usr/bin/su": "su", "tmp/": "", "root/": ""})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("/etc/alternatives/awk", filepath.Join(dir, "usr/bin/awk")))
	must(os.Link(filepath.Join(dir, "usr/bin/su"), filepath.Join(dir, "usr/bin/su2")))
	must(os.Chmod(filepath.Join(dir, "usr/bin/su"), os.ModeSetuid|0o755))
	must(os.Chmod(filepath.Join(dir, "tmp"), os.ModeSticky|0o777))
	must(os.Chmod(filepath.Join(dir, "root"), 0o700))
	must(os.Lchown(filepath.Join(dir, "etc/alternatives/awk"), 1000, 1000))
	old := time.Unix(1e9, 0)
	must(os.Chtimes(filepath.Join(dir, "etc/alternatives/awk"), old, old))
	must(os.Chtimes(filepath.Join(dir, "etc"), old, old))
	layer := filepath.Join(t.TempDir(), "layer.tar")
	must(writeLayer(dir, layer, nil))
	out := filepath.Join(t.TempDir(), "rootfs")
	must(unpack(context.Background(), layer, out))
	again := filepath.Join(t.TempDir(), "again.tar")
	must(writeLayer(out, again, nil))
	if d := cmp.Diff(headers(t, layer), headers(t, again)); d != "" {
		t.Errorf("the unpacked layer written again differs (-first +again):\n%s", d)
	}
	if fi, err := os.Stat(filepath.Join(out, "usr/bin/su")); err != nil || fi.Mode()&os.ModeSetuid == 0 {
		t.Errorf("usr/bin/su: %v, %v; want set-uid kept", fi.Mode(), err)
	}

	bad := filepath.Join(t.TempDir(), "bad.tar")
	f, err := os.Create(bad)
	must(err)
	tw := tar.NewWriter(f)
	tw.WriteHeader(&tar.Header{Name: "dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3})
	tw.Close()
	f.Close()
	if err := unpack(context.Background(), bad, t.TempDir()); err == nil || !strings.Contains(err.Error(), `"dev/null"`) {
		t.Errorf("unpack(a device) = %v, want it refused by name", err)
	}
}

// headers lists a tar's headers as text; a symbolic link's time is left
// out, since no portable call sets it.
func headers(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		mtime := h.ModTime.Unix()
		if h.Typeflag == tar.TypeSymlink {
			mtime = 0
		}
		out = append(out, fmt.Sprintf("%s %c %s %o %d:%d %d %d", h.Name, h.Typeflag, h.Linkname, h.Mode, h.Uid, h.Gid, mtime, h.Size))
	}
}
