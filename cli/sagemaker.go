package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/sagekit/sagekit/image/ecr"
	"github.com/sagekit/sagekit/image/push"
	"github.com/sagekit/sagekit/remote"
)

// What the commands that talk to SageMaker share: where to reach it, and
// how a run chooses between the local engine and SageMaker.

// awsIdentity is --region and --profile: the AWS credentials and region a
// command uses. Every command that reaches AWS (SageMaker, ECR) or checks
// its setup (doctor) registers this one set.
type awsIdentity struct {
	region, profile string
}

func (a *awsIdentity) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&a.region, "region", "", "AWS region (default: AWS_REGION or the profile's)")
	f.StringVar(&a.profile, "profile", "", "AWS profile (default: AWS_PROFILE or default)")
}

// awsFlags say which AWS identity, region and SageMaker API endpoint to
// use.
type awsFlags struct {
	awsIdentity
	endpointURL string
}

func (a *awsFlags) flags(cmd *cobra.Command) {
	a.awsIdentity.register(cmd)
	f := cmd.Flags()
	f.StringVar(&a.endpointURL, "endpoint-url", "", "send SageMaker, runtime, CloudWatch Logs and S3 calls to this server, e.g. 'sagekit local' or an emulator (default: AWS_ENDPOINT_URL*, else AWS)")
}

func (a awsFlags) client(ctx context.Context) (*remote.Client, error) {
	cfg, err := remote.LoadConfig(ctx, remote.Config{Profile: a.profile, Region: a.region, EndpointURL: a.endpointURL})
	if err != nil {
		return nil, err
	}
	return remote.New(cfg, remote.WithEndpointURL(a.endpointURL)), nil
}

// remoteRunOptions are the flags every run command has for SageMaker.
type remoteRunOptions struct {
	aws          awsFlags
	instanceType string
	role         string
	name         string
	ecrRepo      string
	wait, detach bool
}

// instanceLocal is the instance type of runs on the local engine.
const instanceLocal = "local"

func (r *remoteRunOptions) flags(cmd *cobra.Command) {
	r.aws.flags(cmd)
	f := cmd.Flags()
	f.StringVar(&r.instanceType, "instance-type", instanceLocal, "where to run: local (the Docker Engine) or an ml.* instance type on SageMaker, e.g. ml.m5.large")
	f.StringVar(&r.role, "role", "", "SageMaker: ARN of the execution role the job or model runs with")
	f.StringVar(&r.name, "name", "", "SageMaker: name of the job or endpoint (default: the image's name and the time)")
	f.StringVar(&r.ecrRepo, "ecr", "", "SageMaker: ECR repository REPO[:TAG] a local image is pushed to first (default: the image's own name and tag)")
	f.BoolVar(&r.wait, "wait", true, "SageMaker: follow the job or endpoint until it is done, with its logs")
	f.BoolVar(&r.detach, "detach", false, "SageMaker: return once it is created, printing how to follow it")
}

// remoteOnly are the flags that mean nothing to a local run.
var remoteOnly = []string{"role", "name", "ecr", "wait", "detach", "region", "profile", "endpoint-url",
	"spot", "max-wait", "checkpoints", "metric", "volume-size", "vpc", "download"}

// onSageMaker reports whether the run goes to SageMaker; a local run with
// flags only SageMaker uses is an error.
func (r *remoteRunOptions) onSageMaker(cmd *cobra.Command) (bool, error) {
	switch {
	case strings.HasPrefix(r.instanceType, "ml."):
		if cmd.Flags().Changed("wait") && cmd.Flags().Changed("detach") && r.wait && r.detach {
			return true, errors.New("give --wait or --detach, not both")
		}
		if r.detach {
			r.wait = false
		}
		if f := cmd.Flags().Lookup("gpu"); f != nil && f.Changed {
			return true, errors.New("--gpu is for local runs: on SageMaker the instance type brings the GPUs (ml.g5.xlarge, ml.p4d.24xlarge...)")
		}
		return true, nil
	case r.instanceType != instanceLocal:
		return false, fmt.Errorf("--instance-type %s: use local, or an ml.* instance type such as ml.m5.large", r.instanceType)
	}
	if cmd.Flags().Lookup("hosts") == nil && cmd.Flags().Changed("instance-count") {
		return false, errors.New("--instance-count applies to SageMaker runs: add --instance-type ml.… (for example ml.m5.large)")
	}
	for _, n := range remoteOnly {
		if n == "name" && cmd.Flags().Changed("config") {
			continue // run endpoint --config names its local endpoint too
		}
		if f := cmd.Flags().Lookup(n); f != nil && f.Changed {
			return false, fmt.Errorf("--%s applies to SageMaker runs: add --instance-type ml.… (for example ml.m5.large)", n)
		}
	}
	return false, nil
}

// sageMakerImage returns the image URI SageMaker is given. Against AWS, an
// image that is not in ECR is pushed there from the local engine first,
// with the push code 'sagekit push' uses; another API endpoint gets the
// image as it is (it may run local images, as 'sagekit local' does).
// remotePushDeps are the engine and registry connections a SageMaker run
// pushes a local image with: 'sagekit push's own (tests point the registry
// at a loopback one).
var remotePushDeps = defaultPushDeps

func sageMakerImage(ctx context.Context, stderr io.Writer, c *remote.Client, image string, r remoteRunOptions) (string, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", image, err)
	}
	if reg, ok := ecr.ParseHost(ref.Context().RegistryStr()); ok {
		if t, isTag := ref.(name.Tag); isTag {
			// Say now what SageMaker would say minutes later. A failed
			// look-up (no ecr:DescribeImages permission) is no verdict.
			_, found, err := ecr.ForRegistry(c.Config(), reg).TagDigest(ctx, reg.Account, t.RepositoryStr(), t.TagStr())
			var ee *ecr.Error
			if (err == nil && !found) || (errors.As(err, &ee) && ee.Code == "RepositoryNotFoundException") {
				return "", fmt.Errorf("%s is not in Amazon ECR: push it with 'sagekit push LOCAL-IMAGE %s', or give a local image and sagekit pushes it", image, image)
			}
		}
		return image, nil
	}
	if c.Custom() && r.ecrRepo == "" {
		return image, nil
	}
	repo := r.ecrRepo
	if repo == "" {
		repo = strings.TrimPrefix(ref.Context().RepositoryStr(), "library/")
		if t, ok := ref.(name.Tag); ok {
			repo += ":" + t.TagStr()
		}
	}
	deps := remotePushDeps()
	source, err := push.Open(ctx, image, deps.docker)
	if err != nil {
		return "", fmt.Errorf("%s is not in Amazon ECR, and pushing it there needs it in the local engine: %w; or push it yourself with 'sagekit push IMAGE --ecr REPO:TAG' and pass the image URI it prints", image, err)
	}
	defer source.Close()
	f := registryFlags{ecrRepo: repo, awsIdentity: awsIdentity{region: c.Region(), profile: r.aws.profile}, jobs: 4}
	dst, opts, err := pushTarget(ctx, stderr, "", f, deps)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(stderr, "%s is local: pushing it to ECR as %s\n", image, dst)
	rd := &renderer{w: stderr, mode: "plain"}
	res, err := source.Push(ctx, dst, append(opts, push.WithProgress(rd.event))...)
	rd.finish()
	if err != nil {
		return "", err
	}
	return res.DigestURI(), nil
}

// progressPrinter renders a waiter's status changes on stderr.
func progressPrinter(w io.Writer) func(remote.Progress) {
	return func(p remote.Progress) {
		// A training job's SecondaryStatus says more than its status.
		line := p.Time.Local().Format("15:04:05") + " " + p.Status
		if p.Secondary != "" {
			line = p.Time.Local().Format("15:04:05") + " " + p.Secondary
		}
		if p.Message != "" {
			line += ": " + p.Message
		}
		fmt.Fprintln(w, line)
	}
}

// logError says why the logs are not shown while a wait goes on.
func logError(w io.Writer) func(error) {
	return func(err error) { fmt.Fprintf(w, "not showing the logs: %v\n", err) }
}

// interactive reports whether r is a terminal a person can answer on.
func interactive(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// onInterrupt is what Ctrl-C during a wait does: on a terminal it asks
// whether to stop the job or detach from it; otherwise it detaches and
// prints how to stop it. stop is nil for what cannot be stopped
// (endpoints): then it detaches.
func onInterrupt(ask bool, in io.Reader, stderr io.Writer, what, name string, stop func(context.Context) error) error {
	fmt.Fprintln(stderr)
	if ask && stop != nil {
		fmt.Fprintf(stderr, "%s %s is still running on SageMaker: [s]top it or [d]etach? ", what, name)
		answer, _ := bufio.NewReader(in).ReadString('\n')
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(answer)), "s") {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := stop(ctx); err != nil {
				return err
			}
			return &ExitError{Code: 130, Err: fmt.Errorf("stopping %s %s; 'sagekit logs %s --follow' shows the rest", what, name, name)}
		}
	}
	how := "'sagekit stop " + name + "' stops it"
	if stop == nil {
		how = "'sagekit delete " + name + "' deletes it"
	}
	return &ExitError{Code: 130, Err: fmt.Errorf("detached; %s %s keeps running: 'sagekit logs %s --follow' follows it, %s", what, name, name, how)}
}

// detached prints what to do with a job or endpoint created with --detach.
func detached(stdout, stderr io.Writer, what, name string, stoppable bool) {
	fmt.Fprintf(stdout, "%s\n", name)
	how := "sagekit stop " + name
	if !stoppable {
		how = "sagekit delete " + name
	}
	fmt.Fprintf(stderr, "%s %s created; follow it with 'sagekit logs %s --follow', see it in 'sagekit ls', end it with '%s'\n", what, name, name, how)
}
