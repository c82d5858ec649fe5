package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

func init() { register(newDeleteCmd) }

type deleteOptions struct {
	aws awsFlags
	yes bool
}

func newDeleteCmd() *cobra.Command {
	var o deleteOptions
	cmd := &cobra.Command{
		Use:   "delete ENDPOINT",
		Short: "Delete a SageMaker endpoint with its endpoint config and models",
		Long: `Deletes the endpoint, then its endpoint config and the models of its variants,
after asking (--yes does not ask; without a terminal --yes is required).`,
		Example: `  sagekit delete my-endpoint
  sagekit delete my-endpoint --yes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDelete(cmd.Context(), cmd.InOrStdin(), cmd.ErrOrStderr(), args[0], o)
		},
	}
	documentExit(cmd, "the endpoint does not exist, the answer was not yes, or a deletion failed")
	o.aws.flags(cmd)
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "do not ask")
	return cmd
}

func runDelete(ctx context.Context, stdin io.Reader, stderr io.Writer, name string, o deleteOptions) error {
	c, err := o.aws.client(ctx)
	if err != nil {
		return err
	}
	parts, err := c.Parts(ctx, name)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("endpoint %s, endpoint config %s", name, parts.Config)
	if len(parts.Models) > 0 {
		what += ", " + plural(len(parts.Models), "model") + " (" + strings.Join(parts.Models, ", ") + ")"
	}
	if !o.yes {
		if !interactive(stdin) {
			return errors.New("deleting " + what + ": pass --yes to confirm without a terminal")
		}
		fmt.Fprintf(stderr, "delete %s? [y/N] ", what)
		answer, _ := bufio.NewReader(stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return &ExitError{Code: 1, Err: errors.New("nothing deleted")}
		}
	}
	if err := c.Delete(ctx, parts); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "deleted %s\n", what)
	return nil
}
