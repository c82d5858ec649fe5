package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/sagekit/sagekit/remote"
)

func init() { register(newStopCmd) }

func newStopCmd() *cobra.Command {
	var a awsFlags
	cmd := &cobra.Command{
		Use:   "stop JOB",
		Short: "Stop a SageMaker training job or transform job",
		Long: `Stops a training job (SageMaker sends SIGTERM, then SIGKILL 120 s later, and
still uploads the model) or a transform job. Endpoints are not stopped but
deleted: 'sagekit delete ENDPOINT'.`,
		Example: `  sagekit stop my-algo-2026-12-03-07-05-09-123`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStop(cmd.Context(), cmd.ErrOrStderr(), args[0], a)
		},
	}
	documentExit(cmd, "JOB is no training or transform job, or SageMaker refused to stop it")
	a.flags(cmd)
	return cmd
}

func runStop(ctx context.Context, stderr io.Writer, name string, a awsFlags) error {
	c, err := a.client(ctx)
	if err != nil {
		return err
	}
	kind, err := c.Find(ctx, name)
	if err != nil {
		return err
	}
	switch kind {
	case remote.KindTrainingJob:
		err = c.StopTrainingJob(ctx, name)
	case remote.KindTransformJob:
		err = c.StopTransformJob(ctx, name)
	default:
		return fmt.Errorf("%s is an endpoint: endpoints are deleted, not stopped ('sagekit delete %s')", name, name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "stopping %s %s; 'sagekit logs %s --follow' shows the rest\n", kind, name, name)
	return nil
}
