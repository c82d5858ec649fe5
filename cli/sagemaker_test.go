package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/internal/testenv"
)

// execSageMaker runs "sagekit args..." as cli.Execute would, with stdin.
func execSageMaker(ctx context.Context, stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	root := NewRoot()
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		code = reportError(root, err)
	}
	return code, out.String(), errb.String()
}

const (
	testRole  = "arn:aws:iam::123456789012:role/SageMakerExecution"
	testImage = "123456789012.dkr.ecr.us-east-1.amazonaws.com/algo:1"
)

// pushToMotoECR puts a manifest for testImage in moto's ECR, as a push
// would, so the look-up before CreateTrainingJob finds it.
func pushToMotoECR(t *testing.T, moto *testenv.Moto) {
	t.Helper()
	moto.Boto3(t, `
ecr = _c("ecr")
ecr.create_repository(repositoryName="algo")
ecr.put_image(repositoryName="algo", imageTag="1", imageManifest=json.dumps({"schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": "sha256:" + "0" * 64},
    "layers": []}))
`, nil)
}

// jsonOf turns v into the generic JSON shape, for comparisons with what
// boto3 printed.
func jsonOf(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	json.Unmarshal(b, &out)
	return out
}

// A training job on two ml.m5.large instances against moto's server: every
// field of CreateTrainingJob read back with boto3, the logs of both hosts
// streamed with their prefix, model.tar.gz downloaded.
func TestRunTrainOnSageMakerMoto(t *testing.T) {
	moto := testenv.NewMoto(t)
	pushToMotoECR(t, moto)
	const job = "algo-train-1"
	model := []byte("model.tar.gz bytes")
	moto.Boto3(t, `
s3.create_bucket(Bucket="bkt")
s3.put_object(Bucket="bkt", Key="out/`+job+`/output/model.tar.gz", Body=sys.argv[1].encode())
logs.create_log_group(logGroupName="/aws/sagemaker/TrainingJobs")
import time
now = int(time.time() * 1000) - 60000  # CloudWatch Logs refuses events older than 14 days
for host, lines in (("algo-1", [(0, "epoch 1 loss=0.5"), (2, "epoch 2 loss=0.25")]), ("algo-2", [(1, "worker ready")])):
    s = "`+job+`/%s-1764745200" % host
    logs.create_log_stream(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=s)
    logs.put_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=s,
        logEvents=[{"timestamp": now + i, "message": m} for i, m in lines])
`, nil, string(model))

	dl := t.TempDir()
	code, stdout, stderr := execSageMaker(t.Context(), "", "run", "train", testImage,
		"--instance-type", "ml.m5.large", "--instance-count", "2", "--role", testRole, "--name", job,
		"--data", "training=s3://bkt/train", "--data", "validation=s3://bkt/val",
		"--output", "s3://bkt/out", "--hyperparameter", "epochs=3", "--hyperparameter", "lr=0.1",
		"--spot", "--max-run", "1h", "--max-wait", "2h", "--checkpoints", "s3://bkt/ckpt",
		"--metric", "loss=loss=([0-9.]+)", "--volume-size", "50", "--vpc", "subnet-0a,subnet-0b,sg-0c",
		"--network-isolation", "--env", "MODE=fast", "--label", "team=ml",
		"--download", dl, "--endpoint-url", moto.URL)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	var got map[string]any
	moto.Boto3(t, `
d = sm.describe_training_job(TrainingJobName=sys.argv[1])
emit({k: d[k] for k in ("TrainingJobName", "RoleArn", "AlgorithmSpecification", "InputDataConfig", "OutputDataConfig",
    "ResourceConfig", "StoppingCondition", "HyperParameters", "VpcConfig", "EnableNetworkIsolation",
    "EnableManagedSpotTraining", "CheckpointConfig", "TrainingJobStatus")})
`, &got, job)
	// moto keeps MetricDefinitions of its own; what sagekit sent is read
	// from moto's recording below.
	delete(got["AlgorithmSpecification"].(map[string]any), "MetricDefinitions")
	channel := func(name, uri string) map[string]any {
		return map[string]any{"ChannelName": name, "DataSource": map[string]any{"S3DataSource": map[string]any{
			"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}}}
	}
	want := jsonOf(t, map[string]any{
		"TrainingJobName":        job,
		"RoleArn":                testRole,
		"AlgorithmSpecification": map[string]any{"TrainingImage": testImage, "TrainingInputMode": "File"},
		"InputDataConfig":        []any{channel("training", "s3://bkt/train"), channel("validation", "s3://bkt/val")},
		"OutputDataConfig":       map[string]any{"S3OutputPath": "s3://bkt/out"},
		"ResourceConfig":         map[string]any{"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 50},
		"StoppingCondition":      map[string]any{"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200},
		"HyperParameters":        map[string]any{"epochs": "3", "lr": "0.1"},
		"VpcConfig":              map[string]any{"Subnets": []any{"subnet-0a", "subnet-0b"}, "SecurityGroupIds": []any{"sg-0c"}},
		"EnableNetworkIsolation": true, "EnableManagedSpotTraining": true,
		"CheckpointConfig":  map[string]any{"S3Uri": "s3://bkt/ckpt"},
		"TrainingJobStatus": "Completed",
	})
	if d := cmp.Diff(want, jsonOf(t, got)); d != "" {
		t.Errorf("describe_training_job (-want +got):\n%s", d)
	}
	sent := moto.Request(t, "SageMaker.CreateTrainingJob")
	for field, want := range map[string]any{
		"AlgorithmSpecification": map[string]any{"TrainingImage": testImage, "TrainingInputMode": "File",
			"MetricDefinitions": []any{map[string]any{"Name": "loss", "Regex": "loss=([0-9.]+)"}}},
		"Environment": map[string]any{"MODE": "fast"},
		"Tags":        []any{map[string]any{"Key": "team", "Value": "ml"}},
	} {
		if d := cmp.Diff(jsonOf(t, want), sent[field]); d != "" {
			t.Errorf("CreateTrainingJob %s as sent (-want +got):\n%s", field, d)
		}
	}

	// The hosts' lines merged in time order.
	const logLines = "algo-1 | epoch 1 loss=0.5\nalgo-2 | worker ready\nalgo-1 | epoch 2 loss=0.25\n"
	if stdout != logLines {
		t.Errorf("stdout = %q, want the logs %q", stdout, logLines)
	}
	for _, s := range []string{"training job " + job + " created: 2 instances × ml.m5.large in us-east-1", "Starting: Preparing the instances for training", "metric train:progress = 100",
		"training job " + job + " completed: s3://bkt/out/" + job + "/output/model.tar.gz"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, stderr)
		}
	}
	b, err := os.ReadFile(filepath.Join(dl, "model.tar.gz"))
	if err != nil || !bytes.Equal(b, model) {
		t.Errorf("downloaded model.tar.gz = %q, %v; want %q", b, err, model)
	}

	// The same logs through 'sagekit logs', and the job in 'sagekit ls'.
	code, stdout, stderr = execSageMaker(t.Context(), "", "logs", job, "--endpoint-url", moto.URL)
	if code != 0 || stdout != logLines {
		t.Errorf("sagekit logs: exit %d, stdout %q, want %q; stderr %s", code, stdout, logLines, stderr)
	}
	code, stdout, stderr = execSageMaker(t.Context(), "", "logs", job, "--follow", "--poll", "10ms", "--endpoint-url", moto.URL)
	if code != 0 || stdout != logLines {
		t.Errorf("sagekit logs --follow of a completed job: exit %d, stdout %q, want %q; stderr %s", code, stdout, logLines, stderr)
	}
	code, stdout, _ = execSageMaker(t.Context(), "", "ls", "--endpoint-url", moto.URL)
	if code != 0 || !strings.Contains(stdout, "training job  "+job+"  Completed") {
		t.Errorf("sagekit ls: exit %d:\n%s", code, stdout)
	}
}

// What goes wrong is said before anything is called: every problem at
// once, each with its fix.
func TestRunTrainOnSageMakerChecksFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"data not in s3", []string{"--role", testRole, "--output", "s3://b/o", "--data", "train=./data"}, []string{"--data train=./data: SageMaker reads channels from S3: upload with 'aws s3 sync ./data"}},
		{"no role", []string{"--output", "s3://b/o"}, []string{"no execution role", "aws iam list-roles", "AmazonSageMakerFullAccess"}},
		{"max-wait without spot", []string{"--output", "s3://b/o", "--role", testRole, "--max-wait", "1h"}, []string{"--max-wait applies to spot training only: add --spot"}},
		{"spot max-wait shorter", []string{"--output", "s3://b/o", "--role", testRole, "--spot", "--max-wait", "1h", "--max-run", "2h"}, []string{"max-wait ≥ max-run"}},
		{"bad vpc", []string{"--output", "s3://b/o", "--role", testRole, "--vpc", "vpc-1"}, []string{`"vpc-1" is neither a subnet`}},
		{"local output", []string{"--role", testRole}, []string{"--output s3://BUCKET/PREFIX is required on SageMaker"}},
		{"gpu", []string{"--gpu"}, []string{"--gpu is for local runs"}},
		{"remote flag on a local run", []string{"--instance-type", "local", "--spot"}, []string{"--spot applies to SageMaker runs: add --instance-type ml."}},
		{"unknown instance type", []string{"--instance-type", "m5.large"}, []string{"--instance-type m5.large: use local, or an ml.* instance type"}},
	}
	// Every case fails before a request (a SageMaker endpoint of its own
	// would make the target another server than AWS, which may take local
	// paths).
	t.Setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL_ECR", "http://127.0.0.1:1")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"run", "train", testImage, "--instance-type", "ml.m5.large"}, tt.args...)
			code, _, stderr := execSageMaker(t.Context(), "", args...)
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d (a usage error)", code, ExitUsage)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// An endpoint of two production variants and a shadow from endpoint.yaml,
// read back with boto3; invoke, then delete with its config and models.
func TestRunEndpointFromConfigMoto(t *testing.T) {
	moto := testenv.NewMoto(t)
	pushToMotoECR(t, moto)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "endpoint.yaml")
	os.WriteFile(cfg, []byte(`name: churn
variants:
  - name: current
    weight: 3
    instance-count: 2
    model: s3://bkt/m1/model.tar.gz
    env: {MODEL_SERVER_WORKERS: "2"}
  - name: candidate
    weight: 1
    instance-type: ml.c5.xlarge
    model: s3://bkt/m2/model.tar.gz
shadow:
  - name: shadow
    model: s3://bkt/m3/model.tar.gz
`), 0o644)
	code, stdout, stderr := execSageMaker(t.Context(), "", "run", "endpoint", testImage, "--model", "s3://bkt/unused/model.tar.gz",
		"--instance-type", "ml.m5.large", "--role", testRole, "--config", cfg, "--endpoint-url", moto.URL)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if stdout != "churn\n" || !strings.Contains(stderr, "endpoint churn is InService") {
		t.Errorf("stdout %q, stderr:\n%s", stdout, stderr)
	}
	var got map[string]any
	moto.Boto3(t, `
c = sm.describe_endpoint_config(EndpointConfigName="churn")
e = sm.describe_endpoint(EndpointName="churn")
models = {v["ModelName"]: sm.describe_model(ModelName=v["ModelName"]) for v in c["ProductionVariants"]}
emit({"variants": c["ProductionVariants"], "status": e["EndpointStatus"], "config": e["EndpointConfigName"],
      "models": {n: {"PrimaryContainer": m["PrimaryContainer"], "ExecutionRoleArn": m["ExecutionRoleArn"]} for n, m in models.items()}})
`, &got)
	want := jsonOf(t, map[string]any{
		"status": "InService", "config": "churn",
		"variants": []any{
			map[string]any{"VariantName": "current", "ModelName": "churn-current", "InitialInstanceCount": 2, "InstanceType": "ml.m5.large", "InitialVariantWeight": 3},
			map[string]any{"VariantName": "candidate", "ModelName": "churn-candidate", "InitialInstanceCount": 1, "InstanceType": "ml.c5.xlarge", "InitialVariantWeight": 1},
		},
		"models": map[string]any{
			"churn-current": map[string]any{"ExecutionRoleArn": testRole, "PrimaryContainer": map[string]any{
				"Image": testImage, "ModelDataUrl": "s3://bkt/m1/model.tar.gz", "Environment": map[string]any{"MODEL_SERVER_WORKERS": "2"}}},
			"churn-candidate": map[string]any{"ExecutionRoleArn": testRole, "PrimaryContainer": map[string]any{
				"Image": testImage, "ModelDataUrl": "s3://bkt/m2/model.tar.gz"}},
		},
	})
	if d := cmp.Diff(want, jsonOf(t, got)); d != "" {
		t.Errorf("read back with boto3 (-want +got):\n%s", d)
	}
	// moto drops shadow variants; what sagekit sent is in its recording.
	sent := moto.Request(t, "SageMaker.CreateEndpointConfig")
	wantShadow := jsonOf(t, []any{map[string]any{"VariantName": "shadow", "ModelName": "churn-shadow", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large", "InitialVariantWeight": 1}})
	if d := cmp.Diff(wantShadow, sent["ShadowProductionVariants"]); d != "" {
		t.Errorf("ShadowProductionVariants as sent (-want +got):\n%s", d)
	}

	// moto's runtime answers with canned values unless told otherwise:
	// first its default, then a queued answer.
	body := filepath.Join(dir, "payload.csv")
	os.WriteFile(body, []byte("1,2,3\n"), 0o644)
	code, stdout, stderr = execSageMaker(t.Context(), "", "invoke", "churn", "--body", body, "--content-type", "text/csv", "--endpoint-url", moto.URL)
	if code != 0 || stdout != "body" || stderr != "variant: invoked_production_variant\n" {
		t.Errorf("invoke: exit %d, stdout %q, stderr %q; want moto's canned body and variant", code, stdout, stderr)
	}
	moto.QueueInvokeResult(t, "0.93\n", "text/csv", "candidate")
	code, stdout, stderr = execSageMaker(t.Context(), "4,5,6\n", "invoke", "churn", "--body", "-", "--content-type", "text/csv",
		"--accept", "text/csv", "--variant", "candidate", "--target-model", "m2.tar.gz", "--custom-attributes", "trace=1", "--endpoint-url", moto.URL)
	if code != 0 || stdout != "0.93\n" || stderr != "variant: candidate\n" {
		t.Errorf("invoke: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	var inv []testenv.Request
	for _, r := range moto.Requests(t) {
		if strings.HasSuffix(r.URL, "/endpoints/churn/invocations") {
			inv = append(inv, r)
		}
	}
	if len(inv) != 2 || string(inv[1].Body) != "4,5,6\n" || inv[1].Headers["Content-Type"] != "text/csv" ||
		inv[1].Headers["Accept"] != "text/csv" || inv[1].Headers["X-Amzn-Sagemaker-Target-Variant"]+inv[1].Headers["X-Amzn-SageMaker-Target-Variant"] != "candidate" ||
		inv[1].Headers["X-Amzn-Sagemaker-Target-Model"]+inv[1].Headers["X-Amzn-SageMaker-Target-Model"] != "m2.tar.gz" ||
		inv[1].Headers["X-Amzn-Sagemaker-Custom-Attributes"]+inv[1].Headers["X-Amzn-SageMaker-Custom-Attributes"] != "trace=1" {
		t.Errorf("InvokeEndpoint requests recorded: %+v", inv)
	}

	// The endpoint's logs: its group, one stream per variant and instance.
	moto.Boto3(t, `
import time
g = "/aws/sagemaker/Endpoints/churn"
logs.create_log_group(logGroupName=g)
now = int(time.time() * 1000) - 60000
for i, (s, m) in enumerate((("current/i-0aaa", "model loaded"), ("candidate/i-0bbb", "model loaded"), ("current/i-0aaa", "GET /ping 200"))):
    if i < 2:
        logs.create_log_stream(logGroupName=g, logStreamName=s)
    logs.put_log_events(logGroupName=g, logStreamName=s, logEvents=[{"timestamp": now + i, "message": m}])
`, nil)
	const epLogs = "current/i-0aaa | model loaded\ncandidate/i-0bbb | model loaded\ncurrent/i-0aaa | GET /ping 200\n"
	code, stdout, stderr = execSageMaker(t.Context(), "", "logs", "churn", "--endpoint-url", moto.URL)
	if code != 0 || stdout != epLogs {
		t.Errorf("sagekit logs churn: exit %d, stdout %q, want %q; stderr %s", code, stdout, epLogs, stderr)
	}

	code, _, stderr = execSageMaker(t.Context(), "", "stop", "churn", "--endpoint-url", moto.URL)
	if code == 0 || !strings.Contains(stderr, "churn is an endpoint: endpoints are deleted, not stopped ('sagekit delete churn')") {
		t.Errorf("stop of an endpoint: exit %d, %s", code, stderr)
	}
	code, _, stderr = execSageMaker(t.Context(), "", "logs", "no-such-thing", "--endpoint-url", moto.URL)
	if code == 0 || !strings.Contains(stderr, "no-such-thing is no training job, transform job or endpoint in us-east-1") {
		t.Errorf("logs of nothing: exit %d, %s", code, stderr)
	}

	// delete asks; without a terminal it wants --yes.
	code, _, stderr = execSageMaker(t.Context(), "", "delete", "churn", "--endpoint-url", moto.URL)
	if code == 0 || !strings.Contains(stderr, "pass --yes") {
		t.Errorf("delete without --yes: exit %d, %s", code, stderr)
	}
	code, _, stderr = execSageMaker(t.Context(), "", "delete", "churn", "--yes", "--endpoint-url", moto.URL)
	if code != 0 || !strings.Contains(stderr, "deleted endpoint churn, endpoint config churn, 2 models (churn-current, churn-candidate)") {
		t.Errorf("delete: exit %d, %s", code, stderr)
	}
	// moto's DescribeEndpointConfig forgets shadow variants, so the shadow's
	// model is the one delete cannot know of there.
	var left map[string]any
	moto.Boto3(t, `emit({"endpoints": len(sm.list_endpoints()["Endpoints"]), "configs": len(sm.list_endpoint_configs()["EndpointConfigs"]), "models": [m["ModelName"] for m in sm.list_models()["Models"]]})`, &left)
	if d := cmp.Diff(map[string]any{"endpoints": 0.0, "configs": 0.0, "models": []any{"churn-shadow"}}, left); d != "" {
		t.Errorf("left after delete (-want +got):\n%s", d)
	}
}

// Without endpoint.yaml an endpoint has one variant, AllTraffic, of the
// flags' instance type and count; --detach returns once it is created,
// saying how to follow and delete it.
func TestRunEndpointDetachMoto(t *testing.T) {
	moto := testenv.NewMoto(t)
	pushToMotoECR(t, moto)
	code, stdout, stderr := execSageMaker(t.Context(), "", "run", "endpoint", testImage, "--model", "s3://bkt/m/model.tar.gz",
		"--instance-type", "ml.c5.large", "--instance-count", "2", "--role", testRole, "--name", "quick", "--env", "K=V",
		"--detach", "--endpoint-url", moto.URL)
	want := "endpoint quick created; follow it with 'sagekit logs quick --follow', see it in 'sagekit ls', end it with 'sagekit delete quick'"
	if code != 0 || stdout != "quick\n" || !strings.Contains(stderr, want) || strings.Contains(stderr, "InService") {
		t.Fatalf("run endpoint --detach: exit %d, stdout %q, stderr:\n%s\nwant %q and no wait", code, stdout, stderr, want)
	}
	var got map[string]any
	moto.Boto3(t, `
c = sm.describe_endpoint_config(EndpointConfigName="quick")
m = sm.describe_model(ModelName=c["ProductionVariants"][0]["ModelName"])
emit({"variants": c["ProductionVariants"], "container": m["PrimaryContainer"], "role": m["ExecutionRoleArn"]})
`, &got)
	if d := cmp.Diff(jsonOf(t, map[string]any{
		"variants":  []any{map[string]any{"VariantName": "AllTraffic", "ModelName": "quick-AllTraffic", "InitialInstanceCount": 2, "InstanceType": "ml.c5.large", "InitialVariantWeight": 1}},
		"container": map[string]any{"Image": testImage, "ModelDataUrl": "s3://bkt/m/model.tar.gz", "Environment": map[string]any{"K": "V"}},
		"role":      testRole,
	}), jsonOf(t, got)); d != "" {
		t.Errorf("read back with boto3 (-want +got):\n%s", d)
	}
}

// endpoint.yaml's inference pipeline and multi-model variants, as sent to
// moto: a model with Containers[] in Serial mode, and one whose
// PrimaryContainer is in MultiModel mode over an S3 prefix.
func TestRunEndpointPipelineAndMultiModelMoto(t *testing.T) {
	moto := testenv.NewMoto(t)
	pushToMotoECR(t, moto)
	cfg := filepath.Join(t.TempDir(), "endpoint.yaml")
	os.WriteFile(cfg, []byte(`name: pipes
variants:
  - name: pipeline
    containers:
      - image: `+testImage+`
        model: s3://bkt/pre/model.tar.gz
      - image: `+testImage+`
        model: s3://bkt/m1/model.tar.gz
  - name: many
    multi-model: true
    weight: 2
    model: s3://bkt/models/
`), 0o644)
	code, stdout, stderr := execSageMaker(t.Context(), "", "run", "endpoint", testImage, "--instance-type", "ml.m5.large",
		"--model", "s3://bkt/unused/model.tar.gz", "--role", testRole, "--config", cfg, "--detach", "--endpoint-url", moto.URL)
	if code != 0 || stdout != "pipes\n" {
		t.Fatalf("run endpoint: exit %d, stdout %q\nstderr:\n%s", code, stdout, stderr)
	}
	models := map[string]any{}
	for _, r := range moto.Requests(t) {
		if r.Target() != "SageMaker.CreateModel" {
			continue
		}
		var v map[string]any
		if err := json.Unmarshal(r.Body, &v); err != nil {
			t.Fatal(err)
		}
		delete(v, "Tags")
		models[v["ModelName"].(string)] = v
	}
	want := jsonOf(t, map[string]any{
		"pipes-pipeline": map[string]any{"ModelName": "pipes-pipeline", "ExecutionRoleArn": testRole,
			"Containers": []any{
				map[string]any{"ContainerHostname": "step-1", "Image": testImage, "ModelDataUrl": "s3://bkt/pre/model.tar.gz"},
				map[string]any{"ContainerHostname": "step-2", "Image": testImage, "ModelDataUrl": "s3://bkt/m1/model.tar.gz"},
			},
			"InferenceExecutionConfig": map[string]any{"Mode": "Serial"}},
		"pipes-many": map[string]any{"ModelName": "pipes-many", "ExecutionRoleArn": testRole,
			"PrimaryContainer": map[string]any{"Image": testImage, "ModelDataUrl": "s3://bkt/models/", "Mode": "MultiModel"}},
	})
	if d := cmp.Diff(want, jsonOf(t, models)); d != "" {
		t.Errorf("CreateModel as sent (-want +got):\n%s", d)
	}
	sent := moto.Request(t, "SageMaker.CreateEndpointConfig")
	if d := cmp.Diff(jsonOf(t, []any{
		map[string]any{"VariantName": "pipeline", "ModelName": "pipes-pipeline", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large", "InitialVariantWeight": 1},
		map[string]any{"VariantName": "many", "ModelName": "pipes-many", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large", "InitialVariantWeight": 2},
	}), sent["ProductionVariants"]); d != "" {
		t.Errorf("ProductionVariants as sent (-want +got):\n%s", d)
	}
}

// A transform job against moto, read back with boto3: the local run's
// flags land in CreateTransformJob.
func TestRunTransformOnSageMakerMoto(t *testing.T) {
	moto := testenv.NewMoto(t)
	pushToMotoECR(t, moto)
	moto.Boto3(t, `
import time
g = "/aws/sagemaker/TransformJobs"
logs.create_log_group(logGroupName=g)
now = int(time.time() * 1000) - 60000
for i, (s, m) in enumerate((("score-1/i-0abc-1764745200", "serving on 8080"), ("score-1/i-0abc-1764745200/data-log", "records 1-100 done"))):
    logs.create_log_stream(logGroupName=g, logStreamName=s)
    logs.put_log_events(logGroupName=g, logStreamName=s, logEvents=[{"timestamp": now + i, "message": m}])
`, nil)
	code, stdout, stderr := execSageMaker(t.Context(), "", "run", "transform", testImage, "--instance-type", "ml.c5.xlarge", "--instance-count", "2",
		"--role", testRole, "--name", "score-1", "--model", "s3://bkt/m/model.tar.gz", "--input", "s3://bkt/in/", "--output", "s3://bkt/out/",
		"--content-type", "text/csv", "--accept", "text/csv", "--split-type", "Line", "--strategy", "MultiRecord", "--assemble-with", "Line",
		"--max-payload-mb", "4", "--max-concurrent", "8", "--env", "K=V", "--endpoint-url", moto.URL)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	var got map[string]any
	moto.Boto3(t, `
d = sm.describe_transform_job(TransformJobName="score-1")
m = sm.describe_model(ModelName=d["ModelName"])
emit({"job": {k: d[k] for k in ("ModelName", "TransformInput", "TransformOutput", "TransformResources", "BatchStrategy", "MaxPayloadInMB", "MaxConcurrentTransforms", "Environment", "TransformJobStatus")},
      "model": {"PrimaryContainer": m["PrimaryContainer"], "ExecutionRoleArn": m["ExecutionRoleArn"]}})
`, &got)
	want := jsonOf(t, map[string]any{
		"job": map[string]any{
			"ModelName": "score-1",
			"TransformInput": map[string]any{"ContentType": "text/csv", "SplitType": "Line",
				"DataSource": map[string]any{"S3DataSource": map[string]any{"S3DataType": "S3Prefix", "S3Uri": "s3://bkt/in/"}}},
			"TransformOutput":    map[string]any{"S3OutputPath": "s3://bkt/out/", "Accept": "text/csv", "AssembleWith": "Line"},
			"TransformResources": map[string]any{"InstanceType": "ml.c5.xlarge", "InstanceCount": 2},
			"BatchStrategy":      "MultiRecord", "MaxPayloadInMB": 4, "MaxConcurrentTransforms": 8,
			"Environment": map[string]any{"K": "V"}, "TransformJobStatus": "Completed",
		},
		"model": map[string]any{"ExecutionRoleArn": testRole, "PrimaryContainer": map[string]any{"Image": testImage, "ModelDataUrl": "s3://bkt/m/model.tar.gz"}},
	})
	if d := cmp.Diff(want, jsonOf(t, got)); d != "" {
		t.Errorf("read back with boto3 (-want +got):\n%s", d)
	}
	if !strings.Contains(stderr, "transform job score-1 completed: s3://bkt/out/") {
		t.Errorf("stderr:\n%s", stderr)
	}
	// --wait streamed the job's logs, each line prefixed by its instance.
	const tjLogs = "i-0abc | serving on 8080\ni-0abc/data-log | records 1-100 done\n"
	if stdout != tjLogs {
		t.Errorf("run transform's stdout %q, want the logs %q", stdout, tjLogs)
	}
	code, stdout, stderr = execSageMaker(t.Context(), "", "logs", "score-1", "--endpoint-url", moto.URL)
	if code != 0 || stdout != tjLogs {
		t.Errorf("sagekit logs score-1: exit %d, stdout %q, want %q; stderr %s", code, stdout, tjLogs, stderr)
	}
}

// Ctrl-C while waiting: a person at a terminal chooses to stop or detach;
// without one, sagekit detaches and says how to stop.
func TestOnInterrupt(t *testing.T) {
	tests := []struct {
		name    string
		ask     bool
		answer  string
		stopped bool
		want    string
	}{
		{"stop", true, "s\n", true, "stopping training job j1; 'sagekit logs j1 --follow' shows the rest"},
		{"detach", true, "d\n", false, "detached; training job j1 keeps running: 'sagekit logs j1 --follow' follows it, 'sagekit stop j1' stops it"},
		{"no terminal", false, "s\n", false, "detached; training job j1 keeps running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			stopped := false
			err := onInterrupt(tt.ask, strings.NewReader(tt.answer), &stderr, "training job", "j1", func(context.Context) error {
				stopped = true
				return nil
			})
			var ee *ExitError
			if !errors.As(err, &ee) || ee.Code != 130 || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("onInterrupt = %v, want exit 130 saying %q", err, tt.want)
			}
			if stopped != tt.stopped {
				t.Errorf("stopped = %v, want %v", stopped, tt.stopped)
			}
			if tt.ask != strings.Contains(stderr.String(), "[s]top it or [d]etach?") {
				t.Errorf("prompt shown: %q (asked: %v)", stderr.String(), tt.ask)
			}
		})
	}
}

// invoke of a URL posts to its /invocations, as to an endpoint run locally.
func TestInvokeURL(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/invocations" || r.Method != http.MethodPost {
			http.Error(w, "wrong route "+r.URL.Path, http.StatusNotFound)
			return
		}
		got = r.Header.Clone()
		if string(b) == "bad\n" {
			http.Error(w, "cannot parse row 1", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/csv")
		w.Write([]byte("setosa\n"))
	}))
	defer srv.Close()
	code, stdout, stderr := execSageMaker(t.Context(), "5.1,3.5,1.4,0.2\n", "invoke", srv.URL+"/", "--body", "-", "--content-type", "text/csv", "--accept", "text/csv", "--target-model", "m1.tar.gz")
	if code != 0 || stdout != "setosa\n" || stderr != "" {
		t.Errorf("invoke: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if got.Get("Content-Type") != "text/csv" || got.Get("Accept") != "text/csv" || got.Get("X-Amzn-SageMaker-Target-Model") != "m1.tar.gz" {
		t.Errorf("headers sent: %v", got)
	}
	code, _, stderr = execSageMaker(t.Context(), "bad\n", "invoke", srv.URL, "--body", "-", "--content-type", "text/csv")
	if code != 1 || !strings.Contains(stderr, "the container answered 400 Bad Request: cannot parse row 1") {
		t.Errorf("invoke of a failing request: exit %d, %s", code, stderr)
	}
}

// An ECR image that is not there is reported before anything is created,
// with the push command.
func TestRunTrainImageNotInECRMoto(t *testing.T) {
	moto := testenv.NewMoto(t)
	pushToMotoECR(t, moto)
	missing := "123456789012.dkr.ecr.us-east-1.amazonaws.com/algo:2"
	for _, image := range []string{missing, "123456789012.dkr.ecr.us-east-1.amazonaws.com/nothing:1"} {
		code, _, stderr := execSageMaker(t.Context(), "", "run", "train", image, "--instance-type", "ml.m5.large", "--role", testRole,
			"--output", "s3://bkt/out", "--endpoint-url", moto.URL)
		if want := image + " is not in Amazon ECR: push it with 'sagekit push LOCAL-IMAGE " + image + "'"; code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("run train %s: exit %d, stderr %q; want %q", image, code, stderr, want)
		}
	}
	var n int
	moto.Boto3(t, `emit(len(sm.list_training_jobs()["TrainingJobSummaries"]))`, &n)
	if n != 0 {
		t.Errorf("%d training jobs created, want none", n)
	}
}

func TestRemoteFlagsOnLocalRuns(t *testing.T) {
	for _, args := range [][]string{
		{"run", "endpoint", "img", "--model", "m.tar.gz", "--instance-count", "2"},
		{"run", "transform", "img", "--model", "m", "--input", "i", "--output", "o", "--role", testRole},
		{"run", "train", "img", "--detach"},
	} {
		code, _, stderr := execSageMaker(t.Context(), "", args...)
		if code != ExitUsage || !strings.Contains(stderr, "applies to SageMaker runs: add --instance-type ml.") {
			t.Errorf("sagekit %s: exit %d, %s", strings.Join(args, " "), code, stderr)
		}
	}
}

// Against another server than AWS (here moto; in use 'sagekit local'),
// local paths become file:/// URIs, which such a server may read.
func TestRunTrainLocalPathsOnOtherServersMoto(t *testing.T) {
	moto := testenv.NewMoto(t)
	pushToMotoECR(t, moto)
	data, out := t.TempDir(), t.TempDir()
	code, stdout, stderr := execSageMaker(t.Context(), "", "run", "train", testImage, "--instance-type", "ml.m5.large", "--role", testRole,
		"--name", "paths", "--data", "training="+data, "--output", out, "--detach", "--endpoint-url", moto.URL)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if stdout != "paths\n" || !strings.Contains(stderr, "follow it with 'sagekit logs paths --follow', see it in 'sagekit ls', end it with 'sagekit stop paths'") {
		t.Errorf("--detach: stdout %q, stderr %q", stdout, stderr)
	}
	sent := moto.Request(t, "SageMaker.CreateTrainingJob")
	ch := sent["InputDataConfig"].([]any)[0].(map[string]any)["DataSource"].(map[string]any)["S3DataSource"].(map[string]any)["S3Uri"]
	if ch != "file://"+data || sent["OutputDataConfig"].(map[string]any)["S3OutputPath"] != "file://"+out {
		t.Errorf("sent channel %v and output %v; want file:// URIs of %s and %s", ch, sent["OutputDataConfig"], data, out)
	}
}

// A finished training job's billable seconds, with managed spot training's
// savings (BillableTimeInSeconds against TrainingTimeInSeconds).
func TestBilling(t *testing.T) {
	for _, tc := range []struct {
		billable, trained int32
		spot              bool
		want              string
	}{
		{120, 120, false, "billable seconds: 120 (training seconds: 120)"},
		{30, 120, true, "billable seconds: 30 (training seconds: 120, managed spot savings 75%)"},
		{0, 0, true, "billable seconds: 0 (training seconds: 0)"},
	} {
		if got := billing(tc.billable, tc.trained, tc.spot); got != tc.want {
			t.Errorf("billing(%d, %d, %v) = %q, want %q", tc.billable, tc.trained, tc.spot, got, tc.want)
		}
	}
}
