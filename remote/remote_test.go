package remote

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/remote/spec"
)

func TestJobName(t *testing.T) {
	at := time.Date(2026, 12, 3, 7, 5, 9, 123456789, time.UTC)
	tests := []struct{ image, want string }{
		{"my-algo:latest", "my-algo-2026-12-03-07-05-09-123"},
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com/team/xgb_boost:1", "xgb-boost-2026-12-03-07-05-09-123"},
		{"localhost:5000/algo@sha256:abcd", "algo-2026-12-03-07-05-09-123"},
		{"___", "sagekit-2026-12-03-07-05-09-123"},
		{strings.Repeat("a", 80) + ":1", strings.Repeat("a", 39) + "-2026-12-03-07-05-09-123"},
	}
	for _, tt := range tests {
		got := JobName(tt.image, at)
		if got != tt.want {
			t.Errorf("JobName(%q) = %q, want %q", tt.image, got, tt.want)
		}
		if !jobNameRe.MatchString(got) {
			t.Errorf("JobName(%q) = %q: not a valid SageMaker name", tt.image, got)
		}
	}
}

func TestJobNameSuffix(t *testing.T) {
	at := time.Date(2026, 12, 3, 7, 5, 9, 123456789, time.UTC)
	tests := []struct{ image, suffix, want string }{
		{"my-algo:latest", "fold-2-a", "my-algo-fold-2-a-2026-12-03-07-05-09-123"},
		{"___", "fold-1-b", "sagekit-fold-1-b-2026-12-03-07-05-09-123"},
		{strings.Repeat("a", 80) + ":1", "fold-10-b", strings.Repeat("a", 29) + "-fold-10-b-2026-12-03-07-05-09-123"},
	}
	for _, tt := range tests {
		got := JobNameSuffix(tt.image, tt.suffix, at)
		if got != tt.want || !jobNameRe.MatchString(got) {
			t.Errorf("JobNameSuffix(%q, %q) = %q, want %q (a valid SageMaker name)", tt.image, tt.suffix, got, tt.want)
		}
	}
}

func TestParseVPC(t *testing.T) {
	v, err := ParseVPC("subnet-1, sg-2,subnet-3")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(&VPC{Subnets: []string{"subnet-1", "subnet-3"}, SecurityGroups: []string{"sg-2"}}, v); d != "" {
		t.Errorf("ParseVPC (-want +got):\n%s", d)
	}
	for _, bad := range []string{"subnet-1", "sg-1", "vpc-1,sg-1,subnet-1", ""} {
		if _, err := ParseVPC(bad); err == nil {
			t.Errorf("ParseVPC(%q) = nil error", bad)
		}
	}
}

func TestTrainingJobInputReportsEveryProblem(t *testing.T) {
	j := TrainingJob{Name: "-bad", InstanceCount: 0, Output: "/tmp/out", Checkpoints: "ckpt",
		Channels: []Channel{{Name: "train", S3URI: "s3://b/t"}, {Name: "train", S3URI: "./data"}},
		Metrics:  []Metric{{Name: "loss", Regex: "("}}}
	_, err := j.Input()
	if err == nil {
		t.Fatal("Input() = nil error")
	}
	for _, want := range []string{`training job name "-bad"`, "no execution role", "instance count 0", `--output "/tmp/out"`,
		`--checkpoints "ckpt"`, `channel "train": use letters`, `--data train "./data"`, "--metric loss=("} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestTrainingJobInputDefaults(t *testing.T) {
	in, err := TrainingJob{Name: "j", Role: "arn:r", Image: "i", InstanceType: "ml.m5.large", InstanceCount: 1, Output: "s3://b/o", Spot: true, MaxRun: 90 * time.Minute}.Input()
	if err != nil {
		t.Fatal(err)
	}
	if got := *in.StoppingCondition.MaxRuntimeInSeconds; got != 5400 {
		t.Errorf("MaxRuntimeInSeconds = %d, want 5400", got)
	}
	if got := *in.StoppingCondition.MaxWaitTimeInSeconds; got != 10800 {
		t.Errorf("MaxWaitTimeInSeconds = %d, want twice the run time, 10800", got)
	}
	if got := *in.ResourceConfig.VolumeSizeInGB; got != DefaultVolumeSizeGB {
		t.Errorf("VolumeSizeInGB = %d, want %d", got, DefaultVolumeSizeGB)
	}
	in, _ = TrainingJob{Name: "j", Role: "arn:r", InstanceCount: 1, Output: "s3://b/o"}.Input()
	if got := *in.StoppingCondition.MaxRuntimeInSeconds; got != int32(DefaultMaxRun/time.Second) || in.StoppingCondition.MaxWaitTimeInSeconds != nil || in.EnableManagedSpotTraining != nil {
		t.Errorf("StoppingCondition = %+v, spot %v; want 24h, no max wait, no spot", *in.StoppingCondition, in.EnableManagedSpotTraining)
	}
}

func TestExplainSaysWhatToDo(t *testing.T) {
	api := func(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg} }
	tests := []struct {
		name string
		err  error
		c    Context
		want string
	}{
		{"quota named by AWS", api("ResourceLimitExceeded", "The account-level service limit 'ml.p3.2xlarge for training job usage' is 0 Instances, with current utilization of 0 Instances and a request delta of 1 Instances."),
			Context{InstanceType: "ml.p3.2xlarge", Usage: "training job"}, `ask for more of "ml.p3.2xlarge for training job usage" in the Service Quotas console`},
		{"quota named from the call", api("ResourceLimitExceeded", "limit exceeded"),
			Context{InstanceType: "ml.g5.xlarge", Usage: "endpoint"}, `"ml.g5.xlarge for endpoint usage"`},
		{"role", api("ValidationException", "Could not assume role arn:aws:iam::1:role/x. Please ensure that the role exists and allows principal 'sagemaker.amazonaws.com' to assume the role."),
			Context{}, "aws iam create-role --role-name SageMakerExecution"},
		{"image not in ECR", api("ValidationException", "Requested image 1.dkr.ecr.us-east-1.amazonaws.com/a:1 not found."),
			Context{Image: "1.dkr.ecr.us-east-1.amazonaws.com/a:1"}, "push it with 'sagekit push 1.dkr.ecr.us-east-1.amazonaws.com/a:1 --ecr REPO:TAG'"},
		{"access", api("AccessDeniedException", "User is not authorized to perform sagemaker:CreateEndpoint"), Context{}, "AmazonSageMakerFullAccess"},
		{"name taken", api("ResourceInUse", "Cannot create already existing endpoint"), Context{}, "pick another with --name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ExplainFor("doing it", tt.err, tt.c)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ExplainFor = %v\nwant it to contain %q", err, tt.want)
			}
			if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.err.(*smithy.GenericAPIError).Message) {
				t.Errorf("ExplainFor = %v: AWS's own error is lost", err)
			}
		})
	}
	if ExplainFor("x", nil, Context{}) != nil {
		t.Error("ExplainFor(nil) != nil")
	}
}

func TestLogHosts(t *testing.T) {
	tests := []struct {
		src    LogSource
		stream string
		want   string
	}{
		{TrainingLogs("job-1"), "job-1/algo-2-1764745200", "algo-2"},
		{TrainingLogs("job-1"), "job-1/algo-10-1764745200", "algo-10"},
		{TransformLogs("tj"), "tj/i-0abc-1764745200", "i-0abc"},
		{TransformLogs("tj"), "tj/i-0abc-1764745200/data-log", "i-0abc/data-log"},
		{EndpointLogs("ep"), "AllTraffic/i-0abc", "AllTraffic/i-0abc"},
	}
	for _, tt := range tests {
		if got := tt.src.Host(tt.stream); got != tt.want {
			t.Errorf("Host(%q) = %q, want %q", tt.stream, got, tt.want)
		}
	}
}

func TestEndpointPlan(t *testing.T) {
	w := func(v float64) *float64 { return &v }
	e := Endpoint{Name: "ep", Role: "arn:r", Spec: &spec.Endpoint{Variants: []spec.Variant{
		{Name: "pipe", Weight: w(1), InstanceType: "ml.m5.large", InstanceCount: 1, Containers: []spec.Container{{Image: "pre"}, {Image: "algo", Model: "s3://b/m.tar.gz"}}},
		{Name: "mme", Weight: w(2), InstanceType: "ml.m5.large", InstanceCount: 3, Image: "algo", Model: "s3://b/models/", MultiModel: true},
	}}}
	p, err := e.Plan()
	if err != nil {
		t.Fatal(err)
	}
	pipe, mme := p.Models[0], p.Models[1]
	if pipe.PrimaryContainer != nil || len(pipe.Containers) != 2 || *pipe.Containers[0].ContainerHostname != "step-1" ||
		*pipe.Containers[1].ModelDataUrl != "s3://b/m.tar.gz" || pipe.InferenceExecutionConfig.Mode != types.InferenceExecutionModeSerial {
		t.Errorf("pipeline model = %+v", pipe)
	}
	if mme.PrimaryContainer.Mode != types.ContainerModeMultiModel || *mme.PrimaryContainer.ModelDataUrl != "s3://b/models/" || *mme.ModelName != "ep-mme" {
		t.Errorf("multi-model model = %+v", mme)
	}
	v := p.Config.ProductionVariants[1]
	if *v.ModelName != "ep-mme" || *v.InitialInstanceCount != 3 || *v.InitialVariantWeight != 2 || *p.Endpoint.EndpointConfigName != "ep" {
		t.Errorf("variant = %+v", v)
	}
	e.Spec.Variants[1].Model = "/local/dir"
	e.Role = ""
	if _, err := e.Plan(); err == nil || !strings.Contains(err.Error(), "no execution role") || !strings.Contains(err.Error(), `variant mme: model "/local/dir"`) {
		t.Errorf("Plan with a local model and no role: %v", err)
	}
}

// --endpoint-url reaches every service but one given an endpoint of its
// own, so S3 can stay on another server than SageMaker.
func TestEndpointURL(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_ENDPOINT_URL", "http://general:1")
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://s3-only:2")
	cfg, err := LoadConfig(t.Context(), Config{EndpointURL: "http://flag:3/"})
	if err != nil {
		t.Fatal(err)
	}
	c := New(cfg, WithEndpointURL("http://flag:3/"))
	got := map[string]string{
		"sagemaker": *c.sm.Options().BaseEndpoint, "runtime": *c.runtime.Options().BaseEndpoint,
		"logs": *c.logs.Options().BaseEndpoint, "sts": *c.sts.Options().BaseEndpoint, "s3": *c.s3.Options().BaseEndpoint,
	}
	want := map[string]string{"sagemaker": "http://flag:3", "runtime": "http://flag:3", "logs": "http://flag:3", "sts": "http://flag:3", "s3": "http://s3-only:2"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("endpoints (-want +got):\n%s", d)
	}
	if !c.Custom() || !c.s3.Options().UsePathStyle {
		t.Errorf("Custom() = %v, S3 path style %v; want both", c.Custom(), c.s3.Options().UsePathStyle)
	}
	c = New(cfg)
	if *c.sm.Options().BaseEndpoint != "http://general:1" {
		t.Errorf("without the flag SageMaker goes to %s, want AWS_ENDPOINT_URL", *c.sm.Options().BaseEndpoint)
	}
	if _, err := LoadConfig(t.Context(), Config{EndpointURL: "localhost:8080"}); err == nil || !strings.Contains(err.Error(), "want http://HOST:PORT") {
		t.Errorf("LoadConfig with a URL without scheme: %v", err)
	}
}
