package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sagekit/sagekit/internal/clidoc"
)

// Exit codes, the same for every command (docs/exit-codes.md).
const (
	// ExitFailed: the command ran and failed.
	ExitFailed = 1
	// ExitUsage: an unknown command or flag, or a bad argument.
	ExitUsage = 2
	// ExitInterrupted: Ctrl-C (or SIGTERM), after clean-up.
	ExitInterrupted = 130
)

// ExitError carries a specific exit code out of a command (for example 1
// when a conformance must-rule fails) with an optional message.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// UsageError is an unknown command or flag, or a bad argument: the
// command did not start. It exits 2.
type UsageError struct {
	// Command is the full name of the command, as "sagekit run train".
	Command string
	Err     error
}

func (e *UsageError) Error() string { return e.Err.Error() }

func (e *UsageError) Unwrap() error { return e.Err }

// usageError marks err as a usage error of c.
func usageError(c *cobra.Command, err error) error {
	var ue *UsageError
	if err == nil || errors.As(err, &ue) {
		return err
	}
	return &UsageError{Command: c.CommandPath(), Err: err}
}

// badFlags marks an error of parsing a command's flags into options as a
// usage error, the one wrapping a RunE does before it starts work.
func badFlags(c *cobra.Command, err error) error { return usageError(c, err) }

// reportError prints err as one line and maps it to an exit code: the one
// place where errors become exit codes.
func reportError(root *cobra.Command, err error) int {
	w := root.ErrOrStderr()
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(w, "sagekit: %v\n", ee.Err)
		}
		return ee.Code
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(w, "sagekit: %v\nRun '%s --help' for usage.\n", ue.Err, ue.Command)
		return ExitUsage
	}
	fmt.Fprintf(w, "sagekit: %v\n", err)
	return ExitFailed
}

// unknownCommand is the error for "sagekit GROUP arg" where arg names no
// subcommand of GROUP, with the closest names.
func unknownCommand(c *cobra.Command, arg string) error {
	msg := fmt.Sprintf("unknown command %q for %q", arg, c.CommandPath())
	if s := c.SuggestionsFor(arg); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	return errors.New(msg)
}

// flagSuggestions adds the closest flag names to an "unknown flag" error.
func flagSuggestions(c *cobra.Command, err error) error {
	const prefix = "unknown flag: --"
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) {
		return err
	}
	bad := strings.TrimPrefix(msg, prefix)
	var near []string
	seen := map[string]bool{}
	visit := func(name string) {
		if !seen[name] && editDistance(bad, name) <= 2 {
			near = append(near, "--"+name)
		}
		seen[name] = true
	}
	c.LocalFlags().VisitAll(func(f *pflag.Flag) { visit(f.Name) })
	c.InheritedFlags().VisitAll(func(f *pflag.Flag) { visit(f.Name) })
	if len(near) == 0 {
		return err
	}
	return fmt.Errorf("%s\n\nDid you mean this?\n\t%s", msg, strings.Join(near, "\n\t"))
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// documentExit says what exit code 1 means for c, for the generated
// reference (docs/exit-codes.md).
func documentExit(c *cobra.Command, one string) {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[clidoc.AnnotationExit+"1"] = one
}
