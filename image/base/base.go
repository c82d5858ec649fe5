package base

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/image/engineload"
)

// Options says which base images to make and how.
type Options struct {
	// Only selects images by Spec.Key. Default: all of Specs.
	Only []string
	// Arch is the Debian/Go architecture. Default: the host's.
	Arch string
	// Mirror is the Debian mirror. Default: DefaultMirror.
	Mirror string
	// Force rebuilds images and the cached rootfs even when present.
	Force bool
	// CacheDir keeps the debootstrap rootfs and the layers between runs.
	// Default: $XDG_CACHE_HOME/sagekit or ~/.cache/sagekit.
	CacheDir string
	// Version is the sagekit version written into the labels.
	Version string
	// Docker is the Engine client the images are written to. Required.
	Docker *client.Client
	// Logger receives one line per step. Default: discard.
	Logger *slog.Logger
}

// Result reports one image.
type Result struct {
	Ref string
	// ID is the image ID in the Engine.
	ID string
	// Size is the image's size in the Engine, uncompressed.
	Size int64
	// Skipped says why nothing was done ("" when the image was made).
	Skipped string
	// Took is how long making the image took, rootfs included.
	Took time.Duration
}

// info is what the cache keeps about the debootstrap rootfs.
type info struct {
	Mirror        string `json:"mirror"`
	ReleaseDate   string `json:"release_date"`
	DebianVersion string `json:"debian_version"`
}

// Run makes the selected images and writes them to the Engine, skipping
// those already there unless opts.Force.
func Run(ctx context.Context, opts Options) ([]Result, error) {
	if opts.Docker == nil {
		return nil, errors.New("base: Options.Docker is nil")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Arch == "" {
		opts.Arch = runtime.GOARCH
	}
	if opts.Arch != runtime.GOARCH {
		return nil, fmt.Errorf("--arch %s on a %s host: debootstrap would run %s programs, which needs qemu-user-static and binfmt_misc: run sagekit base on a %s machine", opts.Arch, runtime.GOARCH, opts.Arch, opts.Arch)
	}
	if opts.Mirror == "" {
		opts.Mirror = DefaultMirror
	}
	if opts.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("finding the cache directory: %w: pass --cache-dir", err)
		}
		opts.CacheDir = filepath.Join(dir, "sagekit")
	}
	specs, err := selectSpecs(opts.Only)
	if err != nil {
		return nil, err
	}
	if _, err := opts.Docker.Ping(ctx, client.PingOptions{}); err != nil {
		return nil, fmt.Errorf("docker engine not reachable at %s: start it or set DOCKER_HOST: %w", opts.Docker.DaemonHost(), err)
	}

	b := &builder{opts: opts, log: log, dir: filepath.Join(opts.CacheDir, "base", Suite+"-"+opts.Arch)}
	for _, s := range specs {
		b.forceBase = b.forceBase || len(s.Packages) == 0
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return nil, err
	}
	var out []Result
	for _, s := range specs {
		start := time.Now()
		if !s.supports(opts.Arch) {
			out = append(out, Result{Ref: s.Ref, Skipped: fmt.Sprintf("not available for %s (Debian has its packages for %s only)", opts.Arch, strings.Join(s.Arches, ", "))})
			continue
		}
		if !opts.Force {
			if ins, err := opts.Docker.ImageInspect(ctx, s.Ref); err == nil && ins.Config != nil && ins.Config.Labels[LabelSpec] == s.Fingerprint() {
				out = append(out, Result{Ref: s.Ref, ID: ins.ID, Size: ins.Size, Skipped: "already in the image store (--force rebuilds it)"})
				continue
			} else if err == nil {
				log.Info("the image in the store was made from another spec: making it again", "image", s.Ref)
			} else if !notFound(ctx, opts.Docker, s.Ref) {
				return out, fmt.Errorf("inspecting %s: %w", s.Ref, err)
			}
		}
		r, err := b.make(ctx, s)
		if err != nil {
			return out, fmt.Errorf("making %s: %w", s.Ref, err)
		}
		r.Took = time.Since(start)
		log.Info("made", "image", r.Ref, "id", r.ID, "size", r.Size, "took", r.Took.Round(time.Second))
		out = append(out, r)
	}
	return out, nil
}

func selectSpecs(only []string) ([]Spec, error) {
	if len(only) == 0 {
		return Specs, nil
	}
	var out []Spec
	for _, s := range Specs {
		for _, k := range only {
			if k == s.Key {
				out = append(out, s)
				break
			}
		}
	}
	for _, k := range only {
		if _, ok := Lookup(k); !ok {
			keys := make([]string, len(Specs))
			for i, s := range Specs {
				keys[i] = s.Key
			}
			return nil, fmt.Errorf("--only %s: choose from %s", k, strings.Join(keys, ", "))
		}
	}
	return out, nil
}

type builder struct {
	opts      Options
	log       *slog.Logger
	dir       string // the cache for this suite and arch
	baseDone  bool   // the base layer was checked or made this run
	forceBase bool   // --force with the base image selected
}

func (b *builder) path(name string) string { return filepath.Join(b.dir, name) }

// make builds the layers of s (reusing cached ones) and writes the image.
func (b *builder) make(ctx context.Context, s Spec) (Result, error) {
	inf, err := b.baseLayer(ctx)
	if err != nil {
		return Result{}, err
	}
	layers := []Layer{{Path: b.path("base-layer.tar"), CreatedBy: fmt.Sprintf("debootstrap --variant=minbase --include=ca-certificates %s %s", Suite, inf.Mirror)}}
	if len(s.Packages) > 0 {
		p, err := b.derivedLayer(ctx, s)
		if err != nil {
			return Result{}, err
		}
		layers = append(layers, Layer{Path: p, CreatedBy: "apt-get install --no-install-recommends " + strings.Join(s.Packages, " ")})
	}
	created, err := time.Parse(time.RFC1123, inf.ReleaseDate)
	if err != nil {
		created = time.Unix(0, 0)
	}
	labels := map[string]string{
		"org.opencontainers.image.title":     s.Ref,
		"org.opencontainers.image.base.name": "debian:" + Suite,
		"dev.sagekit.version":                b.opts.Version,
		"dev.sagekit.base":                   s.Key,
		"dev.sagekit.debian.suite":           Suite,
		"dev.sagekit.debian.version":         inf.DebianVersion,
		"dev.sagekit.debian.release-date":    inf.ReleaseDate,
		"dev.sagekit.debian.mirror":          inf.Mirror,
		"dev.sagekit.debian.packages":        strings.Join(s.Packages, " "),
		"dev.sagekit.debian.stubs":           strings.Join(s.Stubs, " "),
		LabelSpec:                            s.Fingerprint(),
	}
	img, err := Assemble(layers, b.opts.Arch, s.Env, labels, created.UTC())
	if err != nil {
		return Result{}, err
	}
	b.log.Info("writing to the Docker Engine", "image", s.Ref)
	id, size, err := Write(ctx, b.opts.Docker, s.Ref, img)
	if err != nil {
		return Result{}, err
	}
	return Result{Ref: s.Ref, ID: id, Size: size}, nil
}

// LabelSpec carries Spec.Fingerprint on every base image, so that a changed
// spec makes its image again instead of reusing the old one.
const LabelSpec = "dev.sagekit.base.spec"

// Write loads img into the Engine as ref, reports an error the load stream
// carries (daemon.Write returns those as text), and returns the image ID
// and size the Engine reports.
func Write(ctx context.Context, dc *client.Client, ref string, img v1.Image) (string, int64, error) {
	tag, err := name.NewTag(ref)
	if err != nil {
		return "", 0, err
	}
	out, err := daemon.Write(tag, img, daemon.WithClient(dc), daemon.WithContext(ctx))
	if err != nil {
		return "", 0, fmt.Errorf("loading %s into the Docker Engine: %w", ref, err)
	}
	if err := engineload.StreamError(strings.NewReader(out)); err != nil {
		return "", 0, fmt.Errorf("loading %s into the Docker Engine: %w", ref, err)
	}
	ins, err := dc.ImageInspect(ctx, ref)
	if err != nil {
		return "", 0, fmt.Errorf("%s is not in the image store after loading it: %w", ref, err)
	}
	return ins.ID, ins.Size, nil
}

// logFile is where debootstrap and apt write; it is named in errors.
func (b *builder) logFile() (io.WriteCloser, string, error) {
	p := b.path("build.log")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	return f, p, err
}

// baseLayer makes (or reuses) the debootstrap rootfs tar and the cleaned,
// slimmed base layer made from it.
func (b *builder) baseLayer(ctx context.Context) (info, error) {
	var inf info
	infoPath, layer := b.path("info.json"), b.path("base-layer.tar")
	// --force makes debootstrap run again only when the base image itself
	// is being made, so derived images keep sharing its layer.
	if !b.opts.Force || !b.forceBase || b.baseDone {
		if raw, err := os.ReadFile(infoPath); err == nil && json.Unmarshal(raw, &inf) == nil && inf.Mirror == b.opts.Mirror && exists(layer) {
			b.baseDone = true
			return inf, nil
		}
	}
	work, err := os.MkdirTemp(b.dir, "rootfs-")
	if err != nil {
		return inf, err
	}
	defer os.RemoveAll(work)
	lf, logPath, err := b.logFile()
	if err != nil {
		return inf, err
	}
	defer lf.Close()
	b.log.Info("running debootstrap", "suite", Suite, "arch", b.opts.Arch, "mirror", b.opts.Mirror, "log", logPath)
	if err := debootstrap(ctx, b.opts.Mirror, b.opts.Arch, work, lf); err != nil {
		return inf, err
	}
	dv, _ := os.ReadFile(filepath.Join(work, "etc/debian_version"))
	inf = info{Mirror: b.opts.Mirror, ReleaseDate: debianInfo(work), DebianVersion: strings.TrimSpace(string(dv))}
	if err := clean(work); err != nil {
		return inf, err
	}
	if err := slim(work); err != nil {
		return inf, err
	}
	b.log.Info("writing the base layer", "path", layer)
	if err := writeLayer(work, layer+".tmp", nil); err != nil {
		return inf, fmt.Errorf("writing the base layer: %w", err)
	}
	if err := os.Rename(layer+".tmp", layer); err != nil {
		return inf, err
	}
	raw, _ := json.MarshalIndent(inf, "", "  ")
	if err := os.WriteFile(infoPath, raw, 0o644); err != nil {
		return inf, err
	}
	b.baseDone = true
	return inf, nil
}

// derivedLayer makes (or reuses) the layer that s's packages add on top of
// the base layer: the base layer is unpacked, apt-get installs in a
// chroot, and what changed becomes the layer.
func (b *builder) derivedLayer(ctx context.Context, s Spec) (string, error) {
	layer := b.path(s.Key + "-" + s.Fingerprint() + "-layer.tar")
	base := b.path("base-layer.tar")
	if !b.opts.Force && newer(layer, base) {
		return layer, nil
	}
	work, err := os.MkdirTemp(b.dir, s.Key+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	if err := unpack(ctx, base, work); err != nil {
		return "", err
	}
	before, err := takeSnapshot(work)
	if err != nil {
		return "", err
	}
	lf, logPath, err := b.logFile()
	if err != nil {
		return "", err
	}
	defer lf.Close()
	b.log.Info("installing packages in a chroot", "image", s.Ref, "packages", strings.Join(s.Packages, " "), "log", logPath)
	if err := aptInstall(ctx, work, b.opts.Mirror, s.Components, s.Packages, s.Stubs, lf); err != nil {
		return "", fmt.Errorf("%w (see %s)", err, logPath)
	}
	if err := clean(work); err != nil {
		return "", err
	}
	b.log.Info("writing the layer", "image", s.Ref, "path", layer)
	if err := writeLayer(work, layer+".tmp", before); err != nil {
		return "", fmt.Errorf("writing the %s layer: %w", s.Key, err)
	}
	return layer, os.Rename(layer+".tmp", layer)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// newer reports whether a exists and is not older than b.
func newer(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && !fa.ModTime().Before(fb.ModTime())
}

// notFound reports whether the Engine holds no image named ref, for telling
// a missing image from another inspect failure.
func notFound(ctx context.Context, dc *client.Client, ref string) bool {
	res, err := dc.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("reference", ref)})
	return err == nil && len(res.Items) == 0
}
