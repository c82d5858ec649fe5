package local_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/internal/testmodel"
)

// TestTransformJob100k runs a batch transform of 100,000 lines with boto3
// and checks that its output equals direct invocations of an endpoint of
// the same model, line for line.
func TestTransformJob100k(t *testing.T) {
	requireTools(t)
	dc := testenv.Docker(t)
	img := exampleImage(t, dc)
	_, archive := testmodel.Iris(t, 3)
	in, out := t.TempDir(), t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for range 100_000 {
		fmt.Fprintf(&b, "%.1f,%.1f,%.1f,%.1f\n", 4+4*r.Float64(), 2+2.5*r.Float64(), 1+6*r.Float64(), 0.1+2.4*r.Float64())
	}
	if err := os.WriteFile(filepath.Join(in, "rows.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, t.TempDir())
	python(t, srv.URL, prelude+`
img, archive, inp, out = os.environ["IMG"], os.environ["ARCHIVE"], os.environ["IN"], os.environ["OUT"]
role = "arn:aws:iam::000000000000:role/local"
sm.create_model(ModelName="m", ExecutionRoleArn=role, PrimaryContainer={"Image": img, "ModelDataUrl": "file://" + archive})
sm.create_transform_job(TransformJobName="t100k", ModelName="m", BatchStrategy="MultiRecord", MaxPayloadInMB=1, MaxConcurrentTransforms=2,
    TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "file://" + inp}}, "ContentType": "text/csv", "SplitType": "Line"},
    TransformOutput={"S3OutputPath": "file://" + out, "Accept": "text/csv", "AssembleWith": "None"},
    TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[{"VariantName": "v", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
sm.create_endpoint(EndpointName="direct", EndpointConfigName="c")
d = wait(lambda: sm.describe_transform_job(TransformJobName="t100k"), "TransformJobStatus", ("Completed", "Failed", "Stopped"), timeout=600)
assert d["TransformJobStatus"] == "Completed", d
wait(lambda: sm.describe_endpoint(EndpointName="direct"), "EndpointStatus", ("InService",))
lines = open(inp + "/rows.csv", "rb").read().splitlines(keepends=True)
direct = []
for i in range(0, len(lines), 5000):
    r = smr.invoke_endpoint(EndpointName="direct", ContentType="text/csv", Accept="text/csv", Body=b"".join(lines[i:i+5000]))
    direct.extend(r["Body"].read().splitlines())
got = open(out + "/rows.csv.out", "rb").read().splitlines()
assert len(got) == 100000 and len(direct) == 100000, (len(got), len(direct))
diff = [i for i in range(100000) if got[i] != direct[i]]
assert not diff, "first differing line %d: %r vs %r" % (diff[0], got[diff[0]], direct[diff[0]])
assert len(set(got)) == 3, set(got)
names = [j["TransformJobName"] for j in sm.list_transform_jobs()["TransformJobSummaries"]]
assert names == ["t100k"], names
c, m = code(lambda: sm.describe_transform_job(TransformJobName="nope"))
assert c == "ValidationException", (c, m)
c, m = code(lambda: sm.create_transform_job(TransformJobName="t100k", ModelName="m", TransformInput=d["TransformInput"], TransformOutput=d["TransformOutput"], TransformResources=d["TransformResources"]))
assert c == "ResourceInUse", (c, m)
c, m = code(lambda: sm.create_transform_job(TransformJobName="x", ModelName="m", TransformInput=d["TransformInput"], TransformOutput=d["TransformOutput"], TransformResources=d["TransformResources"], DataProcessing={"InputFilter": "$[1:]"}))
assert c == "ValidationException" and "DataProcessing" in m, (c, m)
logs = boto3.client("logs", endpoint_url=url)
assert logs.describe_log_streams(logGroupName="/aws/sagemaker/TransformJobs", logStreamNamePrefix="t100k/")["logStreams"]
sm.delete_endpoint(EndpointName="direct")
`, "IMG="+img, "ARCHIVE="+archive, "IN="+in, "OUT="+out)
}
