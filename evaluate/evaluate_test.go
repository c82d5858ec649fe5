package evaluate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sagekit/sagekit/evaluate/metrics"
	"github.com/sagekit/sagekit/evaluate/split"
)

func writeCSV(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "data.csv")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBadInputBeforeRunning covers what is caught before any container
// runs (Run needs no engine for these).
func TestBadInputBeforeRunning(t *testing.T) {
	iris := "species,x\nsetosa,1\nsetosa,2\nversicolor,3\nversicolor,4\nvirginica,5\nvirginica,6\n"
	for _, tc := range []struct {
		name string
		data string
		o    Options
		want string
	}{
		{"missing label column", iris, Options{Label: "kind", Header: true}, `label column "kind" is missing: the header has species, x`},
		{"label index out of range", "a,1\nb,2\n", Options{Label: "3"}, "label column 3 is missing: the data has 2 columns"},
		{"label by name without header", "a,1\nb,2\n", Options{Label: "species"}, `label column "species": the data has no header row`},
		{"string label for regression", "1.5,1\n2.5,2\nabc,3\n", Options{Label: "0", Problem: metrics.Regression}, `line 3: label "abc" is not a number`},
		{"string label with a regression metric", iris, Options{Label: "species", Metrics: []string{"validation:rmse"}}, `line 2: label "setosa" is not a number`},
		{"metric of another problem", iris, Options{Label: "species", Metrics: []string{"auc", "rmse"}}, "metric rmse is for regression problems, and this one is multiclass"},
		{"folds larger than rows", iris, Options{Label: "species", Folds: 7}, "--folds 7 is more than the 6 rows of the data"},
		{"class missing from a fold", iris + "rare,7\n", Options{Label: "species", Folds: 3, Stratify: true}, `class "rare" has no rows in the`},
		{"header read as data", "species,x\n" + strings.Repeat("a,1\nb,2\n", 4), Options{Label: "0", Folds: 2, Stratify: true}, `class "species" has no rows in the training split; the class has 1 rows in all: use fewer folds or more data (if the first row is a header`},
		{"header read as data, regression", "y,x\n1.5,1\n2.5,2\n", Options{Label: "0", Problem: metrics.Regression}, "pass --header or give the label column by name"},
		{"binary with three classes", iris, Options{Label: "species", Problem: metrics.Binary}, "binary classification needs 2 classes"},
		{"unknown metric", iris, Options{Label: "species", Metrics: []string{"r2"}}, `metric "r2": want one of`},
		{"channel named validation", iris, Options{Label: "species", Channel: "validation"}, `training channel "validation"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.Image, o.Data = "unused:latest", writeCSV(t, tc.data)
			rep, err := Run(context.Background(), nil, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want an error containing %q", err, tc.want)
			}
			if rep != nil {
				t.Errorf("a report came back for input that was never run: %+v", rep)
			}
		})
	}
}

func TestMissingClassNamesTheFold(t *testing.T) {
	data := "species,x\n" + strings.Repeat("a,1\nb,2\n", 5) + "rare,3\n"
	_, err := Run(context.Background(), nil, Options{Image: "x", Data: writeCSV(t, data), Label: "species", Folds: 2, Seed: 7})
	var mc *split.MissingClassError
	if !errors.As(err, &mc) || mc.Fold < 1 || mc.Fold > 2 || !strings.Contains(err.Error(), "fold ") {
		t.Fatalf("Run = %v, want a MissingClassError naming the fold", err)
	}
}

func TestChooseMetrics(t *testing.T) {
	p, ms, _, err := chooseMetrics(nil, "", []string{"a", "b", "a"})
	if err != nil || p != metrics.Binary || ms[0].Name != "accuracy" || len(ms) != 7 {
		t.Errorf("default binary = %s %v %v", p, ms, err)
	}
	p, ms, _, _ = chooseMetrics([]string{"validation:mlogloss"}, "", []string{"0", "1"})
	if p != metrics.Multiclass || len(ms) != 1 {
		t.Errorf("mlogloss asked: problem %s, %d metrics", p, len(ms))
	}
	p, ms, _, _ = chooseMetrics(nil, "", []string{"1.5", "2.25"})
	if p != metrics.Regression || ms[0].Name != "rmse" || len(ms) != 3 {
		t.Errorf("regression default: %s %v", p, ms)
	}
}
