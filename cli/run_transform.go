package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/sagekit/sagekit/platform"
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
			if _, err := o.job(); err != nil {
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
	job.OnFile = func(f platform.FileResult) {
		if f.Err != nil {
			fmt.Fprintf(stdout, "FAIL %v\n", f.Err) // the error names the file
			return
		}
		fmt.Fprintf(stdout, "ok   %s -> %s (%s, %s)\n", f.Input, f.Output, plural(f.Records, "record"), plural(f.Requests, "request"))
	}
	log := o.logger(stderr)
	e, done, err := runEngine(ctx, o.labels)
	if err != nil {
		return err
	}
	defer done()
	if err := ensureImage(ctx, e, o.image, o.pull, log); err != nil {
		return interrupted(ctx, err)
	}
	log.Info("starting the transform job", "image", o.image, "input", o.input, "output", o.output)
	start := time.Now()
	res, err := e.Transform(ctx, job)
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
