package local_test

import (
	"testing"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/internal/testmodel"
)

// TestUpdateEndpointBlueGreen updates an endpoint under load with boto3:
// a canary to a broken image (its containers exit at once) rolls back and
// the old fleet keeps answering; a canary to a good configuration shifts
// traffic in two steps and replaces the old fleet. No request fails.
func TestUpdateEndpointBlueGreen(t *testing.T) {
	requireTools(t)
	dc := testenv.Docker(t)
	img := exampleImage(t, dc)
	broken := sleeperImage(t, dc)
	_, archive := testmodel.Iris(t, 3)
	srv := startServer(t, t.TempDir())
	python(t, srv.URL, prelude+`
import threading
img, broken, archive = os.environ["IMG"], os.environ["BROKEN"], os.environ["ARCHIVE"]
role = "arn:aws:iam::000000000000:role/local"
sm.create_model(ModelName="good", ExecutionRoleArn=role, PrimaryContainer={"Image": img, "ModelDataUrl": "file://" + archive})
sm.create_model(ModelName="broken", ExecutionRoleArn=role, PrimaryContainer={"Image": broken})
for name, model, variant in (("blue", "good", "blue"), ("bad", "broken", "bad"), ("green", "good", "green")):
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": variant, "ModelName": model, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
sm.create_endpoint(EndpointName="bg", EndpointConfigName="blue")
wait(lambda: sm.describe_endpoint(EndpointName="bg"), "EndpointStatus", ("InService",))

stop, failures, seen = threading.Event(), [], {}
def load():
    while not stop.is_set():
        try:
            r = smr.invoke_endpoint(EndpointName="bg", ContentType="text/csv", Body=b"5.1,3.5,1.4,0.2\n")
            assert r["Body"].read() == b"setosa\n"
            v = r["InvokedProductionVariant"]
            seen[v] = seen.get(v, 0) + 1
        except Exception as e:
            failures.append(repr(e))
threads = [threading.Thread(target=load) for _ in range(3)]
for th in threads: th.start()
canary = {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {"Type": "CANARY", "WaitIntervalInSeconds": 2,
    "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50}}, "TerminationWaitInSeconds": 0},
    "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "local-5xx"}]}}

sm.update_endpoint(EndpointName="bg", EndpointConfigName="bad", DeploymentConfig=canary)
assert sm.describe_endpoint(EndpointName="bg")["EndpointStatus"] == "Updating"
c, m = code(lambda: sm.update_endpoint_weights_and_capacities(EndpointName="bg", DesiredWeightsAndCapacities=[{"VariantName": "blue", "DesiredWeight": 1}]))
assert c == "ValidationException", (c, m)
d = wait(lambda: sm.describe_endpoint(EndpointName="bg"), "EndpointStatus", ("InService", "Failed"))
assert d["EndpointStatus"] == "InService" and d["EndpointConfigName"] == "blue" and "rolled back" in d["FailureReason"], d
assert [v["VariantName"] for v in d["ProductionVariants"]] == ["blue"], d

sm.update_endpoint(EndpointName="bg", EndpointConfigName="green", DeploymentConfig=canary)
d = wait(lambda: sm.describe_endpoint(EndpointName="bg"), "EndpointStatus", ("InService", "Failed"))
assert d["EndpointStatus"] == "InService" and d["EndpointConfigName"] == "green" and "FailureReason" not in d, d
time.sleep(0.5)
stop.set()
for th in threads: th.join()
assert not failures, failures[:5]
assert seen.get("blue", 0) > 0 and seen.get("green", 0) > 0 and "bad" not in seen, seen
r = smr.invoke_endpoint(EndpointName="bg", ContentType="text/csv", Body=b"5.1,3.5,1.4,0.2\n")
assert r["InvokedProductionVariant"] == "green"
c, m = code(lambda: sm.update_endpoint(EndpointName="bg", EndpointConfigName="nope"))
assert c == "ValidationException" and "Could not find endpoint configuration" in m, (c, m)
c, m = code(lambda: sm.update_endpoint(EndpointName="bg", EndpointConfigName="blue", RetainAllVariantProperties=True))
assert c == "ValidationException" and "RetainAllVariantProperties" in m, (c, m)
sm.delete_endpoint(EndpointName="bg")
print(json.dumps(seen))
`, "IMG="+img, "BROKEN="+broken, "ARCHIVE="+archive)
}
