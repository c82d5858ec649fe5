package evaluate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sagekit/sagekit/evaluate/metrics"
	"github.com/sagekit/sagekit/evaluate/report"
	"github.com/sagekit/sagekit/evaluate/split"
	"github.com/sagekit/sagekit/platform"
)

// fold trains model mi on fold fi, transforms its training and held-out
// rows, scores them, and records the result.
func (r *run) fold(ctx context.Context, mi, fi int, dir string) {
	m, f, files := r.models[mi], r.folds[fi], r.files[fi]
	start := time.Now()
	res, err := r.trainAndScore(ctx, m, f, files, dir)
	if ctx.Err() != nil {
		// Interrupted: the fold stays unfinished.
		return
	}
	res.Seconds = time.Since(start).Seconds()
	ev := Event{Model: m.name, Fold: f.Index, Stage: StageDone, Elapsed: time.Since(start), Objective: r.metrics[0].Name}
	if err != nil {
		res.Error = err.Error()
		ev.Stage, ev.Err = StageFailed, err
	} else {
		ev.Score = res.Validation[r.metrics[0].Name]
	}
	r.event(ev)
	r.mu.Lock()
	defer r.mu.Unlock()
	res.Fold, res.TrainRows, res.ValidationRows = f.Index, len(f.Train), len(f.Val)
	r.rep.Models[mi].Folds[fi] = res
	if err != nil {
		r.rep.Complete = false
		prefix := fmt.Sprintf("fold %d", f.Index)
		if len(r.models) > 1 {
			prefix += " of " + m.name
		}
		r.rep.Errors = append(r.rep.Errors, prefix+": "+err.Error())
	}
	if r.o.OnFold != nil {
		r.rep.Metrics = r.reported()
		r.rep.Summarize()
		r.rep.Finished = time.Now().UTC()
		r.o.OnFold(r.rep)
	}
}

func (r *run) trainAndScore(ctx context.Context, m model, f split.Fold, files split.Files, dir string) (report.Fold, error) {
	var res report.Fold
	r.event(Event{Model: m.name, Fold: f.Index, Stage: StageTrain})
	out := filepath.Join(dir, "output")
	err := r.runner.Fold(ctx, FoldJob{
		Name:            fmt.Sprintf("fold-%d-%s", f.Index, strings.ToLower(modelLetterOf(r, m))),
		Image:           m.image,
		Hyperparameters: m.hp,
		Channels:        map[string]string{r.o.Channel: files.Training, "validation": files.Validation},
		Input:           files.Transform,
		Output:          out,
		Dir:             dir,
		ContentType:     r.o.ContentType,
		Accept:          r.o.Accept,
		Env:             r.o.Env,
	}, func() { r.event(Event{Model: m.name, Fold: f.Index, Stage: StageTransform}) })
	if err != nil {
		return res, err
	}
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(out, name+".out"))
		if err != nil {
			return nil, fmt.Errorf("reading the batch transform output: %w", err)
		}
		return b, nil
	}
	valOut, err := read(split.ValidationInput)
	if err != nil {
		return res, err
	}
	trainOut, err := read(split.TrainingInput)
	if err != nil {
		return res, err
	}
	var kind string
	res.Validation, res.Predictions, kind, err = r.score(valOut, f.Val, "held-out")
	if err != nil {
		return res, err
	}
	res.Train, _, _, err = r.score(trainOut, f.Train, "training")
	if err != nil {
		res.Validation, res.Predictions = nil, nil
		return res, err
	}
	r.mu.Lock()
	for i := range r.rep.Models {
		if r.rep.Models[i].Name == m.name {
			r.rep.Models[i].Output = kind
		}
	}
	r.mu.Unlock()
	return res, nil
}

func modelLetterOf(r *run, m model) string {
	for i, x := range r.models {
		if x.name == m.name {
			return modelLetter(i)
		}
	}
	return "a"
}

// score parses a transform output for rows and computes every metric.
// kind is what the output held.
func (r *run) score(out []byte, rows []int, which string) (scores map[string]float64, preds []report.Prediction, kind string, err error) {
	rowErr := func(err error) error {
		var pe *metrics.ParseError
		if errors.As(err, &pe) && pe.Row > 0 && pe.Row <= len(rows) {
			return fmt.Errorf("the prediction for %s (%s row %d): %q: %s", r.t.Origins[rows[pe.Row-1]], which, pe.Row, pe.Value, pe.Reason)
		}
		return fmt.Errorf("the predictions for the %s rows: %w", which, err)
	}
	scores = map[string]float64{}
	if r.problem == metrics.Regression {
		pred, err := metrics.ParseRegression(out, len(rows))
		if err != nil {
			return nil, nil, "", rowErr(err)
		}
		n := &metrics.Numeric{Pred: pred}
		for i, row := range rows {
			v, _ := strconv.ParseFloat(strings.TrimSpace(r.labels[row]), 64)
			n.Truth = append(n.Truth, v)
			preds = append(preds, report.Prediction{Row: row + 1, Truth: r.labels[row], Predicted: strconv.FormatFloat(pred[i], 'g', -1, 64)})
		}
		for _, m := range r.metrics {
			if scores[m.Name], err = n.Score(m); err != nil {
				return nil, nil, "", fmt.Errorf("%s on the %s rows: %w", m.Name, which, err)
			}
		}
		return scores, preds, "values", nil
	}
	c := &metrics.Classification{Problem: r.problem, Classes: r.classes, Positive: r.positive}
	index := map[string]int{}
	for i, cl := range r.classes {
		index[cl] = i
	}
	for _, row := range rows {
		c.Truth = append(c.Truth, index[r.labels[row]])
	}
	if err := metrics.ParseClassification(out, len(rows), c); err != nil {
		return nil, nil, "", rowErr(err)
	}
	kind = "labels"
	if c.Scores != nil {
		kind = "scores (not probabilities)"
		if c.Probabilities {
			kind = "probabilities"
		}
	}
	for i, row := range rows {
		p := report.Prediction{Row: row + 1, Truth: r.labels[row], Predicted: r.classes[c.Pred[i]]}
		if c.Scores != nil {
			p.Scores = c.Scores[i]
		}
		preds = append(preds, p)
	}
	for _, m := range r.metrics {
		v, err := c.Score(m)
		if err != nil {
			if r.explicit[m.Name] || !(m.Scores || m.Probabilities) {
				return nil, nil, "", fmt.Errorf("%s on the %s rows: %w", m.Name, which, err)
			}
			continue // not asked for, and the output cannot give it
		}
		scores[m.Name] = v
	}
	return scores, preds, kind, nil
}

// trainingFailure is the reason a training job failed ("" if it did not).
func trainingFailure(tr *platform.Training) string {
	for _, h := range tr.Hosts {
		switch {
		case h.StartErr != nil:
			return h.StartErr.Error()
		case h.ExitCode == 0:
			continue
		case h.Failure != "":
			return strings.TrimSpace(h.Failure)
		default:
			return fmt.Sprintf("exit code %d and no /opt/ml/output/failure; the container's last output:\n%s", h.ExitCode, tail(h.Logs, 1500))
		}
	}
	return ""
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}
