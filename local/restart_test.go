package local_test

import (
	"testing"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/internal/testmodel"
)

// TestRestartKeepsEndpointsLogsAndScaling stops a server with two
// endpoints in service and starts another on the same state: the endpoint
// whose model is still there comes back InService with the instance count
// it was resized to, the one whose model was deleted is marked Failed
// saying why, the autoscaling target and policy are still registered, and
// the log streams of the first server's containers still hold their
// events.
func TestRestartKeepsEndpointsLogsAndScaling(t *testing.T) {
	requireTools(t)
	dc := testenv.Docker(t)
	img := exampleImage(t, dc)
	_, archive := testmodel.Iris(t, 3)
	state := t.TempDir()
	srv := startServer(t, state)
	python(t, srv.URL, prelude+`
aas = boto3.client("application-autoscaling", endpoint_url=url)
logs = boto3.client("logs", endpoint_url=url)
role = "arn:aws:iam::000000000000:role/local"
for m in ("m", "gone"):
    sm.create_model(ModelName=m, ExecutionRoleArn=role, PrimaryContainer={"Image": os.environ["IMG"], "ModelDataUrl": "file://" + os.environ["ARCHIVE"]})
    sm.create_endpoint_config(EndpointConfigName="c-" + m, ProductionVariants=[{"VariantName": "v", "ModelName": m, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
sm.create_endpoint(EndpointName="keep", EndpointConfigName="c-m")
sm.create_endpoint(EndpointName="lost", EndpointConfigName="c-gone")
for e in ("keep", "lost"):
    d = wait(lambda: sm.describe_endpoint(EndpointName=e), "EndpointStatus", ("InService", "Failed"))
    assert d["EndpointStatus"] == "InService", d
sm.update_endpoint_weights_and_capacities(EndpointName="keep", DesiredWeightsAndCapacities=[{"VariantName": "v", "DesiredInstanceCount": 2}])
wait(lambda: sm.describe_endpoint(EndpointName="keep"), "EndpointStatus", ("InService",))
rid, dim = "endpoint/keep/variant/v", "sagemaker:variant:DesiredInstanceCount"
aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=dim, MinCapacity=1, MaxCapacity=4)
aas.put_scaling_policy(PolicyName="track", ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=dim, PolicyType="TargetTrackingScaling",
    TargetTrackingScalingPolicyConfiguration={"TargetValue": 1000.0, "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}})
assert smr.invoke_endpoint(EndpointName="keep", ContentType="text/csv", Body=b"5.1,3.5,1.4,0.2\n")["Body"].read() == b"setosa\n"
sm.delete_model(ModelName="gone")
streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/Endpoints/keep")["logStreams"]
assert len(streams) == 2, streams
`, "IMG="+img, "ARCHIVE="+archive)

	srv.stop(t)
	srv2 := startServer(t, state)
	python(t, srv2.URL, prelude+`
aas = boto3.client("application-autoscaling", endpoint_url=url)
logs = boto3.client("logs", endpoint_url=url)
d = wait(lambda: sm.describe_endpoint(EndpointName="keep"), "EndpointStatus", ("InService", "Failed"))
assert d["EndpointStatus"] == "InService", d
assert d["ProductionVariants"][0]["CurrentInstanceCount"] == 2, d["ProductionVariants"]
assert smr.invoke_endpoint(EndpointName="keep", ContentType="text/csv", Body=b"6.3,3.3,6.0,2.5\n")["Body"].read() == b"virginica\n"
d = wait(lambda: sm.describe_endpoint(EndpointName="lost"), "EndpointStatus", ("InService", "Failed"))
assert d["EndpointStatus"] == "Failed" and "gone" in d["FailureReason"], d
ts = aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in ts] == [("endpoint/keep/variant/v", 1, 4)], ts
ps = aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId="endpoint/keep/variant/v")["ScalingPolicies"]
assert [p["PolicyName"] for p in ps] == ["track"], ps
streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/Endpoints/keep")["logStreams"]
# The first server's two instances, and the second's two.
assert len(streams) == 4, streams
for s in streams:
    evs = logs.get_log_events(logGroupName="/aws/sagemaker/Endpoints/keep", logStreamName=s["logStreamName"], startFromHead=True)["events"]
    assert evs, "stream %s has no events" % s["logStreamName"]
sm.delete_endpoint(EndpointName="keep")
sm.delete_endpoint(EndpointName="lost")
`)
}
