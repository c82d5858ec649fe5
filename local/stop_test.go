package local_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/conformance/fixtures"
	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/internal/testmodel"
	"github.com/sagekit/sagekit/local"
)

// TestStopAndMaxRuntime stops a job with StopTrainingJob (the good fixture
// saves a partial model on SIGTERM: Stopped, with model.tar.gz) and lets
// one that ignores SIGTERM run past MaxRuntimeInSeconds (SIGKILL after the
// grace period: Stopped, MaxRuntimeExceeded).
func TestStopAndMaxRuntime(t *testing.T) {
	requireTools(t)
	dc := testenv.Docker(t)
	good := fixtureImage(t, dc, fixtures.Good)
	stubborn := fixtureImage(t, dc, "C-TR-08")
	srv := startServer(t, t.TempDir())
	out := t.TempDir()
	python(t, srv.URL, prelude+`
def job(name, img, **kw):
    sm.create_training_job(TrainingJobName=name, RoleArn="arn:aws:iam::000000000000:role/local",
        AlgorithmSpecification={"TrainingImage": img, "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "file://" + os.environ["OUT"]},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1}, **kw)
job("stopped", os.environ["GOOD"], StoppingCondition={"MaxRuntimeInSeconds": 600})
wait(lambda: sm.describe_training_job(TrainingJobName="stopped"), "SecondaryStatus", ("Training",))
# Stop once the program runs (and so handles SIGTERM), as its log says.
logs = boto3.client("logs", endpoint_url=url)
def started():
    try:
        return logs.filter_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix="stopped/", filterPattern='"training starts"')["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []  # no line yet, so no group
end = time.time() + 60
while not started():
    assert time.time() < end, "the fixture never logged that training starts"
    time.sleep(0.1)
sm.stop_training_job(TrainingJobName="stopped")
assert sm.describe_training_job(TrainingJobName="stopped")["TrainingJobStatus"] in ("Stopping", "Stopped")
d = wait(lambda: sm.describe_training_job(TrainingJobName="stopped"), "TrainingJobStatus", ("Completed", "Failed", "Stopped"))
assert d["TrainingJobStatus"] == "Stopped" and d["SecondaryStatus"] == "Stopped" and "FailureReason" not in d, d
with tarfile.open(d["ModelArtifacts"]["S3ModelArtifacts"][len("file://"):]) as tf:
    model = json.load(tf.extractfile("model.json"))
assert model["partial"] is True, model

job("too-long", os.environ["STUBBORN"], StoppingCondition={"MaxRuntimeInSeconds": 1})
t0 = time.time()
d = wait(lambda: sm.describe_training_job(TrainingJobName="too-long"), "TrainingJobStatus", ("Completed", "Failed", "Stopped"))
assert d["TrainingJobStatus"] == "Stopped" and d["SecondaryStatus"] == "MaxRuntimeExceeded", d
assert time.time() - t0 < 60, time.time() - t0
`, "GOOD="+good, "STUBBORN="+stubborn, "OUT="+out)
}

// TestCtrlCStopsEverything runs the sagekit binary's `local` command,
// starts an endpoint and a long training job through the AWS CLI, sends
// SIGINT and checks that no container or network of the run is left and
// that a restart marks the interrupted job Failed.
func TestCtrlCStopsEverything(t *testing.T) {
	requireTools(t)
	dc := testenv.Docker(t)
	img := exampleImage(t, dc)
	stubborn := sleeperImage(t, dc)
	bin := testenv.Binary(t, "./cli/cmd/sagekit", runtime.GOARCH)
	if _, err := os.Stat(bin); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	start := func() (*exec.Cmd, string, *strings.Builder) {
		cmd := exec.Command(bin, "local", "--listen", "127.0.0.1:0", "--state", state)
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var log strings.Builder
		urlc := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				line := sc.Text()
				log.WriteString(line + "\n")
				if _, after, ok := strings.Cut(line, "listening on "); ok {
					urlc <- strings.Fields(after)[0]
				}
			}
			io.Copy(io.Discard, stderr)
		}()
		select {
		case u := <-urlc:
			return cmd, u, &log
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("sagekit local did not say where it listens:\n%s", log.String())
		}
		return nil, "", nil
	}
	cmd, url, log := start()
	_, archive := testmodel.Iris(t, 3)
	awsCLI(t, url, "sagemaker", "create-model", "--model-name", "m", "--execution-role-arn", "arn:aws:iam::000000000000:role/r",
		"--primary-container", "Image="+img+",ModelDataUrl=file://"+archive)
	awsCLI(t, url, "sagemaker", "create-endpoint-config", "--endpoint-config-name", "c",
		"--production-variants", "VariantName=v,ModelName=m,InitialInstanceCount=2,InstanceType=ml.m5.large")
	awsCLI(t, url, "sagemaker", "create-endpoint", "--endpoint-name", "e", "--endpoint-config-name", "c")
	awsCLI(t, url, "sagemaker", "wait", "endpoint-in-service", "--endpoint-name", "e")
	awsCLI(t, url, "sagemaker", "create-training-job", "--training-job-name", "long", "--role-arn", "arn:aws:iam::000000000000:role/r",
		"--algorithm-specification", "TrainingImage="+stubborn+",TrainingInputMode=File",
		"--output-data-config", "S3OutputPath=file://"+filepath.Join(state, "out"),
		"--resource-config", "InstanceType=ml.m5.large,InstanceCount=2,VolumeSizeInGB=1",
		"--stopping-condition", "MaxRuntimeInSeconds=3600")
	payload := filepath.Join(t.TempDir(), "payload.csv")
	os.WriteFile(payload, []byte("5.1,3.5,1.4,0.2\n"), 0o644)
	answer := filepath.Join(t.TempDir(), "answer")
	awsCLI(t, url, "sagemaker-runtime", "invoke-endpoint", "--endpoint-name", "e", "--content-type", "text/csv", "--body", "fileb://"+payload, answer)
	if b, _ := os.ReadFile(answer); string(b) != "setosa\n" {
		t.Errorf("aws sagemaker-runtime invoke-endpoint wrote %q, want setosa", b)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var d struct{ SecondaryStatus string }
		json.Unmarshal([]byte(awsCLI(t, url, "sagemaker", "describe-training-job", "--training-job-name", "long")), &d)
		if d.SecondaryStatus == "Training" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job is %q after a minute", d.SecondaryStatus)
		}
		time.Sleep(300 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if code := exitCode(err); code != 130 {
			t.Errorf("sagekit local exited with %v after SIGINT, want 130 (interrupted)\n%s", err, log.String())
		}
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("sagekit local still runs 90 s after SIGINT\n%s", log.String())
	}
	cs, err := dc.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", local.LabelState+"="+local.StateID(state))})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs.Items {
		t.Errorf("left after SIGINT: %s %v %s %v", c.ID[:12], c.Names, c.State, c.Labels)
	}
	if len(cs.Items) > 0 {
		t.Log(log.String())
	}

	// The next start lists the job, Failed, and brings the endpoint back.
	cmd, url, log = start()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); exitCode(err) != 130 {
			t.Errorf("sagekit local exited with %v after SIGTERM, want 130 (interrupted)\n%s", err, log.String())
		}
	}()
	var d struct{ TrainingJobStatus, FailureReason string }
	json.Unmarshal([]byte(awsCLI(t, url, "sagemaker", "describe-training-job", "--training-job-name", "long")), &d)
	if d.TrainingJobStatus != "Failed" || !strings.Contains(d.FailureReason, "stopped while the job ran") {
		t.Errorf("after a restart the interrupted job is %+v, want Failed, saying why", d)
	}
	awsCLI(t, url, "sagemaker", "wait", "endpoint-in-service", "--endpoint-name", "e")
	awsCLI(t, url, "sagemaker", "delete-endpoint", "--endpoint-name", "e")
}

// exitCode is a finished command's exit status (0 when err is nil, -1 when
// it did not exit on its own).
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
