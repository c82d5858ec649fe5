package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/image/ecr/ecrtest"
	"github.com/sagekit/sagekit/internal/testenv"
)

// TestRunTrainPushesLocalImageMoto: a SageMaker run of an image that is
// only in the local engine pushes it to ECR first, with 'sagekit push's
// code, and the job names the pushed digest. SageMaker is moto's server;
// ECR's API and STS are ecrtest; the account's registry host is a
// loopback registry that takes only the token ECR handed out.
func TestRunTrainPushesLocalImageMoto(t *testing.T) {
	dc := testenv.Docker(t)
	moto := testenv.NewMoto(t)
	api := ecrtest.New(t)
	reg := ecrtest.NewRegistry(t, ecrtest.Username, ecrtest.Password)
	// moto takes any keys; ecrtest only its own.
	t.Setenv("AWS_ACCESS_KEY_ID", ecrtest.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", ecrtest.SecretAccessKey)
	t.Setenv("AWS_ENDPOINT_URL_ECR", api.URL)
	t.Setenv("AWS_ENDPOINT_URL_STS", api.URL)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	old := remotePushDeps
	remotePushDeps = func() pushDeps {
		d := old()
		d.transport = reg.Transport(ecrtest.ECRHost, nil)
		return d
	}
	t.Cleanup(func() { remotePushDeps = old })

	img, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ref := fmt.Sprintf("sagekit-test/remote-push:%d", time.Now().UnixNano())
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := daemon.Write(tag, img, daemon.WithClient(dc), daemon.WithContext(t.Context())); err != nil {
		t.Fatalf("loading %s: %v", ref, err)
	}
	t.Cleanup(func() {
		if _, err := dc.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
			t.Errorf("removing %s: %v", ref, err)
		}
	})

	const job = "pushed-local-image"
	code, stdout, stderr := execSageMaker(t.Context(), "", "run", "train", ref, "--instance-type", "ml.m5.large",
		"--role", testRole, "--name", job, "--output", "s3://bkt/out", "--ecr", "algo:pushed",
		"--endpoint-url", moto.URL, "--detach")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if want := ref + " is local: pushing it to ECR as " + ecrtest.ECRHost + "/algo:pushed"; !strings.Contains(stderr, want) {
		t.Errorf("stderr does not say %q:\n%s", want, stderr)
	}
	if _, ok := api.Repository("algo"); !ok {
		t.Errorf("ECR repository algo was not created; calls: %v", api.Calls())
	}
	if reg.Uploads() == 0 {
		t.Error("no blob reached the registry")
	}
	assertNoSecrets(t, stdout+stderr, ecrtest.Password, ecrtest.Token, ecrtest.SecretAccessKey)

	var image string
	moto.Boto3(t, `emit(sm.describe_training_job(TrainingJobName=sys.argv[1])["AlgorithmSpecification"]["TrainingImage"])`, &image, job)
	if want := ecrtest.ECRHost + "/algo@" + digest.String(); image != want {
		t.Errorf("TrainingImage = %q, want the pushed digest %q", image, want)
	}
}
