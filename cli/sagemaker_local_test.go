package cli

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/conformance/fixtures"
	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/local"
)

// The commands that drive SageMaker, end to end against 'sagekit local' on
// the Docker Engine (S3 on moto's server): a two-instance training job
// reaching Completed with the logs of both hosts, its final metric and
// billable seconds, an endpoint of two variants from endpoint.yaml, invoke,
// ls and delete.
func TestSageMakerCommandsOnSagekitLocal(t *testing.T) {
	dc := testenv.Docker(t)
	img := fixtureImage(t, dc)
	moto := testenv.NewMoto(t)
	t.Setenv("AWS_ENDPOINT_URL_S3", moto.URL) // sagekit local serves no S3
	label := strings.TrimPrefix(testLabelFlag(t, dc), "--label=")
	k, v, _ := strings.Cut(label, "=")
	srv, err := local.New(t.Context(), t.TempDir(), local.WithLabels(map[string]string{k: v}), local.WithStopGrace(2*time.Second), local.WithHealthTimeout(60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		if err := srv.Close(); err != nil {
			t.Errorf("closing sagekit local: %v", err)
		}
	})
	moto.Boto3(t, `
s3.create_bucket(Bucket="bkt")
s3.put_object(Bucket="bkt", Key="train/part-1.csv", Body=b"1,2\n3,4\n5,6\n")
`, nil)

	code, stdout, stderr := execSageMaker(t.Context(), "", "run", "train", img, "--instance-type", "ml.m5.large", "--instance-count", "2",
		"--role", testRole, "--name", "e2e-train", "--data", "training=s3://bkt/train", "--output", "s3://bkt/out",
		"--hyperparameter", "epochs=2", "--metric", "loss=loss=([0-9.]+)", "--download", filepath.Join(t.TempDir(), "dl"), "--endpoint-url", hs.URL)
	t.Logf("run train:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	if code != 0 {
		t.Fatalf("run train: exit %d", code)
	}
	for _, s := range []string{"Training: Training image download completed", "metric loss = 0.42",
		"training job e2e-train completed: s3://bkt/out/e2e-train/output/model.tar.gz", "downloaded ", "billable seconds: "} {
		if !strings.Contains(stderr, s) {
			t.Errorf("run train's stderr lacks %q", s)
		}
	}
	for _, line := range []string{"algo-1 | fixture: loss=0.42; epochs=2\n", "algo-2 | fixture: loss=0.42; epochs=2\n"} {
		if !strings.Contains(stdout, line) {
			t.Errorf("run train's stdout lacks %q", line)
		}
	}
	trainLogs := stdout
	code, stdout, stderr = execSageMaker(t.Context(), "", "logs", "e2e-train", "--endpoint-url", hs.URL)
	if code != 0 || stdout != trainLogs {
		t.Errorf("logs: exit %d, stdout %q, want what run train streamed %q; stderr %s", code, stdout, trainLogs, stderr)
	}

	dir := t.TempDir()
	cfg := filepath.Join(dir, "endpoint.yaml")
	os.WriteFile(cfg, []byte("variants:\n  - name: current\n    weight: 3\n  - name: candidate\n    weight: 1\n"), 0o644)
	code, stdout, stderr = execSageMaker(t.Context(), "", "run", "endpoint", img, "--model", "s3://bkt/out/e2e-train/output/model.tar.gz",
		"--instance-type", "ml.m5.large", "--role", testRole, "--name", "e2e-ep", "--config", cfg, "--endpoint-url", hs.URL)
	if code != 0 || stdout != "e2e-ep\n" || !strings.Contains(stderr, "InService") {
		t.Fatalf("run endpoint: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	body := filepath.Join(dir, "payload.csv")
	os.WriteFile(body, []byte("1,2\n3,4\n"), 0o644)
	code, stdout, stderr = execSageMaker(t.Context(), "", "invoke", "e2e-ep", "--body", body, "--content-type", "text/csv", "--variant", "candidate", "--endpoint-url", hs.URL)
	if code != 0 || !strings.HasPrefix(stdout, "1") || stderr != "variant: candidate\n" {
		t.Errorf("invoke: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, _ = execSageMaker(t.Context(), "", "ls", "--endpoint-url", hs.URL)
	if code != 0 || !strings.Contains(stdout, "e2e-train") || !strings.Contains(stdout, "e2e-ep") {
		t.Errorf("ls: exit %d:\n%s", code, stdout)
	}
	code, _, stderr = execSageMaker(t.Context(), "", "delete", "e2e-ep", "--yes", "--endpoint-url", hs.URL)
	if code != 0 || !strings.Contains(stderr, "deleted endpoint e2e-ep, endpoint config e2e-ep, 2 models") {
		t.Errorf("delete: exit %d: %s", code, stderr)
	}
}

// sagekit stop against 'sagekit local' (moto has no StopTrainingJob): a
// training job told to train for 10 minutes and a transform job of 1,000
// records at 300 ms each, both started with --detach, reach Stopped.
func TestStopOnSagekitLocal(t *testing.T) {
	dc := testenv.Docker(t)
	img := fixtureImage(t, dc)
	bin := testenv.Binary(t, fixtures.Program, runtime.GOARCH)
	slow, err := fixtures.Build(t.Context(), dc, fixtures.Fixture{Break: "C-BT-02"}, bin, "sagekit-cli-stop-"+randomID())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.ImageRemove(context.Background(), slow, client.ImageRemoveOptions{Force: true}) })
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	label := strings.TrimPrefix(testLabelFlag(t, dc), "--label=")
	k, v, _ := strings.Cut(label, "=")
	srv, err := local.New(t.Context(), t.TempDir(), local.WithLabels(map[string]string{k: v}), local.WithStopGrace(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		if err := srv.Close(); err != nil {
			t.Errorf("closing sagekit local: %v", err)
		}
	})
	dir := t.TempDir()
	status := func(name string) string {
		_, stdout, _ := execSageMaker(t.Context(), "", "ls", "--endpoint-url", hs.URL)
		for _, line := range strings.Split(stdout, "\n") {
			f := strings.Fields(line) // KIND (two words) NAME STATUS CREATED
			if i := slices.Index(f, name); i > 0 && i+1 < len(f) {
				return f[i+1]
			}
		}
		return ""
	}
	waitFor := func(name string, want ...string) string {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			s := status(name)
			if slices.Contains(want, s) || time.Now().After(deadline) {
				return s
			}
			time.Sleep(500 * time.Millisecond)
		}
	}

	os.MkdirAll(filepath.Join(dir, "train"), 0o755)
	os.WriteFile(filepath.Join(dir, "train", "part.csv"), []byte("1,2\n"), 0o644)
	code, _, stderr := execSageMaker(t.Context(), "", "run", "train", img, "--instance-type", "ml.m5.large", "--role", testRole, "--name", "stop-train",
		"--data", "training="+filepath.Join(dir, "train"), "--output", filepath.Join(dir, "out"), "--hyperparameter", "seconds=600", "--detach", "--endpoint-url", hs.URL)
	if code != 0 {
		t.Fatalf("run train --detach: exit %d: %s", code, stderr)
	}
	// Stop once the program trains (and so handles SIGTERM), as its log says.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, logs, _ := execSageMaker(t.Context(), "", "logs", "stop-train", "--endpoint-url", hs.URL)
		if strings.Contains(logs, "training starts") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the training never started: %s", logs)
		}
		time.Sleep(300 * time.Millisecond)
	}
	code, _, stderr = execSageMaker(t.Context(), "", "stop", "stop-train", "--endpoint-url", hs.URL)
	if code != 0 || !strings.Contains(stderr, "stopping training job stop-train") {
		t.Errorf("stop stop-train: exit %d: %s", code, stderr)
	}
	if s := waitFor("stop-train", "Stopped", "Completed", "Failed"); s != "Stopped" {
		t.Errorf("training job after sagekit stop: %s, want Stopped", s)
	}
	_, logs, _ := execSageMaker(t.Context(), "", "logs", "stop-train", "--endpoint-url", hs.URL)
	if !strings.Contains(logs, "SIGTERM: saving a partial model") {
		t.Errorf("the job's logs lack the SIGTERM it got:\n%s", logs)
	}

	in := filepath.Join(dir, "in")
	os.MkdirAll(in, 0o755)
	os.WriteFile(filepath.Join(in, "records.csv"), []byte(strings.Repeat("1,2\n", 1000)), 0o644)
	os.MkdirAll(filepath.Join(dir, "model"), 0o755)
	code, _, stderr = execSageMaker(t.Context(), "", "run", "transform", slow, "--instance-type", "ml.m5.large", "--role", testRole, "--name", "stop-transform",
		"--model", filepath.Join(dir, "model"), "--input", in, "--output", filepath.Join(dir, "pred"), "--split-type", "Line", "--strategy", "SingleRecord",
		"--max-concurrent", "1", "--detach", "--endpoint-url", hs.URL)
	if code != 0 {
		t.Fatalf("run transform --detach: exit %d: %s", code, stderr)
	}
	if s := waitFor("stop-transform", "InProgress"); s != "InProgress" {
		t.Fatalf("transform job: %s, want InProgress", s)
	}
	code, _, stderr = execSageMaker(t.Context(), "", "stop", "stop-transform", "--endpoint-url", hs.URL)
	if code != 0 || !strings.Contains(stderr, "stopping transform job stop-transform") {
		t.Errorf("stop stop-transform: exit %d: %s", code, stderr)
	}
	if s := waitFor("stop-transform", "Stopped", "Completed", "Failed"); s != "Stopped" {
		t.Errorf("transform job after sagekit stop: %s, want Stopped", s)
	}
	code, _, stderr = execSageMaker(t.Context(), "", "stop", "no-such-job", "--endpoint-url", hs.URL)
	if code == 0 || !strings.Contains(stderr, "no-such-job") {
		t.Errorf("stop no-such-job: exit %d: %s", code, stderr)
	}
}
