package evaluate

import (
	"context"
	"fmt"
	"time"

	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/sdk/optml"
)

// A Runner runs the jobs of one fold of one model: training on the fold's
// channels, then a batch transform of its held-out and training rows. Run
// uses the local engine's (Local); SageMaker runs them as SageMaker jobs.
// Splitting, scoring and the report are the same for every Runner.
type Runner interface {
	// Check is called once, before any fold runs, with the images to run.
	Check(ctx context.Context, images []string) error
	// Parallel is how many folds run at once when asked is (0: the
	// default) and there are jobs of them, with a note when it is lower
	// than asked.
	Parallel(ctx context.Context, asked, jobs int) (int, string)
	// Fold trains j.Image, calls transforming, then transforms every file
	// of j.Input into j.Output, FILE.out for each FILE. The error of a
	// failed job starts "training" or "batch transform"; when ctx ends
	// Fold stops what it started before it returns ctx's error.
	Fold(ctx context.Context, j FoldJob, transforming func()) error
}

// FoldJob is one fold of one model, its data laid out in local
// directories.
type FoldJob struct {
	// Name is unique in the run: fold-N-M, M the model's letter.
	Name            string
	Image           string
	Hyperparameters optml.Hyperparameters
	// Channels are the training channels' directories by name.
	Channels map[string]string
	// Input holds the transform's input files; Output receives FILE.out.
	Input, Output string
	// Dir is a directory of the job's own, for whatever else it needs.
	Dir                 string
	ContentType, Accept string
	Env                 map[string]string
}

// Local returns the Runner of the local engine e: containers through
// platform, with o's GPU and StartupTimeout, at most as many at once as
// e's CPUs and memory allow.
func Local(e *platform.Engine, o Options) Runner {
	return &localRunner{e: e, gpu: o.GPU, startup: o.StartupTimeout}
}

type localRunner struct {
	e       *platform.Engine
	gpu     bool
	startup time.Duration
}

var _ Runner = (*localRunner)(nil)

func (l *localRunner) Check(ctx context.Context, images []string) error {
	for _, image := range images {
		if _, err := l.e.Client().ImageInspect(ctx, image); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("image %s is not in the local engine (nothing is pulled): build it first, or check the name: %w", image, err)
		}
	}
	return nil
}

func (l *localRunner) Parallel(ctx context.Context, asked, jobs int) (int, string) {
	return bound(ctx, l.e, asked, jobs)
}

func (l *localRunner) Fold(ctx context.Context, j FoldJob, transforming func()) error {
	tr, err := l.e.Train(ctx, platform.TrainingJob{
		Image:       j.Image,
		Name:        "sagekit-evaluate-" + j.Name,
		Layout:      optml.Layout{Hyperparameters: j.Hyperparameters},
		ChannelDirs: j.Channels,
		Env:         j.Env,
		GPU:         l.gpu,
	})
	if tr != nil {
		defer tr.Remove()
	}
	if err != nil {
		return fmt.Errorf("training: %w", err)
	}
	if reason := trainingFailure(tr); reason != "" {
		return fmt.Errorf("training failed: %s", reason)
	}
	transforming()
	tres, err := l.e.Transform(ctx, platform.TransformJob{
		Image:          j.Image,
		Model:          tr.Hosts[0].Paths.Model(),
		Input:          j.Input,
		Output:         j.Output,
		ContentType:    j.ContentType,
		Accept:         j.Accept,
		SplitType:      platform.SplitLine,
		AssembleWith:   platform.AssembleLine,
		Env:            j.Env,
		GPU:            l.gpu,
		StartupTimeout: l.startup,
	})
	if err != nil {
		if tres != nil && len(tres.Logs) > 0 && tres.Files == nil {
			return fmt.Errorf("batch transform: %w; the container's last output:\n%s", err, tail(tres.Logs, 1500))
		}
		return fmt.Errorf("batch transform: %w", err)
	}
	return nil
}
