package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/spf13/cobra"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/sagekit/sagekit/internal/extract"
	"github.com/sagekit/sagekit/internal/version"
)

// commands is filled by each command's file in an init function, so
// commands are added without editing this file.
var commands []func() *cobra.Command

func register(f func() *cobra.Command) { commands = append(commands, f) }

// NewRoot returns the sagekit root command with every subcommand.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "sagekit",
		Short: "Build, test and ship container images that Amazon SageMaker runs",
		Long: `Build, test and ship container images that Amazon SageMaker runs.

Exit status: 0 on success, 1 when the command ran and failed (a failed
must-rule, a failed training job, ...), 2 for a usage error (an unknown
command or flag, a bad argument), 130 when interrupted (Ctrl-C), after the
containers and networks the command made are removed. docs/exit-codes.md
lists them for each command.`,
		Example: `  sagekit init my-algo --template go
  sagekit build -t my-algo my-algo
  sagekit test my-algo
  sagekit run train my-algo --data training=my-algo/local/input/data/training
  sagekit doctor`,
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate(version.String("sagekit") + "\n")
	subs := make([]*cobra.Command, 0, len(commands))
	for _, f := range commands {
		subs = append(subs, f())
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].Name() < subs[j].Name() })
	root.AddCommand(subs...)
	// cobra adds help and completion when it executes; adding them here
	// puts them in the generated reference with examples.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Example = "  sagekit help run endpoint"
		case "completion":
			c.Example = `  source <(sagekit completion bash)
  sagekit completion zsh > "${fpath[1]}/_sagekit"
  sagekit completion fish > ~/.config/fish/completions/sagekit.fish`
			for _, sh := range c.Commands() {
				sh.Example = "  sagekit completion " + sh.Name() + " > sagekit-completion." + sh.Name()
				documentExit(sh, "writing the script failed")
			}
		}
	}
	conventions(root)
	return root
}

// Execute runs the root command with ctx and returns the process exit code:
// 0, 1 when the command failed, 2 for a usage error, 130 when ctx was
// cancelled (Ctrl-C or SIGTERM) and the command has cleaned up.
func Execute(ctx context.Context, args []string) int {
	// testcontainers-go prints what it says outside a request (its
	// connection banner, its reaper's start) to stderr through a
	// process-wide logger; the process is ours here, so it is quiet. What
	// it says about each request goes to the command's logger (see
	// openEngine).
	tclog.SetDefault(tclog.NewNoopLogger())
	return execute(ctx, args, os.Stdout, os.Stderr)
}

func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// The SAGEKIT_MAX_EXTRACT_* variables, which an archive's refusal
	// names, bound every archive a command reads (push's OCI archives, base
	// and image layers); the run commands' --max-extract-* flags win.
	extract.SetDefaultLimits(extract.LimitsFromEnv(os.Getenv))
	root := NewRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if ctx.Err() != nil {
		msg := "interrupted"
		if err != nil {
			msg = fmt.Sprintf("interrupted: %v", err)
		}
		fmt.Fprintf(root.ErrOrStderr(), "sagekit: %s\n", msg)
		return ExitInterrupted
	}
	if err != nil {
		return reportError(root, err)
	}
	return 0
}

// annotationGroup marks a command that only groups others: it prints its
// help, or exits 2 for an unknown subcommand.
const annotationGroup = "sagekit.dev/group"

// conventions applies what every command shares: usage errors exit 2 with
// suggestions, commands that only group others reject unknown subcommands,
// required flags are checked as usage errors.
func conventions(root *cobra.Command) {
	root.SuggestionsMinimumDistance = 2
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError(c, flagSuggestions(c, err))
	})
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		if err := c.ValidateRequiredFlags(); err != nil {
			return usageError(c, err)
		}
		if err := c.ValidateFlagGroups(); err != nil {
			return usageError(c, err)
		}
		return nil
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.SuggestionsMinimumDistance = 2
		switch {
		case !c.Runnable() && c.HasSubCommands():
			if c.Annotations == nil {
				c.Annotations = map[string]string{}
			}
			c.Annotations[annotationGroup] = "true"
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(c *cobra.Command, args []string) error {
				if len(args) == 0 {
					return c.Help()
				}
				return usageError(c, unknownCommand(c, args[0]))
			}
		case c.Args != nil:
			check := c.Args
			c.Args = func(c *cobra.Command, args []string) error {
				if err := check(c, args); err != nil {
					if c.HasAvailableSubCommands() && len(args) > 0 {
						// "sagekit sdk downlaod": a subcommand was meant.
						err = unknownCommand(c, args[0])
					}
					return usageError(c, err)
				}
				return nil
			}
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
}
