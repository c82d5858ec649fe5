package evaluate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"

	"github.com/sagekit/sagekit/evaluate/split"
	"github.com/sagekit/sagekit/remote"
)

// SageMakerOptions say how SageMaker runs the folds.
type SageMakerOptions struct {
	// Role is the execution role's ARN (required).
	Role string
	// InstanceType is every job's instance type, ml.*.
	InstanceType string
	// Prefix is the S3 prefix, s3://BUCKET/PREFIX, that each fold's data,
	// model and predictions go under (PREFIX/JOB/...). Empty with a
	// client of another server than AWS ('sagekit local'): the work
	// directories on this machine, as file:/// URIs.
	Prefix string
	// Image, when set, is the image SageMaker runs for a local one (pushed
	// to ECR); default: the image as it is.
	Image func(ctx context.Context, image string) (string, error)
	// Poll is how often a job's status is read (default remote.DefaultPoll).
	Poll time.Duration
	// StopWait bounds the wait for stopped jobs to end after an interrupt
	// (default 1 minute); they keep stopping after it.
	StopWait time.Duration
}

// SageMaker returns the Runner that runs each fold as a SageMaker training
// job, then a batch transform job (with its model, deleted after it) of
// the held-out and training rows, through c; the outputs are downloaded
// and scored as the local ones. When the context ends it stops the jobs
// it started.
func SageMaker(c *remote.Client, o SageMakerOptions) Runner {
	if o.StopWait == 0 {
		o.StopWait = time.Minute
	}
	return &sageMaker{c: c, o: o, start: time.Now(), images: map[string]string{}}
}

type sageMaker struct {
	c      *remote.Client
	o      SageMakerOptions
	start  time.Time
	images map[string]string // local name → what SageMaker runs; set by Check
}

var _ Runner = (*sageMaker)(nil)

// localFiles reports whether the jobs read and write file:/// URIs.
func (s *sageMaker) localFiles() bool { return s.o.Prefix == "" && s.c.Custom() }

// Check checks o with remote's own checks (role, instance type, URIs),
// custom saying whether the client talks to another server than AWS.
func (o SageMakerOptions) Check(custom bool) error {
	if !strings.HasPrefix(o.InstanceType, "ml.") {
		return fmt.Errorf("instance type %q: want an ml.* instance type such as ml.m5.large", o.InstanceType)
	}
	if o.Prefix != "" && (!strings.HasPrefix(o.Prefix, "s3://") || len(o.Prefix) <= len("s3://")) {
		return fmt.Errorf("--s3-prefix %q: want an S3 URI, s3://BUCKET/PREFIX", o.Prefix)
	}
	if o.Prefix == "" && !custom {
		return errors.New("--s3-prefix s3://BUCKET/PREFIX is required on SageMaker: each fold's data, model and predictions go under it")
	}
	base, local := "file:///check", o.Prefix == ""
	if !local {
		base = strings.TrimRight(o.Prefix, "/")
	}
	tj := remote.TrainingJob{
		Name: "check", Image: "check", Role: o.Role, InstanceType: o.InstanceType, InstanceCount: 1,
		Output: base, Channels: []remote.Channel{{Name: "training", S3URI: base}}, LocalFiles: local,
	}
	if _, err := tj.Input(); err != nil {
		return err // the transform job's problems are among these
	}
	xj := remote.TransformJob{Name: "check", Image: "check", Role: o.Role, Model: base, Input: base, Output: base,
		InstanceType: o.InstanceType, LocalFiles: local}
	_, _, err := xj.Inputs()
	return err
}

// Check checks the settings, then resolves the images.
func (s *sageMaker) Check(ctx context.Context, images []string) error {
	if err := s.o.Check(s.c.Custom()); err != nil {
		return err
	}
	for _, image := range images {
		uri := image
		if s.o.Image != nil {
			var err error
			if uri, err = s.o.Image(ctx, image); err != nil {
				return err
			}
		}
		s.images[image] = uri
	}
	return nil
}

// Parallel is asked, or every job at once: SageMaker's quotas, not this
// machine, are the limit.
func (s *sageMaker) Parallel(ctx context.Context, asked, jobs int) (int, string) {
	if asked > 0 {
		return min(asked, jobs), ""
	}
	return max(jobs, 1), ""
}

func (s *sageMaker) Fold(ctx context.Context, j FoldJob, transforming func()) error {
	name := remote.JobNameSuffix(j.Image, j.Name, s.start)
	image := s.images[j.Image]
	if image == "" {
		image = j.Image
	}
	// Where the data, the model and the predictions are.
	uri := func(dir, key string) string { return "file://" + filepath.ToSlash(dir) }
	if !s.localFiles() {
		base := strings.TrimRight(s.o.Prefix, "/") + "/" + name + "/"
		uri = func(_, key string) string { return base + key + "/" }
	}
	var channels []remote.Channel
	for _, ch := range slices.Sorted(maps.Keys(j.Channels)) {
		channels = append(channels, remote.Channel{Name: ch, S3URI: uri(j.Channels[ch], ch)})
	}
	input, output, model := uri(j.Input, "transform"), uri(j.Output, "output"), uri(filepath.Join(j.Dir, "model"), "model")
	if !s.localFiles() {
		for _, ch := range channels {
			if err := s.c.Upload(ctx, j.Channels[ch.Name], ch.S3URI); err != nil {
				return s.ended(ctx, fmt.Errorf("training: %w", err))
			}
		}
		if err := s.c.Upload(ctx, j.Input, input); err != nil {
			return s.ended(ctx, fmt.Errorf("batch transform: %w", err))
		}
	}
	hp, env := map[string]string(j.Hyperparameters), j.Env
	if len(hp) == 0 {
		hp = nil
	}
	if len(env) == 0 {
		env = nil
	}
	tj := remote.TrainingJob{
		Name: name, Image: image, Role: s.o.Role, InstanceType: s.o.InstanceType, InstanceCount: 1,
		Channels: channels, Output: strings.TrimSuffix(model, "/"), Hyperparameters: hp, Env: env, LocalFiles: s.localFiles(),
	}
	if _, err := s.c.CreateTrainingJob(ctx, tj); err != nil {
		if ctx.Err() != nil {
			// The job may have been created all the same.
			s.stop(ctx, name, s.c.StopTrainingJob, func(context.Context) error { return nil })
		}
		return s.ended(ctx, fmt.Errorf("training: %w", err))
	}
	d, err := s.c.WaitTrainingJob(ctx, name, remote.WaitOptions{Every: s.o.Poll})
	if err != nil {
		if ctx.Err() != nil {
			s.stop(ctx, name, s.c.StopTrainingJob, func(ctx context.Context) error {
				_, err := s.c.WaitTrainingJob(ctx, name, remote.WaitOptions{Every: s.o.Poll})
				return err
			})
			return ctx.Err()
		}
		return fmt.Errorf("training: %w", err)
	}
	if d.TrainingJobStatus != types.TrainingJobStatusCompleted || d.ModelArtifacts == nil {
		return fmt.Errorf("training failed: training job %s %s%s%s", name, strings.ToLower(string(d.TrainingJobStatus)), reason(d.FailureReason), s.logs(ctx, remote.TrainingLogs(name)))
	}
	transforming()
	xj := remote.TransformJob{
		Name: name, Image: image, Role: s.o.Role, Model: aws.ToString(d.ModelArtifacts.S3ModelArtifacts),
		Input: input, Output: strings.TrimSuffix(output, "/"), InstanceType: s.o.InstanceType, InstanceCount: 1,
		ContentType: j.ContentType, Accept: j.Accept, SplitType: "Line", AssembleWith: "Line",
		Env: env, LocalFiles: s.localFiles(),
	}
	if err := s.c.CreateTransformJob(ctx, xj); err != nil {
		if ctx.Err() != nil {
			s.stop(ctx, name, s.c.StopTransformJob, func(context.Context) error { return nil })
			s.c.DeleteModel(context.WithoutCancel(ctx), name)
		}
		return s.ended(ctx, fmt.Errorf("batch transform: %w", err))
	}
	defer s.c.DeleteModel(context.WithoutCancel(ctx), name)
	t, err := s.c.WaitTransformJob(ctx, name, remote.WaitOptions{Every: s.o.Poll})
	if err != nil {
		if ctx.Err() != nil {
			s.stop(ctx, name, s.c.StopTransformJob, func(ctx context.Context) error {
				_, err := s.c.WaitTransformJob(ctx, name, remote.WaitOptions{Every: s.o.Poll})
				return err
			})
			return ctx.Err()
		}
		return fmt.Errorf("batch transform: %w", err)
	}
	if t.TransformJobStatus != types.TransformJobStatusCompleted {
		return fmt.Errorf("batch transform: transform job %s %s%s%s", name, strings.ToLower(string(t.TransformJobStatus)), reason(t.FailureReason), s.logs(ctx, remote.TransformLogs(name)))
	}
	if !s.localFiles() {
		for _, f := range []string{split.TrainingInput, split.ValidationInput} {
			if _, err := s.c.Download(ctx, output+f+".out", j.Output); err != nil {
				return s.ended(ctx, fmt.Errorf("batch transform: %w", err))
			}
		}
	}
	return nil
}

// ended is ctx's error when ctx ended (the fold was interrupted, not
// failed), else err.
func (s *sageMaker) ended(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// stop stops the job name, whose wait ctx ended, and waits a while for it
// to end, with a context of its own.
func (s *sageMaker) stop(ctx context.Context, name string, stop func(context.Context, string) error, wait func(context.Context) error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.StopWait)
	defer cancel()
	if err := stop(sctx, name); err != nil {
		return // it ended on its own meanwhile, or cannot be reached
	}
	wait(sctx)
}

// logs is the end of a failed job's logs, or nothing when there are none.
func (s *sageMaker) logs(ctx context.Context, src remote.LogSource) string {
	var b bytes.Buffer
	if err := s.c.Tail(src, &b).Poll(ctx); err != nil || b.Len() == 0 {
		return ""
	}
	return "; the job's last output:\n" + tail(b.Bytes(), 1500)
}

// reason is ": " and SageMaker's FailureReason, or nothing.
func reason(r *string) string {
	if aws.ToString(r) == "" {
		return ""
	}
	return ": " + aws.ToString(r)
}
