package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
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

// reportError prints err as one line and maps it to an exit code: the one
// place where errors become exit codes.
func reportError(root *cobra.Command, err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(root.ErrOrStderr(), "sagekit: %v\n", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintf(root.ErrOrStderr(), "sagekit: %v\n", err)
	return 1
}
