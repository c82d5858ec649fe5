package local_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/platform"
)

// packGreeting writes prefix/key, a model.tar.gz holding greeting.txt.
func packGreeting(t *testing.T, prefix, key, greeting string) {
	t.Helper()
	dir := writeFiles(t, t.TempDir(), map[string][]byte{"greeting.txt": []byte(greeting)})
	archive := filepath.Join(prefix, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(archive), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := platform.PackDirs(archive, dir); err != nil {
		t.Fatal(err)
	}
}

// TestMultiModelEndpoint serves, with boto3, a Mode MultiModel model of
// two instances built on sagekit's serving stack: TargetModel picks the
// model under ModelDataUrl, each instance loads a model the first time a
// request for it comes (POST /models), and the errors are SageMaker's.
func TestMultiModelEndpoint(t *testing.T) {
	requireTools(t)
	dc := testenv.Docker(t)
	img := programImage(t, dc, "./local/testdata/mme")
	prefix := t.TempDir()
	packGreeting(t, prefix, "a.tar.gz", "hello from a")
	packGreeting(t, prefix, "team/b.tar.gz", "hello from b")
	srv := startServer(t, t.TempDir())
	python(t, srv.URL, prelude+`
role = "arn:aws:iam::000000000000:role/local"
c, m = code(lambda: sm.create_model(ModelName="mm", ExecutionRoleArn=role, PrimaryContainer={"Image": os.environ["IMG"], "Mode": "MultiModel"}))
assert c == "ValidationException" and "ModelDataUrl" in m, (c, m)
sm.create_model(ModelName="mm", ExecutionRoleArn=role, PrimaryContainer={"Image": os.environ["IMG"], "Mode": "MultiModel", "ModelDataUrl": "file://" + os.environ["PREFIX"] + "/"})
sm.create_endpoint_config(EndpointConfigName="mm", ProductionVariants=[{"VariantName": "v", "ModelName": "mm", "InitialInstanceCount": 2, "InstanceType": "ml.m5.large"}])
sm.create_endpoint(EndpointName="mm", EndpointConfigName="mm")
d = wait(lambda: sm.describe_endpoint(EndpointName="mm"), "EndpointStatus", ("InService", "Failed"))
assert d["EndpointStatus"] == "InService", d
def invoke(target, body=b"x"):
    r = smr.invoke_endpoint(EndpointName="mm", ContentType="text/plain", Body=body, TargetModel=target)
    return r["Body"].read().decode().split("|")
hosts = {}
for target, want in (("a.tar.gz", "hello from a"), ("team/b.tar.gz", "hello from b")):
    for i in range(5):
        g, body, host = invoke(target, b"req %d" % i)
        assert (g, body) == (want, "req %d" % i), (target, g, body)
        hosts.setdefault(target, set()).add(host)
assert all(len(h) == 2 for h in hosts.values()), hosts
c, m = code(lambda: smr.invoke_endpoint(EndpointName="mm", ContentType="text/plain", Body=b"x"))
assert c == "ValidationError" and "TargetModel" in m, (c, m)
c, m = code(lambda: invoke("nope.tar.gz"))
assert c == "ValidationError" and "nope.tar.gz" in m, (c, m)
c, m = code(lambda: invoke("../a.tar.gz"))
assert c == "ValidationError" and "relative path" in m, (c, m)
sm.delete_endpoint(EndpointName="mm")
`, "IMG="+img, "PREFIX="+prefix)
}
