package examples

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/sagekit/sagekit/image/build"
	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/sdk/optml"
	"github.com/sagekit/sagekit/templates"
)

// envRequireBase, when "1", turns a missing sagekit/* base image into a
// failure instead of a skip. CI sets it after `sagekit base`.
const envRequireBase = "SAGEKIT_REQUIRE_BASE"

// Local base images (built by `sagekit base`).
const (
	baseImage   = "sagekit/base:bookworm"
	pythonImage = "sagekit/python:bookworm"
	cudaImage   = "sagekit/cuda:bookworm"
)

// want is the answer to local/payload.csv: one iris of each class.
const want = "setosa\nversicolor\nvirginica\n"

// modelFiles is what training writes, per template.
var modelFiles = map[string]string{
	templates.Go:      "model.json",
	templates.Python:  "decision-tree-model.pkl",
	templates.Generic: "centroids.csv",
}

// project is one directory to build and run.
type project struct {
	name     string
	dir      string
	template string
	gpu      bool
}

// TestContainers builds every template (rendered by `sagekit init`'s
// library into a temporary directory) and every example with
// image/build, then runs each as SageMaker does: `train` with a laid-out
// /opt/ml and no network, then `serve` with the model training wrote,
// mounted read-only, checked with /ping and /invocations.
func TestContainers(t *testing.T) {
	dc := testenv.Docker(t)
	root := testenv.ModuleRoot(t)
	var projects []project
	for _, tmpl := range templates.Names() {
		opts := templates.Options{Name: "sagekit-test-" + tmpl}
		if tmpl == templates.Go {
			opts.SDKDir = root
		}
		files, err := templates.Render(tmpl, opts)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "project")
		if err := templates.Write(dir, files); err != nil {
			t.Fatal(err)
		}
		projects = append(projects, project{name: "init-" + tmpl, dir: dir, template: tmpl})
	}
	for _, ex := range all() {
		projects = append(projects, project{name: "example-" + ex.Dir, dir: filepath.Join(root, "examples", ex.Dir), template: ex.Template, gpu: ex.Options.GPU})
	}
	for _, p := range projects {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			image := buildProject(ctx, t, dc, p)
			model := trainProject(ctx, t, dc, p, image)
			serveProject(ctx, t, dc, image, model)
		})
	}
}

// baseFor returns the build args that point the project at a local base
// image, skipping the test (or failing it under SAGEKIT_REQUIRE_BASE=1)
// when that base is missing.
func baseFor(ctx context.Context, t *testing.T, dc *client.Client, p project) map[string]string {
	t.Helper()
	var candidates []string
	switch {
	case p.template == templates.Go && !p.gpu:
		return nil // FROM scratch
	case p.gpu:
		// A CUDA runtime base when `sagekit base` could build one; the
		// algorithm runs on the plain base as well.
		candidates = []string{cudaImage, baseImage}
	case p.template == templates.Python:
		candidates = []string{pythonImage}
	default:
		candidates = []string{baseImage}
	}
	for _, img := range candidates {
		if _, err := dc.ImageInspect(ctx, img); err == nil {
			return map[string]string{"BASE_IMAGE": img}
		}
	}
	msg := fmt.Sprintf("base image %s is not in the local image store: run `sagekit base` first", strings.Join(candidates, " or "))
	if os.Getenv(envRequireBase) == "1" {
		t.Fatalf("%s (%s=1)", msg, envRequireBase)
	}
	t.Skipf("skipped: %s", msg)
	return nil
}

func buildProject(ctx context.Context, t *testing.T, dc *client.Client, p project) string {
	t.Helper()
	args := baseFor(ctx, t, dc, p)
	image := fmt.Sprintf("sagekit-test/%s:%d", p.name, time.Now().UnixNano())
	t.Cleanup(func() {
		_, _ = dc.ImageRemove(context.WithoutCancel(ctx), image, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
	if _, err := build.Run(ctx, build.Options{ContextDir: p.dir, Tags: []string{image}, BuildArgs: args, Docker: dc}); err != nil {
		t.Fatalf("building %s: %v", p.dir, err)
	}
	return image
}

// trainProject runs `IMAGE train` on a fresh /opt/ml holding the project's
// sample data and hyperparameters, and returns the model directory.
func trainProject(ctx context.Context, t *testing.T, dc *client.Client, p project, image string) string {
	t.Helper()
	local := optml.At(filepath.Join(p.dir, "local"))
	data, err := os.ReadFile(filepath.Join(local.Channel("training"), "iris.csv"))
	if err != nil {
		t.Fatal(err)
	}
	hp, err := local.LoadHyperparameters()
	if err != nil {
		t.Fatal(err)
	}
	ml := optml.At(t.TempDir())
	if err := ml.Write(optml.Layout{Hyperparameters: hp, Channels: map[string]map[string][]byte{"training": {"iris.csv": data}}}); err != nil {
		t.Fatal(err)
	}
	code, logs := runToExit(ctx, t, dc, image, []string{optml.CommandTrain}, []string{ml.Root() + ":" + optml.DefaultRoot})
	if code != 0 {
		t.Fatalf("docker run %s train exited %d:\n%s", image, code, logs)
	}
	model := filepath.Join(ml.Model(), modelFiles[p.template])
	if fi, err := os.Stat(model); err != nil || fi.Size() == 0 {
		t.Fatalf("train wrote no %s (%v):\n%s", model, err, logs)
	}
	if _, err := os.Stat(ml.Failure()); err == nil {
		t.Errorf("a successful train left %s", ml.Failure())
	}
	return ml.Model()
}

// serveProject runs `IMAGE serve` with model mounted read-only at
// /opt/ml/model and checks /ping and /invocations.
func serveProject(ctx context.Context, t *testing.T, dc *client.Client, image, model string) {
	t.Helper()
	port := network.MustParsePort("8080/tcp")
	id := create(ctx, t, dc, image, []string{optml.CommandServe}, &container.HostConfig{
		Binds:        []string{model + ":" + optml.DefaultRoot + "/model:ro"},
		PortBindings: network.PortMap{port: {{HostPort: ""}}},
	}, network.PortSet{port: {}})
	if _, err := dc.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("starting %s serve: %v", image, err)
	}
	insp, err := dc.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bindings := insp.Container.NetworkSettings.Ports[port]
	if len(bindings) == 0 {
		t.Fatalf("port 8080 of %s serve is not published", image)
	}
	base := "http://127.0.0.1:" + bindings[0].HostPort
	hc := &http.Client{Timeout: 5 * time.Second}

	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := hc.Get(base + optml.RoutePing)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /ping did not answer 200 within 60s (last: %v, %v); logs:\n%s", statusOf(resp, err), err, logsOf(ctx, dc, id))
		}
		time.Sleep(200 * time.Millisecond)
	}

	payload := "5.1,3.5,1.4,0.2\n6.4,3.2,4.5,1.5\n7.7,3.0,6.1,2.3\n"
	status, body := post(t, hc, base+optml.RouteInvocations, "text/csv", payload)
	if status != http.StatusOK || body != want {
		t.Errorf("POST /invocations text/csv = %d %q, want 200 %q; logs:\n%s", status, body, want, logsOf(ctx, dc, id))
	}
	if status, body := post(t, hc, base+optml.RouteInvocations, "application/json", "[[5.1,3.5,1.4,0.2]]"); status != http.StatusUnsupportedMediaType {
		t.Errorf("POST /invocations application/json = %d %q, want 415", status, body)
	}
}

func statusOf(resp *http.Response, err error) string {
	if err != nil || resp == nil {
		return "no response"
	}
	return resp.Status
}

func post(t *testing.T, hc *http.Client, url, contentType, body string) (int, string) {
	t.Helper()
	resp, err := hc.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// create makes a labelled container that t removes at the end. Outside
// root the container runs as the caller, so it can clean up what it writes.
func create(ctx context.Context, t *testing.T, dc *client.Client, image string, cmd []string, hc *container.HostConfig, ports network.PortSet) string {
	t.Helper()
	cfg := &container.Config{Image: image, Cmd: cmd, Labels: map[string]string{"dev.sagekit.test": "true"}, ExposedPorts: ports}
	if os.Getuid() != 0 {
		cfg.User = fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	}
	res, err := dc.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: hc})
	if err != nil {
		t.Fatalf("creating a container of %s: %v", image, err)
	}
	t.Cleanup(func() {
		_, _ = dc.ContainerRemove(context.WithoutCancel(ctx), res.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	})
	return res.ID
}

// runToExit runs a container with no network until it exits and returns
// its exit code and output.
func runToExit(ctx context.Context, t *testing.T, dc *client.Client, image string, cmd, binds []string) (int64, string) {
	t.Helper()
	id := create(ctx, t, dc, image, cmd, &container.HostConfig{Binds: binds, NetworkMode: "none"}, nil)
	wait := dc.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := dc.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("starting %s %v: %v", image, cmd, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	select {
	case res := <-wait.Result:
		return res.StatusCode, logsOf(ctx, dc, id)
	case err := <-wait.Error:
		t.Fatalf("waiting for %s %v: %v", image, cmd, err)
	case <-ctx.Done():
		t.Fatalf("%s %v did not exit within 2 minutes:\n%s", image, cmd, logsOf(context.WithoutCancel(ctx), dc, id))
	}
	return -1, ""
}

func logsOf(ctx context.Context, dc *client.Client, id string) string {
	r, err := dc.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return fmt.Sprintf("(no logs: %v)", err)
	}
	defer r.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, r); err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintf(&out, "(reading logs: %v)", err)
	}
	return out.String()
}
