package cli

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/conformance/fixtures"
	"github.com/sagekit/sagekit/internal/testenv"
)

// sleeperImage is a FROM scratch image of local/testdata/sleeper, whose
// training runs until SIGTERM.
func sleeperImage(t *testing.T, dc *client.Client) string {
	t.Helper()
	b, err := os.ReadFile(testenv.Binary(t, "./local/testdata/sleeper", runtime.GOARCH))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "algorithm", Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg})
	tw.Write(b)
	tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = runtime.GOARCH, "linux"
	cf.Config = v1.Config{Entrypoint: []string{"/algorithm"}}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref := "sagekit-cli-sleeper-" + randomID() + ":latest"
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := daemon.Write(tag, img, daemon.WithClient(dc), daemon.WithContext(t.Context())); err != nil {
		t.Fatalf("loading %s: %v", ref, err)
	}
	t.Cleanup(func() { dc.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true}) })
	return ref
}

// TestRunTrainInterrupt: Ctrl-C in the middle of a 2-host training job
// exits 130 once every container and network is removed; each host's
// output was printed with its name.
func TestRunTrainInterrupt(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT")
	}
	dc := testenv.Docker(t)
	bin := hostBinary(t)
	img := sleeperImage(t, dc)
	cmd := exec.Command(bin, "run", "train", img, "--hosts", "2", testLabelFlag(t, dc), "--output", t.TempDir(), "--progress", "plain")
	var stderr testenv.SyncBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	running := make(chan struct{})
	var lines testenv.SyncBuffer
	go func() {
		sc := bufio.NewScanner(stdout)
		hosts := map[string]bool{}
		for sc.Scan() {
			lines.Write([]byte(sc.Text() + "\n"))
			if h, _, ok := strings.Cut(sc.Text(), " | sleeper: training until SIGTERM"); ok {
				hosts[h] = true
				if len(hosts) == 2 {
					close(running)
				}
			}
		}
	}()
	select {
	case <-running:
	case <-time.After(2 * time.Minute):
		t.Fatalf("both hosts never printed their first line\nstdout:\n%s\nstderr:\n%s", lines.String(), stderr.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	if code := waitCode(t, cmd, time.Minute); code != ExitInterrupted || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("exit %d, want 130\nstderr:\n%s", code, stderr.String())
	}
	for _, h := range []string{"algo-1", "algo-2"} {
		if !strings.Contains(lines.String(), h+" | sleeper: training until SIGTERM") {
			t.Errorf("stdout has no line of %s:\n%s", h, lines.String())
		}
	}
}

// TestRunEndpointIgnoresSIGTERM: on Ctrl-C a container that ignores
// SIGTERM is killed after SageMaker's 30 s, removed, and named in the
// error.
func TestRunEndpointIgnoresSIGTERM(t *testing.T) {
	dc := testenv.Docker(t)
	fx := testenv.Binary(t, fixtures.Program, runtime.GOARCH)
	img, err := fixtures.Build(t.Context(), dc, fixtures.Fixture{Break: "C-IN-13"}, fx, "sagekit-cli-sigterm-"+randomID())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dc.ImageRemove(context.Background(), img, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr testenv.SyncBuffer
	code := make(chan int, 1)
	go func() {
		code <- execRun(ctx, &stdout, &stderr, "endpoint", img, testLabelFlag(t, dc), "--model", t.TempDir(), "--port", "0")
	}()
	for deadline := time.Now().Add(time.Minute); !strings.Contains(stdout.String(), "is serving at"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never served\nstderr:\n%s", stderr.String())
		}
	}
	cancel()
	start := time.Now()
	select {
	case c := <-code:
		const want = "the container ignored SIGTERM for 30s and was killed"
		if c != 1 || !strings.Contains(stderr.String(), want) {
			t.Errorf("exit %d, want 1 and %q\nstderr:\n%s", c, want, stderr.String())
		}
		if took := time.Since(start); took < 30*time.Second {
			t.Errorf("stopped after %s, want SIGKILL no sooner than 30s after SIGTERM", took)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("the endpoint did not stop within 90s of Ctrl-C")
	}
}
