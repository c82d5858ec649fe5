package local_test

import (
	"encoding/json"
	"testing"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/internal/testmodel"
)

// TestEndpointVariantsWithBoto3 serves two production variants of the Go
// example at 0.9/0.1 and checks, with boto3: the split over 10,000
// invocations (±2 points), a weight change to 0.5/0.5 under load without
// a failed request, TargetVariant, ModelError with the container's
// answer, a capacity change, SageMaker's errors; then that a restart on
// the same state re-creates the endpoint as it was.
func TestEndpointVariantsWithBoto3(t *testing.T) {
	requireTools(t)
	dc := testenv.Docker(t)
	img := exampleImage(t, dc)
	_, archiveA := testmodel.Iris(t, 3)
	dirB, _ := testmodel.Iris(t, 1)
	state := t.TempDir()
	srv := startServer(t, state)
	got := python(t, srv.URL, prelude+`
import threading
from concurrent.futures import ThreadPoolExecutor
img = os.environ["IMG"]
role = "arn:aws:iam::000000000000:role/local"
sm.create_model(ModelName="iris-a", ExecutionRoleArn=role, PrimaryContainer={"Image": img, "ModelDataUrl": "file://" + os.environ["ARCHIVE_A"]})
sm.create_model(ModelName="iris-b", ExecutionRoleArn=role, PrimaryContainer={"Image": img, "ModelDataUrl": "file://" + os.environ["DIR_B"]})
sm.create_endpoint_config(EndpointConfigName="iris-ab", ProductionVariants=[
    {"VariantName": "A", "ModelName": "iris-a", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large", "InitialVariantWeight": 0.9},
    {"VariantName": "B", "ModelName": "iris-b", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large", "InitialVariantWeight": 0.1}])
t0 = time.time()
sm.create_endpoint(EndpointName="iris", EndpointConfigName="iris-ab")
d = wait(lambda: sm.describe_endpoint(EndpointName="iris"), "EndpointStatus", ("InService", "Failed"))
assert d["EndpointStatus"] == "InService", d
in_service = time.time() - t0
row = b"5.1,3.5,1.4,0.2\n"
def invoke(**kw):
    r = smr.invoke_endpoint(EndpointName="iris", ContentType="text/csv", Body=row, **kw)
    body = r["Body"].read()
    assert body == b"setosa\n", body
    return r["InvokedProductionVariant"]
def count(n):
    with ThreadPoolExecutor(8) as ex:
        vs = list(ex.map(lambda _: invoke(), range(n)))
    return vs.count("A") / n
split1 = count(10000)

# Weights to 0.5/0.5 while requests flow: none may fail.
stop, failures, during = threading.Event(), [], [0]
def load():
    while not stop.is_set():
        try:
            invoke()
            during[0] += 1
        except Exception as e:
            failures.append(repr(e))
threads = [threading.Thread(target=load) for _ in range(4)]
for th in threads: th.start()
time.sleep(0.5)
sm.update_endpoint_weights_and_capacities(EndpointName="iris", DesiredWeightsAndCapacities=[
    {"VariantName": "A", "DesiredWeight": 0.5}, {"VariantName": "B", "DesiredWeight": 0.5}])
wait(lambda: sm.describe_endpoint(EndpointName="iris"), "EndpointStatus", ("InService",))
time.sleep(0.5)
stop.set()
for th in threads: th.join()
split2 = count(4000)

targeted = set(invoke(TargetVariant="B") for _ in range(20))
try:
    smr.invoke_endpoint(EndpointName="iris", ContentType="application/json", Body=b"{}")
    sys.exit("a 415 from the container did not raise")
except botocore.exceptions.ClientError as e:
    me = e.response
assert me["Error"]["Code"] == "ModelError", me
assert me["ResponseMetadata"]["HTTPStatusCode"] == 424, me
assert me["OriginalStatusCode"] == 415, me
c, m = code(lambda: smr.invoke_endpoint(EndpointName="nope", ContentType="text/csv", Body=row))
assert c == "ValidationError" and "nope" in m, (c, m)
c, m = code(lambda: smr.invoke_endpoint(EndpointName="iris", ContentType="text/csv", Body=row, TargetVariant="C"))
assert c == "ValidationError", (c, m)

# Capacity: A to 2 instances, both serving.
sm.update_endpoint_weights_and_capacities(EndpointName="iris", DesiredWeightsAndCapacities=[{"VariantName": "A", "DesiredInstanceCount": 2}])
d = wait(lambda: sm.describe_endpoint(EndpointName="iris"), "EndpointStatus", ("InService",))
pv = {v["VariantName"]: v for v in d["ProductionVariants"]}
assert pv["A"]["CurrentInstanceCount"] == 2 and pv["A"]["CurrentWeight"] == 0.5 and pv["B"]["CurrentInstanceCount"] == 1, pv
for _ in range(10): invoke(TargetVariant="A")

# SageMaker's errors.
c, m = code(lambda: sm.create_endpoint(EndpointName="iris", EndpointConfigName="iris-ab"))
assert c == "ValidationException" and "already existing" in m, (c, m)
c, m = code(lambda: sm.create_endpoint(EndpointName="other", EndpointConfigName="nope"))
assert c == "ValidationException" and "Could not find endpoint configuration" in m, (c, m)
c, m = code(lambda: sm.create_model(ModelName="bad", ExecutionRoleArn=role, PrimaryContainer={"Image": "sagekit-no-such-image:1"}))
assert c == "ValidationException" and "sagekit-no-such-image" in m, (c, m)
c, m = code(lambda: sm.create_model(ModelName="bad", ExecutionRoleArn=role, PrimaryContainer={"Image": img, "Mode": "MultiModel"}))
assert c == "ValidationException" and "MultiModel" in m, (c, m)
c, m = code(lambda: sm.describe_endpoint(EndpointName="nope"))
assert c == "ValidationException" and "Could not find endpoint" in m, (c, m)
c, m = code(lambda: sm.update_endpoint_weights_and_capacities(EndpointName="iris", DesiredWeightsAndCapacities=[{"VariantName": "Z", "DesiredWeight": 1}]))
assert c == "ValidationException" and "Z" in m, (c, m)
import urllib.request
prom = urllib.request.urlopen(url + "/metrics").read().decode()
assert 'sagemaker_invocation_4xx_errors_total{endpoint="iris",variant="' in prom, prom
assert 'sagemaker_variant_instances{endpoint="iris",variant="A"} 2' in prom, prom
inv = sum(float(l.split()[-1]) for l in prom.splitlines() if l.startswith('sagemaker_invocations_total{endpoint="iris"'))
assert inv >= 14000, inv
assert 'sagemaker_overhead_latency_seconds_bucket{endpoint="iris",variant="A",le="0.001"}' in prom, prom
logs = boto3.client("logs", endpoint_url=url)
streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName="/aws/sagemaker/Endpoints/iris")["logStreams"]]
assert len(streams) == 3 and sum(s.startswith("A/i-") for s in streams) == 2 and sum(s.startswith("B/i-") for s in streams) == 1, streams
names = [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]]
assert names == ["iris"], names
print(json.dumps({"in_service": in_service, "split1": split1, "split2": split2, "during": during[0], "failures": failures[:5], "targeted": sorted(targeted)}))
`, "IMG="+img, "ARCHIVE_A="+archiveA, "DIR_B="+dirB)
	var res struct {
		InService      float64 `json:"in_service"`
		Split1, Split2 float64
		During         int
		Failures       []string
		Targeted       []string
	}
	if err := json.Unmarshal([]byte(lastLine(got)), &res); err != nil {
		t.Fatalf("reading the script's answer %q: %v", got, err)
	}
	t.Logf("CreateEndpoint to InService: %.2fs; variant A: %.4f of 10,000, then %.4f of 4,000 after the update; %d requests during the update", res.InService, res.Split1, res.Split2, res.During)
	if res.Split1 < 0.88 || res.Split1 > 0.92 {
		t.Errorf("variant A got %.4f of 10,000 invocations at weight 0.9, want 0.9 ± 0.02", res.Split1)
	}
	if res.Split2 < 0.45 || res.Split2 > 0.55 {
		t.Errorf("variant A got %.4f of 4,000 invocations at weight 0.5, want 0.5 ± 0.05", res.Split2)
	}
	if len(res.Failures) > 0 || res.During == 0 {
		t.Errorf("during the weight update: %d requests, failures %v; want some and none failed", res.During, res.Failures)
	}
	if len(res.Targeted) != 1 || res.Targeted[0] != "B" {
		t.Errorf("TargetVariant B answered from %v", res.Targeted)
	}

	// A restart on the same state re-creates the endpoint with the
	// weights and instance counts it had.
	srv.stop(t)
	srv2 := startServer(t, state)
	python(t, srv2.URL, prelude+`
d = sm.describe_endpoint(EndpointName="iris")
assert d["EndpointStatus"] in ("SystemUpdating", "InService"), d
d = wait(lambda: sm.describe_endpoint(EndpointName="iris"), "EndpointStatus", ("InService", "Failed"))
assert d["EndpointStatus"] == "InService", d
# Back with the weights and instance counts it had, not the configuration's.
pv = {v["VariantName"]: (v["CurrentWeight"], v["CurrentInstanceCount"]) for v in d["ProductionVariants"]}
assert pv == {"A": (0.5, 2), "B": (0.5, 1)}, pv
r = smr.invoke_endpoint(EndpointName="iris", ContentType="text/csv", Body=b"6.3,3.3,6.0,2.5\n", TargetVariant="A")
assert r["Body"].read() == b"virginica\n"
sm.delete_endpoint(EndpointName="iris")
c, m = code(lambda: sm.describe_endpoint(EndpointName="iris"))
assert c == "ValidationException", (c, m)
assert sm.list_endpoints()["Endpoints"] == []
sm.delete_endpoint_config(EndpointConfigName="iris-ab")
sm.delete_model(ModelName="iris-a")
sm.delete_model(ModelName="iris-b")
assert sm.list_models()["Models"] == []
`)
}
