package build

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/moby/client"
	"github.com/tonistiigi/fsutil"
)

// tempRepo names the per-platform images while a build runs; they are
// untagged before Run returns.
const tempRepo = "sagekit.local/build-tmp"

// Run builds the image that opts describe and loads it into the Engine.
func Run(ctx context.Context, opts Options) (*Result, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Docker == nil {
		return nil, errors.New("build: Options.Docker is nil")
	}
	dc := opts.Docker

	contextDir, err := filepath.Abs(opts.ContextDir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(contextDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("build context %s is not a directory: pass the project directory", opts.ContextDir)
	}
	dfPath := dockerfilePath(contextDir, opts.Dockerfile)
	src, err := os.ReadFile(dfPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s: create one (`sagekit init` writes one) or pass -f PATH", ErrNoDockerfile, dfPath)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dfPath, err)
	}
	df, err := parseDockerfile(filepath.Base(dfPath), src)
	if err != nil {
		return nil, err
	}
	if err := checkNoSyntaxLine(filepath.Base(dfPath), src); err != nil {
		return nil, err
	}

	engine, err := engineInfo(ctx, dc)
	if err != nil {
		return nil, err
	}
	platforms, err := normalizePlatforms(opts.Platforms, "linux/"+engine.arch)
	if err != nil {
		return nil, err
	}
	if opts.Output != nil {
		if err := checkOutput(opts.Output, len(platforms)); err != nil {
			return nil, err
		}
	}
	for _, p := range platforms {
		images, err := df.baseImages(opts.BuildArgs, p)
		if err != nil {
			return nil, err
		}
		if opts.Builder != "" && len(images) > 0 {
			return nil, fmt.Errorf("%w: a standalone buildkitd cannot see the Engine's images, and %s starts FROM %s: build without --builder, or FROM scratch", ErrUnsupported, filepath.Base(dfPath), images[0])
		}
		for _, img := range images {
			if err := checkBaseImage(ctx, dc, img, p); err != nil {
				return nil, err
			}
		}
	}

	mtime := time.Unix(0, 0)
	if opts.SourceDateEpoch != nil {
		mtime = *opts.SourceDateEpoch
	}
	staging, err := os.MkdirTemp("", "sagekit-context-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(staging)
	arches := make([]string, len(platforms))
	for i, p := range platforms {
		arches[i] = strings.TrimPrefix(p, "linux/")
	}
	if err := stageSagekit(ctx, log, staging, contextDir, arches, mtime); err != nil {
		return nil, err
	}
	ctxFS, err := contextFS(contextDir, staging, opts.SourceDateEpoch)
	if err != nil {
		return nil, err
	}
	dfFS, err := fsutil.NewFS(filepath.Dir(dfPath))
	if err != nil {
		return nil, err
	}

	j := &Job{
		opts: opts, log: log, docker: dc, platforms: platforms, engineArch: engine.arch,
		dockerfile: dfPath, src: src, df: df, contextDir: contextDir, ctxFS: ctxFS, dfFS: dfFS,
	}
	builders, err := buildersFor(cmpOr(opts.Via, ViaAuto))
	if err != nil {
		return nil, err
	}
	if opts.Via == ViaBuildKit {
		log.Info("building with BuildKit", "reason", "--via buildkit")
	}
	for i, b := range builders {
		res, err := b.Build(ctx, j)
		var fb *fallbackError
		if errors.As(err, &fb) && i+1 < len(builders) {
			log.Info("building with BuildKit", "reason", fb.reason)
			continue
		}
		if errors.As(err, &fb) {
			return nil, fmt.Errorf("%w: --via %s cannot build this: %s: use --via auto or --via %s", ErrUnsupported, b.Name(), fb.reason, otherVia(b.Name()))
		}
		return res, err
	}
	return nil, errors.New("build: no builder")
}

// buildKitBuilder solves the Dockerfile with BuildKit: the Engine's own, or a
// standalone buildkitd (Options.Builder).
type buildKitBuilder struct{}

func (buildKitBuilder) Name() string { return ViaBuildKit }

func (buildKitBuilder) Build(ctx context.Context, j *Job) (*Result, error) {
	opts, log, dc, df, platforms, dfPath, ctxFS, dfFS := j.opts, j.log, j.docker, j.df, j.platforms, j.dockerfile, j.ctxFS, j.dfFS
	bk, feat, err := connect(ctx, dc, opts.Builder)
	if err != nil {
		return nil, err
	}
	defer bk.Close()
	if feat.oldFrontend {
		if err := df.checkOldFrontend(); err != nil {
			return nil, err
		}
	}
	if len(opts.CacheTo) > 0 && !feat.cacheExport {
		return nil, fmt.Errorf("%w: the Docker Engine's BuildKit with the classic image store cannot export cache: drop --cache-to (the Engine keeps its own layer cache), or use --builder with a standalone buildkitd", ErrUnsupported)
	}

	var sess []session.Attachable
	if len(opts.Secrets) > 0 {
		srcs := make([]secretsprovider.Source, len(opts.Secrets))
		for i, s := range opts.Secrets {
			srcs[i] = secretsprovider.Source{ID: s.ID, FilePath: s.Src, Env: s.Env}
		}
		store, err := secretsprovider.NewStore(srcs)
		if err != nil {
			return nil, fmt.Errorf("reading build secrets: %w", err)
		}
		sess = append(sess, secretsprovider.NewSecretProvider(store))
	}

	run := newRunID()
	res := &Result{Tags: opts.Tags, Via: ViaBuildKit}
	var temps []string
	defer func() {
		// The per-platform names go; the -t names stay.
		for _, t := range temps {
			_, _ = dc.ImageRemove(context.WithoutCancel(ctx), t, client.ImageRemoveOptions{})
		}
	}()
	for _, p := range platforms {
		temp := fmt.Sprintf("%s:%s-%s", tempRepo, run, strings.ReplaceAll(p, "/", "-"))
		temps = append(temps, temp)
		log.Debug("temporary image name", "name", temp, "platform", p)
		attrs := frontendAttrs(opts, filepath.Base(dfPath), p)
		solve := bkclient.SolveOpt{
			Frontend:      "dockerfile.v0",
			FrontendAttrs: attrs,
			LocalMounts:   map[string]fsutil.FS{"context": ctxFS, "dockerfile": dfFS},
			Session:       sess,
			CacheImports:  cacheEntries(opts.CacheFrom),
			CacheExports:  cacheEntries(opts.CacheTo),
		}
		desc := ""
		if len(platforms) > 1 {
			desc = p
		}
		id, err := solveOne(ctx, bk, dc, opts, solve, temp, desc)
		if err != nil {
			return nil, translate(err, filepath.Base(dfPath), p)
		}
		if opts.SourceDateEpoch != nil {
			log.Info("pinning timestamps to SOURCE_DATE_EPOCH", "platform", p)
			if id, err = pinCreated(ctx, dc, temp, *opts.SourceDateEpoch); err != nil {
				return nil, err
			}
		}
		res.Images = append(res.Images, PlatformImage{Platform: p, ID: id})
		log.Debug("built", "platform", p, "id", id)
	}

	tagged := res.Images[0]
	for _, im := range res.Images {
		if im.Platform == "linux/"+j.engineArch {
			tagged = im
			break
		}
	}
	res.Tagged = tagged.Platform
	for _, t := range opts.Tags {
		if _, err := dc.ImageTag(ctx, client.ImageTagOptions{Source: tagged.ID, Target: t}); err != nil {
			return nil, fmt.Errorf("tagging %s: %w", t, err)
		}
	}

	if opts.Output != nil || opts.Push != nil {
		img, idx, err := assemble(ctx, dc, platforms, temps)
		if err != nil {
			return nil, err
		}
		if opts.Output != nil {
			if err := writeOutput(opts.Output, img, idx, opts.Tags); err != nil {
				return nil, err
			}
			res.Output = opts.Output.Dest
		}
		if opts.Push != nil {
			if res.Pushed, err = opts.Push(ctx, img, idx); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}

// solveOne runs one platform's solve and returns the image ID it loaded
// into the Engine under the name temp.
func solveOne(ctx context.Context, bk *bkclient.Client, dc *client.Client, opts Options, solve bkclient.SolveOpt, temp, desc string) (string, error) {
	eg, gctx := newGroup(ctx)
	defer eg.cancel()
	var pw *io.PipeWriter
	if opts.Builder == "" {
		// The Engine's own exporter writes straight into its image store.
		solve.Exports = []bkclient.ExportEntry{{Type: "moby", Attrs: exportAttrs(opts, temp)}}
	} else {
		var pr *io.PipeReader
		pr, pw = io.Pipe()
		solve.Exports = []bkclient.ExportEntry{{
			Type:   bkclient.ExporterDocker,
			Attrs:  exportAttrs(opts, temp),
			Output: func(map[string]string) (io.WriteCloser, error) { return pw, nil },
		}}
		eg.Go(func() error {
			err := loadImage(gctx, dc, pr)
			pr.CloseWithError(err)
			return err
		})
	}
	ch := make(chan *bkclient.SolveStatus)
	eg.Go(func() error {
		_, err := bk.Solve(gctx, nil, solve, ch)
		if pw != nil {
			// Ends the load whether or not the exporter ran.
			pw.CloseWithError(err)
		}
		return err
	})
	eg.Go(func() error {
		// Keep reading after a failure elsewhere: Solve blocks on ch.
		if opts.Progress == nil {
			for range ch {
			}
			return nil
		}
		return opts.Progress(context.WithoutCancel(ctx), desc, ch)
	})
	if err := eg.Wait(); err != nil {
		return "", err
	}
	ins, err := dc.ImageInspect(ctx, temp)
	if err != nil {
		return "", fmt.Errorf("reading back the built image: %w", err)
	}
	return ins.ID, nil
}

func frontendAttrs(opts Options, filename, platform string) map[string]string {
	attrs := map[string]string{
		"filename":           filename,
		"platform":           platform,
		"image-resolve-mode": "local",
	}
	for k, v := range opts.BuildArgs {
		attrs["build-arg:"+k] = v
	}
	if opts.SourceDateEpoch != nil {
		attrs["build-arg:SOURCE_DATE_EPOCH"] = strconv.FormatInt(opts.SourceDateEpoch.Unix(), 10)
	}
	for k, v := range opts.Labels {
		attrs["label:"+k] = v
	}
	if opts.NoCache {
		attrs["no-cache"] = ""
	}
	return attrs
}

func exportAttrs(opts Options, name string) map[string]string {
	attrs := map[string]string{"name": name}
	if opts.SourceDateEpoch != nil {
		// BuildKit v0.13+ rewrites layer and config times itself; older
		// ones (the Engine's before 25.0) ignore it and pinCreated steps in.
		attrs["rewrite-timestamp"] = "true"
	}
	return attrs
}

func cacheEntries(cs []Cache) []bkclient.CacheOptionsEntry {
	out := make([]bkclient.CacheOptionsEntry, 0, len(cs))
	for _, c := range cs {
		out = append(out, bkclient.CacheOptionsEntry{Type: c.Type, Attrs: c.Attrs})
	}
	return out
}

func contextFS(dir, staging string, epoch *time.Time) (fsutil.FS, error) {
	base, err := fsutil.NewFS(dir)
	if err != nil {
		return nil, err
	}
	if epoch != nil {
		if base, err = clampTimes(base, *epoch); err != nil {
			return nil, err
		}
	}
	mtime := time.Unix(0, 0)
	if epoch != nil {
		mtime = *epoch
	}
	return newOverlayFS(base, SagekitDir, staging, mtime)
}

// checkNoSyntaxLine refuses a `# syntax=` directive: it makes BuildKit pull
// a frontend image from a registry.
func checkNoSyntaxLine(name string, src []byte) error {
	for i, line := range strings.Split(string(src), "\n") {
		l := strings.TrimSpace(line)
		if !strings.HasPrefix(l, "#") {
			break
		}
		k, _, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(l, "#")), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "syntax") {
			return &SyntaxError{File: name, Line: i + 1, Msg: "a `# syntax=` line pulls a frontend image from a registry: remove it (the builder's own Dockerfile frontend is used)"}
		}
	}
	return nil
}

type engine struct {
	version string
	arch    string
}

func engineInfo(ctx context.Context, dc *client.Client) (engine, error) {
	v, err := dc.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return engine{}, fmt.Errorf("%w at %s: start it with `sudo systemctl start docker` (or set DOCKER_HOST): %v", ErrEngine, dc.DaemonHost(), err)
	}
	return engine{version: v.Version, arch: v.Arch}, nil
}

// normalizePlatforms checks the platforms asked for; sagekit carries
// runtimes for linux/amd64 and linux/arm64 only.
func normalizePlatforms(ps []string, def string) ([]string, error) {
	var out []string
	for _, p := range ps {
		for _, q := range strings.Split(p, ",") {
			q = strings.TrimSpace(q)
			if q == "" {
				continue
			}
			if !strings.Contains(q, "/") {
				q = "linux/" + q
			}
			if q != "linux/amd64" && q != "linux/arm64" {
				return nil, fmt.Errorf("platform %s is not supported: use linux/amd64 and/or linux/arm64", q)
			}
			if !slices.Contains(out, q) {
				out = append(out, q)
			}
		}
	}
	if len(out) == 0 {
		out = []string{def}
	}
	return out, nil
}

// checkBaseImage makes sure img is in the Engine's store for platform, so
// the build resolves it locally instead of trying a registry.
func checkBaseImage(ctx context.Context, dc *client.Client, img, platform string) error {
	ins, err := dc.ImageInspect(ctx, img)
	if err != nil && notFound(ctx, dc, img) {
		return &BaseImageError{Image: img}
	}
	if err != nil {
		return fmt.Errorf("inspecting base image %s: %w", img, err)
	}
	have := ins.Os + "/" + ins.Architecture
	if have != platform {
		return &BaseImageError{Image: img, Platform: platform, Have: have}
	}
	return nil
}

func checkOutput(o *Output, platforms int) error {
	if o.Dest == "" {
		return fmt.Errorf("--output type=%s needs dest=FILE", o.Type)
	}
	switch o.Type {
	case OutputOCI:
	case OutputDocker:
		if platforms > 1 {
			return fmt.Errorf("--output type=docker holds one platform: use type=oci for several")
		}
	default:
		return fmt.Errorf("--output type=%s is not supported: use type=oci or type=docker", o.Type)
	}
	return nil
}

func newRunID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// platformOf parses "linux/arm64".
func platformOf(p string) v1.Platform {
	os, arch, _ := strings.Cut(p, "/")
	return v1.Platform{OS: os, Architecture: arch}
}
