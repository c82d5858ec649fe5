package cli

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/conformance/fixtures"
	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/internal/testmodel"
)

// goExampleImage is examples/go's algorithm as a FROM scratch image, under
// a tag of its own, removed when t ends.
func goExampleImage(t *testing.T, dc *client.Client) string {
	t.Helper()
	bin := testenv.Binary(t, "./examples/go/cmd/algorithm", runtime.GOARCH)
	ref, err := fixtures.Build(t.Context(), dc, fixtures.Fixture{}, bin, "sagekit-cli-goexample-"+randomID())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := dc.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
			t.Errorf("removing %s: %v", ref, err)
		}
	})
	return ref
}

// run endpoint --config on the local Docker Engine: the Go example in two
// variants at 0.5/0.5 (one from a model.tar.gz, one from a directory),
// served by the sagekit binary; sagekit invoke reaches each by
// TargetVariant and both by weight; the port serves nothing but the
// invocation route; Ctrl-C leaves no container or network.
func TestRunEndpointConfigLocal(t *testing.T) {
	dc := testenv.Docker(t)
	bin := hostBinary(t)
	img := goExampleImage(t, dc)
	label := testLabelFlag(t, dc)
	_, archiveA := testmodel.Iris(t, 3)
	dirB, _ := testmodel.Iris(t, 1)
	t.Setenv("AWS_REGION", "us-east-1") // invoke's client wants one; the URL is local
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")

	dir := t.TempDir()
	cfg := filepath.Join(dir, "endpoint.yaml")
	os.WriteFile(cfg, []byte("name: iris\nvariants:\n  - name: current\n    weight: 0.5\n  - name: candidate\n    weight: 0.5\n    instance-count: 2\n    model: "+dirB+"\n"), 0o644)
	cmd := exec.Command(bin, "run", "endpoint", img, "--model", archiveA, "--config", cfg, "--port", "0", label, "--progress", "plain")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testenv.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	serving := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`^endpoint iris is serving at (http://127\.0\.0\.1:[0-9]+)/endpoints/iris/invocations `)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				serving <- m[1]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	var url string
	select {
	case url = <-serving:
	case <-time.After(3 * time.Minute):
		t.Fatalf("never served\nstderr:\n%s", stderr.String())
	}

	body := filepath.Join(dir, "payload.csv")
	os.WriteFile(body, []byte("5.1,3.5,1.4,0.2\n6.4,3.2,4.5,1.5\n7.7,3.0,6.1,2.3\n"), 0o644)
	for _, v := range []string{"current", "candidate"} {
		code, out, errs := execSageMaker(t.Context(), "", "invoke", "iris", "--endpoint-url", url, "--body", body, "--content-type", "text/csv", "--variant", v)
		if code != 0 || errs != "variant: "+v+"\n" || strings.Count(out, "\n") != 3 {
			t.Errorf("invoke --variant %s: exit %d, stdout %q, stderr %q", v, code, out, errs)
		}
	}
	seen := map[string]int{}
	for range 30 {
		code, _, errs := execSageMaker(t.Context(), "", "invoke", "iris", "--endpoint-url", url, "--body", body, "--content-type", "text/csv")
		if code != 0 {
			t.Fatalf("invoke: exit %d: %s", code, errs)
		}
		seen[strings.TrimSpace(strings.TrimPrefix(errs, "variant: "))]++
	}
	if seen["current"] == 0 || seen["candidate"] == 0 || seen["current"]+seen["candidate"] != 30 {
		t.Errorf("30 invocations by weight 0.5/0.5 went to %v; want both variants", seen)
	}
	code, _, errs := execSageMaker(t.Context(), "", "invoke", "iris", "--endpoint-url", url, "--body", body, "--content-type", "text/csv", "--variant", "nope")
	if code == 0 || !strings.Contains(errs, "nope") {
		t.Errorf("invoke --variant nope: exit %d, stderr %q", code, errs)
	}
	// The control plane is not on the port.
	resp, err := http.Post(url+"/", "application/x-amz-json-1.1", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST / on the endpoint's port: %s, want 404", resp.Status)
	}

	filter := make(client.Filters).Add("label", strings.TrimPrefix(label, "--label="))
	cs, err := dc.ContainerList(t.Context(), client.ContainerListOptions{Filters: filter})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.Items) != 3 {
		t.Errorf("%d containers running, want 3 (1 current, 2 candidate)", len(cs.Items))
	}
	cmd.Process.Signal(syscall.SIGINT)
	code = waitCode(t, cmd, 2*time.Minute)
	if code != ExitInterrupted {
		t.Errorf("Ctrl-C: exit %d, want %d\nstderr:\n%s", code, ExitInterrupted, stderr.String())
	}
	cs, err = dc.ContainerList(t.Context(), client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.Items) != 0 {
		t.Errorf("%d containers left after Ctrl-C\nstderr:\n%s", len(cs.Items), stderr.String())
	}
	t.Logf("stderr:\n%s", stderr.String())
	if !strings.Contains(stderr.String(), "no container left") {
		t.Errorf("stderr lacks the clean-up line:\n%s", stderr.String())
	}
}

// What the local engine does not run is refused before anything starts,
// naming the field.
func TestRunEndpointConfigLocalRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ yaml, want string }{
		{"variants:\n  - name: a\nshadow:\n  - name: s\n", "shadow: shadow variants are not supported locally"},
		{"variants:\n  - name: a\n    multi-model: true\n", `variant "a": multi-model is not supported locally`},
		{"variants:\n  - name: a\n    weight: -1\n", `variant "a": weight -1: want 0 or more`},
	} {
		cfg := filepath.Join(dir, "endpoint.yaml")
		os.WriteFile(cfg, []byte(c.yaml), 0o644)
		code, _, stderr := execSageMaker(t.Context(), "", "run", "endpoint", "img", "--model", "m.tar.gz", "--config", cfg)
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want %q", c.yaml, code, stderr, c.want)
		}
	}
	os.WriteFile(filepath.Join(dir, "endpoint.yaml"), []byte("name: good\nvariants:\n  - name: a\n"), 0o644)
	code, _, stderr := execSageMaker(t.Context(), "", "run", "endpoint", "img", "--model", "m.tar.gz", "--config", filepath.Join(dir, "endpoint.yaml"), "--name", "not_valid")
	if code != 1 || !strings.Contains(stderr, `endpoint name "not_valid": use 1 to 63 letters, digits and hyphens`) {
		t.Errorf("--name not_valid: exit %d, %s", code, stderr)
	}
	code, _, stderr = execSageMaker(t.Context(), "", "run", "endpoint", "img", "--model", "m.tar.gz", "--config", filepath.Join(dir, "endpoint.yaml"), "--gpu")
	if code != ExitUsage || !strings.Contains(stderr, "--gpu with --config") {
		t.Errorf("--gpu: exit %d, %s", code, stderr)
	}
	// The limits reach the engine, which unpacks the models: a bad one is
	// refused before anything starts, as without --config.
	code, _, stderr = execSageMaker(t.Context(), "", "run", "endpoint", "img", "--model", "m.tar.gz", "--config", filepath.Join(dir, "endpoint.yaml"), "--max-extract-ratio", "-2")
	if code != ExitUsage || !strings.Contains(stderr, `--max-extract-ratio "-2": want a non-negative integer`) {
		t.Errorf("--max-extract-ratio -2: exit %d, %s", code, stderr)
	}
}

// TestDataURI: a variant with no model stays without one (SageMaker serves
// a model baked into the image); before, an empty --model became the
// working directory.
func TestDataURI(t *testing.T) {
	abs, err := filepath.Abs("m.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		v     string
		local bool
		want  string
	}{
		{"", true, ""},
		{"", false, ""},
		{"m.tar.gz", true, "file://" + filepath.ToSlash(abs)},
		{"s3://b/m.tar.gz", true, "s3://b/m.tar.gz"},
		{"file:///m", true, "file:///m"},
		{"m.tar.gz", false, "m.tar.gz"},
	} {
		got, err := dataURI("--model", tt.v, tt.local)
		if err != nil || got != tt.want {
			t.Errorf("dataURI(%q, %v) = %q, %v; want %q", tt.v, tt.local, got, err, tt.want)
		}
	}
}
