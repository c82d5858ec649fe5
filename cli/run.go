package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/sagekit/sagekit/internal/extract"
	"github.com/sagekit/sagekit/internal/owner"
	"github.com/sagekit/sagekit/local"
	"github.com/sagekit/sagekit/platform"
)

func init() { register(newRunCmd) }

// LabelRun marks everything one `sagekit run` creates, so it can all be
// removed on the way out, Ctrl-C included.
const LabelRun = "dev.sagekit.run"

func newRunCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a training job, an endpoint or a batch transform locally, as SageMaker does",
		Long: `Plays SageMaker on the local Docker Engine: "run train" runs a training job and
packs model.tar.gz, "run endpoint" serves a model, "run transform" runs a batch
transform job over a directory. docs/local-runs.md says how each mirrors SageMaker.

With --instance-type ml.… (for example ml.m5.large) the same commands run on
Amazon SageMaker itself, or on any server at --endpoint-url that speaks its API:
channels, outputs and models are then s3:// URIs (docs/sagemaker.md).`,
		Example: `  sagekit run train my-algo --data training=local/input/data/training -o out
  sagekit run endpoint my-algo --model out/model.tar.gz
  sagekit run transform my-algo --model out/model.tar.gz --input ./batch --output ./batch-out`,
	}
	cmd.AddCommand(newRunTrainCmd(), newRunEndpointCmd(), newRunTransformCmd())
	return cmd
}

// commonRunOptions are the flags every run command has.
type commonRunOptions struct {
	image    string
	env      []string
	labels   []string
	gpu      bool
	pull     bool
	progress progressFlag
	mode     string           // progress, resolved
	backend  containerBackend // SAGEKIT_CONTAINER_BACKEND, resolved
}

func (o *commonRunOptions) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&o.env, "env", nil, "environment variable K=V for the container (repeatable)")
	f.StringArrayVar(&o.labels, "label", nil, "extra label K=V on every container and network (repeatable)")
	f.BoolVar(&o.gpu, "gpu", false, "attach every GPU of the engine")
	f.BoolVar(&o.pull, "pull", false, "pull IMAGE from its registry when it is not in the Docker Engine (default: fail and say how to build it)")
	o.progress.register(cmd)
	cmd.ValidArgsFunction = completeImages
}

// resolve checks the shared flags; it runs before the command starts work.
func (o *commonRunOptions) resolve(cmd *cobra.Command, args []string) error {
	o.image = args[0]
	mode, err := o.progress.resolve(cmd.ErrOrStderr())
	if err != nil {
		return badFlags(cmd, err)
	}
	o.mode = mode
	if o.backend, err = containerBackendFromEnv(os.Getenv); err != nil {
		return badFlags(cmd, err)
	}
	return nil
}

// logger is where the run's own steps go (the containers' logs are
// always printed).
func (o *commonRunOptions) logger(stderr io.Writer) *slog.Logger {
	return progressLogger(o.mode, stderr)
}

// ensureImage fails, saying how to make it, when image is not in the
// engine, unless --pull: no run command reaches a registry unasked.
func ensureImage(ctx context.Context, e *platform.Engine, image string, pull bool, log *slog.Logger) error {
	_, err := e.Client().ImageInspect(ctx, image)
	if err == nil {
		return nil
	}
	if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspecting %s: %w", image, err)
	}
	if !pull {
		return fmt.Errorf("image %s is not in the Docker Engine: build it with `sagekit build -t %s DIR` (or pass --pull to pull it from its registry)", image, image)
	}
	log.Info("pulling", "image", image)
	resp, err := e.Client().ImagePull(ctx, image, client.ImagePullOptions{})
	if err == nil {
		err = resp.Wait(ctx)
	}
	if err != nil {
		return fmt.Errorf("pulling %s: %w", image, err)
	}
	return nil
}

// extractFlags are the limits on unpacking a model.tar.gz.
type extractFlags struct {
	maxBytes, maxEntries, maxRatio string
}

func (o *extractFlags) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.maxBytes, extract.FlagMaxBytes, "", "largest total size a model.tar.gz may unpack to, e.g. 80GiB; 0: no limit (default "+extract.EnvMaxBytes+", else 50GiB)")
	f.StringVar(&o.maxEntries, extract.FlagMaxEntries, "", "most entries a model.tar.gz may hold; 0: no limit (default "+extract.EnvMaxEntries+", else 1000000)")
	f.StringVar(&o.maxRatio, extract.FlagMaxRatio, "", "most bytes unpacked per byte of model.tar.gz; 0: no limit (default "+extract.EnvMaxRatio+", else 1000)")
}

// limits are the flags' values, or else the environment's.
func (o extractFlags) limits() (platform.ExtractLimits, error) {
	l, err := extract.LimitsFromEnv(os.Getenv)
	if err != nil {
		return l, err
	}
	for _, v := range []struct {
		flag, val string
		dst       *int64
		size      bool
	}{{extract.FlagMaxBytes, o.maxBytes, &l.Bytes, true}, {extract.FlagMaxEntries, o.maxEntries, &l.Entries, false}, {extract.FlagMaxRatio, o.maxRatio, &l.Ratio, false}} {
		if v.val == "" {
			continue
		}
		n, err := extract.ParseLimit(v.val, v.size)
		if err != nil {
			return l, fmt.Errorf("--%s %q: %w", v.flag, v.val, err)
		}
		*v.dst = n
	}
	return l, nil
}

// runEngine connects to the engine, its containers created by backend
// (which reports to log), with a label unique to this run; the returned
// function removes whatever still carries it and closes the engine.
func runEngine(ctx context.Context, backend containerBackend, labels []string, log *slog.Logger) (*platform.Engine, func(), error) {
	b := make([]byte, 6)
	rand.Read(b)
	id := hex.EncodeToString(b)
	l := map[string]string{LabelRun: id}
	if err := parseKV("--label", labels, l); err != nil {
		return nil, nil, err
	}
	c, err := openEngine(ctx, backend, log)
	if err != nil {
		return nil, nil, err
	}
	e, err := platform.New(ctx, append(c.options(), platform.WithLabels(l))...)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return e, func() {
		e.Sweep(context.WithoutCancel(ctx), LabelRun, id)
		e.Close()
		c.Close()
	}, nil
}

// interrupted turns a cancelled run into a message.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return &ExitError{Code: 130, Err: errors.New("interrupted; containers and networks removed")}
	}
	return err
}

// --- run train ---

// runTemp makes a run's temporary directory under parent ("": the system's
// temporary directory), named pattern plus a random suffix. It first
// removes those that runs killed with SIGKILL left there (in the system's
// temporary directory, those of every run command): each records its owner
// process, as the run's containers do.
func runTemp(parent, pattern string, log *slog.Logger) (string, error) {
	sweep := pattern
	if parent == "" {
		parent, sweep = os.TempDir(), "sagekit-"
	}
	if removed, err := owner.RemoveDeadTemps(parent, sweep); len(removed) > 0 || err != nil {
		log.Info("removed what sagekit runs that died left behind", "removed", removed, "error", err)
	}
	return owner.MkdirTemp(parent, pattern)
}

// onLocalServer runs one job of a run command (what: "training job",
// "transform job") on an in-process local.Server over a temporary state
// directory named pattern, removes its containers when run returns, and
// reports a cancelled ctx as an interruption.
func onLocalServer(ctx context.Context, o commonRunOptions, pattern, what string, log *slog.Logger, opts []local.Option, run func(*local.Server) error) error {
	state, err := runTemp("", pattern, log)
	if err != nil {
		return fmt.Errorf("creating the %s's state directory: %w", what, err)
	}
	defer os.RemoveAll(state)
	srv, closeEngine, err := localServer(ctx, o.backend, state, log, opts...)
	if err != nil {
		return err
	}
	defer closeEngine()
	result := run(srv)
	if err := srv.Close(); err != nil {
		result = errors.Join(result, fmt.Errorf("removing the %s's containers: %w", what, err))
	}
	if ctx.Err() != nil {
		return &ExitError{Code: ExitInterrupted, Err: errors.New("interrupted; containers and networks removed")}
	}
	return result
}
