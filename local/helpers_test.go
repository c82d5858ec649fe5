package local_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
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
	"github.com/sagekit/sagekit/local"
	"github.com/sagekit/sagekit/platform"
)

const testLabel = "dev.sagekit.test"

func randHex() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// exampleImage builds examples/go as the Dockerfile does (FROM scratch,
// /algorithm as the entrypoint), tagged for this test only.
func exampleImage(t *testing.T, dc *client.Client) string {
	t.Helper()
	return programImage(t, dc, "./examples/go/cmd/algorithm")
}

// sleeperImage runs testdata/sleeper: training until SIGTERM, serving
// never.
func sleeperImage(t *testing.T, dc *client.Client) string {
	t.Helper()
	return programImage(t, dc, "./local/testdata/sleeper")
}

// programImage is a FROM scratch image of the main package pkg.
func programImage(t *testing.T, dc *client.Client, pkg string) string {
	t.Helper()
	bin := testenv.Binary(t, pkg, runtime.GOARCH)
	b, err := os.ReadFile(bin)
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
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = runtime.GOARCH, "linux"
	cf.Config = v1.Config{Entrypoint: []string{"/algorithm"}}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return loadImage(t, dc, img, "sagekit-local-test-"+filepath.Base(pkg)+":"+randHex())
}

func loadImage(t *testing.T, dc *client.Client, img v1.Image, ref string) string {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := daemon.Write(tag, img, daemon.WithClient(dc), daemon.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true}) })
	return ref
}

// fixtureImage builds the conformance fixture breaking brk.
func fixtureImage(t *testing.T, dc *client.Client, brk string) string {
	t.Helper()
	bin := testenv.Binary(t, fixtures.Program, runtime.GOARCH)
	ref, err := fixtures.Build(t.Context(), dc, fixtures.Fixture{Break: brk}, bin, "sagekit-local-test-"+randHex())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true}) })
	return ref
}

// server is a sagekit local under test.
type server struct {
	*local.Server
	URL   string
	state string
	hs    *httptest.Server
}

// startServer starts a server on state; everything it starts carries a
// label unique to the test, and must be gone when the test ends.
func startServer(t *testing.T, state string, opts ...local.Option) *server {
	t.Helper()
	dc := testenv.Docker(t)
	run := strings.NewReplacer("/", "-").Replace(t.Name())
	opts = append([]local.Option{local.WithLabels(map[string]string{testLabel: run}), local.WithStopGrace(2 * time.Second), local.WithHealthTimeout(60 * time.Second)}, opts...)
	s, err := local.New(t.Context(), state, opts...)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	srv := &server{Server: s, URL: hs.URL, state: state, hs: hs}
	t.Cleanup(func() {
		srv.stop(t)
		e, err := platform.New(context.Background(), platform.WithClient(dc))
		if err != nil {
			t.Error(err)
			return
		}
		if left, _ := e.Leftovers(context.Background(), testLabel, run); len(left) > 0 {
			t.Errorf("left behind: %v", left)
			e.Sweep(context.Background(), testLabel, run)
		}
	})
	return srv
}

func (s *server) stop(t *testing.T) {
	if s.hs == nil {
		return
	}
	s.hs.Close()
	s.hs = nil
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// python runs a boto3 script with the server's URL in SAGEKIT_URL and
// dummy credentials, and returns its standard output.
func python(t *testing.T, url, script string, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "python3", "-c", script)
	cmd.Env = append(os.Environ(), awsEnv(url)...)
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("python: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	return out.String()
}

// awsCLI runs the AWS CLI against the server and returns its output.
func awsCLI(t *testing.T, url string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "aws", append([]string{"--endpoint-url", url, "--output", "json"}, args...)...)
	cmd.Env = append(os.Environ(), awsEnv(url)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func awsEnv(url string) []string {
	return []string{"SAGEKIT_URL=" + url, "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=", "PYTHONUNBUFFERED=1"}
}

// requireTools skips a test that drives sagekit local with boto3 and the
// AWS CLI when they are missing, and fails it instead under
// SAGEKIT_REQUIRE_PYTHON=1 (as CI runs), saying how to install them.
func requireTools(t *testing.T) {
	t.Helper()
	if why := toolsMissing(); why != "" {
		missingTool(t, why)
	}
}

// toolsMissing says which of python3 with boto3 and the AWS CLI is not
// there, or "". It looks once per test binary: importing boto3 takes
// seconds, and every test here asks.
var toolsMissing = sync.OnceValue(func() string {
	for _, tool := range []string{"python3", "aws"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " is not on PATH"
		}
	}
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		return "python3 has no boto3"
	}
	return ""
})

// missingTool skips, or fails under SAGEKIT_REQUIRE_PYTHON=1.
func missingTool(t *testing.T, why string) {
	t.Helper()
	const fix = "install them with: pip install boto3 awscli 'moto[server]'"
	if os.Getenv("SAGEKIT_REQUIRE_PYTHON") == "1" {
		t.Fatalf("%s (SAGEKIT_REQUIRE_PYTHON=1); %s", why, fix)
	}
	t.Skipf("%s; %s", why, fix)
}
