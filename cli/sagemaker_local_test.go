package cli

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/local"
)

// The commands that drive SageMaker, end to end against 'sagekit local' on
// the Docker Engine (S3 on moto's server): a two-instance training job
// reaching Completed with the logs of both hosts, an endpoint of two
// variants from endpoint.yaml, invoke, ls and delete.
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
		"training job e2e-train completed: s3://bkt/out/e2e-train/output/model.tar.gz", "downloaded "} {
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
