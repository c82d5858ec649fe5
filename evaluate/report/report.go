package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sagekit/sagekit/evaluate/metrics"
	"github.com/sagekit/sagekit/sdk/optml"
)

// Report is the result of an evaluation, complete or not.
type Report struct {
	Image   string `json:"image"`
	Compare string `json:"compare,omitempty"`
	Data    string `json:"data"`
	Rows    int    `json:"rows"`
	Label   string `json:"label"`
	Problem string `json:"problem"`
	// Classes are in the order of score vectors; Positive is the positive
	// class of a binary problem.
	Classes  []string `json:"classes,omitempty"`
	Positive string   `json:"positive,omitempty"`
	Split    Split    `json:"split"`
	Metrics  []Metric `json:"metrics"`
	// Objective is the metric the comparison and the headline use.
	Objective string `json:"objective"`
	// OverfitGap is the train-validation gap above which a metric is
	// flagged (see Summary.Gap).
	OverfitGap float64 `json:"overfit_gap"`
	// Alpha is the significance level of the paired test.
	Alpha      float64      `json:"alpha"`
	Models     []Model      `json:"models"`
	Comparison []Comparison `json:"comparison,omitempty"`
	// Complete is false when a fold failed or the run was interrupted;
	// Errors say why.
	Complete bool      `json:"complete"`
	Errors   []string  `json:"errors,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
}

// Split says how the rows were split.
type Split struct {
	// Method is "kfold" or "holdout".
	Method     string  `json:"method"`
	Folds      int     `json:"folds"`
	Holdout    float64 `json:"holdout,omitempty"`
	Stratified bool    `json:"stratified"`
	Seed       uint64  `json:"seed"`
}

// Metric is one reported metric.
type Metric struct {
	Name      string `json:"name"`
	Direction string `json:"direction"`
	Bounded   bool   `json:"-"`
}

// Model is one image's results.
type Model struct {
	// Name tells the models apart: the image, with the hyperparameters
	// that differ when both models come from one image.
	Name            string            `json:"name"`
	Image           string            `json:"image"`
	Hyperparameters map[string]string `json:"hyperparameters,omitempty"`
	// Output is what the serving output held: "labels", "probabilities",
	// "scores" (not probabilities) or "values" (regression).
	Output  string    `json:"output,omitempty"`
	Folds   []Fold    `json:"folds"`
	Summary []Summary `json:"summary,omitempty"`
}

// Fold is one fold's result for one model.
type Fold struct {
	Fold           int     `json:"fold"`
	TrainRows      int     `json:"train_rows"`
	ValidationRows int     `json:"validation_rows"`
	Seconds        float64 `json:"seconds"`
	// Train and Validation map metric names to scores, on the training
	// rows and on the held-out rows.
	Train      map[string]float64 `json:"train,omitempty"`
	Validation map[string]float64 `json:"validation,omitempty"`
	// Predictions are the held-out rows' predictions.
	Predictions []Prediction `json:"predictions,omitempty"`
	// Error is set when the fold failed; it has no scores then.
	Error string `json:"error,omitempty"`
}

// OK reports whether the fold has scores.
func (f Fold) OK() bool { return f.Error == "" && f.Validation != nil }

// Prediction is one held-out row.
type Prediction struct {
	// Row is the 1-based row of the data (header not counted).
	Row       int       `json:"row"`
	Truth     string    `json:"truth"`
	Predicted string    `json:"predicted"`
	Scores    []float64 `json:"scores,omitempty"`
}

// Summary is one metric over the folds that finished.
type Summary struct {
	Metric    string  `json:"metric"`
	Folds     int     `json:"folds"`
	Mean      float64 `json:"mean"`
	Std       float64 `json:"std"`
	TrainMean float64 `json:"train_mean"`
	TrainStd  float64 `json:"train_std"`
	// Gap is how much worse validation is than training: the difference
	// for metrics bounded to [0, 1], else relative to the validation
	// score. Overfit is set when it exceeds Report.OverfitGap.
	Gap     float64 `json:"gap"`
	Overfit bool    `json:"overfit"`
}

// Comparison is one metric of Models[0] against Models[1] over the folds
// both finished.
type Comparison struct {
	Metric string    `json:"metric"`
	Folds  []int     `json:"folds"`
	Diff   []float64 `json:"diff"` // per fold, first minus second
	MeanA  float64   `json:"mean_a"`
	MeanB  float64   `json:"mean_b"`
	metrics.PairedT
	// Significant is P < Alpha; Better names the model with the better
	// mean score ("" when they tie).
	Significant bool   `json:"significant"`
	Better      string `json:"better,omitempty"`
	Note        string `json:"note,omitempty"`
}

// Summarize fills each model's Summary and the Comparison from the folds.
func (r *Report) Summarize() {
	for i := range r.Models {
		m := &r.Models[i]
		m.Summary = nil
		for _, met := range r.Metrics {
			var val, tr []float64
			for _, f := range m.Folds {
				if f.OK() {
					val = append(val, f.Validation[met.Name])
					tr = append(tr, f.Train[met.Name])
				}
			}
			if len(val) == 0 {
				continue
			}
			s := Summary{Metric: met.Name, Folds: len(val)}
			s.Mean, s.Std = metrics.MeanStd(val)
			s.TrainMean, s.TrainStd = metrics.MeanStd(tr)
			s.Gap = gap(met, s.TrainMean, s.Mean)
			s.Overfit = s.Gap > r.OverfitGap
			m.Summary = append(m.Summary, s)
		}
	}
	r.Comparison = nil
	if len(r.Models) < 2 {
		return
	}
	a, b := r.Models[0], r.Models[1]
	for _, met := range r.Metrics {
		c := Comparison{Metric: met.Name}
		var xs, ys []float64
		for i, fa := range a.Folds {
			if i >= len(b.Folds) || !fa.OK() || !b.Folds[i].OK() {
				continue
			}
			x, y := fa.Validation[met.Name], b.Folds[i].Validation[met.Name]
			c.Folds = append(c.Folds, fa.Fold)
			c.Diff = append(c.Diff, x-y)
			xs, ys = append(xs, x), append(ys, y)
		}
		if len(xs) == 0 {
			continue
		}
		c.MeanA, _ = metrics.MeanStd(xs)
		c.MeanB, _ = metrics.MeanStd(ys)
		switch {
		case c.MeanA == c.MeanB:
		case (c.MeanA > c.MeanB) == (met.Direction == "maximize"):
			c.Better = a.Name
		default:
			c.Better = b.Name
		}
		t, err := metrics.PairedTTest(xs, ys)
		if err != nil {
			c.Note = "no test: " + err.Error() + " (use --folds)"
			c.MeanDiff = c.MeanA - c.MeanB
		} else {
			c.PairedT = t
			c.Significant = t.P < r.Alpha
			if t.Degenerate {
				c.Note = "every fold differs by the same amount"
			}
		}
		r.Comparison = append(r.Comparison, c)
	}
}

func gap(m Metric, train, val float64) float64 {
	d := val - train // worse when positive, for a metric to minimize
	if m.Direction == "maximize" {
		d = -d
	}
	if m.Bounded {
		return d
	}
	if val == 0 {
		return 0
	}
	return d / val
}

// SummaryOf returns model m's summary of metric name, if any.
func (m Model) SummaryOf(name string) (Summary, bool) {
	for _, s := range m.Summary {
		if s.Metric == name {
			return s, true
		}
	}
	return Summary{}, false
}

// WriteJSON writes the report to path through a temporary file and a
// rename, so a reader never sees half a report.
func (r *Report) WriteJSON(path string) error {
	b, err := r.MarshalIndent()
	if err != nil {
		return err
	}
	return writeFile(path, b)
}

// MarshalIndent is the report as indented JSON, newline-terminated.
func (r *Report) MarshalIndent() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the report: %w", err)
	}
	return append(b, '\n'), nil
}

func writeFile(path string, b []byte) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if err := optml.WriteFileAtomic(path, b, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
