package build

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/sagekit/sagekit/internal/testenv"
)

// scratchDockerfile is what a Go project's Dockerfile looks like: the
// runtime and the host-compiled algorithm from .sagekit/, nothing pulled.
const scratchDockerfile = `FROM scratch
ARG TARGETARCH
COPY .sagekit/linux-${TARGETARCH}/sagekit-runtime /usr/local/bin/sagekit-runtime
COPY --chmod=0755 .sagekit/linux-${TARGETARCH}/algorithm /algorithm
ENTRYPOINT ["/algorithm"]
`

const algorithmMain = `package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() { fmt.Println("algorithm", runtime.GOARCH, os.Args[1:]) }
`

// goProject writes a project whose sagekit.json names a Go main package.
func goProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Dockerfile":         scratchDockerfile,
		"go.mod":             "module example.com/algo\n\ngo 1.26\n",
		"cmd/algo/main.go":   algorithmMain,
		ProjectFile:          `{"template": "go", "go": {"main": "./cmd/algo"}}`,
		".dockerignore":      "ignored.txt\n",
		"ignored.txt":        "not sent",
		".sagekit/stale.txt": "hidden by the virtual .sagekit",
	})
	return dir
}

func uniqueName(t *testing.T, repo string) string {
	return fmt.Sprintf("sagekit-test/%s:%s-%d", repo, strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), time.Now().UnixNano())
}

func removeImages(t *testing.T, dc *client.Client, refs ...string) {
	t.Cleanup(func() {
		for _, r := range refs {
			_, _ = dc.ImageRemove(context.Background(), r, client.ImageRemoveOptions{Force: true})
		}
	})
}

// runImage runs image with args (and entrypoint when given), removes the
// container and returns what it printed.
func runImage(t *testing.T, dc *client.Client, image string, entrypoint []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	created, err := dc.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: image, Entrypoint: entrypoint, Cmd: args, Labels: map[string]string{"dev.sagekit.test": "true"}},
	})
	if err != nil {
		t.Fatalf("creating a container of %s: %v", image, err)
	}
	defer dc.ContainerRemove(context.Background(), created.ID, client.ContainerRemoveOptions{Force: true})
	if _, err := dc.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("starting %s: %v", image, err)
	}
	wait := dc.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case err := <-wait.Error:
		t.Fatalf("waiting for %s: %v", image, err)
	case res := <-wait.Result:
		if res.StatusCode != 0 {
			t.Errorf("%s exited with %d", image, res.StatusCode)
		}
	}
	logs, err := dc.ContainerLogs(ctx, created.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatalf("reading logs of %s: %v", image, err)
	}
	defer logs.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, logs); err != nil {
		t.Fatalf("reading logs of %s: %v", image, err)
	}
	return out.String()
}

func TestRunScratchImage(t *testing.T) {
	dc := testenv.Docker(t)
	t.Parallel()
	dir := goProject(t)
	tag1, tag2 := uniqueName(t, "algo"), uniqueName(t, "algo2")
	removeImages(t, dc, tag1, tag2)
	out := filepath.Join(t.TempDir(), "image.tar")
	var logs testenv.SyncBuffer
	res, err := Run(context.Background(), Options{
		ContextDir: dir,
		Tags:       []string{tag1, tag2},
		Docker:     dc,
		Logger:     slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Labels:     map[string]string{"dev.sagekit.template": "go"},
		Output:     &Output{Type: OutputDocker, Dest: out},
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(res.Images) != 1 || res.Images[0].Platform != "linux/"+runtime.GOARCH {
		t.Fatalf("Run images = %+v, want one for linux/%s", res.Images, runtime.GOARCH)
	}
	for _, tag := range []string{tag1, tag2} {
		ins, err := dc.ImageInspect(context.Background(), tag)
		if err != nil {
			t.Fatalf("tag %s not in the Engine: %v", tag, err)
		}
		if ins.ID != res.Images[0].ID {
			t.Errorf("tag %s is %s, want %s", tag, ins.ID, res.Images[0].ID)
		}
		if got := ins.Config.Labels["dev.sagekit.template"]; got != "go" {
			t.Errorf("label dev.sagekit.template = %q, want go", got)
		}
	}
	if got, want := runImage(t, dc, tag1, nil, "train"), fmt.Sprintf("algorithm %s [train]\n", runtime.GOARCH); got != want {
		t.Errorf("running the algorithm printed %q, want %q", got, want)
	}
	if got := runImage(t, dc, tag1, []string{"/usr/local/bin/sagekit-runtime"}, "version"); !strings.HasPrefix(got, "sagekit-runtime ") {
		t.Errorf("sagekit-runtime version printed %q", got)
	}

	// The temporary per-platform names this build used are gone. Only
	// its own: a concurrent build of the same project (another test
	// process) makes the same image ID, and carries its own temporary
	// name while it runs.
	temps := tempNames(t, logs.String())
	if len(temps) == 0 {
		t.Fatalf("no temporary image name in the build's debug log:\n%s", logs.String())
	}
	for _, temp := range temps {
		if ins, err := dc.ImageInspect(context.Background(), temp); err == nil {
			t.Errorf("temporary name %s left on image %s", temp, ins.ID)
		}
	}

	ref, _ := name.NewTag(tag1)
	img, err := tarball.ImageFromPath(out, &ref)
	if err != nil {
		t.Fatalf("reading the docker output: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Architecture != runtime.GOARCH || cf.Config.Entrypoint[0] != "/algorithm" {
		t.Errorf("docker output config: arch %s entrypoint %v", cf.Architecture, cf.Config.Entrypoint)
	}
	files := layerFiles(t, img)
	for _, f := range []string{"algorithm", "usr/local/bin/sagekit-runtime"} {
		if !files[f] {
			t.Errorf("image lacks %s; has %v", f, files)
		}
	}
}

// tempNames returns the temporary image names a build's JSON debug log
// records.
func tempNames(t *testing.T, log string) []string {
	t.Helper()
	var names []string
	for line := range strings.Lines(log) {
		var rec struct{ Msg, Name string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("reading the build log line %q: %v", line, err)
		}
		if rec.Msg == "temporary image name" {
			names = append(names, rec.Name)
		}
	}
	return names
}

// layerFiles lists the regular files in img's layers.
func layerFiles(t *testing.T, img v1.Image) map[string]bool {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if hdr.Typeflag == tar.TypeReg {
				files[strings.TrimPrefix(hdr.Name, "./")] = true
			}
		}
		rc.Close()
	}
	return files
}

func TestRunBadInput(t *testing.T) {
	dc := testenv.Docker(t)
	t.Parallel()
	down, err := client.New(client.WithHost("unix:///nonexistent/docker.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	tests := []struct {
		name       string
		dockerfile string // "" writes none
		docker     *client.Client
		platforms  []string
		wantIs     error
		wantMsg    string
	}{
		{name: "no Dockerfile", wantIs: ErrNoDockerfile, wantMsg: "create one (`sagekit init` writes one) or pass -f PATH"},
		{name: "syntax error", dockerfile: "FROM scratch\nCOPY a /a\nFORM x\n", wantMsg: "Dockerfile:3: unknown instruction: FORM"},
		{name: "syntax line", dockerfile: "# syntax=docker/dockerfile:1\nFROM scratch\n", wantMsg: "Dockerfile:1: a `# syntax=` line pulls a frontend image"},
		{name: "no FROM", dockerfile: "COPY a /a\n", wantMsg: "Dockerfile:1: COPY before the first FROM"},
		{name: "missing base image", dockerfile: "ARG V=none\nFROM sagekit-test/missing:${V} AS b\nFROM b\n", wantIs: ErrBaseImage,
			wantMsg: "base image sagekit-test/missing:none is not in the local image store: pull it with `docker pull sagekit-test/missing:none` (or `docker load -i FILE` where no registry is reachable)"},
		{name: "foreign platform", dockerfile: scratchDockerfile, platforms: []string{"linux/s390x"}, wantMsg: "platform linux/s390x is not supported"},
		{name: "engine down", dockerfile: scratchDockerfile, docker: down, wantIs: ErrEngine, wantMsg: "start it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.dockerfile != "" {
				writeFiles(t, dir, map[string]string{"Dockerfile": tt.dockerfile})
			}
			d := dc
			if tt.docker != nil {
				d = tt.docker
			}
			_, err := Run(context.Background(), Options{ContextDir: dir, Docker: d, Platforms: tt.platforms})
			if err == nil {
				t.Fatalf("Run succeeded, want an error containing %q", tt.wantMsg)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Run error %v is not %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Run error = %q, want it to contain %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("Run error spans lines: %q", err)
			}
		})
	}
}

func TestRunMultiPlatformOCI(t *testing.T) {
	dc := testenv.Docker(t)
	t.Parallel()
	dir := goProject(t)
	tag := uniqueName(t, "multi")
	removeImages(t, dc, tag)
	out := filepath.Join(t.TempDir(), "image.oci.tar")
	res, err := Run(context.Background(), Options{
		ContextDir: dir,
		Tags:       []string{tag},
		Platforms:  []string{"linux/amd64,linux/arm64"},
		Docker:     dc,
		Output:     &Output{Type: OutputOCI, Dest: out},
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(res.Images) != 2 {
		t.Fatalf("Run built %d images, want 2", len(res.Images))
	}
	if res.Tagged != "linux/"+runtime.GOARCH {
		t.Errorf("tag points at %s, want the host's linux/%s", res.Tagged, runtime.GOARCH)
	}

	lay := t.TempDir()
	if out, err := exec.Command("tar", "-xf", out, "-C", lay).CombinedOutput(); err != nil {
		t.Fatalf("untar: %v: %s", err, out)
	}
	top, err := layout.ImageIndexFromPath(lay)
	if err != nil {
		t.Fatalf("reading the OCI layout: %v", err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.Manifests) != 1 || tm.Manifests[0].Annotations["io.containerd.image.name"] == "" {
		t.Fatalf("index.json = %+v, want one image index named after the tag", tm.Manifests)
	}
	idx, err := top.ImageIndex(tm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range im.Manifests {
		got = append(got, d.Platform.OS+"/"+d.Platform.Architecture)
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != d.Platform.Architecture {
			t.Errorf("image for %s has config architecture %s", d.Platform.Architecture, cf.Architecture)
		}
		if mt, _ := img.MediaType(); !strings.Contains(string(mt), "oci") {
			t.Errorf("image for %s has media type %s, want OCI", d.Platform.Architecture, mt)
		}
		if files := layerFiles(t, img); !files["algorithm"] || !files["usr/local/bin/sagekit-runtime"] {
			t.Errorf("image for %s lacks the algorithm or the runtime: %v", d.Platform.Architecture, files)
		}
	}
	if want := []string{"linux/amd64", "linux/arm64"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("index platforms = %v, want %v", got, want)
	}
}

func TestRunSourceDateEpoch(t *testing.T) {
	dc := testenv.Docker(t)
	t.Parallel()
	dir := goProject(t)
	writeFiles(t, dir, map[string]string{"Dockerfile": scratchDockerfile + "COPY data.txt /data.txt\n", "data.txt": "data"})
	epoch := time.Unix(1700000000, 0).UTC()
	var ids []string
	for i := range 2 {
		tag := uniqueName(t, fmt.Sprintf("sde%d", i))
		removeImages(t, dc, tag)
		res, err := Run(context.Background(), Options{ContextDir: dir, Tags: []string{tag}, Docker: dc, NoCache: true, SourceDateEpoch: &epoch})
		if err != nil {
			t.Fatalf("Run %d: %v", i, err)
		}
		ids = append(ids, res.Images[0].ID)
		ins, err := dc.ImageInspect(context.Background(), tag)
		if err != nil {
			t.Fatal(err)
		}
		if created, err := time.Parse(time.RFC3339Nano, ins.Created); err != nil || !created.Equal(epoch) {
			t.Errorf("image created %s, want %s", ins.Created, epoch)
		}
		// A context file touched now must not change the image.
		now := time.Now().Add(time.Hour)
		if err := os.Chtimes(filepath.Join(dir, "data.txt"), now, now); err != nil {
			t.Fatal(err)
		}
	}
	if ids[0] != ids[1] {
		t.Errorf("two builds with SOURCE_DATE_EPOCH gave %s and %s, want one image ID", ids[0], ids[1])
	}
}

// TestRunOnBase checks what the Engine's Dockerfile frontend offers on a
// Debian base: RUN --mount=type=secret, RUN --mount=type=cache, TARGETARCH.
func TestRunOnBase(t *testing.T) {
	dc := testenv.Docker(t)
	t.Parallel()
	const baseRef = "sagekit/base:bookworm"
	if _, err := dc.ImageInspect(context.Background(), baseRef); err != nil {
		if os.Getenv("SAGEKIT_REQUIRE_BASE") == "1" {
			t.Fatalf("%s required (SAGEKIT_REQUIRE_BASE=1) but missing: run `make base`", baseRef)
		}
		t.Skipf("skipped: %s is not in the image store (run `make base`)", baseRef)
	}
	dir := t.TempDir()
	secret := filepath.Join(t.TempDir(), "token")
	writeFiles(t, dir, map[string]string{"Dockerfile": `FROM sagekit/base:bookworm
ARG TARGETARCH
RUN --mount=type=secret,id=token cp /run/secrets/token /secret-copy
RUN --mount=type=cache,target=/var/cache/sagekit-test echo cached > /var/cache/sagekit-test/x && cat /var/cache/sagekit-test/x > /cache-copy
RUN echo "$TARGETARCH" > /arch
COPY .sagekit/linux-${TARGETARCH}/sagekit-runtime /usr/local/bin/sagekit-runtime
`})
	if err := os.WriteFile(secret, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	tag := uniqueName(t, "onbase")
	removeImages(t, dc, tag)
	_, err := Run(context.Background(), Options{ContextDir: dir, Tags: []string{tag}, Docker: dc,
		Secrets: []Secret{{ID: "token", Src: secret}}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := runImage(t, dc, tag, []string{"/bin/sh", "-c"}, "cat /secret-copy /cache-copy /arch && /usr/local/bin/sagekit-runtime version")
	want := "s3cretcached\n" + runtime.GOARCH + "\nsagekit-runtime "
	if !strings.HasPrefix(got, want) {
		t.Errorf("container printed %q, want it to start with %q", got, want)
	}
}

// TestRunStandaloneBuildkitd builds through a buildkitd started for the
// test on a temporary unix socket, when one is installed.
func TestRunStandaloneBuildkitd(t *testing.T) {
	dc := testenv.Docker(t)
	bin := os.Getenv("SAGEKIT_BUILDKITD")
	if bin == "" {
		bin, _ = exec.LookPath("buildkitd")
	}
	if bin == "" {
		if home, err := os.UserHomeDir(); err == nil {
			if p := filepath.Join(home, "go", "bin", "buildkitd"); fileExists(p) {
				bin = p
			}
		}
	}
	if bin == "" || os.Geteuid() != 0 {
		t.Skip("skipped: needs root and buildkitd (set SAGEKIT_BUILDKITD, or build it from github.com/moby/buildkit/cmd/buildkitd)")
	}
	t.Parallel()
	tmp, err := os.MkdirTemp("", "sagekit-bkd-")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(tmp, "buildkitd.sock")
	cmd := exec.Command(bin, "--oci-worker=true", "--containerd-worker=false", "--root", filepath.Join(tmp, "root"), "--addr", "unix://"+sock)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting buildkitd: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		os.RemoveAll(tmp)
	})
	deadline := time.Now().Add(30 * time.Second)
	for !fileExists(sock) {
		if time.Now().After(deadline) {
			t.Fatalf("buildkitd did not listen within 30s:\n%s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	dir := goProject(t)
	tag := uniqueName(t, "bkd")
	removeImages(t, dc, tag)
	cache := filepath.Join(t.TempDir(), "cache")
	_, err = Run(context.Background(), Options{
		ContextDir: dir, Tags: []string{tag}, Docker: dc, Builder: "unix://" + sock,
		CacheTo: []Cache{{Type: "local", Attrs: map[string]string{"dest": cache}}},
	})
	if err != nil {
		t.Fatalf("Run through buildkitd: %v\nbuildkitd log:\n%s", err, log.String())
	}
	if got, want := runImage(t, dc, tag, nil, "serve"), fmt.Sprintf("algorithm %s [serve]\n", runtime.GOARCH); got != want {
		t.Errorf("running the algorithm printed %q, want %q", got, want)
	}
	if !fileExists(filepath.Join(cache, "index.json")) {
		t.Errorf("no cache exported to %s", cache)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestRunContext checks what the build context holds: the virtual .sagekit
// directory instead of the project's own, and nothing .dockerignore names.
func TestRunContext(t *testing.T) {
	dc := testenv.Docker(t)
	t.Parallel()
	dir := goProject(t)
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\nCOPY . /ctx/\n"})
	out := filepath.Join(t.TempDir(), "image.tar")
	res, err := Run(context.Background(), Options{ContextDir: dir, Docker: dc, Output: &Output{Type: OutputDocker, Dest: out}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() {
		dc.ImageRemove(context.Background(), res.Images[0].ID, client.ImageRemoveOptions{Force: true})
	})
	img, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	files := layerFiles(t, img)
	arch := runtime.GOARCH
	for f, want := range map[string]bool{
		"ctx/Dockerfile": true,
		"ctx/.sagekit/linux-" + arch + "/sagekit-runtime": true,
		"ctx/.sagekit/linux-" + arch + "/algorithm":       true,
		"ctx/.sagekit/stale.txt":                          false,
		"ctx/ignored.txt":                                 false,
	} {
		if files[f] != want {
			t.Errorf("context has %s: %v, want %v", f, files[f], want)
		}
	}
}
