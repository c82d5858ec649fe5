package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/spf13/cobra"

	"github.com/sagekit/sagekit/remote"
	"github.com/sagekit/sagekit/remote/spec"
)

// The run commands on SageMaker: chosen by an ml.* --instance-type.

// remoteTrainOptions are the flags of run train only SageMaker uses.
type remoteTrainOptions struct {
	remoteRunOptions
	spot        bool
	maxWait     time.Duration
	checkpoints string
	metrics     []string
	volumeSize  int
	vpc         string
	download    string
}

func (o *runTrainOptions) sageMakerFlags(cmd *cobra.Command) {
	o.remote.flags(cmd)
	f := cmd.Flags()
	f.IntVar(&o.hosts, "instance-count", 1, "instance count (same as --hosts)")
	f.DurationVar(&o.maxRuntime, "max-run", 0, "same as --max-runtime (SageMaker default: 24h)")
	f.BoolVar(&o.remote.spot, "spot", false, "SageMaker: managed spot training")
	f.DurationVar(&o.remote.maxWait, "max-wait", 0, "SageMaker: with --spot, the most time waiting for spot capacity plus running (default: twice --max-run)")
	f.StringVar(&o.remote.checkpoints, "checkpoints", "", "SageMaker: S3 prefix /opt/ml/checkpoints is synced with")
	f.StringArrayVar(&o.remote.metrics, "metric", nil, "SageMaker: metric NAME=REGEX scraped from the logs (repeatable)")
	f.IntVar(&o.remote.volumeSize, "volume-size", remote.DefaultVolumeSizeGB, "SageMaker: storage volume of each instance, GB")
	f.StringVar(&o.remote.vpc, "vpc", "", "SageMaker: subnets and security groups, comma-separated IDs, e.g. subnet-0abc,sg-0def")
	f.StringVar(&o.remote.download, "download", "", "SageMaker: download model.tar.gz into this directory when the job completes")
}

// dispatchTrain runs a train on SageMaker when --instance-type says so;
// handled is false for a local run.
func dispatchTrain(cmd *cobra.Command, o runTrainOptions) (handled bool, err error) {
	on, err := o.remote.onSageMaker(cmd)
	if err != nil || !on {
		return err != nil, badFlags(cmd, err)
	}
	return true, runTrainRemote(cmd, o)
}

func (o runTrainOptions) trainingJob(cmd *cobra.Command, localFiles bool) (remote.TrainingJob, error) {
	env, err := parseEnv(o.env)
	if err != nil {
		return remote.TrainingJob{}, err
	}
	tags, err := parseLabels(o.labels)
	if err != nil {
		return remote.TrainingJob{}, err
	}
	hp := map[string]string{}
	if o.hyperparameterFile != "" {
		h, err := readHyperparameters(o.hyperparameterFile)
		if err != nil {
			return remote.TrainingJob{}, err
		}
		for k, v := range h {
			hp[k] = v
		}
	}
	if err := parseKV("--hyperparameter", o.hyperparameters, hp); err != nil {
		return remote.TrainingJob{}, err
	}
	if len(hp) == 0 {
		hp = nil
	}
	if !cmd.Flags().Changed("output") && !localFiles {
		return remote.TrainingJob{}, errors.New("--output s3://BUCKET/PREFIX is required on SageMaker: the model lands in OUTPUT/JOB/output/model.tar.gz")
	}
	output, err := dataURI("--output", o.output, localFiles)
	if err != nil {
		return remote.TrainingJob{}, err
	}
	j := remote.TrainingJob{
		Name: o.remote.name, Image: o.image, Role: o.remote.role,
		InstanceType: o.remote.instanceType, InstanceCount: o.hosts, VolumeSizeGB: o.remote.volumeSize,
		Output: output, Hyperparameters: hp, Env: env, LocalFiles: localFiles,
		Spot: o.remote.spot, MaxWait: o.remote.maxWait, MaxRun: o.maxRuntime,
		Checkpoints: o.remote.checkpoints, NetworkIsolation: o.networkIsolation, Tags: tags,
	}
	if j.Name == "" {
		j.Name = remote.JobName(o.image, time.Now())
	}
	for _, d := range o.data {
		ch, uri, ok := strings.Cut(d, "=")
		if !ok || ch == "" {
			return j, fmt.Errorf("--data %q: want CHANNEL=s3://BUCKET/PREFIX", d)
		}
		if !strings.HasPrefix(uri, "s3://") && !localFiles {
			return j, fmt.Errorf("--data %s: SageMaker reads channels from S3: upload with 'aws s3 sync %s s3://BUCKET/PREFIX' and pass %s=s3://BUCKET/PREFIX", d, uri, ch)
		}
		if uri, err = dataURI("--data "+ch, uri, localFiles); err != nil {
			return j, err
		}
		j.Channels = append(j.Channels, remote.Channel{Name: ch, S3URI: uri})
	}
	for _, m := range o.remote.metrics {
		n, re, ok := strings.Cut(m, "=")
		if !ok {
			return j, fmt.Errorf("--metric %q: want NAME=REGEX, for example 'loss=loss: ([0-9.]+)'", m)
		}
		j.Metrics = append(j.Metrics, remote.Metric{Name: n, Regex: re})
	}
	if o.remote.vpc != "" {
		if j.VPC, err = remote.ParseVPC(o.remote.vpc); err != nil {
			return j, err
		}
	}
	if j.Checkpoints != "" {
		if j.Checkpoints, err = dataURI("--checkpoints", j.Checkpoints, localFiles); err != nil {
			return j, err
		}
	}
	return j, nil
}

// dataURI returns v, an s3:// or file:/// URI, as it is; with localFiles
// (a server that reads this machine's files, such as 'sagekit local') a
// path becomes a file:/// URI.
func dataURI(flag, v string, localFiles bool) (string, error) {
	if v == "" || !localFiles || strings.HasPrefix(v, "s3://") || strings.HasPrefix(v, "file://") {
		return v, nil
	}
	abs, err := filepath.Abs(v)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", flag, v, err)
	}
	return "file://" + filepath.ToSlash(abs), nil
}

func runTrainRemote(cmd *cobra.Command, o runTrainOptions) error {
	ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	c, err := o.remote.aws.client(ctx)
	if err != nil {
		return err
	}
	job, err := o.trainingJob(cmd, c.Custom())
	if err != nil {
		return badFlags(cmd, err)
	}
	if _, err := job.Input(); err != nil { // every problem before anything is pushed
		return badFlags(cmd, err)
	}
	if job.Image, err = sageMakerImage(ctx, stderr, c, o.image, o.remote.remoteRunOptions); err != nil {
		return err
	}
	if _, err := c.CreateTrainingJob(ctx, job); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "training job %s created: %s × %s in %s\n", job.Name, plural(job.InstanceCount, "instance"), job.InstanceType, c.Region())
	if !o.remote.wait {
		detached(stdout, stderr, "training job", job.Name, true)
		return nil
	}
	d, err := c.WaitTrainingJob(ctx, job.Name, remote.WaitOptions{Logs: stdout, OnProgress: progressPrinter(stderr), OnLogError: logError(stderr)})
	if err != nil {
		if ctx.Err() != nil {
			return onInterrupt(interactive(cmd.InOrStdin()), cmd.InOrStdin(), stderr, "training job", job.Name, func(ctx context.Context) error {
				return c.StopTrainingJob(ctx, job.Name)
			})
		}
		return err
	}
	for _, m := range d.FinalMetricDataList {
		fmt.Fprintf(stderr, "metric %s = %g\n", aws.ToString(m.MetricName), aws.ToFloat32(m.Value))
	}
	if d.BillableTimeInSeconds != nil {
		fmt.Fprintln(stderr, billing(aws.ToInt32(d.BillableTimeInSeconds), aws.ToInt32(d.TrainingTimeInSeconds), job.Spot))
	}
	if d.TrainingJobStatus != types.TrainingJobStatusCompleted {
		return &ExitError{Code: 1, Err: fmt.Errorf("training job %s %s%s", job.Name, strings.ToLower(string(d.TrainingJobStatus)), reason(d.FailureReason))}
	}
	model := ""
	if d.ModelArtifacts != nil {
		model = aws.ToString(d.ModelArtifacts.S3ModelArtifacts)
	}
	fmt.Fprintf(stderr, "training job %s completed: %s\n", job.Name, model)
	if o.remote.download != "" && model != "" {
		path, err := c.Download(ctx, model, o.remote.download)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "downloaded %s\n", path)
	}
	return nil
}

// reason is ": " and SageMaker's FailureReason, or nothing.
func reason(r *string) string {
	if aws.ToString(r) == "" {
		return ""
	}
	return ": " + aws.ToString(r)
}

// --- run endpoint ---

type remoteEndpointOptions struct {
	remoteRunOptions
	config        string
	instanceCount int
}

func (o *runEndpointOptions) sageMakerFlags(cmd *cobra.Command) {
	o.remote.flags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.remote.config, "config", "", "endpoint.yaml with production variants, shadow variants, pipelines, multi-model mode (docs/sagemaker.md); locally: variants and pipelines")
	f.IntVar(&o.remote.instanceCount, "instance-count", 1, "SageMaker: instances of the endpoint's one variant (endpoint.yaml sets them per variant)")
}

// dispatchEndpoint runs an endpoint on SageMaker when --instance-type
// says so.
func dispatchEndpoint(cmd *cobra.Command, o runEndpointOptions) (handled bool, err error) {
	on, err := o.remote.onSageMaker(cmd)
	if err != nil || !on {
		return err != nil, badFlags(cmd, err)
	}
	return true, runEndpointRemote(cmd, o)
}

func runEndpointRemote(cmd *cobra.Command, o runEndpointOptions) error {
	ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	env, err := parseEnv(o.env)
	if err != nil {
		return err
	}
	tags, err := parseLabels(o.labels)
	if err != nil {
		return err
	}
	s := spec.Single()
	s.Variants[0].InstanceCount = o.remote.instanceCount
	if o.remote.config != "" {
		if s, err = spec.Load(o.remote.config); err != nil {
			return err
		}
	}
	name := o.remote.name
	if name == "" {
		name = s.Name
	}
	if name == "" {
		name = remote.JobName(o.image, time.Now())
	}
	c, err := o.remote.aws.client(ctx)
	if err != nil {
		return err
	}
	model, err := dataURI("--model", o.model, c.Custom())
	if err != nil {
		return err
	}
	// Check everything before an image is pushed, then again with the
	// pushed images' URIs.
	d := spec.Defaults{Image: o.image, Model: model, InstanceType: o.remote.instanceType, Env: env}
	resolved, err := s.Resolve(d)
	if err != nil {
		return err
	}
	ep := remote.Endpoint{Name: name, Role: o.remote.role, Spec: resolved, Tags: tags, LocalFiles: c.Custom()}
	if _, err := ep.Plan(); err != nil {
		return badFlags(cmd, err)
	}
	images := map[string]string{}
	uri := func(img string) (string, error) {
		if u, ok := images[img]; ok {
			return u, nil
		}
		r := o.remote.remoteRunOptions
		if img != o.image {
			r.ecrRepo = ""
		}
		u, err := sageMakerImage(ctx, stderr, c, img, r)
		images[img] = u
		return u, err
	}
	for _, vs := range [][]spec.Variant{resolved.Variants, resolved.Shadow} {
		for i := range vs {
			if vs[i].Image != "" {
				if vs[i].Image, err = uri(vs[i].Image); err != nil {
					return err
				}
			}
			for k := range vs[i].Containers {
				if vs[i].Containers[k].Image, err = uri(vs[i].Containers[k].Image); err != nil {
					return err
				}
			}
		}
	}
	plan, err := ep.Plan()
	if err != nil {
		return err
	}
	if err := c.CreateEndpoint(ctx, plan); err != nil {
		return err
	}
	var vs []string
	for _, v := range plan.Config.ProductionVariants {
		vs = append(vs, fmt.Sprintf("%s (%d × %s, weight %g)", aws.ToString(v.VariantName), aws.ToInt32(v.InitialInstanceCount), v.InstanceType, aws.ToFloat32(v.InitialVariantWeight)))
	}
	for _, v := range plan.Config.ShadowProductionVariants {
		vs = append(vs, fmt.Sprintf("shadow %s (%d × %s)", aws.ToString(v.VariantName), aws.ToInt32(v.InitialInstanceCount), v.InstanceType))
	}
	fmt.Fprintf(stderr, "endpoint %s created in %s: %s\n", name, c.Region(), strings.Join(vs, ", "))
	if !o.remote.wait {
		detached(stdout, stderr, "endpoint", name, false)
		return nil
	}
	if _, err := c.WaitEndpoint(ctx, name, remote.WaitOptions{OnProgress: progressPrinter(stderr)}); err != nil {
		if ctx.Err() != nil {
			return onInterrupt(false, nil, stderr, "endpoint", name, nil)
		}
		return &ExitError{Code: 1, Err: err}
	}
	fmt.Fprintln(stdout, name)
	fmt.Fprintf(stderr, "endpoint %s is InService: sagekit invoke %s --body payload.csv --content-type text/csv; 'sagekit delete %s' removes it (it is billed while it runs)\n", name, name, name)
	return nil
}

// --- run transform ---

type remoteTransformOptions struct {
	remoteRunOptions
	instanceCount int
}

func (o *runTransformOptions) sageMakerFlags(cmd *cobra.Command) {
	o.remote.flags(cmd)
	cmd.Flags().IntVar(&o.remote.instanceCount, "instance-count", 1, "SageMaker: instances the input is spread over")
}

// dispatchTransform runs a transform on SageMaker when --instance-type
// says so.
func dispatchTransform(cmd *cobra.Command, o runTransformOptions) (handled bool, err error) {
	on, err := o.remote.onSageMaker(cmd)
	if err != nil || !on {
		return err != nil, badFlags(cmd, err)
	}
	return true, runTransformRemote(cmd, o)
}

func runTransformRemote(cmd *cobra.Command, o runTransformOptions) error {
	ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	env, err := parseEnv(o.env)
	if err != nil {
		return err
	}
	tags, err := parseLabels(o.labels)
	if err != nil {
		return err
	}
	j := remote.TransformJob{
		Name: o.remote.name, Image: o.image, Role: o.remote.role,
		Model: o.model, Input: o.input, Output: o.output,
		InstanceType: o.remote.instanceType, InstanceCount: o.remote.instanceCount,
		ContentType: o.contentType, Accept: o.accept,
		SplitType: o.splitType, AssembleWith: o.assembleWith, BatchStrategy: o.strategy,
		MaxPayloadMB: o.maxPayloadMB, MaxConcurrent: o.maxConcurrent,
		Env: env, Tags: tags,
	}
	if cmd.Flags().Changed("invocation-timeout") {
		j.InvocationTimeout = o.invocationTimeout
	}
	if cmd.Flags().Changed("max-retries") {
		j.MaxRetries = &o.maxRetries
	}
	if j.Name == "" {
		j.Name = remote.JobName(o.image, time.Now())
	}
	c, err := o.remote.aws.client(ctx)
	if err != nil {
		return err
	}
	j.LocalFiles = c.Custom()
	for _, u := range []struct {
		flag string
		v    *string
	}{{"--model", &j.Model}, {"--input", &j.Input}, {"--output", &j.Output}} {
		if *u.v, err = dataURI(u.flag, *u.v, j.LocalFiles); err != nil {
			return err
		}
	}
	if _, _, err := j.Inputs(); err != nil {
		return badFlags(cmd, err)
	}
	if j.Image, err = sageMakerImage(ctx, stderr, c, o.image, o.remote.remoteRunOptions); err != nil {
		return err
	}
	if err := c.CreateTransformJob(ctx, j); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "transform job %s created: %s → %s on %s × %s\n", j.Name, j.Input, j.Output, plural(max(j.InstanceCount, 1), "instance"), j.InstanceType)
	if !o.remote.wait {
		detached(stdout, stderr, "transform job", j.Name, true)
		return nil
	}
	d, err := c.WaitTransformJob(ctx, j.Name, remote.WaitOptions{Logs: stdout, OnProgress: progressPrinter(stderr), OnLogError: logError(stderr)})
	if err != nil {
		if ctx.Err() != nil {
			return onInterrupt(interactive(cmd.InOrStdin()), cmd.InOrStdin(), stderr, "transform job", j.Name, func(ctx context.Context) error {
				return c.StopTransformJob(ctx, j.Name)
			})
		}
		return err
	}
	if d.TransformJobStatus != types.TransformJobStatusCompleted {
		return &ExitError{Code: 1, Err: fmt.Errorf("transform job %s %s%s", j.Name, strings.ToLower(string(d.TransformJobStatus)), reason(d.FailureReason))}
	}
	fmt.Fprintf(stderr, "transform job %s completed: %s\n", j.Name, j.Output)
	return nil
}

// billing is the line on a finished training job's billable time, with
// what managed spot training saved.
func billing(billable, trained int32, spot bool) string {
	line := fmt.Sprintf("billable seconds: %d (training seconds: %d", billable, trained)
	if spot && trained > 0 {
		line += fmt.Sprintf(", managed spot savings %.0f%%", 100*(1-float64(billable)/float64(trained)))
	}
	return line + ")"
}
