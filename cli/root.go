package cli

import (
	"context"
	"sort"

	"github.com/spf13/cobra"
)

// commands is filled by each command's file in an init function, so
// commands are added without editing this file.
var commands []func() *cobra.Command

func register(f func() *cobra.Command) { commands = append(commands, f) }

// NewRoot returns the sagekit root command with every subcommand.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "sagekit",
		Short:         "Build, test and ship container images that Amazon SageMaker runs",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	subs := make([]*cobra.Command, 0, len(commands))
	for _, f := range commands {
		subs = append(subs, f())
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].Name() < subs[j].Name() })
	root.AddCommand(subs...)
	return root
}

// Execute runs the root command with ctx and returns the process exit code.
func Execute(ctx context.Context, args []string) int {
	root := NewRoot()
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		return reportError(root, err)
	}
	return 0
}
