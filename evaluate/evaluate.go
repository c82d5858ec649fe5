package evaluate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/evaluate/metrics"
	"github.com/sagekit/sagekit/evaluate/report"
	"github.com/sagekit/sagekit/evaluate/split"
	"github.com/sagekit/sagekit/platform"
	"github.com/sagekit/sagekit/sdk/optml"
)

func clientInfoOptions() client.InfoOptions { return client.InfoOptions{} }

// model is one image with its hyperparameters.
type model struct {
	name  string
	image string
	hp    optml.Hyperparameters
}

// run is one evaluation in progress.
type run struct {
	o        Options
	runner   Runner
	t        *split.Table
	col      int
	labels   []string
	problem  metrics.Problem
	classes  []string
	positive int
	metrics  []metrics.Metric
	explicit map[string]bool
	folds    []split.Fold
	files    []split.Files
	models   []model

	mu  sync.Mutex // guards rep and the events
	rep *report.Report
}

// Run evaluates o.Image (and o.Compare) on the local engine e. It returns
// the report also when it returns an error, with the folds that finished:
// an error wrapping ErrIncomplete when some folds failed, ctx's error when
// ctx ended first (every container is removed by then). Errors about the
// options or the data come before anything runs, with a nil report.
func Run(ctx context.Context, e *platform.Engine, o Options) (*report.Report, error) {
	return RunOn(ctx, Local(e, o), o)
}

// RunOn is Run with the folds' jobs run by runner (Local, SageMaker):
// the same splits, scores and report, the folds that finished kept when
// ctx ends (the runner has stopped its jobs by then).
func RunOn(ctx context.Context, runner Runner, o Options) (*report.Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	r, err := prepare(runner, o)
	if err != nil {
		return nil, err
	}
	var images []string
	for _, m := range r.models {
		if !slices.Contains(images, m.image) {
			images = append(images, m.image)
		}
	}
	if err := runner.Check(ctx, images); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	work, err := os.MkdirTemp("", "sagekit-evaluate-")
	if err != nil {
		return nil, fmt.Errorf("creating the work directory: %w", err)
	}
	defer os.RemoveAll(work)
	// Readable by images that run as another user.
	if err := os.Chmod(work, 0o755); err != nil {
		return nil, fmt.Errorf("creating the work directory: %w", err)
	}
	for _, f := range r.folds {
		fs, err := split.Write(filepath.Join(work, fmt.Sprintf("fold-%d", f.Index)), r.t, r.col, f)
		if err != nil {
			return nil, err
		}
		r.files = append(r.files, fs)
	}
	type job struct{ m, f int }
	var jobs []job
	for f := range r.folds {
		for m := range r.models {
			jobs = append(jobs, job{m, f})
		}
	}
	n, note := runner.Parallel(ctx, o.Parallel, len(jobs))
	if note != "" {
		r.event(Event{Stage: StageNote, Err: errors.New(note)})
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, j := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r.fold(ctx, j.m, j.f, filepath.Join(work, fmt.Sprintf("fold-%d", r.folds[j.f].Index), modelLetter(j.m)))
		}()
	}
	wg.Wait()
	return r.finish(ctx)
}

func modelLetter(i int) string { return string(rune('A' + i)) }

// prepare reads the data and checks everything that can be checked before
// a container runs.
func prepare(runner Runner, o Options) (*run, error) {
	header := o.Header
	if !header {
		if _, err := strconv.Atoi(o.Label); err != nil && split.HasHeaderRow(o.Data, o.Label) {
			header = true
		}
	}
	t, err := split.Read(o.Data, split.ReadOptions{Header: header})
	if err != nil {
		return nil, err
	}
	col, err := t.Column(o.Label)
	if err != nil {
		return nil, err
	}
	r := &run{o: o, runner: runner, t: t, col: col}
	for _, row := range t.Rows {
		r.labels = append(r.labels, row[col])
	}
	if r.problem, r.metrics, r.explicit, err = chooseMetrics(o.Metrics, o.Problem, r.labels); err != nil {
		return nil, err
	}
	// A header read as data shows as a first row whose label is odd.
	headerHint := func(err error, firstRow bool) error {
		if firstRow && !header {
			return fmt.Errorf("%w (if the first row is a header, pass --header or give the label column by name)", err)
		}
		return err
	}
	if r.problem == metrics.Regression {
		if err := checkRegressionLabels(t, col, r.labels); err != nil {
			return nil, headerHint(err, !isNumber(r.labels[0]))
		}
	} else {
		r.classes = metrics.Classes(r.labels)
		switch {
		case r.problem == metrics.Binary && len(r.classes) != 2:
			return nil, fmt.Errorf("binary classification needs 2 classes in label column %s, and it has %d (%s): use --problem multiclass or regression", o.Label, len(r.classes), strings.Join(first(r.classes, 10), ", "))
		case len(r.classes) < 2:
			return nil, fmt.Errorf("label column %s has one class (%s): nothing to classify", o.Label, r.classes[0])
		}
		r.positive = len(r.classes) - 1
		if o.Positive != "" {
			r.positive = slices.Index(r.classes, o.Positive)
			if r.positive < 0 || r.problem != metrics.Binary {
				return nil, fmt.Errorf("positive class %q: want one of the binary problem's classes (%s)", o.Positive, strings.Join(first(r.classes, 10), ", "))
			}
		}
	}
	plan := split.Plan{Folds: o.Folds, Holdout: o.Holdout, Seed: o.Seed}
	if o.Stratify {
		if r.problem == metrics.Regression {
			return nil, errors.New("--stratify needs class labels: a regression label has no classes to balance")
		}
		plan.Strata = r.labels
	}
	if r.folds, err = split.Make(len(t.Rows), plan); err != nil {
		return nil, err
	}
	if r.problem != metrics.Regression {
		if err := split.CheckClasses(r.folds, r.labels); err != nil {
			var mc *split.MissingClassError
			if errors.As(err, &mc) {
				mc.Stratified = o.Stratify
			}
			return nil, headerHint(err, mc != nil && mc.Rows == 1 && mc.Class == r.labels[0])
		}
	}
	hp := optml.Hyperparameters(maps.Clone(o.Hyperparameters))
	r.models = []model{{name: o.Image, image: o.Image, hp: hp}}
	if o.Compare != "" {
		hp2 := maps.Clone(hp)
		if hp2 == nil {
			hp2 = optml.Hyperparameters{}
		}
		maps.Copy(hp2, o.CompareHyperparameters)
		same := o.Compare == o.Image
		r.models[0].name = modelName(o.Image, hp, hp2, "A", same)
		r.models = append(r.models, model{name: modelName(o.Compare, hp2, hp, "B", same), image: o.Compare, hp: hp2})
		if same && r.models[0].name == o.Image+" (A)" {
			r.models[0].name, r.models[1].name = o.Image+" (A)", o.Image+" (B)"
		}
	}
	r.rep = r.newReport()
	return r, nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return err == nil
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(slices.Clone(s[:n]), "...")
	}
	return s
}

func (r *run) newReport() *report.Report {
	o := r.o
	rep := &report.Report{
		Image: o.Image, Compare: o.Compare, Data: o.Data, Rows: len(r.t.Rows),
		Label: o.Label, Problem: string(r.problem), Classes: r.classes,
		Objective: r.metrics[0].Name, OverfitGap: o.OverfitGap, Alpha: o.Alpha,
		Complete: true, Started: time.Now().UTC(),
		Split: report.Split{Method: "holdout", Folds: len(r.folds), Holdout: o.Holdout, Stratified: o.Stratify, Seed: o.Seed},
	}
	if o.Folds > 0 {
		rep.Split.Method = "kfold"
	}
	if r.problem == metrics.Binary {
		rep.Positive = r.classes[r.positive]
	}
	for _, m := range r.models {
		rm := report.Model{Name: m.name, Image: m.image, Hyperparameters: m.hp}
		for _, f := range r.folds {
			rm.Folds = append(rm.Folds, report.Fold{Fold: f.Index, TrainRows: len(f.Train), ValidationRows: len(f.Val)})
		}
		rep.Models = append(rep.Models, rm)
	}
	rep.Metrics = r.reported()
	return rep
}

// reported lists the metrics every finished fold has (all candidates
// before any finished).
func (r *run) reported() []report.Metric {
	var out []report.Metric
	for _, m := range r.metrics {
		have := true
		if r.rep != nil {
			for _, rm := range r.rep.Models {
				for _, f := range rm.Folds {
					if f.OK() {
						if _, ok := f.Validation[m.Name]; !ok {
							have = false
						}
					}
				}
			}
		}
		if have {
			out = append(out, report.Metric{Name: m.Name, Direction: m.Direction(), Bounded: m.Bounded})
		}
	}
	return out
}

func (r *run) event(ev Event) {
	if r.o.OnEvent == nil {
		return
	}
	ev.Folds = len(r.folds)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.o.OnEvent(ev)
}

// finish summarises the report and returns it with the run's error.
func (r *run) finish(ctx context.Context) (*report.Report, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	failed, missing := 0, 0
	for i := range r.rep.Models {
		for j := range r.rep.Models[i].Folds {
			f := &r.rep.Models[i].Folds[j]
			switch {
			case f.Error != "":
				failed++
			case !f.OK():
				missing++
				f.Error = "not run: interrupted"
			}
		}
	}
	r.rep.Metrics = r.reported()
	r.rep.Summarize()
	r.rep.Finished = time.Now().UTC()
	if ctx.Err() != nil {
		r.rep.Complete = false
		r.rep.Errors = append(r.rep.Errors, "interrupted: the folds that finished are kept")
		return r.rep, ctx.Err()
	}
	if failed > 0 {
		r.rep.Complete = false
		total := len(r.folds) * len(r.models)
		return r.rep, fmt.Errorf("%w: %d of %d folds failed: %s", ErrIncomplete, failed, total, strings.Join(r.rep.Errors, "; "))
	}
	return r.rep, nil
}
