package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/spf13/cobra"

	"github.com/sagekit/sagekit/image/ecr"
	"github.com/sagekit/sagekit/image/push"
	"github.com/sagekit/sagekit/internal/redact"
	"github.com/sagekit/sagekit/internal/version"
)

func init() { register(newPushCmd) }

// pushDeps are what push reaches outside the process; tests replace them.
type pushDeps struct {
	// transport carries registry traffic; nil means the default.
	transport http.RoundTripper
	// docker connects to the Docker Engine for docker sources.
	docker push.DockerClient
}

// registryFlags are the destination flags 'sagekit push' and 'sagekit
// build --push' share.
type registryFlags struct {
	awsIdentity
	ecrRepo string
	repo    ecr.RepositoryOptions
	jobs    int
	debug   bool
}

func (f *registryFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.ecrRepo, "ecr", "", "push to REPO[:TAG] in the ECR registry of your AWS account and region, instead of DST")
	f.awsIdentity.register(cmd)
	fl.BoolVar(&f.repo.ScanOnPush, "scan-on-push", false, "ECR: turn on scanning of each push when creating the repository")
	fl.BoolVar(&f.repo.ImmutableTags, "immutable-tags", false, "ECR: make tags immutable when creating the repository")
	fl.StringVar(&f.repo.KMSKey, "kms-key", "", "ECR: encrypt a created repository with this KMS key (ARN, ID or alias)")
	fl.BoolVar(&f.repo.NoCreate, "no-create", false, "ECR: fail when the repository does not exist instead of creating it")
	fl.IntVar(&f.jobs, "jobs", 4, "blobs uploaded at once")
	fl.BoolVar(&f.debug, "debug", false, "log each step of the push to stderr")
}

type pushFlags struct {
	registryFlags
	progress string // a resolved mode: plain, tty, rawjson or quiet
}

func defaultPushDeps() pushDeps {
	return pushDeps{docker: func() (daemon.Client, error) { return engineClient() }}
}

func newPushCmd() *cobra.Command { return newPushCmdWith(defaultPushDeps()) }

func newPushCmdWith(deps pushDeps) *cobra.Command {
	var f registryFlags
	var progress progressFlag
	cmd := &cobra.Command{
		Use:   "push SRC [DST]",
		Short: "Push an image to Amazon ECR or any OCI registry",
		Long: `Push an image to Amazon ECR or any OCI registry.

SRC is an image in the local Docker Engine (NAME[:TAG], or docker:NAME), an OCI
image layout (oci:DIR, oci:DIR:TAG, oci:DIR@sha256:..., or a DIR holding
index.json), or a tarball (docker save or a tarred OCI layout). A layout holding
a multi-platform index is pushed as an index.

DST is ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO[:TAG] or any registry
reference. Instead of DST, --ecr REPO[:TAG] pushes to the ECR registry of your
AWS account in your configured region.

For ECR the repository is created when missing, a tag of an immutable repository
is never moved, and credentials come from the AWS SDK's standard chain
(environment, profiles, SSO). Other registries use the Docker configuration
and its credential helpers ('docker login').

The last line printed is the image URI pinned to the pushed digest, the form
to give CreateModel or CreateTrainingJob.`,
		Example: `  sagekit push my-model:latest --ecr my-model:v1
  sagekit push oci:./out 123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/model:v1 --immutable-tags
  sagekit push image.tar ghcr.io/me/model:v1`,
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: completeImages,
		RunE: func(cmd *cobra.Command, args []string) error {
			dst := ""
			if len(args) == 2 {
				dst = args[1]
			}
			mode, err := progress.resolve(cmd.ErrOrStderr())
			if err != nil {
				return badFlags(cmd, err)
			}
			if err := f.check(dst); err != nil {
				return badFlags(cmd, err)
			}
			return runPush(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], dst, pushFlags{registryFlags: f, progress: mode}, deps)
		},
	}
	documentExit(cmd, "the push failed (the source image is missing, credentials, the registry refused it)")
	f.register(cmd)
	progress.register(cmd)
	return cmd
}

func runPush(ctx context.Context, stdout, stderr io.Writer, src, dst string, f pushFlags, deps pushDeps) error {
	mode := f.progress
	dst, opts, err := pushTarget(ctx, stderr, dst, f.registryFlags, deps)
	if err != nil {
		return err
	}
	source, err := push.Open(ctx, src, deps.docker)
	if err != nil {
		return err
	}
	defer source.Close()

	r := &renderer{w: stderr, mode: mode}
	res, err := source.Push(ctx, dst, append(opts, push.WithProgress(r.event))...)
	r.finish()
	if err != nil {
		return err
	}
	return printResult(stdout, mode, res)
}

// pushBuilt checks the destination (for ECR: credentials, region and
// account) and returns a function that pushes what a build produced (idx
// is nil for a single-platform build) there exactly as 'sagekit push'
// would, and returns the digest URI. The function has the shape of
// build.PushFunc, for 'sagekit build --push'; the check runs before the
// build, so a bad destination fails before anything is built.
func pushBuilt(ctx context.Context, stdout, stderr io.Writer, dst string, f pushFlags) (func(ctx context.Context, img v1.Image, idx v1.ImageIndex) (string, error), error) {
	dst, opts, err := pushTarget(ctx, stderr, dst, f.registryFlags, defaultPushDeps())
	if err != nil {
		return nil, err
	}
	mode := f.progress
	return func(ctx context.Context, img v1.Image, idx v1.ImageIndex) (string, error) {
		r := &renderer{w: stderr, mode: mode}
		res, err := push.Artifact(ctx, img, idx, dst, append(opts, push.WithProgress(r.event))...)
		r.finish()
		if err != nil {
			return "", err
		}
		return res.DigestURI(), printResult(stdout, mode, res)
	}, nil
}

// check validates the destination flags without reaching a registry.
func (f registryFlags) check(dst string) error {
	switch {
	case dst == "" && f.ecrRepo == "":
		return errors.New("no destination: give DST (REGISTRY/REPO:TAG) or --ecr REPO[:TAG]")
	case dst != "" && f.ecrRepo != "":
		return errors.New("give either DST or --ecr, not both")
	case f.jobs < 1:
		return fmt.Errorf("--jobs %d: want 1 or more", f.jobs)
	}
	if f.ecrRepo != "" {
		if _, err := name.ParseReference("example.com/" + f.ecrRepo); err != nil {
			return fmt.Errorf("--ecr %s: want REPO[:TAG], for example my-model:v1: %w", f.ecrRepo, err)
		}
		return nil
	}
	if _, err := name.ParseReference(dst); err != nil {
		return fmt.Errorf("destination %s: want REGISTRY/REPO[:TAG], for example 123456789012.dkr.ecr.eu-west-1.amazonaws.com/model:v1: %w", dst, err)
	}
	if reg, ok := push.ECRRegistry(dst); ok {
		if f.region != "" && f.region != reg.Region {
			return fmt.Errorf("--region %s does not match the region of %s (%s): ECR registries are per region; drop --region or fix the host", f.region, reg.Host(), reg.Region)
		}
		return nil
	}
	if f.repo != (ecr.RepositoryOptions{}) || f.region != "" || f.profile != "" {
		return fmt.Errorf("--scan-on-push, --immutable-tags, --kms-key, --no-create, --region and --profile apply to ECR destinations only, and %s is not one", dst)
	}
	return nil
}

// pushTarget resolves the destination (filling in --ecr) and the push
// options that flags and dependencies give.
func pushTarget(ctx context.Context, stderr io.Writer, dst string, f registryFlags, deps pushDeps) (string, []push.Option, error) {
	if err := f.check(dst); err != nil {
		return "", nil, err
	}
	opts := []push.Option{push.WithJobs(f.jobs), push.WithUserAgent("sagekit/" + version.Version), push.WithRepository(f.repo)}
	if deps.transport != nil {
		opts = append(opts, push.WithTransport(deps.transport))
	}
	if f.debug {
		opts = append(opts, push.WithLogger(slog.New(slog.NewTextHandler(redact.Writer(stderr), &slog.HandlerOptions{Level: slog.LevelDebug}))))
	}
	dst, more, err := push.Destination{Ref: dst, ECRRepo: f.ecrRepo, Profile: f.profile, Region: f.region}.Resolve(ctx)
	if err != nil {
		return "", nil, err
	}
	return dst, append(opts, more...), nil
}

// renderer draws push events: one redrawn status line on a terminal, a
// line per step otherwise, JSON lines for rawjson.
type renderer struct {
	w     io.Writer
	mode  string
	ref   string
	last  push.Event
	drawn time.Time
	open  bool // a tty status line is on screen
}

func (r *renderer) event(e push.Event) {
	if e.Kind == push.EventStart {
		r.ref = e.Ref
	}
	if e.Kind == push.EventBytes {
		r.last.BytesDone, r.last.BytesTotal = e.BytesDone, e.BytesTotal
	}
	r.last.Blobs, r.last.BlobsTotal = e.Blobs, e.BlobsTotal
	switch r.mode {
	case "quiet":
	case progressRawJSON:
		b, _ := json.Marshal(e)
		fmt.Fprintf(r.w, "%s\n", b)
	case "tty":
		r.tty(e)
	default:
		r.plain(e)
	}
}

func (r *renderer) plain(e push.Event) {
	switch e.Kind {
	case push.EventStart:
		fmt.Fprintf(r.w, "pushing %s (%d blobs)\n", e.Ref, e.BlobsTotal)
	case push.EventRepositoryCreated:
		fmt.Fprintf(r.w, "created ECR repository %s\n", e.Ref)
	case push.EventBlobSkipped:
		fmt.Fprintf(r.w, "exists   %s (%d/%d)\n", short(e.Digest), e.Blobs, e.BlobsTotal)
	case push.EventBlobUploaded:
		fmt.Fprintf(r.w, "uploaded %s (%d/%d, %s of %s)\n", short(e.Digest), e.Blobs, e.BlobsTotal, bytesize(r.last.BytesDone), bytesize(r.last.BytesTotal))
	case push.EventRetry:
		fmt.Fprintf(r.w, "retrying after: %s\n", e.Err)
	case push.EventManifest:
		fmt.Fprintf(r.w, "wrote manifest %s\n", e.Digest)
	}
}

func (r *renderer) tty(e push.Event) {
	switch e.Kind {
	case push.EventRepositoryCreated, push.EventRetry:
		r.clear()
		if e.Kind == push.EventRetry {
			fmt.Fprintf(r.w, "retrying after: %s\n", e.Err)
		} else {
			fmt.Fprintf(r.w, "created ECR repository %s\n", e.Ref)
		}
	case push.EventBytes:
		if time.Since(r.drawn) < 100*time.Millisecond {
			return
		}
	}
	r.drawn = time.Now()
	fmt.Fprintf(r.w, "\r\033[Kpushing %s  blobs %d/%d  %s / %s", r.ref, r.last.Blobs, r.last.BlobsTotal, bytesize(r.last.BytesDone), bytesize(r.last.BytesTotal))
	r.open = true
	if e.Kind == push.EventManifest {
		r.finish()
	}
}

func (r *renderer) clear() {
	if r.open {
		fmt.Fprint(r.w, "\r\033[K")
		r.open = false
	}
}

// finish ends a tty status line.
func (r *renderer) finish() {
	if r.open {
		fmt.Fprintln(r.w)
		r.open = false
	}
}

func printResult(w io.Writer, mode string, res *push.Result) error {
	var err error
	switch mode {
	case progressRawJSON:
		err = json.NewEncoder(w).Encode(map[string]any{
			"digest": res.Digest.String(), "media_type": res.MediaType, "image_uri": res.DigestURI(), "tag_uri": res.TagURI(),
			"uploaded": res.Uploaded, "skipped": res.Skipped, "repository_created": res.RepositoryCreated, "unchanged": res.Unchanged,
		})
	case "quiet":
		_, err = fmt.Fprintln(w, res.DigestURI())
	default:
		what := fmt.Sprintf("%d blobs uploaded, %d already present", res.Uploaded, res.Skipped)
		if res.Unchanged {
			what = "the tag already pointed to this image; nothing uploaded"
		}
		_, err = fmt.Fprintf(w, "pushed %s (%s)\ndigest %s\nimage URI (CreateModel, CreateTrainingJob): %s\n", res.TagURI(), what, res.Digest, res.DigestURI())
	}
	return err
}

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}

func bytesize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// noPush fails when a push flag is given to a build that does not push.
func (f registryFlags) noPush(cmd *cobra.Command) error {
	for _, n := range []string{"region", "profile", "scan-on-push", "immutable-tags", "kms-key", "no-create", "jobs", "debug"} {
		if cmd.Flags().Changed(n) {
			return fmt.Errorf("--%s applies to pushing: add --push REGISTRY/REPO:TAG or --ecr REPO[:TAG]", n)
		}
	}
	return nil
}
