package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/sagekit/sagekit/image/build"
	"github.com/spf13/cobra"
)

func init() { register(newBuildCmd) }

type buildFlags struct {
	tags       []string
	file       string
	builder    string
	progress   progressFlag
	platforms  []string
	buildArgs  []string
	secrets    []string
	noCache    bool
	cacheTo    []string
	cacheFrom  []string
	output     string
	labels     []string
	sourceDate string
	push       string
	registry   registryFlags
	via        string
}

func newBuildCmd() *cobra.Command {
	var f buildFlags
	cmd := &cobra.Command{
		Use:   "build [DIR]",
		Short: "Build an image from DIR's Dockerfile with BuildKit, adding the sagekit runtime to the context",
		Long: `Build an image from the Dockerfile in DIR (default ".") with BuildKit.

The build context gets a virtual .sagekit/ directory holding
.sagekit/linux-<arch>/sagekit-runtime for each target platform and, when
sagekit.json has {"go": {"main": "./pkg"}}, the Go algorithm compiled on the
host as .sagekit/linux-<arch>/algorithm.

By default the Docker Engine's own BuildKit builds and the image lands in the
Engine's image store under the -t names. A Dockerfile of one stage that only
copies context files onto a base in the local store (or scratch) and sets
config (ARG, ENV, LABEL, COPY, ADD of plain files, WORKDIR, USER, EXPOSE,
ENTRYPOINT, CMD, STOPSIGNAL, VOLUME, SHELL) is assembled without BuildKit, as
ko does: each COPY layer is made on the host (and kept in a cache, so an
unchanged layer is not made again) and only the new layers are loaded into
the Engine. --via buildkit always uses BuildKit; --via direct fails instead
of falling back. SOURCE_DATE_EPOCH (or
--source-date-epoch) makes the image reproducible.

--push REGISTRY/REPO:TAG (or --ecr REPO[:TAG]) pushes the image after the
build, with the flags of sagekit push (--region, --profile, --immutable-tags,
...). The destination, and for ECR the credentials, region and account, are
checked before the build starts.`,
		Example: `  sagekit build -t my-algo .
  sagekit build -t my-algo --platform linux/amd64,linux/arm64 --push 123456789012.dkr.ecr.eu-west-1.amazonaws.com/my-algo:v1
  sagekit build -t my-algo --ecr my-algo:v1 --profile prod --immutable-tags
  sagekit build -t my-algo --progress plain --no-cache ./my-algo`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			if f.sourceDate == "" {
				f.sourceDate = os.Getenv("SOURCE_DATE_EPOCH")
			}
			opts, err := f.options(dir)
			if err != nil {
				return badFlags(cmd, err)
			}
			mode, err := f.progress.resolve(cmd.ErrOrStderr())
			if err != nil {
				return badFlags(cmd, err)
			}
			if f.push != "" || f.registry.ecrRepo != "" {
				if err := f.registry.check(f.push); err != nil {
					return badFlags(cmd, err)
				}
				// The destination (and, for ECR, the credentials and
				// account) is checked before the build starts.
				opts.Push, err = pushBuilt(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f.push, pushFlags{registryFlags: f.registry, progress: mode})
				if err != nil {
					return err
				}
			} else if err := f.registry.noPush(cmd); err != nil {
				return badFlags(cmd, err)
			}
			return runBuild(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), mode, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, "name the image NAME[:TAG] (repeatable)")
	fl.StringVarP(&f.file, "file", "f", "", "Dockerfile path (default DIR/Dockerfile)")
	fl.StringVar(&f.builder, "builder", "", "standalone buildkitd address (unix://PATH or tcp://HOST:PORT); default: the Docker Engine's BuildKit")
	fl.StringSliceVar(&f.platforms, "platform", nil, "target platforms, e.g. linux/amd64,linux/arm64 (default: the Engine's)")
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "build-time variable K=V (repeatable)")
	fl.StringArrayVar(&f.secrets, "secret", nil, "build secret id=ID,src=FILE or id=ID,env=VAR (repeatable)")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not use the build cache")
	fl.StringArrayVar(&f.cacheTo, "cache-to", nil, "cache export, e.g. type=local,dest=DIR")
	fl.StringArrayVar(&f.cacheFrom, "cache-from", nil, "cache import, e.g. type=local,src=DIR")
	fl.StringVarP(&f.output, "output", "o", "", "also write the image to a file: type=oci,dest=FILE or type=docker,dest=FILE")
	fl.StringArrayVar(&f.labels, "label", nil, "image label K=V (repeatable)")
	fl.StringVar(&f.push, "push", "", "after building, push to REGISTRY/REPO:TAG (ECR or any registry) as sagekit push does; --ecr REPO[:TAG] instead pushes to your account's ECR")
	fl.StringVar(&f.via, "via", "auto", "how to build: auto (without BuildKit when the Dockerfile only copies context files onto a local base), buildkit, or direct")
	fl.StringVar(&f.sourceDate, "source-date-epoch", "", "Unix time for reproducible timestamps (default $SOURCE_DATE_EPOCH)")
	documentExit(cmd, "the build failed, a FROM image or the Docker Engine is missing, or the push after it failed")
	f.progress.register(cmd)
	f.registry.register(cmd)
	cmd.ValidArgsFunction = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return nil, cobra.ShellCompDirectiveFilterDirs
	}
	cmd.MarkFlagFilename("file")
	return cmd
}

func (f *buildFlags) options(dir string) (build.Options, error) {
	if f.file != "" {
		// As docker build: -f is relative to the current directory.
		abs, err := filepath.Abs(f.file)
		if err != nil {
			return build.Options{}, err
		}
		f.file = abs
	}
	opts := build.Options{
		ContextDir: dir,
		Dockerfile: f.file,
		Tags:       f.tags,
		Builder:    f.builder,
		Platforms:  f.platforms,
		NoCache:    f.noCache,
		Via:        f.via,
	}
	var err error
	if opts.BuildArgs, err = keyValues("--build-arg", f.buildArgs); err != nil {
		return opts, err
	}
	if opts.Labels, err = keyValues("--label", f.labels); err != nil {
		return opts, err
	}
	for _, s := range f.secrets {
		m, err := csvAttrs("--secret", s)
		if err != nil {
			return opts, err
		}
		sec := build.Secret{ID: m["id"], Src: m["src"], Env: m["env"]}
		if sec.Src == "" {
			sec.Src = m["source"]
		}
		if sec.ID == "" || (sec.Src == "") == (sec.Env == "") {
			return opts, fmt.Errorf("--secret %s: use id=ID,src=FILE or id=ID,env=VAR", s)
		}
		opts.Secrets = append(opts.Secrets, sec)
	}
	for _, c := range f.cacheTo {
		e, err := cacheEntry("--cache-to", c)
		if err != nil {
			return opts, err
		}
		opts.CacheTo = append(opts.CacheTo, e)
	}
	for _, c := range f.cacheFrom {
		e, err := cacheEntry("--cache-from", c)
		if err != nil {
			return opts, err
		}
		opts.CacheFrom = append(opts.CacheFrom, e)
	}
	if f.output != "" {
		m, err := csvAttrs("--output", f.output)
		if err != nil {
			return opts, err
		}
		opts.Output = &build.Output{Type: m["type"], Dest: m["dest"]}
	}
	if f.sourceDate != "" {
		n, err := strconv.ParseInt(f.sourceDate, 10, 64)
		if err != nil || n < 0 {
			return opts, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a Unix time in seconds", f.sourceDate)
		}
		t := time.Unix(n, 0).UTC()
		opts.SourceDateEpoch = &t
	}
	switch f.via {
	case "", build.ViaAuto, build.ViaBuildKit, build.ViaDirect:
	default:
		return opts, fmt.Errorf("--via %s: use auto, buildkit or direct", f.via)
	}
	return opts, nil
}

func runBuild(ctx context.Context, stdout, stderr io.Writer, progress string, opts build.Options) error {
	dc, err := engineClient()
	if err != nil {
		return err
	}
	defer dc.Close()
	opts.Docker = dc
	opts.Logger = progressLogger(progress, stderr)
	opts.Progress = func(ctx context.Context, desc string, ch chan *bkclient.SolveStatus) error {
		var dopts []progressui.DisplayOpt
		if desc != "" {
			dopts = append(dopts, progressui.WithDesc("["+desc+"]", desc))
		}
		d, err := progressui.NewDisplay(stderr, progressui.DisplayMode(progress), dopts...)
		if err != nil {
			for range ch {
			}
			return err
		}
		_, err = d.UpdateFrom(ctx, ch)
		return err
	}
	res, err := build.Run(ctx, opts)
	if err != nil {
		return err
	}
	if res.Via != "" {
		fmt.Fprintf(stdout, "via %s\n", res.Via)
	}
	for _, im := range res.Images {
		fmt.Fprintf(stdout, "%s %s\n", im.Platform, im.ID)
	}
	for _, t := range res.Tags {
		fmt.Fprintf(stdout, "tagged %s (%s)\n", t, res.Tagged)
	}
	if res.Output != "" {
		fmt.Fprintf(stdout, "wrote %s\n", res.Output)
	}
	return nil
}

func keyValues(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			// As docker build: a bare K takes its value from the environment.
			ev, set := os.LookupEnv(k)
			if !set || flag != "--build-arg" {
				return nil, fmt.Errorf("%s %s: use K=V", flag, kv)
			}
			v = ev
		}
		if k == "" {
			return nil, fmt.Errorf("%s %s: use K=V", flag, kv)
		}
		m[k] = v
	}
	return m, nil
}

// csvAttrs parses "k=v,k2=v2".
func csvAttrs(flag, s string) (map[string]string, error) {
	m := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %s: use comma-separated key=value pairs", flag, s)
		}
		m[k] = v
	}
	return m, nil
}

func cacheEntry(flag, s string) (build.Cache, error) {
	m, err := csvAttrs(flag, s)
	if err != nil {
		return build.Cache{}, err
	}
	t := m["type"]
	if t == "" {
		return build.Cache{}, fmt.Errorf("%s %s: name the type, e.g. type=local,dest=DIR", flag, s)
	}
	delete(m, "type")
	return build.Cache{Type: t, Attrs: m}, nil
}
