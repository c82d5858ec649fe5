package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/smithy-go"
	"github.com/spf13/cobra"

	"github.com/sagekit/sagekit/local"
	"github.com/sagekit/sagekit/local/batch"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/remote"
	"github.com/sagekit/sagekit/sdk/optml"
)

type runTransformOptions struct {
	commonRunOptions
	extractFlags
	model, input, output string
	contentType, accept  string
	splitType            string
	strategy             string
	maxPayloadMB         int
	maxConcurrent        int
	assembleWith         string
	invocationTimeout    time.Duration
	maxRetries           int
	startupTimeout       time.Duration
	remote               remoteTransformOptions
}

func newRunTransformCmd() *cobra.Command {
	var o runTransformOptions
	cmd := &cobra.Command{
		Use:   "transform IMAGE --model DIR|model.tar.gz --input DIR --output DIR",
		Short: "Run a batch transform job locally over a directory",
		Long: `Runs "IMAGE serve" as a SageMaker batch transform job does (SAGEMAKER_BATCH=true),
asks GET /execution-parameters, then sends every file under --input to
/invocations, split and batched as the flags say, and writes OUTPUT/<file>.out
for each file whose every record succeeded. Exits 1 when a file failed.

IMAGE must be in the local Docker Engine (sagekit build makes it); --pull
pulls it from its registry instead.`,
		Example: `  sagekit run transform my-algo --model out/model.tar.gz --input ./batch --output ./batch-out
  sagekit run transform my-algo --model out/model.tar.gz --input ./batch --output ./out --split-type Line --strategy MultiRecord`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.resolve(cmd, args); err != nil {
				return err
			}
			if handled, err := dispatchTransform(cmd, o); handled {
				return err
			}
			job, err := o.job()
			if err == nil { // the requests' own checks, before anything starts
				_, _, err = o.requests(job)
			}
			if err != nil {
				return badFlags(cmd, err)
			}
			return runTransform(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	documentExit(cmd, "a file failed (see the FAIL lines), the container did not become healthy, or IMAGE is not in the Docker Engine")
	o.commonRunOptions.flags(cmd)
	o.extractFlags.flags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "model directory or model.tar.gz (required)")
	f.StringVar(&o.input, "input", "", "directory of input files (required)")
	f.StringVar(&o.output, "output", "", "directory receiving <file>.out (required)")
	f.StringVar(&o.contentType, "content-type", "", "Content-Type of every request")
	f.StringVar(&o.accept, "accept", "", "Accept header of every request")
	f.StringVar(&o.splitType, "split-type", string(platform.SplitNone), "None (a file is one record) or Line (a line is a record)")
	f.StringVar(&o.strategy, "strategy", "", "SingleRecord or MultiRecord (default: the container's /execution-parameters, else MultiRecord)")
	f.IntVar(&o.maxPayloadMB, "max-payload-mb", 0, "largest request body in MB, at most 100 (default: the container's, else 6)")
	f.IntVar(&o.maxConcurrent, "max-concurrent", 0, "concurrent requests (default: the container's, else 1)")
	f.StringVar(&o.assembleWith, "assemble-with", string(platform.AssembleNone), "None (concatenate responses) or Line (newline after each)")
	f.DurationVar(&o.invocationTimeout, "invocation-timeout", platform.DefaultInvocationsTimeout, "timeout of each request (1s to 1h)")
	f.IntVar(&o.maxRetries, "max-retries", platform.DefaultInvocationsMaxRetries, "retries of a request that timed out or got a 5xx (0 to 3)")
	f.DurationVar(&o.startupTimeout, "startup-timeout", platform.DefaultStartupTimeout, "deadline for the first 200 from /ping")
	o.sageMakerFlags(cmd)
	for _, n := range []string{"model", "input", "output"} {
		cmd.MarkFlagRequired(n)
	}
	return cmd
}

func (o runTransformOptions) job() (platform.TransformJob, error) {
	env, err := parseEnv(o.env)
	if err != nil {
		return platform.TransformJob{}, err
	}
	job := platform.TransformJob{
		Image: o.image, Model: o.model, Input: o.input, Output: o.output,
		ContentType: o.contentType, Accept: o.accept,
		SplitType:               platform.SplitType(o.splitType),
		MaxPayloadInMB:          o.maxPayloadMB,
		MaxConcurrentTransforms: o.maxConcurrent,
		AssembleWith:            platform.AssembleWith(o.assembleWith),
		InvocationsTimeout:      o.invocationTimeout,
		InvocationsMaxRetries:   o.maxRetries,
		StartupTimeout:          o.startupTimeout,
		Env:                     env,
		GPU:                     o.gpu,
	}
	if o.maxRetries == 0 {
		job.InvocationsMaxRetries = platform.NoRetries
	}
	if job.ModelLimits, err = o.limits(); err != nil {
		return job, err
	}
	if o.strategy != "" {
		if job.BatchStrategy, err = optml.ParseBatchStrategy(o.strategy); err != nil {
			return job, fmt.Errorf("--strategy: %w", err)
		}
	}
	if o.invocationTimeout < time.Second {
		return job, fmt.Errorf("--invocation-timeout %s: use 1s to 1h", o.invocationTimeout)
	}
	if _, err := os.Stat(o.model); err != nil {
		return job, fmt.Errorf("--model %s: %w", o.model, err)
	}
	return job, job.Validate()
}

func runTransform(ctx context.Context, stdout, stderr io.Writer, o runTransformOptions) error {
	job, err := o.job()
	if err != nil {
		return err
	}
	labels, err := parseLabels(o.labels)
	if err != nil {
		return err
	}
	model, req, err := o.requests(job)
	if err != nil {
		return err
	}
	log := o.logger(stderr)
	if err := ensureRunImages(ctx, o.labels, []string{o.image}, o.pull, log); err != nil {
		return err
	}
	obs := &transformWatcher{stdout: stdout}
	opts := []local.Option{local.WithLabels(labels), local.WithGPU(o.gpu), local.WithHealthTimeout(job.StartupTimeout),
		local.WithModelLimits(job.ModelLimits), local.WithTransformObserver(obs)}
	return onLocalServer(ctx, o.commonRunOptions, "sagekit-transform-", "transform job", log, opts, func(srv *local.Server) error {
		return transformOn(ctx, stderr, srv, model, req, obs, o, log)
	})
}

// requests are the CreateModel and CreateTransformJob requests of the
// flags, with file:// URIs.
func (o runTransformOptions) requests(job platform.TransformJob) (*sagemaker.CreateModelInput, *sagemaker.CreateTransformJobInput, error) {
	rj := remote.TransformJob{
		Name: remote.JobName(o.image, time.Now()), Image: o.image, Role: localRole,
		InstanceType: localInstanceType, InstanceCount: 1,
		ContentType: o.contentType, Accept: o.accept,
		SplitType: o.splitType, AssembleWith: o.assembleWith, BatchStrategy: string(job.BatchStrategy),
		MaxPayloadMB: o.maxPayloadMB, MaxConcurrent: o.maxConcurrent,
		InvocationTimeout: o.invocationTimeout, MaxRetries: &o.maxRetries,
		Env: job.Env, LocalFiles: true,
	}
	var err error
	for _, u := range []struct {
		flag, v string
		dst     *string
	}{{"--model", o.model, &rj.Model}, {"--input", o.input, &rj.Input}, {"--output", o.output, &rj.Output}} {
		if *u.dst, err = dataURI(u.flag, u.v, true); err != nil {
			return nil, nil, err
		}
	}
	return rj.Inputs()
}

// transformOn runs the transform job on srv, through its API, and renders
// it as 'sagekit run transform' always has.
func transformOn(ctx context.Context, stderr io.Writer, srv *local.Server, model *sagemaker.CreateModelInput, req *sagemaker.CreateTransformJobInput, obs *transformWatcher, o runTransformOptions, log *slog.Logger) error {
	sm := localSageMaker(srv)
	name := aws.ToString(req.TransformJobName)
	if _, err := sm.CreateModel(ctx, model); err != nil {
		return interrupted(ctx, localRequestError("creating model "+name, err))
	}
	log.Info("starting the transform job", "image", o.image, "input", o.input, "output", o.output)
	start := time.Now()
	if _, err := sm.CreateTransformJob(ctx, req); err != nil {
		return interrupted(ctx, localRequestError("creating transform job "+name, err))
	}
	for {
		d, err := sm.DescribeTransformJob(ctx, &sagemaker.DescribeTransformJobInput{TransformJobName: aws.String(name)})
		if err != nil {
			return interrupted(ctx, fmt.Errorf("describing transform job %s: %w", name, err))
		}
		if s := d.TransformJobStatus; s == "Completed" || s == "Failed" || s == "Stopped" {
			if !obs.ended() {
				return &ExitError{Code: 1, Err: fmt.Errorf("transform job %s %s: %s", name, s, aws.ToString(d.FailureReason))}
			}
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	res, err := obs.result()
	if res != nil && res.Files != nil {
		p := res.Params
		log.Info(fmt.Sprintf("BatchStrategy %s, MaxPayloadInMB %d, MaxConcurrentTransforms %d; %s in %s",
			p.BatchStrategy, p.MaxPayloadInMB, p.MaxConcurrentTransforms, plural(len(res.Files), "file"), time.Since(start).Round(10*time.Millisecond)))
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, platform.ErrTransformFailed):
		return &ExitError{Code: 1, Err: fmt.Errorf("transform job failed: %d of %d files have no output (see FAIL lines)", len(res.Failed()), len(res.Files))}
	case ctx.Err() != nil:
		return interrupted(ctx, ctx.Err())
	}
	if res != nil && len(res.Logs) > 0 && res.Files == nil {
		fmt.Fprintf(stderr, "--- container logs ---\n%s", tail(res.Logs, 4096))
	}
	return err
}

// localRequestError is err of the local engine's API without the SDK's
// wrapping; a request it refuses came from bad flags (exit 2).
func localRequestError(op string, err error) error {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return fmt.Errorf("%s: %w", op, err)
	}
	err = fmt.Errorf("%s: %s", op, api.ErrorMessage())
	if api.ErrorCode() == "ValidationException" {
		return &ExitError{Code: ExitUsage, Err: err}
	}
	return err
}

// localSageMaker is a SageMaker client of srv, in-process.
func localSageMaker(srv *local.Server) *sagemaker.Client {
	return sagemaker.NewFromConfig(aws.Config{
		Region:      "local",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		HTTPClient:  handlerClient{srv.Handler()},
	}, func(so *sagemaker.Options) { so.BaseEndpoint = aws.String("http://sagekit.local") })
}

// transformWatcher sees the engine's transform job from inside: each file
// as it finishes, printed as an ok or FAIL line, and the result.
type transformWatcher struct {
	stdout io.Writer

	mu   sync.Mutex
	done bool
	res  *platform.TransformResult
	err  error
}

var _ batch.Observer = (*transformWatcher)(nil)

func (w *transformWatcher) File(_ string, f platform.FileResult) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if f.Err != nil {
		fmt.Fprintf(w.stdout, "FAIL %v\n", f.Err) // the error names the file
		return
	}
	fmt.Fprintf(w.stdout, "ok   %s -> %s (%s, %s)\n", f.Input, f.Output, plural(f.Records, "record"), plural(f.Requests, "request"))
}

func (w *transformWatcher) Ended(_ string, res *platform.TransformResult, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done, w.res, w.err = true, res, err
}

func (w *transformWatcher) ended() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done
}

func (w *transformWatcher) result() (*platform.TransformResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.res, w.err
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
