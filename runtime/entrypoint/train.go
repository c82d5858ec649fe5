package entrypoint

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/sagekit/sagekit/internal/redact"
	"github.com/sagekit/sagekit/runtime/launch"
	"github.com/sagekit/sagekit/sdk/optml"
)

// Environment variables the train launcher reads (besides the contract's).
const (
	envPython    = "SAGEKIT_PYTHON"
	envStopGrace = "SAGEKIT_STOP_GRACE"
	envQuiet     = "SAGEKIT_QUIET"
	// EnvToolkit lists the toolkits whose behaviour the runtime follows
	// where it differs from sagekit's own, in the form of the image label
	// dev.sagekit.toolkit: "training", "inference" or "training,inference".
	EnvToolkit = "SAGEKIT_TOOLKIT"
)

// toolkitClaimed reports whether the SAGEKIT_TOOLKIT value v names kind.
func toolkitClaimed(v, kind string) bool {
	for _, t := range strings.Split(v, ",") {
		if strings.TrimSpace(t) == kind {
			return true
		}
	}
	return false
}

// runTrain is `sagekit-runtime train [flags] [-- COMMAND ARGS...]`.
func runTrain(ctx context.Context, args []string) int {
	// The launcher only waits and copies one pipe: one P keeps the Go
	// runtime from spinning threads on the cores the training program needs.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	fs := flag.NewFlagSet("sagekit-runtime train", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	grace := fs.Duration("grace", launch.DefaultGrace, "time between a forwarded SIGTERM/SIGINT and SIGKILL (env "+envStopGrace+")")
	noArgs := fs.Bool("no-args", false, "do not append the hyperparameters to the command line")
	tk := fs.Bool("toolkit", toolkitClaimed(os.Getenv(EnvToolkit), "training"), "behave as sagemaker-training-toolkit where sagekit differs: exit 1 and its failure text, pip installs, python -m, /bin/sh -c (env "+EnvToolkit+"=training)")
	quiet := fs.Bool("quiet", os.Getenv(envQuiet) == "1", "do not log the launcher's own progress to stderr (env "+envQuiet+"=1)")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: sagekit-runtime train [flags] [-- COMMAND ARGS...]")
		fmt.Fprintln(os.Stderr, "Runs $SAGEMAKER_PROGRAM, the sagemaker_program hyperparameter, or COMMAND, as sagemaker-training-toolkit would.")
		fs.PrintDefaults()
	}
	if v := os.Getenv(envStopGrace); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sagekit-runtime train: %s=%q is not a duration such as 90s\n", envStopGrace, v)
			return 2
		}
		*grace = d
	}
	var command []string
	for i, a := range args {
		if a == "--" {
			command = args[i+1:]
			args = args[:i]
			break
		}
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "sagekit-runtime train: unexpected argument %q: put the command after --\n", fs.Arg(0))
		return 2
	}

	// Caught before anything else, so a stop that arrives while the
	// configuration is read still reaches the program.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	logger := slog.New(slog.DiscardHandler)
	if !*quiet {
		logger = slog.New(slog.NewTextHandler(redact.Writer(os.Stderr), &slog.HandlerOptions{Level: slog.LevelInfo}))
	}

	code, err := launch.Run(ctx, launch.Options{
		Paths:       optml.FromEnv(),
		Command:     command,
		NoArgs:      *noArgs,
		Environ:     os.Environ(),
		Python:      os.Getenv(envPython),
		Grace:       *grace,
		Signals:     sigs,
		Stdin:       os.Stdin,
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		ReapOrphans: os.Getpid() == 1,
		Logger:      logger,
		Toolkit:     *tk,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "sagekit-runtime train: %v\n", err)
	}
	return code
}
