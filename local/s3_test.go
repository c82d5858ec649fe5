package local_test

import (
	"os/exec"
	"testing"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/internal/testmodel"
)

// motoS3 starts moto_server until the test ends and points this
// process's AWS SDK at it for S3 (skipped without moto_server, unless
// SAGEKIT_REQUIRE_PYTHON=1).
func motoS3(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("moto_server"); err != nil {
		missingTool(t, "moto_server is not on PATH")
	}
	m := testenv.NewMoto(t)
	t.Setenv("AWS_ENDPOINT_URL_S3", m.URL)
	return m.URL
}

// TestTrainingJobS3 reads a channel from s3:// and writes model.tar.gz to
// s3:// on an S3-compatible server (moto), named by AWS_ENDPOINT_URL_S3,
// and serves the model from there.
func TestTrainingJobS3(t *testing.T) {
	requireTools(t)
	dc := testenv.Docker(t)
	img := exampleImage(t, dc)
	s3url := motoS3(t)
	srv := startServer(t, t.TempDir())
	python(t, srv.URL, prelude+`
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"])
s3.create_bucket(Bucket="data")
s3.upload_file(os.environ["DATA"] + "/iris.csv", "data", "iris/train/iris.csv")
sm.create_training_job(TrainingJobName="iris-s3", RoleArn="arn:aws:iam::000000000000:role/local",
    AlgorithmSpecification={"TrainingImage": os.environ["IMG"], "TrainingInputMode": "File"},
    InputDataConfig=[{"ChannelName": "training", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://data/iris/train"}}}],
    OutputDataConfig={"S3OutputPath": "s3://data/out"},
    ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
    StoppingCondition={"MaxRuntimeInSeconds": 600})
d = wait(lambda: sm.describe_training_job(TrainingJobName="iris-s3"), "TrainingJobStatus", ("Completed", "Failed", "Stopped"))
assert d["TrainingJobStatus"] == "Completed", d
assert d["ModelArtifacts"]["S3ModelArtifacts"] == "s3://data/out/iris-s3/output/model.tar.gz", d
s3.head_object(Bucket="data", Key="out/iris-s3/output/output.tar.gz")
sm.create_model(ModelName="m", ExecutionRoleArn="arn:aws:iam::000000000000:role/local", PrimaryContainer={"Image": os.environ["IMG"], "ModelDataUrl": d["ModelArtifacts"]["S3ModelArtifacts"]})
sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[{"VariantName": "v", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
sm.create_endpoint(EndpointName="e", EndpointConfigName="c")
d = wait(lambda: sm.describe_endpoint(EndpointName="e"), "EndpointStatus", ("InService", "Failed"))
assert d["EndpointStatus"] == "InService", d
r = smr.invoke_endpoint(EndpointName="e", ContentType="text/csv", Body=b"5.1,3.5,1.4,0.2\n")
assert r["Body"].read() == b"setosa\n"
sm.delete_endpoint(EndpointName="e")

# A prefix with no object fails the job, saying so.
sm.create_training_job(TrainingJobName="iris-empty", RoleArn="arn:aws:iam::000000000000:role/local",
    AlgorithmSpecification={"TrainingImage": os.environ["IMG"], "TrainingInputMode": "File"},
    InputDataConfig=[{"ChannelName": "training", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://data/nothing"}}}],
    OutputDataConfig={"S3OutputPath": "s3://data/out"},
    ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
    StoppingCondition={"MaxRuntimeInSeconds": 600})
d = wait(lambda: sm.describe_training_job(TrainingJobName="iris-empty"), "TrainingJobStatus", ("Completed", "Failed", "Stopped"))
assert d["TrainingJobStatus"] == "Failed" and "no objects" in d["FailureReason"], d
`, "IMG="+img, "DATA="+testmodel.IrisDir(t), "AWS_ENDPOINT_URL_S3="+s3url)
}
