package build

import (
	"context"
	"log/slog"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/moby/client"
)

// Options says what to build and where the result goes. ContextDir and
// Docker are required; everything else has a default written on the field.
type Options struct {
	// ContextDir is the build context directory.
	ContextDir string
	// Dockerfile is the Dockerfile's path, relative to ContextDir when not
	// absolute. Default: "Dockerfile".
	Dockerfile string
	// Tags name the built image in the Engine's image store.
	Tags []string
	// Builder is "" for the Engine's own BuildKit, or the address of a
	// standalone buildkitd (unix:///run/buildkit/buildkitd.sock, tcp://host:port).
	Builder string
	// Platforms to build, as "linux/amd64". Default: the Engine's platform.
	Platforms []string
	// BuildArgs are passed as --build-arg.
	BuildArgs map[string]string
	// Labels are added to the image config.
	Labels map[string]string
	// Secrets are offered to RUN --mount=type=secret.
	Secrets []Secret
	// NoCache disables BuildKit's cache for every step.
	NoCache bool
	// CacheFrom and CacheTo import and export the build cache.
	CacheFrom, CacheTo []Cache
	// Output, when set, also writes the image to a file.
	Output *Output
	// SourceDateEpoch, when not nil, makes timestamps reproducible: it is
	// passed as the SOURCE_DATE_EPOCH build-arg, file times in the context
	// are clamped to it, and the image's creation times are set to it.
	SourceDateEpoch *time.Time
	// Docker is the Engine client. Required: images are loaded into it.
	Docker *client.Client
	// Progress consumes the status of each solve; nil discards it.
	Progress ProgressFunc
	// Logger receives sagekit's own steps. Default: discard.
	Logger *slog.Logger
	// Via says how the image is made: ViaAuto (the default) assembles it
	// without BuildKit when the Dockerfile only copies context files and
	// sets config on a base in the Engine's store (or scratch), and uses
	// BuildKit otherwise; ViaBuildKit always uses BuildKit; ViaDirect
	// never does, and fails when it cannot build without it.
	Via string
	// CacheDir holds the layers and base image facts direct assembly
	// keeps between builds. Default: $XDG_CACHE_HOME/sagekit/build
	// (os.UserCacheDir).
	CacheDir string
	// Push, when set, is called with the built image or index after the
	// build (see PushFunc).
	Push PushFunc
}

// ProgressFunc consumes one solve's status until ch is closed. desc names
// the solve (its platform when several are built). ctx is never cancelled
// before ch closes, so the reader keeps draining: a reader that stops
// would block the solve.
type ProgressFunc func(ctx context.Context, desc string, ch chan *bkclient.SolveStatus) error

// Secret is one build secret: its value comes from the file Src or the
// environment variable Env.
type Secret struct {
	ID, Src, Env string
}

// Cache is a cache import or export entry, such as type=local,dest=DIR.
type Cache struct {
	Type  string
	Attrs map[string]string
}

// Output types.
const (
	// OutputOCI writes a tar of an OCI image layout; several platforms go
	// into one image index.
	OutputOCI = "oci"
	// OutputDocker writes a `docker save` tar of one platform.
	OutputDocker = "docker"
)

// Output is a file the image is also written to.
type Output struct {
	Type string
	Dest string
}

// Result says what was built.
type Result struct {
	// Images holds one entry per platform, in the order asked for.
	Images []PlatformImage
	// Tags are the names given to the image in the Engine.
	Tags []string
	// Tagged is the platform the Tags point at; the Engine's classic image
	// store keeps one platform per name.
	Tagged string
	// Output is the file written, if any.
	Output string
	// Pushed is what the push reported, if a push ran.
	Pushed string
	// Via is how the image was made: ViaDirect or ViaBuildKit.
	Via string
}

// PlatformImage is the image built for one platform.
type PlatformImage struct {
	Platform string
	// ID is the image ID (config digest) in the Engine.
	ID string
}

// PushFunc pushes the result of a build: idx is nil when one platform was
// built, img is nil when several were. It returns a line to report, such as
// the pushed digest.
type PushFunc func(ctx context.Context, img v1.Image, idx v1.ImageIndex) (string, error)
