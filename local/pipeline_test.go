package local_test

import (
	"testing"

	"github.com/sagekit/sagekit/internal/testenv"
)

// TestInferencePipeline serves a model of three containers as a serial
// inference pipeline and checks, with boto3, that its answer equals the
// three containers applied by hand (each served alone as an endpoint),
// then calls the same containers directly (Direct mode,
// TargetContainerHostname).
func TestInferencePipeline(t *testing.T) {
	requireTools(t)
	dc := testenv.Docker(t)
	img := programImage(t, dc, "./local/testdata/affine")
	srv := startServer(t, t.TempDir())
	python(t, srv.URL, prelude+`
img = os.environ["IMG"]
role = "arn:aws:iam::000000000000:role/local"
steps = [("double-plus-one", "2", "1"), ("triple-minus-four", "3", "-4"), ("half", "0.5", "0")]
containers = [{"Image": img, "ContainerHostname": h, "Environment": {"SCALE": a, "SHIFT": b}} for h, a, b in steps]
sm.create_model(ModelName="pipe", ExecutionRoleArn=role, Containers=containers)
sm.create_model(ModelName="direct", ExecutionRoleArn=role, Containers=containers, InferenceExecutionConfig={"Mode": "Direct"})
for i, c in enumerate(containers):
    sm.create_model(ModelName="step%d" % i, ExecutionRoleArn=role, PrimaryContainer=c)
def endpoint(name, model):
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{"VariantName": "v", "ModelName": model, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
for name, model in (("pipe", "pipe"), ("direct", "direct"), ("s0", "step0"), ("s1", "step1"), ("s2", "step2")):
    endpoint(name, model)
for name in ("pipe", "direct", "s0", "s1", "s2"):
    d = wait(lambda: sm.describe_endpoint(EndpointName=name), "EndpointStatus", ("InService", "Failed"))
    assert d["EndpointStatus"] == "InService", d
assert len(sm.describe_endpoint(EndpointName="pipe")["ProductionVariants"][0]["DeployedImages"]) == 3
def invoke(name, body, **kw):
    return smr.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=body, **kw)["Body"].read()
payload = b"1,2.5,-3\n10,0,7\n"
by_hand = payload
for s in ("s0", "s1", "s2"):
    by_hand = invoke(s, by_hand)
got = invoke("pipe", payload)
assert got == by_hand, (got, by_hand)
assert got == b"2.5,7,-9.5,29.5,-0.5,20.5\n", got  # 3x - 0.5
for i, (h, _, _) in enumerate(steps):
    assert invoke("direct", payload, TargetContainerHostname=h) == invoke("s%d" % i, payload)
c, m = code(lambda: invoke("direct", payload))
assert c == "ValidationError" and "TargetContainerHostname" in m, (c, m)
c, m = code(lambda: invoke("pipe", payload, TargetContainerHostname="half"))
assert c == "ValidationError", (c, m)
try:
    invoke("pipe", b"not,numbers\n")
    sys.exit("a 400 from the first container did not raise")
except botocore.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "ModelError" and e.response["OriginalStatusCode"] == 400, e.response
    assert "double-plus-one" in e.response["Error"]["Message"], e.response
c, m = code(lambda: sm.create_model(ModelName="bad", ExecutionRoleArn=role, Containers=[{"Image": img}, {"Image": img}], InferenceExecutionConfig={"Mode": "Direct"}))
assert c == "ValidationException" and "ContainerHostname" in m, (c, m)
for name in ("pipe", "direct", "s0", "s1", "s2"):
    sm.delete_endpoint(EndpointName=name)
`, "IMG="+img)
}
