package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/sagekit/sagekit/local"
	"github.com/sagekit/sagekit/platform"
)

func init() { register(newLocalCmd) }

type localOptions struct {
	listen string
	state  string
	extractFlags
	modelLimits platform.ExtractLimits // from extractFlags, read by RunE
	backend     containerBackend       // SAGEKIT_CONTAINER_BACKEND, read by RunE
}

func newLocalCmd() *cobra.Command {
	var o localOptions
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Serve SageMaker's API on localhost: training jobs and endpoints on the local Docker Engine",
		Long: `Serves, on one address, the SageMaker API (JSON 1.1, X-Amz-Target SageMaker.*)
and SageMaker Runtime (POST /endpoints/NAME/invocations), so boto3, the AWS CLI
and any SDK drive local training jobs and endpoints with --endpoint-url.
Any credentials are accepted. Records persist under --state; a restart lists
the same jobs and re-creates running endpoints. Ctrl-C or SIGTERM stops every
container it started. docs/local.md lists every supported operation.`,
		Example: `  # serve on the default address, records under ~/.cache/sagekit/local
  sagekit local
  # then, from another shell
  aws --endpoint-url http://127.0.0.1:8787 sagemaker list-training-jobs
  # a throw-away instance on a free port
  sagekit local --listen 127.0.0.1:0 --state /tmp/sagekit-local`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.modelLimits, err = o.limits(); err != nil {
				return badFlags(cmd, err)
			}
			if o.backend, err = containerBackendFromEnv(os.Getenv); err != nil {
				return badFlags(cmd, err)
			}
			return runLocal(cmd.Context(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:8787", "address to listen on, HOST:PORT (port 0 picks a free one)")
	f.StringVar(&o.state, "state", defaultState(), "directory holding the records and the jobs' files")
	o.extractFlags.flags(cmd)
	documentExit(cmd, "the address could not be bound, the state could not be opened, or the Docker Engine is missing")
	return cmd
}

func defaultState() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "sagekit", "local")
	}
	return ".sagekit-local"
}

func runLocal(ctx context.Context, stderr io.Writer, o localOptions) error {
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listening on --listen %s: %w", o.listen, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, closeEngine, err := localServer(ctx, o.backend, o.state, log, local.WithModelLimits(o.modelLimits))
	if err != nil {
		ln.Close()
		return err
	}
	defer closeEngine()
	fmt.Fprintf(stderr, "sagekit local: listening on http://%s (state %s)\n", ln.Addr(), o.state)
	serr := srv.Serve(ctx, ln)
	fmt.Fprintln(stderr, "sagekit local: stopping every container it started")
	start := time.Now()
	cerr := srv.Close()
	fmt.Fprintf(stderr, "sagekit local: stopped in %s\n", time.Since(start).Round(10*time.Millisecond))
	if ctx.Err() != nil && (serr == nil || errors.Is(serr, context.Canceled)) {
		serr = nil
	}
	return errors.Join(serr, cerr)
}
