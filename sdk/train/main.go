package train

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/sagekit/sagekit/sdk/optml"
)

// Func is a training program.
type Func func(ctx context.Context, env *Env) error

// ExitCoder is implemented by errors that choose the process exit code.
type ExitCoder interface {
	ExitCode() int
}

// PanicError is the error Run returns when the program panicked.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Main runs fn as the whole training process: ctx is cancelled on SIGTERM
// or SIGINT, the configuration comes from SAGEMAKER_BASE_DIR or /opt/ml, and
// the process exits 0 on success, or writes the failure file, prints the
// error on stderr and exits non-zero (1, or ExitCode() of an error that has
// one).
func Main(fn Func) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	err := Run(ctx, optml.FromEnv(), fn)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "training failed:", err)
		os.Exit(ExitCode(err))
	}
	os.Exit(0)
}

// ExitCode is the exit code for err: 0 for nil, ExitCode() of an error in
// its chain that has one, else 1.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec ExitCoder
	if errors.As(err, &ec) && ec.ExitCode() != 0 {
		return ec.ExitCode()
	}
	return 1
}

// Run loads the configuration below p and calls fn. When loading fails, fn
// returns an error or fn panics, Run writes the failure file (unless the
// program wrote one) with the cause first and returns the error; a panic
// comes back as a *PanicError. On success it writes the success file.
func Run(ctx context.Context, p optml.Paths, fn Func) error {
	env, err := Load(p)
	if err != nil {
		return failed(p, "ConfigError: ", err)
	}
	if err := call(ctx, env, fn); err != nil {
		var pe *PanicError
		if errors.As(err, &pe) {
			return failed(p, "AlgorithmError: ", err, "\n\n", string(pe.Stack))
		}
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return failed(p, "Stopped: ", err, " (the job was stopped: SIGTERM or SIGINT)")
		}
		return failed(p, "AlgorithmError: ", err)
	}
	return p.WriteSuccess()
}

func call(ctx context.Context, env *Env, fn Func) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return fn(ctx, env)
}

// failed writes the failure file: prefix, the error, then any details.
func failed(p optml.Paths, prefix string, err error, details ...string) error {
	reason := prefix + err.Error()
	for _, d := range details {
		reason += d
	}
	if werr := p.WriteFailure(reason + "\n"); werr != nil && !errors.Is(werr, optml.ErrFailureExists) {
		return errors.Join(err, werr)
	}
	return err
}
