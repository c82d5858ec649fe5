package local_test

import (
	"testing"
	"time"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/internal/testmodel"
	"github.com/sagekit/sagekit/local"
)

// TestAutoscaling registers a variant with Application Auto Scaling
// through boto3 (min 1, max 3, target tracking on
// SageMakerVariantInvocationsPerInstance) and checks that it grows from 1
// to 3 instances under load and returns to 1 after the scale-in
// cool-down. The metric's minute is shortened to a 6 s window looked at
// every second.
func TestAutoscaling(t *testing.T) {
	requireTools(t)
	dc := testenv.Docker(t)
	img := exampleImage(t, dc)
	_, archive := testmodel.Iris(t, 3)
	srv := startServer(t, t.TempDir(), local.WithScalingPeriod(time.Second, 6*time.Second))
	python(t, srv.URL, prelude+`
import threading
aas = boto3.client("application-autoscaling", endpoint_url=url)
role = "arn:aws:iam::000000000000:role/local"
sm.create_model(ModelName="m", ExecutionRoleArn=role, PrimaryContainer={"Image": os.environ["IMG"], "ModelDataUrl": "file://" + os.environ["ARCHIVE"]})
sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[{"VariantName": "v", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
sm.create_endpoint(EndpointName="auto", EndpointConfigName="c")
wait(lambda: sm.describe_endpoint(EndpointName="auto"), "EndpointStatus", ("InService",))
rid = "endpoint/auto/variant/v"
dim = "sagemaker:variant:DesiredInstanceCount"
aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=dim, MinCapacity=1, MaxCapacity=3)
aas.put_scaling_policy(PolicyName="track", ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=dim, PolicyType="TargetTrackingScaling",
    TargetTrackingScalingPolicyConfiguration={"TargetValue": 100.0, "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        "ScaleOutCooldown": 1, "ScaleInCooldown": 5})
assert aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"][0]["MaxCapacity"] == 3
assert aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=rid)["ScalingPolicies"][0]["PolicyName"] == "track"
def count():
    return sm.describe_endpoint(EndpointName="auto")["ProductionVariants"][0]["CurrentInstanceCount"]
stop, failures = threading.Event(), []
def load():
    while not stop.is_set():
        try:
            smr.invoke_endpoint(EndpointName="auto", ContentType="text/csv", Body=b"5.1,3.5,1.4,0.2\n")["Body"].read()
        except Exception as e:
            failures.append(repr(e))
threads = [threading.Thread(target=load) for _ in range(3)]
for th in threads: th.start()
end, peak = time.time() + 90, 1
while time.time() < end and peak < 3:
    peak = max(peak, count())
    time.sleep(0.5)
stop.set()
for th in threads: th.join()
assert peak == 3, "peak %d instances under load" % peak
assert not failures, failures[:3]
end = time.time() + 90
while count() != 1:
    assert time.time() < end, "still %d instances 90 s after the load" % count()
    time.sleep(0.5)
# The scale-in activity is listed from its start (InProgress) and
# Successful once the fleet has changed.
end = time.time() + 30
while True:
    acts = aas.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=rid)["ScalingActivities"]
    assert acts and acts[0]["Description"] == "Setting desired instance count to 1.", acts
    if acts[0]["StatusCode"] != "InProgress" or time.time() > end:
        break
    time.sleep(0.2)
assert acts[0]["StatusCode"] == "Successful", acts
assert any(a["Description"] == "Setting desired instance count to 3." for a in acts), acts
c, m = code(lambda: aas.register_scalable_target(ServiceNamespace="ecs", ResourceId="service/x/y", ScalableDimension="ecs:service:DesiredCount", MinCapacity=1, MaxCapacity=2))
assert c == "ValidationException", (c, m)
c, m = code(lambda: aas.delete_scaling_policy(PolicyName="nope", ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=dim))
assert c == "ObjectNotFoundException", (c, m)
aas.deregister_scalable_target(ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=dim)
sm.delete_endpoint(EndpointName="auto")
`, "IMG="+img, "ARCHIVE="+archive)
}
