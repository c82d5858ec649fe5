package evaluate_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sagekit/sagekit/evaluate"
	"github.com/sagekit/sagekit/evaluate/report"
	"github.com/sagekit/sagekit/evaluate/split"
	"github.com/sagekit/sagekit/internal/evaltest"
	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/platform"
)

// engine connects a platform engine whose containers carry a label unique
// to the test, and checks on the way out that none is left.
func engine(t *testing.T) (context.Context, *platform.Engine) {
	t.Helper()
	testenv.Docker(t)
	ctx := t.Context()
	id := fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano())
	id = strings.NewReplacer("/", "-", " ", "-").Replace(id)
	e, err := platform.New(ctx, platform.WithLabels(map[string]string{"dev.sagekit.test": id}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		left, err := e.Leftovers(context.WithoutCancel(ctx), "dev.sagekit.test", id)
		if err != nil || len(left) > 0 {
			t.Errorf("left behind: %v %v", left, err)
		}
		e.Sweep(context.WithoutCancel(ctx), "dev.sagekit.test", id)
		e.Close()
	})
	return ctx, e
}

func withDeadline(t *testing.T, ctx context.Context, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(ctx, d)
	t.Cleanup(cancel)
	return ctx
}

func checkFolds(t *testing.T, m report.Model, want int) {
	t.Helper()
	if len(m.Folds) != want {
		t.Fatalf("%s: %d folds, want %d", m.Name, len(m.Folds), want)
	}
	for _, f := range m.Folds {
		if !f.OK() {
			t.Errorf("%s fold %d: %s", m.Name, f.Fold, f.Error)
			continue
		}
		if len(f.Predictions) != f.ValidationRows || f.ValidationRows+f.TrainRows != 150 {
			t.Errorf("fold %d: %d predictions for %d held-out rows of %d", f.Fold, len(f.Predictions), f.ValidationRows, f.ValidationRows+f.TrainRows)
		}
		if _, ok := f.Train["accuracy"]; !ok {
			t.Errorf("fold %d has no training-set score", f.Fold)
		}
	}
}

// TestGoExampleAgainstMajorityVote runs 5-fold stratified cross-validation
// of the Go example on iris, compared on the same folds with the fixture
// (which always predicts the most common class): the tree must win
// significantly.
func TestGoExampleAgainstMajorityVote(t *testing.T) {
	ctx, e := engine(t)
	ctx = withDeadline(t, ctx, 8*time.Minute)
	dc := e.Client()
	goImage, fixture := evaltest.GoExample(ctx, t, dc), evaltest.Fixture(ctx, t, dc)
	rep, err := evaluate.Run(ctx, e, evaluate.Options{
		Image: goImage, Compare: fixture, Data: evaltest.Iris(t), Label: "0",
		Folds: 5, Stratify: true, Seed: 1, Parallel: 2,
		Hyperparameters: map[string]string{"max_depth": "4"},
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !rep.Complete || rep.Problem != "multiclass" || len(rep.Models) != 2 {
		t.Fatalf("report: complete %v, problem %s, %d models", rep.Complete, rep.Problem, len(rep.Models))
	}
	checkFolds(t, rep.Models[0], 5)
	checkFolds(t, rep.Models[1], 5)
	acc, _ := rep.Models[0].SummaryOf("accuracy")
	if acc.Mean < 0.85 || acc.TrainMean < acc.Mean {
		t.Errorf("Go tree accuracy %.4f (train %.4f), want above 0.85 and below training", acc.Mean, acc.TrainMean)
	}
	maj, _ := rep.Models[1].SummaryOf("accuracy")
	if maj.Mean > 0.34 {
		t.Errorf("majority vote accuracy %.4f, want a third", maj.Mean)
	}
	if rep.Models[0].Output != "labels" {
		t.Errorf("output = %q, want labels", rep.Models[0].Output)
	}
	var names []string
	for _, m := range rep.Metrics {
		names = append(names, m.Name)
	}
	if !slices.Equal(names, []string{"accuracy", "f1", "merror"}) {
		t.Errorf("metrics %v, want accuracy, f1, merror (the others need scores)", names)
	}
	c := rep.Comparison[0]
	if c.Metric != "accuracy" || !c.Significant || c.Better != goImage || c.P > 0.001 {
		t.Errorf("comparison = %+v, want the tree significantly better", c)
	}
	dir := t.TempDir()
	if err := rep.WriteHTML(filepath.Join(dir, "r.html")); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(filepath.Join(dir, "r.json")); err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	rep.WriteTable(&table)
	t.Logf("\n%s", table.String())
}

// TestPythonTemplateIris runs 5-fold cross-validation of the Python
// template's image on its iris data.
func TestPythonTemplateIris(t *testing.T) {
	ctx, e := engine(t)
	ctx = withDeadline(t, ctx, 10*time.Minute)
	image := evaltest.PythonTemplate(ctx, t, e.Client())
	rep, err := evaluate.Run(ctx, e, evaluate.Options{
		Image: image, Data: evaltest.Iris(t), Label: "0", Folds: 5, Stratify: true, Seed: 1, Parallel: 2,
		Hyperparameters: map[string]string{"max_leaf_nodes": "5"},
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkFolds(t, rep.Models[0], 5)
	acc, _ := rep.Models[0].SummaryOf("accuracy")
	if acc.Mean < 0.85 {
		t.Errorf("accuracy %.4f, want above 0.85", acc.Mean)
	}
	var table strings.Builder
	rep.WriteTable(&table)
	t.Logf("\n%s", table.String())
}

// foldHolding is the fold whose held-out rows include data row (0-based).
func foldHolding(t *testing.T, n, k int, seed uint64, row int) int {
	folds, err := split.Make(n, split.Plan{Folds: k, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range folds {
		if slices.Contains(f.Val, row) {
			return f.Index
		}
	}
	t.Fatalf("row %d is in no fold", row)
	return 0
}

// TestFailuresKeepFinishedFolds: a fold whose training fails, and serving
// output that does not parse, are errors naming the fold and the row; the
// other folds are kept.
func TestFailuresKeepFinishedFolds(t *testing.T) {
	ctx, e := engine(t)
	ctx = withDeadline(t, ctx, 8*time.Minute)
	fixture := evaltest.Fixture(ctx, t, e.Client())
	var rows []string
	for i := range 20 {
		rows = append(rows, fmt.Sprintf("%s,%d", []string{"a", "b"}[i%2], 100+i))
	}
	data := filepath.Join(t.TempDir(), "data.csv")
	os.WriteFile(data, []byte(strings.Join(rows, "\n")+"\n"), 0o644)
	const marked = 6 // data row 7, "a,106"
	bad := foldHolding(t, 20, 4, 9, marked)

	t.Run("training fails in one fold", func(t *testing.T) {
		calls := 0
		rep, err := evaluate.Run(ctx, e, evaluate.Options{
			Image: fixture, Data: data, Label: "0", Folds: 4, Seed: 9, Parallel: 2,
			Env:    map[string]string{"FIXTURE_FAIL_MARKER": "106"},
			OnFold: func(*report.Report) { calls++ },
		})
		if !errors.Is(err, evaluate.ErrIncomplete) || rep == nil {
			t.Fatalf("Run = %v, want ErrIncomplete with a report", err)
		}
		if calls != 4 {
			t.Errorf("OnFold called %d times, want 4 (once per fold)", calls)
		}
		for _, f := range rep.Models[0].Folds {
			switch {
			case f.Fold == bad && !strings.Contains(f.Error, "the validation channel holds the marker 106"):
				t.Errorf("fold %d error = %q, want the failure file's reason", f.Fold, f.Error)
			case f.Fold != bad && !f.OK():
				t.Errorf("fold %d failed: %s", f.Fold, f.Error)
			}
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("fold %d: training failed", bad)) || rep.Complete {
			t.Errorf("error %q does not name fold %d, or the report says complete", err, bad)
		}
		if s, _ := rep.Models[0].SummaryOf("accuracy"); s.Folds != 3 {
			t.Errorf("summary over %d folds, want the 3 that finished", s.Folds)
		}
	})

	t.Run("image missing", func(t *testing.T) {
		rep, err := evaluate.Run(ctx, e, evaluate.Options{Image: fixture + "-missing", Data: data, Label: "0", Folds: 4})
		if err == nil || rep != nil || !strings.Contains(err.Error(), "is not in the local engine") {
			t.Errorf("Run = %v, %v; want an error before anything runs", rep, err)
		}
	})

	t.Run("serving output does not parse", func(t *testing.T) {
		rep, err := evaluate.Run(ctx, e, evaluate.Options{
			Image: fixture, Data: data, Label: "0", Folds: 4, Seed: 9, Parallel: 2,
			Env: map[string]string{"FIXTURE_GARBAGE": "106"},
		})
		if !errors.Is(err, evaluate.ErrIncomplete) {
			t.Fatalf("Run = %v, want ErrIncomplete", err)
		}
		for _, f := range rep.Models[0].Folds {
			want := data + " line 7 (training row"
			if f.Fold == bad {
				want = data + " line 7 (held-out row"
			}
			if !strings.Contains(f.Error, want) || !strings.Contains(f.Error, `"???"`) {
				t.Errorf("fold %d error = %q, want it to name %q and the bad output", f.Fold, f.Error, want)
			}
		}
	})
}

// TestScoresAndValues runs the fixture answering probabilities (binary) and
// numbers (regression), through real containers, so that the metrics that
// need scores and the regression metrics are computed from a batch
// transform's output.
func TestScoresAndValues(t *testing.T) {
	ctx, e := engine(t)
	ctx = withDeadline(t, ctx, 8*time.Minute)
	fixture := evaltest.Fixture(ctx, t, e.Client())
	var rows []string
	// 36 rows, a third "yes": every stratified training split of 3 folds
	// holds exactly a third "yes".
	for i := range 36 {
		label := "no"
		if i%3 == 0 {
			label = "yes"
		}
		rows = append(rows, fmt.Sprintf("%s,%d,%g", label, i, float64(i)*1.5))
	}
	dir := t.TempDir()
	binary := filepath.Join(dir, "binary.csv")
	os.WriteFile(binary, []byte(strings.Join(rows, "\n")+"\n"), 0o644)

	t.Run("probabilities", func(t *testing.T) {
		rep, err := evaluate.Run(ctx, e, evaluate.Options{
			Image: fixture, Data: binary, Label: "0", Folds: 3, Stratify: true, Parallel: 2,
			Metrics: []string{"validation:logloss", "validation:auc", "accuracy"},
			Env:     map[string]string{"FIXTURE_OUTPUT": "scores"},
		})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		m := rep.Models[0]
		if rep.Problem != "binary" || rep.Positive != "yes" || m.Output != "probabilities" {
			t.Fatalf("problem %s, positive %q, output %q", rep.Problem, rep.Positive, m.Output)
		}
		// Every row gets the training share of "yes", 1/3: a constant score.
		auc, _ := m.SummaryOf("auc")
		ll, _ := m.SummaryOf("logloss")
		want := -(math.Log(1.0/3)/3 + 2*math.Log(2.0/3)/3)
		if math.Abs(auc.Mean-0.5) > 1e-12 || math.Abs(ll.Mean-want) > 1e-9 {
			t.Errorf("auc %v, logloss %v; want 0.5 and %v", auc.Mean, ll.Mean, want)
		}
		if p := m.Folds[0].Predictions[0]; len(p.Scores) != 2 || math.Abs(p.Scores[1]-1.0/3) > 1e-12 {
			t.Errorf("first prediction %+v, want scores [2/3 1/3]", p)
		}
	})

	t.Run("regression", func(t *testing.T) {
		var lines []string
		for i := range 20 {
			lines = append(lines, fmt.Sprintf("%g,%d", float64(i)+0.5, i))
		}
		data := filepath.Join(dir, "regression.csv")
		os.WriteFile(data, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
		rep, err := evaluate.Run(ctx, e, evaluate.Options{
			Image: fixture, Data: data, Label: "0", Holdout: 0.25, Seed: 3,
			Env: map[string]string{"FIXTURE_OUTPUT": "mean"},
		})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if rep.Problem != "regression" || rep.Objective != "rmse" || len(rep.Models[0].Folds) != 1 {
			t.Fatalf("problem %s, objective %s", rep.Problem, rep.Objective)
		}
		f := rep.Models[0].Folds[0]
		// The prediction is the training rows' mean label, for every row.
		var sum float64
		for _, r := range f.Predictions {
			if r.Predicted != f.Predictions[0].Predicted {
				t.Fatalf("predictions differ: %v", f.Predictions)
			}
		}
		folds, _ := split.Make(20, split.Plan{Holdout: 0.25, Seed: 3})
		for _, r := range folds[0].Train {
			sum += float64(r) + 0.5
		}
		mean := sum / float64(len(folds[0].Train))
		var se float64
		for _, r := range folds[0].Val {
			se += (float64(r) + 0.5 - mean) * (float64(r) + 0.5 - mean)
		}
		if want := math.Sqrt(se / float64(len(folds[0].Val))); math.Abs(f.Validation["rmse"]-want) > 1e-9 {
			t.Errorf("rmse %v, want %v", f.Validation["rmse"], want)
		}
		if _, err := rep.HTML(); err != nil {
			t.Errorf("HTML: %v", err)
		}
	})
}
