package build

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/templates"
)

// needBase skips (or, with SAGEKIT_REQUIRE_BASE=1, fails) when a local
// base image is missing.
func needBase(t *testing.T, dc *client.Client, ref string) {
	t.Helper()
	if _, err := dc.ImageInspect(context.Background(), ref); err != nil {
		if os.Getenv("SAGEKIT_REQUIRE_BASE") == "1" {
			t.Fatalf("%s required (SAGEKIT_REQUIRE_BASE=1) but missing: run `make base`", ref)
		}
		t.Skipf("skipped: %s is not in the image store (run `make base`)", ref)
	}
}

// treeEntry is what an image's file system holds at one path.
type treeEntry struct {
	Type     byte
	Mode     int64 // permission and special bits
	UID, GID int
	Linkname string
	Size     int64
	Digest   string
	MTime    int64 // seconds; files and symlinks only (see compareImages)
}

// imageView is what the equivalence test compares of an image.
type imageView struct {
	tree   map[string]treeEntry
	config v1.Config
	layers int
}

// readImage flattens the image's layers into one file tree, applying
// whiteouts as the Engine does.
func readImage(t *testing.T, dc *client.Client, ref string) imageView {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := daemon.Image(tag, daemon.WithClient(dc), daemon.WithFileBufferedOpener())
	if err != nil {
		t.Fatalf("reading %s: %v", ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	tree := map[string]treeEntry{}
	removeBelow := func(dir string) {
		for p := range tree {
			if strings.HasPrefix(p, dir+"/") {
				delete(tree, p)
			}
		}
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("reading a layer of %s: %v", ref, err)
			}
			p := path.Clean("/" + h.Name)
			dir, base := path.Split(p)
			dir = path.Clean(dir)
			if base == ".wh..wh..opq" {
				removeBelow(dir)
				continue
			}
			if w, ok := strings.CutPrefix(base, ".wh."); ok {
				victim := path.Join(dir, w)
				delete(tree, victim)
				removeBelow(victim)
				continue
			}
			e := treeEntry{Type: h.Typeflag, Mode: h.Mode & 0o7777, UID: h.Uid, GID: h.Gid, Linkname: h.Linkname, Size: h.Size}
			if e.Type == tar.TypeRegA {
				e.Type = tar.TypeReg
			}
			if e.Type == tar.TypeReg {
				sum := sha256.New()
				if _, err := io.Copy(sum, tr); err != nil {
					t.Fatal(err)
				}
				e.Digest = hex.EncodeToString(sum.Sum(nil))
			}
			if e.Type != tar.TypeDir {
				e.MTime = h.ModTime.Unix()
				// A file replacing a directory replaces what was below
				// it. Only then: scanning the tree for every file made
				// reading a Debian base quadratic (minutes under -race).
				if old, ok := tree[p]; ok && old.Type == tar.TypeDir {
					removeBelow(p)
				}
			}
			tree[p] = e
		}
		rc.Close()
	}
	return imageView{tree: tree, config: cf.Config, layers: len(layers)}
}

// configView is the part of the config both ways must agree on.
type configView struct {
	Env, Entrypoint, Cmd, Shell []string
	Labels                      map[string]string
	WorkingDir, User            string
	ExposedPorts, Volumes       map[string]struct{}
	StopSignal                  string
}

func viewOf(c v1.Config) configView {
	return configView{Env: c.Env, Entrypoint: c.Entrypoint, Cmd: c.Cmd, Shell: c.Shell, Labels: c.Labels,
		WorkingDir: c.WorkingDir, User: c.User, ExposedPorts: c.ExposedPorts, Volumes: c.Volumes, StopSignal: c.StopSignal}
}

// compareImages reports every difference between the BuildKit image and
// the directly assembled one: paths, types, modes, owners, link targets,
// contents, file and symlink times, and the config. Directory times are
// left out: BuildKit stamps every directory a step touches (base
// directories included) with the time the step ran.
func compareImages(t *testing.T, bk, direct imageView) {
	t.Helper()
	if d := cmp.Diff(viewOf(bk.config), viewOf(direct.config)); d != "" {
		t.Errorf("config differs (-buildkit +direct):\n%s", d)
	}
	var paths []string
	for p := range bk.tree {
		paths = append(paths, p)
	}
	for p := range direct.tree {
		if _, ok := bk.tree[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	n := 0
	for _, p := range paths {
		a, aok := bk.tree[p]
		b, bok := direct.tree[p]
		switch {
		case !aok:
			t.Errorf("%s: only in the direct image: %+v", p, b)
		case !bok:
			t.Errorf("%s: only in the BuildKit image: %+v", p, a)
		case a != b:
			t.Errorf("%s: buildkit %+v, direct %+v", p, a, b)
		default:
			continue
		}
		if n++; n > 30 {
			t.Fatal("too many differences")
		}
	}
}

// rulesContext is a build context that exercises COPY's rules.
func rulesContext(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Dockerfile": `ARG BASE=sagekit/base:bookworm
ARG FLAVOR=plain
FROM ${BASE}
ARG TARGETARCH
ARG FLAVOR
ARG GIVEN
ENV APP=/srv/app \
    PATH=/opt/tools/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL org.example.flavor="${FLAVOR}" org.example.spaced="a b  c" org.example.given=$GIVEN
COPY code/ ${APP}/
COPY code ${APP}/again
COPY top.txt /opt
COPY top.txt /usr/local/bin
COPY etcx/ /etc/
COPY --chmod=0750 top.txt /chm/a
COPY --chmod=0600 code/sub/ /chm/d/
COPY top.txt /new/parents/file.txt
COPY *.md notes/*.txt /docs/
COPY ["spaced name.txt", "/spaced/"]
COPY link-to-top /linked
COPY .sagekit/linux-${TARGETARCH}/sagekit-runtime /usr/local/bin/sagekit-runtime
ADD plain.txt /added/
WORKDIR ${APP}
COPY code/sub rel/
COPY top.txt .
WORKDIR /fresh/dir
COPY emptydir ../e/
COPY . /all/
USER 1000:1000
EXPOSE 8080 9000/udp
VOLUME /data
STOPSIGNAL SIGTERM
ENTRYPOINT exec /usr/local/bin/sagekit-runtime
CMD ["serve", "--port", "8080"]
`,
		".dockerignore":       "*.log\ncode/**/*.tmp\nsecret*\n!secret-ok.txt\n",
		"code/a.py":           "print('a')\n",
		"code/run.sh":         "#!/bin/sh\necho run\n",
		"code/sub/b.py":       "print('b')\n",
		"code/sub/x.tmp":      "ignored",
		"code/keep.log":       "not ignored: *.log matches the root only",
		"root.log":            "ignored",
		"top.txt":             "top\n",
		"README.md":           "# readme\n",
		"notes/one.txt":       "one\n",
		"notes/two.txt":       "two\n",
		"notes/skip.md":       "not matched\n",
		"spaced name.txt":     "spaced\n",
		"plain.txt":           "plain, not an archive\n",
		"secret.txt":          "ignored",
		"secret-ok.txt":       "kept by the exception",
		"emptydir/.keep":      "",
		"code/sub/deep/c.py":  "print('c')\n",
		"etcx/apt/extra.conf": "an existing directory of the base gets the source's mode\n",
	})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(filepath.Join(dir, "code/run.sh"), 0o755))
	must(os.Chmod(filepath.Join(dir, "top.txt"), 0o600))
	must(os.Chmod(filepath.Join(dir, "code/sub"), 0o700))
	must(os.Chmod(filepath.Join(dir, "etcx/apt"), 0o700))
	must(os.Symlink("a.py", filepath.Join(dir, "code/link")))
	must(os.Symlink("top.txt", filepath.Join(dir, "link-to-top")))
	must(os.Remove(filepath.Join(dir, "emptydir/.keep")))
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	must(os.Chtimes(filepath.Join(dir, "code/a.py"), old, old))
	if os.Geteuid() == 0 {
		// COPY makes every file root's, whoever owns it in the context.
		must(os.Lchown(filepath.Join(dir, "code/sub/b.py"), 1000, 1000))
	}
	return dir
}

// templateProject renders a template into a new directory.
func templateProject(t *testing.T, tmpl string) string {
	t.Helper()
	dir := t.TempDir()
	opts := templates.Options{Name: "equiv-" + tmpl, Version: "v0.0.0-test"}
	if tmpl == templates.Go {
		opts.SDKDir = testenv.ModuleRoot(t)
	}
	files, err := templates.Render(tmpl, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := templates.Write(dir, files, templates.WithForce(true)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// steps records the names of the steps a build reported, and which were
// cached.
type steps struct {
	mu     sync.Mutex
	cached map[string]bool
}

func (s *steps) progress() ProgressFunc {
	s.cached = map[string]bool{}
	return func(_ context.Context, _ string, ch chan *bkclient.SolveStatus) error {
		for st := range ch {
			s.mu.Lock()
			for _, v := range st.Vertexes {
				if v.Completed != nil {
					s.cached[v.Name] = v.Cached
				}
			}
			s.mu.Unlock()
		}
		return nil
	}
}

func (s *steps) copies() (made, cached []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, c := range s.cached {
		if !strings.Contains(n, "] COPY ") && !strings.Contains(n, "] ADD ") {
			continue
		}
		if c {
			cached = append(cached, n)
		} else {
			made = append(made, n)
		}
	}
	sort.Strings(made)
	sort.Strings(cached)
	return made, cached
}

// pinRuntime puts one sagekit-runtime next to the test binary, where
// builds find it first, so every build of the test copies the same one
// (built from the module source per build, it would change whenever the
// source did between two builds).
func pinRuntime(t *testing.T) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(filepath.Dir(exe), "linux-"+runtime.GOARCH, "sagekit-runtime")
	if _, err := os.Stat(dst); err == nil {
		return
	}
	src, err := os.ReadFile(testenv.Runtime(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, src, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(dst)) })
}

// TestDirectMatchesBuildKit builds each project with BuildKit and by
// direct assembly, and compares the two images.
func TestDirectMatchesBuildKit(t *testing.T) {
	dc := testenv.Docker(t)
	needBase(t, dc, templates.DefaultPythonBase)
	needBase(t, dc, templates.DefaultGenericBase)
	pinRuntime(t)
	tests := []struct {
		name  string
		dir   func(*testing.T) string
		args  map[string]string
		epoch bool
	}{
		{name: "go", dir: func(t *testing.T) string { return templateProject(t, templates.Go) }},
		{name: "python", dir: func(t *testing.T) string { return templateProject(t, templates.Python) }},
		{name: "generic", dir: func(t *testing.T) string { return templateProject(t, templates.Generic) }},
		// FROM scratch: the BuildKit path rewrites the image for the epoch
		// (pinCreated), which reads every layer.
		{name: "go SOURCE_DATE_EPOCH", dir: func(t *testing.T) string { return templateProject(t, templates.Go) }, epoch: true},
		{name: "copy rules", dir: rulesContext, args: map[string]string{"FLAVOR": "given flavour", "GIVEN": "yes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir(t)
			bkTag, directTag := uniqueName(t, "equiv-bk"), uniqueName(t, "equiv-direct")
			removeImages(t, dc, bkTag, directTag)
			base := Options{ContextDir: dir, Docker: dc, BuildArgs: tt.args, CacheDir: t.TempDir()}
			if tt.epoch {
				// Later than the base image's files (the Engine's BuildKit
				// path would clamp those too), earlier than the context's.
				epoch := time.Now().Add(-time.Second).Truncate(time.Second).UTC()
				base.SourceDateEpoch = &epoch
			}
			bkOpts, directOpts := base, base
			// BuildKit's cache keys ignore file times, so a cached COPY
			// would carry the times of whichever build made it first.
			bkOpts.Tags, bkOpts.Via, bkOpts.NoCache = []string{bkTag}, ViaBuildKit, true
			directOpts.Tags, directOpts.Via = []string{directTag}, ViaDirect
			bkRes, err := Run(context.Background(), bkOpts)
			if err != nil {
				t.Fatalf("Run via BuildKit: %v", err)
			}
			res, err := Run(context.Background(), directOpts)
			if err != nil {
				t.Fatalf("Run via direct assembly: %v", err)
			}
			if bkRes.Via != ViaBuildKit || res.Via != ViaDirect {
				t.Fatalf("Via = %q and %q, want %q and %q", bkRes.Via, res.Via, ViaBuildKit, ViaDirect)
			}
			bk, direct := readImage(t, dc, bkTag), readImage(t, dc, directTag)
			if bk.layers != direct.layers {
				t.Errorf("BuildKit made %d layers, direct assembly %d", bk.layers, direct.layers)
			}
			compareImages(t, bk, direct)
			if tt.epoch {
				for _, ref := range []string{bkTag, directTag} {
					ins, err := dc.ImageInspect(context.Background(), ref)
					if err != nil {
						t.Fatal(err)
					}
					if got, _ := time.Parse(time.RFC3339Nano, ins.Created); !got.Equal(*base.SourceDateEpoch) {
						t.Errorf("%s created %s, want SOURCE_DATE_EPOCH %s", ref, ins.Created, base.SourceDateEpoch)
					}
				}
			}
		})
	}
}

// TestDirectCache: an unchanged rebuild makes no layer and keeps the
// image ID; a one-line change makes one layer again.
func TestDirectCache(t *testing.T) {
	dc := testenv.Docker(t)
	needBase(t, dc, templates.DefaultPythonBase)
	dir := templateProject(t, templates.Python)
	tag := uniqueName(t, "direct-cache")
	removeImages(t, dc, tag)
	cache := t.TempDir()
	build := func() (*Result, *steps) {
		t.Helper()
		var s steps
		res, err := Run(context.Background(), Options{ContextDir: dir, Docker: dc, Tags: []string{tag}, CacheDir: cache, Progress: s.progress()})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if res.Via != ViaDirect {
			t.Fatalf("Via = %q, want %q", res.Via, ViaDirect)
		}
		return res, &s
	}
	first, s := build()
	// The changed build takes the tag: the first image is then untagged,
	// and removing the tag at the end would leave it behind.
	removeImages(t, dc, first.Images[0].ID)
	if made, cached := s.copies(); len(made) != 2 || len(cached) != 0 {
		t.Errorf("first build: made %q, cached %q; want both COPY layers made", made, cached)
	}
	again, s := build()
	if made, _ := s.copies(); len(made) != 0 {
		t.Errorf("unchanged rebuild made %q, want nothing", made)
	}
	if again.Images[0].ID != first.Images[0].ID {
		t.Errorf("unchanged rebuild gave image %s, want %s", again.Images[0].ID, first.Images[0].ID)
	}
	f := filepath.Join(dir, "code", "inference.py")
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, append(b, []byte("\n# changed\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	changed, s := build()
	made, cached := s.copies()
	if len(made) != 1 || !strings.Contains(made[0], "COPY code/ /opt/program/") || len(cached) != 1 {
		t.Errorf("after a one-line change: made %q, cached %q; want only the code layer made", made, cached)
	}
	if changed.Images[0].ID == first.Images[0].ID {
		t.Error("a changed file left the image ID unchanged")
	}
	got := runImage(t, dc, tag, []string{"/bin/sh", "-c"}, "tail -n 1 /opt/program/inference.py")
	if got != "# changed\n" {
		t.Errorf("the image's inference.py ends with %q, want the change", got)
	}
}

// TestDirectFallback: what direct assembly cannot build goes to BuildKit
// under --via auto, and fails under --via direct.
func TestDirectFallback(t *testing.T) {
	dc := testenv.Docker(t)
	needBase(t, dc, templates.DefaultGenericBase)
	tests := []struct {
		name, dockerfile string
		opts             func(*Options)
	}{
		{name: "RUN", dockerfile: "FROM sagekit/base:bookworm\nCOPY a.txt /a.txt\nRUN cp /a.txt /b.txt\n"},
		{name: "COPY --chown", dockerfile: "FROM sagekit/base:bookworm\nCOPY --chown=1000:1000 a.txt /a.txt\n"},
		{name: "two stages", dockerfile: "FROM sagekit/base:bookworm AS one\nFROM one\nCOPY a.txt /a.txt\n"},
		{name: "builder option", dockerfile: "FROM scratch\nCOPY a.txt /a.txt\n", opts: func(o *Options) { o.Platforms = []string{"linux/amd64", "linux/arm64"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"Dockerfile": tt.dockerfile, "a.txt": "a\n"})
			tag := uniqueName(t, "fallback")
			removeImages(t, dc, tag)
			opts := Options{ContextDir: dir, Docker: dc, Tags: []string{tag}, CacheDir: t.TempDir()}
			if tt.opts != nil {
				tt.opts(&opts)
			}
			res, err := Run(context.Background(), opts)
			if err != nil {
				t.Fatalf("Run (--via auto): %v", err)
			}
			if res.Via != ViaBuildKit {
				t.Errorf("Via = %q, want %q", res.Via, ViaBuildKit)
			}
			if _, err := dc.ImageInspect(context.Background(), tag); err != nil {
				t.Errorf("no image %s: %v", tag, err)
			}
			opts.Via = ViaDirect
			_, err = Run(context.Background(), opts)
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "--via direct cannot build this") {
				t.Errorf("Run (--via direct) error = %v, want one saying direct assembly cannot build it", err)
			}
		})
	}
}

// TestDirectBadInput: a missing source is one line naming the Dockerfile
// line and the file, as BuildKit names it.
func TestDirectBadInput(t *testing.T) {
	dc := testenv.Docker(t)
	needBase(t, dc, templates.DefaultGenericBase)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Dockerfile":    "FROM sagekit/base:bookworm\nCOPY a.txt /a.txt\nCOPY missing.txt /m.txt\n",
		"a.txt":         "a\n",
		"ignored.txt":   "x",
		".dockerignore": "ignored.txt\n",
	})
	for _, via := range []string{ViaAuto, ViaDirect} {
		_, err := Run(context.Background(), Options{ContextDir: dir, Docker: dc, Via: via, CacheDir: t.TempDir()})
		want := `Dockerfile:3: COPY: "missing.txt" not found in the build context (or excluded by .dockerignore): add it or fix the path`
		if err == nil || err.Error() != want {
			t.Errorf("--via %s: Run error = %v, want %q", via, err, want)
		}
	}
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM sagekit/base:bookworm\nCOPY ignored.txt /i.txt\n"})
	_, err := Run(context.Background(), Options{ContextDir: dir, Docker: dc, CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), `Dockerfile:2: COPY: "ignored.txt" not found`) || strings.Contains(err.Error(), "\n") {
		t.Errorf("COPY of an ignored file: Run error = %v, want one line naming it", err)
	}
}
