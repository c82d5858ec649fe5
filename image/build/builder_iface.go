package build

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/moby/moby/client"
	"github.com/tonistiigi/fsutil"
)

// Builder is one way of making the image of a prepared build. Run reads
// and checks the Dockerfile, checks the base images, stages the runtime
// into the context, and hands the Job to the builders Options.Via allows,
// in order: the direct assembler, then BuildKit. A builder that cannot
// build the Job says why with an error that makes Run try the next one
// (or, when it was the only one allowed, fail with ErrUnsupported).
type Builder interface {
	// Name is the builder's Options.Via value.
	Name() string
	// Build makes the image, loads it into the Engine and tags it.
	Build(ctx context.Context, j *Job) (*Result, error)
}

var (
	_ Builder = directBuilder{}
	_ Builder = buildKitBuilder{}
)

// Job is one build as Run prepared it for a Builder.
type Job struct {
	opts       Options
	log        *slog.Logger
	docker     *client.Client
	platforms  []string // normalised, at least one
	engineArch string
	dockerfile string // path
	src        []byte // the Dockerfile's content
	df         *dockerfile
	contextDir string
	ctxFS      fsutil.FS // the context with the staged runtime
	dfFS       fsutil.FS // the Dockerfile's directory
}

// buildersFor lists the builders Options.Via allows, in the order Run
// tries them.
func buildersFor(via string) ([]Builder, error) {
	switch via {
	case ViaAuto:
		return []Builder{directBuilder{}, buildKitBuilder{}}, nil
	case ViaDirect:
		return []Builder{directBuilder{}}, nil
	case ViaBuildKit:
		return []Builder{buildKitBuilder{}}, nil
	}
	return nil, fmt.Errorf("--via %s: use auto, buildkit or direct", via)
}

// otherVia is the --via value to suggest when builder name cannot build.
func otherVia(name string) string {
	if name == ViaDirect {
		return ViaBuildKit
	}
	return ViaDirect
}
