package report

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// envDump, when set to a directory, makes the tests write the pages they
// render there, to look at them in a browser.
const envDump = "SAGEKIT_REPORT_DUMP"

// synthetic builds a finished report of a given problem with two models
// over five folds, scores and predictions made up from a fixed seed.
func synthetic(problem string, models int) *Report {
	rng := rand.New(rand.NewPCG(3, 4))
	r := &Report{Image: "algo:a", Data: "iris.csv", Rows: 150, Label: "species", Problem: problem,
		Split: Split{Method: "kfold", Folds: 5, Stratified: true, Seed: 1}, OverfitGap: 0.1, Alpha: 0.05, Complete: true}
	names := map[string][]string{
		"binary":     {"accuracy", "auc", "logloss"},
		"multiclass": {"accuracy", "merror", "mlogloss"},
		"regression": {"rmse", "mae"},
	}[problem]
	for _, n := range names {
		dir := "minimize"
		if n == "accuracy" || n == "auc" {
			dir = "maximize"
		}
		r.Metrics = append(r.Metrics, Metric{Name: n, Direction: dir, Bounded: n != "logloss" && n != "mlogloss" && n != "rmse" && n != "mae"})
	}
	r.Objective = names[0]
	switch problem {
	case "binary":
		r.Classes, r.Positive = []string{"no", "yes"}, "yes"
	case "multiclass":
		r.Classes = []string{"setosa", "versicolor", "virginica"}
	}
	for mi := range models {
		m := Model{Name: []string{"algo:a", "algo:b"}[mi], Image: "algo", Output: "probabilities"}
		if problem == "regression" {
			m.Output = "values"
		}
		for f := 1; f <= 5; f++ {
			fold := Fold{Fold: f, TrainRows: 120, ValidationRows: 30, Train: map[string]float64{}, Validation: map[string]float64{}}
			for _, n := range names {
				v := 0.9 - 0.03*float64(mi) + rng.Float64()*0.05
				fold.Validation[n] = v
				fold.Train[n] = v + 0.15 // over-fits: the flag must show
			}
			for i := range 30 {
				p := Prediction{Row: (f-1)*30 + i + 1}
				switch problem {
				case "regression":
					y := rng.NormFloat64() * 10
					p.Truth, p.Predicted = strconv.FormatFloat(y, 'g', -1, 64), strconv.FormatFloat(y+rng.NormFloat64(), 'g', -1, 64)
				default:
					K := len(r.Classes)
					t := rng.IntN(K)
					s := make([]float64, K)
					var sum float64
					for k := range s {
						s[k] = rng.Float64()
						if k == t {
							s[k] += 1.2
						}
						sum += s[k]
					}
					best := 0
					for k := range s {
						s[k] /= sum
						if s[k] > s[best] {
							best = k
						}
					}
					p.Truth, p.Predicted, p.Scores = r.Classes[t], r.Classes[best], s
				}
				fold.Predictions = append(fold.Predictions, p)
			}
			m.Folds = append(m.Folds, fold)
		}
		r.Models = append(r.Models, m)
	}
	if models > 1 {
		r.Compare = "algo:b"
	}
	r.Summarize()
	return r
}

func TestSummarize(t *testing.T) {
	r := synthetic("multiclass", 2)
	s, ok := r.Models[0].SummaryOf("accuracy")
	if !ok || s.Folds != 5 || !s.Overfit || math.Abs(s.Gap-0.15) > 1e-9 {
		t.Errorf("accuracy summary = %+v, want 5 folds, gap 0.15, flagged", s)
	}
	ml, _ := r.Models[0].SummaryOf("mlogloss")
	if want := -0.15 / ml.Mean; math.Abs(ml.Gap-want) > 1e-9 || ml.Overfit {
		// Training is worse here (higher loss): a negative gap, no flag.
		t.Errorf("mlogloss gap = %v, want %v and no flag", ml.Gap, want)
	}
	if len(r.Comparison) != 3 {
		t.Fatalf("%d comparisons, want 3", len(r.Comparison))
	}
	c := r.Comparison[0]
	if c.Metric != "accuracy" || c.DF != 4 || len(c.Diff) != 5 || c.P <= 0 || c.P >= 1 {
		t.Errorf("comparison = %+v", c)
	}
	// A fold that failed leaves the paired test the folds both finished.
	r.Models[1].Folds[2].Error = "training failed"
	r.Models[1].Folds[2].Validation = nil
	r.Complete, r.Errors = false, []string{"fold 3 of algo:b: training failed"}
	r.Summarize()
	if got := r.Comparison[0].Folds; len(got) != 4 || got[2] != 4 {
		t.Errorf("folds compared after a failure = %v, want 1 2 4 5", got)
	}
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"accuracy *", "! over-fitting", "INCOMPLETE", "paired t-test", "failed", "fold 3 of algo:b: training failed"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
}

// external matches what would make a browser fetch something.
var external = regexp.MustCompile(`(?i)<script|<link|<img|\bsrc=|\bhref=|url\(|@import`)

func TestHTMLIsSelfContained(t *testing.T) {
	for _, tc := range []struct {
		problem string
		models  int
		want    []string
	}{
		{"binary", 1, []string{"ROC curve", "Confusion matrix", "<svg"}},
		{"multiclass", 2, []string{"ROC curves, one class against the rest", "Confusion matrix", "A vs B", "Over-fitting"}},
		{"regression", 1, []string{"Residuals", "<svg"}},
	} {
		t.Run(tc.problem, func(t *testing.T) {
			r := synthetic(tc.problem, tc.models)
			b, err := r.HTML()
			if err != nil {
				t.Fatal(err)
			}
			page := string(b)
			if m := external.FindString(page); m != "" {
				t.Errorf("the page would fetch something: %q", m)
			}
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("the page lacks %q", w)
				}
			}
			if tc.problem == "regression" && strings.Contains(page, "Confusion matrix") {
				t.Error("a regression page has a confusion matrix")
			}
			if got := strings.Count(page, "<svg"); got < len(r.Metrics) {
				t.Errorf("%d charts, want at least one per metric (%d)", got, len(r.Metrics))
			}
			if dir := os.Getenv(envDump); dir != "" {
				os.WriteFile(filepath.Join(dir, tc.problem+".html"), b, 0o644)
			}
			// The JSON form round-trips.
			js, err := r.MarshalIndent()
			if err != nil {
				t.Fatal(err)
			}
			var back Report
			if err := json.Unmarshal(js, &back); err != nil || len(back.Models) != tc.models || back.Models[0].Folds[0].Validation[r.Objective] != r.Models[0].Folds[0].Validation[r.Objective] {
				t.Errorf("JSON round trip: %v", err)
			}
		})
	}
}
