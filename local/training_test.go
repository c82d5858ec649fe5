package local_test

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/internal/testmodel"
)

// prelude is shared by the boto3 scripts: a client on the server and a
// poll helper.
const prelude = `
import boto3, botocore, json, os, sys, time, tarfile
from botocore.config import Config
url = os.environ["SAGEKIT_URL"]
sm = boto3.client("sagemaker", endpoint_url=url)
raw = boto3.client("sagemaker", endpoint_url=url, config=Config(parameter_validation=False, retries={"max_attempts": 1}))
smr = boto3.client("sagemaker-runtime", endpoint_url=url, config=Config(retries={"max_attempts": 1}))
def wait(fn, key, done, timeout=180):
    end = time.time() + timeout
    while True:
        d = fn()
        if d[key] in done:
            return d
        if time.time() > end:
            sys.exit("timed out waiting: %s" % d)
        time.sleep(0.3)
def code(fn):
    try:
        fn()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    return None, None
`

// TestTrainingJobWithBoto3AndCLI drives a 2-host training job of the Go
// example to Completed with boto3, reads model.tar.gz and the final
// metrics back, checks it with the AWS CLI, and checks SageMaker's errors
// for bad requests.
func TestTrainingJobWithBoto3AndCLI(t *testing.T) {
	requireTools(t)
	dc := testenv.Docker(t)
	img := exampleImage(t, dc)
	srv := startServer(t, t.TempDir())
	out := t.TempDir()
	got := python(t, srv.URL, prelude+`
img, data, out = sys.argv[1:] if len(sys.argv) > 1 else (os.environ["IMG"], os.environ["DATA"], os.environ["OUT"])
req = dict(
    TrainingJobName="iris-2hosts",
    AlgorithmSpecification={"TrainingImage": img, "TrainingInputMode": "File",
        "MetricDefinitions": [{"Name": "train:accuracy", "Regex": "#metric name=train:accuracy value=([0-9.eE+-]+)"}]},
    RoleArn="arn:aws:iam::000000000000:role/local",
    HyperParameters={"max_depth": "3"},
    InputDataConfig=[{"ChannelName": "training", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "file://" + data}}}],
    OutputDataConfig={"S3OutputPath": "file://" + out},
    ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 1},
    StoppingCondition={"MaxRuntimeInSeconds": 600},
)
arn = sm.create_training_job(**req)["TrainingJobArn"]
assert arn.endswith(":training-job/iris-2hosts"), arn
d = wait(lambda: sm.describe_training_job(TrainingJobName="iris-2hosts"), "TrainingJobStatus", ("Completed", "Failed", "Stopped"))
assert d["TrainingJobStatus"] == "Completed", d
art = d["ModelArtifacts"]["S3ModelArtifacts"]
assert art == "file://" + out + "/iris-2hosts/output/model.tar.gz", art
with tarfile.open(art[len("file://"):]) as tf:
    model = json.load(tf.extractfile("model.json"))
metrics = {m["MetricName"]: m["Value"] for m in d["FinalMetricDataList"]}
print(json.dumps({
    "secondary": [s["Status"] for s in d["SecondaryStatusTransitions"]],
    "metrics": metrics,
    "classes": model.get("classes") or model.get("Classes"),
    "ended": d["TrainingEndTime"] >= d["TrainingStartTime"] >= d["CreationTime"],
}))
# SageMaker's errors.
c, m = code(lambda: sm.create_training_job(**req))
assert c == "ResourceInUse", (c, m)
c, m = code(lambda: sm.describe_training_job(TrainingJobName="nope"))
assert c == "ValidationException" and "nope" in m, (c, m)
bad = dict(req, TrainingJobName="bad_name", ResourceConfig={"InstanceType": "ml.nope", "InstanceCount": 1, "VolumeSizeInGB": 1})
c, m = code(lambda: raw.create_training_job(**bad))
assert c == "ValidationException" and m.startswith("2 validation errors detected: ") and "'trainingJobName'" in m and "'resourceConfig.instanceType'" in m, (c, m)
bad = dict(req, TrainingJobName="bad")
del bad["RoleArn"]
c, m = code(lambda: raw.create_training_job(**bad))
assert c == "ValidationException" and "Value null at 'roleArn'" in m, (c, m)
bad = dict(req, TrainingJobName="bad", InputDataConfig=[dict(req["InputDataConfig"][0], DataSource={"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": "s3://b/m"}})])
c, m = code(lambda: sm.create_training_job(**bad))
assert c == "ValidationException" and "S3DataType" in m, (c, m)
bad = dict(req, TrainingJobName="bad", CheckpointConfig={"S3Uri": "s3://b/c", "LocalPath": "/opt/ml/input/data/x"})
c, m = code(lambda: sm.create_training_job(**bad))
assert c == "ValidationException" and "CheckpointConfig.LocalPath" in m, (c, m)
c, m = code(lambda: sm.stop_training_job(TrainingJobName="iris-2hosts"))
assert c == "ValidationException" and "Completed" in m, (c, m)
c, m = code(lambda: sm.create_compilation_job(CompilationJobName="x", RoleArn="arn:aws:iam::000000000000:role/x", InputConfig={"S3Uri": "s3://b/k", "Framework": "ONNX"}, OutputConfig={"S3OutputLocation": "s3://b/o"}, StoppingCondition={}))
assert c == "ValidationException" and "not supported by sagekit local" in m, (c, m)
`, "IMG="+img, "DATA="+testmodel.IrisDir(t), "OUT="+out)
	var res struct {
		Secondary []string
		Metrics   map[string]float64
		Classes   []string
		Ended     bool
	}
	if err := json.Unmarshal([]byte(lastLine(got)), &res); err != nil {
		t.Fatalf("reading the script's answer %q: %v", got, err)
	}
	if want := "Starting Downloading Training Uploading Completed"; strings.Join(res.Secondary, " ") != want {
		t.Errorf("SecondaryStatusTransitions = %v, want %s", res.Secondary, want)
	}
	if acc := res.Metrics["train:accuracy"]; acc < 0.9 || acc > 1 {
		t.Errorf("FinalMetricDataList train:accuracy = %v, want within [0.9, 1]", acc)
	}
	if len(res.Classes) != 3 {
		t.Errorf("model.json's classes = %v, want the 3 iris classes", res.Classes)
	}
	if !res.Ended {
		t.Error("CreationTime <= TrainingStartTime <= TrainingEndTime does not hold")
	}
	if _, err := filepath.Glob(filepath.Join(out, "iris-2hosts", "output", "output.tar.gz")); err != nil {
		t.Error(err)
	}

	// The AWS CLI, unmodified, reads the same records.
	var d struct {
		TrainingJobStatus string
		ResourceConfig    struct{ InstanceCount int }
	}
	if err := json.Unmarshal([]byte(awsCLI(t, srv.URL, "sagemaker", "describe-training-job", "--training-job-name", "iris-2hosts")), &d); err != nil {
		t.Fatal(err)
	}
	if d.TrainingJobStatus != "Completed" || d.ResourceConfig.InstanceCount != 2 {
		t.Errorf("aws sagemaker describe-training-job = %+v, want Completed on 2 instances", d)
	}
	var l struct {
		TrainingJobSummaries []struct{ TrainingJobName, TrainingJobStatus string }
	}
	if err := json.Unmarshal([]byte(awsCLI(t, srv.URL, "sagemaker", "list-training-jobs", "--status-equals", "Completed")), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.TrainingJobSummaries) != 1 || l.TrainingJobSummaries[0].TrainingJobName != "iris-2hosts" {
		t.Errorf("aws sagemaker list-training-jobs = %+v, want iris-2hosts only", l)
	}

	// CloudWatch Logs: one stream per host, named as SageMaker names them.
	var streams struct {
		LogStreams []struct{ LogStreamName string }
	}
	json.Unmarshal([]byte(awsCLI(t, srv.URL, "logs", "describe-log-streams", "--log-group-name", "/aws/sagemaker/TrainingJobs", "--log-stream-name-prefix", "iris-2hosts/")), &streams)
	if len(streams.LogStreams) != 2 || !regexp.MustCompile(`^iris-2hosts/algo-1-\d+$`).MatchString(streams.LogStreams[0].LogStreamName) ||
		!strings.HasPrefix(streams.LogStreams[1].LogStreamName, "iris-2hosts/algo-2-") {
		t.Fatalf("aws logs describe-log-streams = %+v, want iris-2hosts/algo-1-EPOCH and algo-2-EPOCH", streams)
	}
	var events struct{ Events []struct{ Message string } }
	json.Unmarshal([]byte(awsCLI(t, srv.URL, "logs", "get-log-events", "--log-group-name", "/aws/sagemaker/TrainingJobs", "--log-stream-name", streams.LogStreams[0].LogStreamName, "--start-from-head")), &events)
	if len(events.Events) == 0 {
		t.Error("aws logs get-log-events: no event for algo-1")
	}
	json.Unmarshal([]byte(awsCLI(t, srv.URL, "logs", "filter-log-events", "--log-group-name", "/aws/sagemaker/TrainingJobs", "--filter-pattern", "#metric train:accuracy")), &events)
	if len(events.Events) == 0 || !strings.Contains(events.Events[0].Message, "#metric name=train:accuracy value=") {
		t.Errorf("aws logs filter-log-events found %+v, want the metric line", events.Events)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
