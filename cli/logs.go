package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/spf13/cobra"

	"github.com/sagekit/sagekit/remote"
)

func init() { register(newLogsCmd) }

type logsOptions struct {
	aws    awsFlags
	follow bool
	every  time.Duration
}

func newLogsCmd() *cobra.Command {
	var o logsOptions
	cmd := &cobra.Command{
		Use:   "logs JOB|ENDPOINT",
		Short: "Print the CloudWatch logs of a SageMaker training job, transform job or endpoint",
		Long: `Prints the CloudWatch logs of every host of a training job or transform job, or
of every instance of an endpoint, each line prefixed by its host ("algo-1 | ...").
With --follow it keeps printing until the job ends (endpoints: until Ctrl-C).`,
		Example: `  sagekit logs my-algo-2026-12-03-07-05-09-123
  sagekit logs my-endpoint --follow
  sagekit logs my-job --endpoint-url http://127.0.0.1:8787`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogs(cmd.Context(), cmd.OutOrStdout(), args[0], o)
		},
	}
	documentExit(cmd, "NAME is no training job, transform job or endpoint, or its logs could not be read")
	o.aws.flags(cmd)
	cmd.Flags().BoolVarP(&o.follow, "follow", "f", false, "keep printing new lines until the job ends")
	cmd.Flags().DurationVar(&o.every, "poll", remote.DefaultPoll, "how often --follow asks for new lines")
	return cmd
}

func runLogs(ctx context.Context, stdout io.Writer, name string, o logsOptions) error {
	c, err := o.aws.client(ctx)
	if err != nil {
		return err
	}
	kind, err := c.Find(ctx, name)
	if err != nil {
		return err
	}
	var src remote.LogSource
	var done func(context.Context) (bool, error)
	switch kind {
	case remote.KindTrainingJob:
		src = remote.TrainingLogs(name)
		done = func(ctx context.Context) (bool, error) {
			d, err := c.DescribeTrainingJob(ctx, name)
			if err != nil {
				return false, err
			}
			return remote.TrainingDone(d.TrainingJobStatus), nil
		}
	case remote.KindTransformJob:
		src = remote.TransformLogs(name)
		done = func(ctx context.Context) (bool, error) {
			d, err := c.DescribeTransformJob(ctx, name)
			if err != nil {
				return false, err
			}
			s := d.TransformJobStatus
			return s == types.TransformJobStatusCompleted || s == types.TransformJobStatusFailed || s == types.TransformJobStatusStopped, nil
		}
	default:
		src = remote.EndpointLogs(name)
		done = func(context.Context) (bool, error) { return false, nil }
	}
	t := c.Tail(src, stdout)
	if !o.follow {
		return t.Poll(ctx)
	}
	err = t.Follow(ctx, o.every, done)
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil // Ctrl-C ends --follow
	}
	if err != nil {
		return fmt.Errorf("following the logs of %s %s: %w", kind, name, err)
	}
	return nil
}
