package evaluate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sagekit/sagekit/evaluate/metrics"
	"github.com/sagekit/sagekit/evaluate/report"
	"github.com/sagekit/sagekit/evaluate/split"
	"github.com/sagekit/sagekit/platform"
)

// Defaults.
const (
	DefaultHoldout     = 0.25
	DefaultChannel     = "training"
	DefaultContentType = "text/csv"
	DefaultOverfitGap  = 0.1
	DefaultAlpha       = 0.05
	// MemoryPerJob is the engine memory counted for each training or
	// transform container when bounding the parallelism.
	MemoryPerJob = 2 << 30
)

// Options say what to evaluate and how.
type Options struct {
	// Image is the image reference in the local engine.
	Image string
	// Compare, when set, is a second image (it may be Image itself, with
	// CompareHyperparameters) trained and scored on the same folds.
	Compare string
	// CompareHyperparameters override Hyperparameters for the second
	// model.
	CompareHyperparameters map[string]string
	// Data is a CSV file or a directory of them.
	Data string
	// Label is the label column: a header name or a 0-based index. A name
	// found in the first row makes that row the header.
	Label string
	// Header says the first row of each file is a header.
	Header bool
	// Folds is K for k-fold cross-validation; 0 means a holdout split of
	// Holdout (default 0.25).
	Folds    int
	Holdout  float64
	Stratify bool
	Seed     uint64
	// Problem is binary, multiclass or regression; "" infers it from the
	// metrics asked for, else from the labels (metrics.Infer).
	Problem metrics.Problem
	// Positive is the positive class of a binary problem (default: the
	// second of the sorted classes, as scikit-learn's pos_label).
	Positive string
	// Metrics are metric names ("auc" or "validation:auc"); the first is
	// the objective. Empty means every metric that applies, the objective
	// being accuracy for classifiers and rmse for regression.
	Metrics []string
	// Hyperparameters are the training job's.
	Hyperparameters map[string]string
	// Channel is the training channel's name (default "training"); the
	// held-out rows also go to the channel "validation".
	Channel string
	// ContentType and Accept are the batch transform's (default text/csv
	// and none).
	ContentType, Accept string
	// Parallel is the most folds run at once (default, and upper bound:
	// the engine's CPUs, and its memory at MemoryPerJob each).
	Parallel int
	// Env is the training and transform jobs' Environment.
	Env map[string]string
	// GPU attaches every GPU of the engine to each container.
	GPU bool
	// OverfitGap is the train-validation gap that flags over-fitting
	// (default 0.1, see report.Summary.Gap).
	OverfitGap float64
	// Alpha is the significance level of the paired test (default 0.05).
	Alpha float64
	// StartupTimeout bounds the wait for /ping in each transform (default
	// platform.DefaultStartupTimeout).
	StartupTimeout time.Duration
	// OnEvent, when set, is told of progress (one call at a time).
	OnEvent func(Event)
	// OnFold, when set, is called with the report after each fold ends,
	// so a caller can write partial results (one call at a time; the
	// report must not be kept past the call).
	OnFold func(*report.Report)
}

// Stage is what an Event reports.
type Stage string

// Stages of a fold.
const (
	StageTrain     Stage = "train"
	StageTransform Stage = "transform"
	StageDone      Stage = "done"
	StageFailed    Stage = "failed"
	// StageNote is a remark about the whole run (Err says it; Fold is 0).
	StageNote Stage = "note"
)

// Event is progress on one fold of one model.
type Event struct {
	Model   string
	Fold    int
	Folds   int
	Stage   Stage
	Elapsed time.Duration
	// Objective and Score are the fold's validation objective (StageDone).
	Objective string
	Score     float64
	Err       error
}

// ErrIncomplete is returned (wrapped) when some folds failed; the report
// holds the others.
var ErrIncomplete = errors.New("evaluation incomplete")

func (o *Options) defaults() error {
	if o.Image == "" {
		return errors.New("no image given")
	}
	if o.Data == "" {
		return errors.New("no data given: pass a CSV file or a directory of them")
	}
	if o.Label == "" {
		return errors.New("no label column given: name it (header) or give its 0-based index")
	}
	if o.Folds == 0 && o.Holdout == 0 {
		o.Holdout = DefaultHoldout
	}
	if o.Folds != 0 && o.Holdout != 0 {
		return errors.New("give either a holdout fraction or a number of folds, not both")
	}
	if o.Channel == "" {
		o.Channel = DefaultChannel
	}
	if o.Channel == "validation" {
		return errors.New(`training channel "validation": that name is taken by the held-out rows`)
	}
	if o.ContentType == "" {
		o.ContentType = DefaultContentType
	}
	if o.OverfitGap == 0 {
		o.OverfitGap = DefaultOverfitGap
	}
	if o.Alpha == 0 {
		o.Alpha = DefaultAlpha
	}
	if o.Alpha <= 0 || o.Alpha >= 1 {
		return fmt.Errorf("significance level %g: want between 0 and 1", o.Alpha)
	}
	if o.Parallel < 0 {
		return fmt.Errorf("parallel %d: want 1 or more (0: as many as the engine allows)", o.Parallel)
	}
	return nil
}

// chooseMetrics resolves the problem type and the metric list: the asked
// ones (first is the objective) or every one that applies. explicit says
// which were asked for, so that a missing score is an error for those and
// a silent omission for the others.
func chooseMetrics(asked []string, problem metrics.Problem, labels []string) (metrics.Problem, []metrics.Metric, map[string]bool, error) {
	var ms []metrics.Metric
	explicit := map[string]bool{}
	for _, a := range asked {
		m, err := metrics.Lookup(a)
		if err != nil {
			return "", nil, nil, err
		}
		if !explicit[m.Name] {
			ms = append(ms, m)
			explicit[m.Name] = true
		}
	}
	if problem == "" {
		problem = problemFromMetrics(ms)
	}
	if problem == "" {
		problem = metrics.Infer(labels)
	}
	for _, m := range ms {
		if !m.Applies(problem) {
			var want []string
			for _, p := range m.Problems {
				want = append(want, string(p))
			}
			return "", nil, nil, fmt.Errorf("metric %s is for %s problems, and this one is %s: pick another metric, or say the problem type", m.Name, strings.Join(want, " and "), problem)
		}
	}
	if len(ms) == 0 {
		objective := "accuracy"
		if problem == metrics.Regression {
			objective = "rmse"
		}
		m, _ := metrics.Lookup(objective)
		ms = append(ms, m)
		for _, m := range metrics.All {
			if m.Applies(problem) && m.Name != objective {
				ms = append(ms, m)
			}
		}
	}
	return problem, ms, explicit, nil
}

// problemFromMetrics is the one problem type that every metric asked for
// fits, when the metrics narrow it down to one.
func problemFromMetrics(ms []metrics.Metric) metrics.Problem {
	var fits []metrics.Problem
	for _, p := range []metrics.Problem{metrics.Binary, metrics.Multiclass, metrics.Regression} {
		all := len(ms) > 0
		for _, m := range ms {
			if !m.Applies(p) {
				all = false
			}
		}
		if all {
			fits = append(fits, p)
		}
	}
	if len(fits) == 1 {
		return fits[0]
	}
	return ""
}

// checkRegressionLabels names the first label that is not a number.
func checkRegressionLabels(t *split.Table, col int, labels []string) error {
	for i, l := range labels {
		if _, err := strconv.ParseFloat(strings.TrimSpace(l), 64); err != nil {
			return fmt.Errorf("%s: label %q is not a number: regression metrics need numeric labels (class labels need --problem binary or multiclass)", t.Origins[i], l)
		}
	}
	return nil
}

// bound is the parallelism the engine allows: its CPUs, and its memory at
// MemoryPerJob a job.
func bound(ctx context.Context, e *platform.Engine, asked, jobs int) (int, string) {
	info, err := e.Client().Info(ctx, clientInfoOptions())
	if err != nil {
		// An engine that does not say what it has bounds nothing.
		return limitParallel(asked, jobs, 0, 0)
	}
	return limitParallel(asked, jobs, info.Info.NCPU, info.Info.MemTotal)
}

// limitParallel is the parallelism asked (0: the most allowed) within
// jobs, an engine's cpus and its memory at MemoryPerJob a job, with a note
// when it lowers what was asked. cpus 0 means the engine's size is unknown:
// then only jobs bounds it.
func limitParallel(asked, jobs, cpus int, memTotal int64) (int, string) {
	limit, why := jobs, ""
	if cpus > 0 {
		mem := int(memTotal / MemoryPerJob)
		limit = min(limit, cpus, max(mem, 1))
		why = fmt.Sprintf("the engine has %d CPUs and %.0f GiB of memory", cpus, float64(memTotal)/(1<<30))
	}
	if asked > 0 && asked < limit {
		return asked, ""
	}
	// Asking for more than there are jobs lowers nothing worth a note; the
	// engine lowering it below both is.
	if asked > limit && limit < jobs && why != "" {
		return limit, fmt.Sprintf("--parallel %d lowered to %d: %s", asked, limit, why)
	}
	return max(limit, 1), ""
}

func modelName(image string, hp, base map[string]string, letter string, sameImage bool) string {
	if !sameImage {
		return image
	}
	var diff []string
	for _, k := range slices.Sorted(maps.Keys(hp)) {
		if base[k] != hp[k] {
			diff = append(diff, k+"="+hp[k])
		}
	}
	if len(diff) == 0 {
		return image + " (" + letter + ")"
	}
	return image + " (" + strings.Join(diff, " ") + ")"
}
