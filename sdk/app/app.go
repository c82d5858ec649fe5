package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/sagekit/sagekit/sdk/optml"
	"github.com/sagekit/sagekit/sdk/serve"
	"github.com/sagekit/sagekit/sdk/train"
	"github.com/sagekit/sagekit/serving"
)

// Options says what the algorithm does for each command.
type Options struct {
	// Train is the training program for "train", run by train.Run: the
	// configuration from /opt/ml, the failure file and exit code on error.
	Train train.Func
	// Handler serves the model for "serve".
	Handler serve.Handler
	// Serving holds extra serving options, applied after those read from
	// the environment.
	Serving []serving.Option
	// Stdout receives the access log and the server's own log lines.
	// Default os.Stdout.
	Stdout io.Writer
}

// Main runs the command named by os.Args[1] and exits with its status. It
// stops cleanly on SIGTERM, which SageMaker sends before SIGKILL.
func Main(o Options) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := Run(ctx, os.Args[1:], o)
	stop()
	os.Exit(code)
}

// Run runs the command in args[0] and returns the exit status: 0 on
// success, 1 when the command failed, 2 for a usage error.
func Run(ctx context.Context, args []string, o Options) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: "+progName()+" train|serve: SageMaker passes \"train\" or \"serve\" as the first argument")
		return 2
	}
	switch args[0] {
	case optml.CommandTrain:
		return runTrain(ctx, o)
	case optml.CommandServe:
		return runServe(ctx, o)
	default:
		fmt.Fprintf(os.Stderr, "%s: unknown command %q: SageMaker passes \"train\" or \"serve\"\n", progName(), args[0])
		return 2
	}
}

func runTrain(ctx context.Context, o Options) int {
	if o.Train == nil {
		fmt.Fprintf(os.Stderr, "%s: this algorithm cannot train (app.Options.Train is nil); use it for \"serve\" only\n", progName())
		return 2
	}
	if err := train.Run(ctx, optml.FromEnv(), o.Train); err != nil {
		fmt.Fprintln(os.Stderr, "training failed:", err)
		return train.ExitCode(err)
	}
	return 0
}

func runServe(ctx context.Context, o Options) int {
	out := o.Stdout
	if out == nil {
		out = os.Stdout
	}
	buf := serving.NewLineBuffer(out, 0)
	defer buf.Flush()
	log := slog.New(slog.NewJSONHandler(buf, nil))
	if o.Handler == nil {
		log.Error("serve: this algorithm has no model handler (app.Options.Handler is nil)")
		return 2
	}
	opts, err := serving.OptionsFromEnv(os.LookupEnv)
	if err != nil {
		log.Error("serve: " + err.Error())
		return 2
	}
	opts = append(opts, serving.WithLogger(log), serving.WithAccessLogWriter(buf))
	opts = append(opts, o.Serving...)
	if err := serving.New(o.Handler, opts...).Run(ctx); err != nil {
		log.Error("serve: " + err.Error())
		return 1
	}
	return 0
}

func progName() string {
	if len(os.Args) > 0 {
		return os.Args[0]
	}
	return "algorithm"
}
