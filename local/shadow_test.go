package local_test

import (
	"testing"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/internal/testmodel"
)

// TestShadowVariant serves, with boto3, a production variant and a shadow
// variant at half its weight: every answer comes from production, the
// shadow gets a copy of about half the requests (its answers discarded),
// and /metrics counts the shadow's invocations under its own name.
func TestShadowVariant(t *testing.T) {
	requireTools(t)
	dc := testenv.Docker(t)
	img := exampleImage(t, dc)
	_, archiveA := testmodel.Iris(t, 3)
	_, archiveB := testmodel.Iris(t, 1)
	srv := startServer(t, t.TempDir())
	python(t, srv.URL, prelude+`
import urllib.request
role = "arn:aws:iam::000000000000:role/local"
sm.create_model(ModelName="prod", ExecutionRoleArn=role, PrimaryContainer={"Image": os.environ["IMG"], "ModelDataUrl": "file://" + os.environ["ARCHIVE_A"]})
sm.create_model(ModelName="shadow", ExecutionRoleArn=role, PrimaryContainer={"Image": os.environ["IMG"], "ModelDataUrl": "file://" + os.environ["ARCHIVE_B"]})
two = [{"VariantName": "p1", "ModelName": "prod", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"},
       {"VariantName": "p2", "ModelName": "prod", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}]
c, m = code(lambda: sm.create_endpoint_config(EndpointConfigName="bad", ProductionVariants=two,
    ShadowProductionVariants=[{"VariantName": "s", "ModelName": "shadow", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}]))
assert c == "ValidationException" and "exactly one production variant" in m, (c, m)
sm.create_endpoint_config(EndpointConfigName="c",
    ProductionVariants=[{"VariantName": "prod", "ModelName": "prod", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}],
    ShadowProductionVariants=[{"VariantName": "shadow", "ModelName": "shadow", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large", "InitialVariantWeight": 0.5}])
assert sm.describe_endpoint_config(EndpointConfigName="c")["ShadowProductionVariants"][0]["VariantName"] == "shadow"
sm.create_endpoint(EndpointName="sh", EndpointConfigName="c")
d = wait(lambda: sm.describe_endpoint(EndpointName="sh"), "EndpointStatus", ("InService", "Failed"))
assert d["EndpointStatus"] == "InService", d
assert [(v["VariantName"], v["CurrentInstanceCount"]) for v in d["ShadowProductionVariants"]] == [("shadow", 1)], d
n = 400
for _ in range(n):
    r = smr.invoke_endpoint(EndpointName="sh", ContentType="text/csv", Body=b"6.3,3.3,6.0,2.5\n")
    assert r["InvokedProductionVariant"] == "prod", r
    assert r["Body"].read() == b"virginica\n"
def counted(variant):
    for l in urllib.request.urlopen(url + "/metrics").read().decode().splitlines():
        if l.startswith('sagemaker_invocations_total{endpoint="sh",variant="%s"}' % variant):
            return float(l.split()[-1])
    return 0
end = time.time() + 10
while counted("shadow") < 0.35 * n and time.time() < end:
    time.sleep(0.2)
prod, shadow = counted("prod"), counted("shadow")
assert prod == n, prod
assert 0.35 * n <= shadow <= 0.65 * n, shadow
c, m = code(lambda: smr.invoke_endpoint(EndpointName="sh", ContentType="text/csv", Body=b"1,2,3,4\n", TargetVariant="shadow"))
assert c == "ValidationError", (c, m)
sm.delete_endpoint(EndpointName="sh")
`, "IMG="+img, "ARCHIVE_A="+archiveA, "ARCHIVE_B="+archiveB)
}
