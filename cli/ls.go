package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func init() { register(newLsCmd) }

type lsOptions struct {
	aws awsFlags
	max int
}

func newLsCmd() *cobra.Command {
	var o lsOptions
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List SageMaker training jobs, transform jobs and endpoints, newest first",
		Example: `  sagekit ls
  sagekit ls --max 5 --region eu-west-1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLs(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	documentExit(cmd, "nothing could be listed (the error says why)")
	o.aws.flags(cmd)
	cmd.Flags().IntVar(&o.max, "max", 20, "most recent of each kind to list (1 to 100)")
	return cmd
}

func runLs(ctx context.Context, stdout, stderr io.Writer, o lsOptions) error {
	if o.max < 1 || o.max > 100 {
		return fmt.Errorf("--max %d: use 1 to 100", o.max)
	}
	c, err := o.aws.client(ctx)
	if err != nil {
		return err
	}
	rs, err := c.List(ctx, int32(o.max))
	if err != nil && len(rs) == 0 {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "KIND\tNAME\tSTATUS\tCREATED")
	for _, r := range rs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.Kind, r.Name, r.Status, r.Created.Local().Format(time.DateTime))
	}
	if ferr := w.Flush(); ferr != nil {
		return ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "not listed: %v\n", err)
	}
	return nil
}
