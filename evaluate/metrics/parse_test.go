package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseClassification(t *testing.T) {
	iris := []string{"setosa", "versicolor", "virginica"}
	for _, tc := range []struct {
		name      string
		problem   Problem
		classes   []string
		out       string
		pred      []int
		scores    [][]float64
		probs     bool
		wantError string
	}{
		{name: "csv labels", problem: Multiclass, classes: iris, out: "setosa\nvirginica\n\nversicolor\n", pred: []int{0, 2, 1}},
		{name: "numeric labels as floats", problem: Multiclass, classes: []string{"0", "1", "2"}, out: "2.0\n0.0\n1\n", pred: []int{2, 0, 1}},
		{name: "binary probabilities", problem: Binary, classes: []string{"0", "1"}, out: "0.8\n0.2\n0.5\n", pred: []int{1, 0, 1},
			scores: [][]float64{{0.2, 0.8}, {0.8, 0.2}, {0.5, 0.5}}, probs: true},
		{name: "binary labels 0 1", problem: Binary, classes: []string{"0", "1"}, out: "1\n0\n1\n", pred: []int{1, 0, 1}},
		{name: "csv score vectors", problem: Multiclass, classes: iris, out: "0.7,0.2,0.1\n0.1,0.1,0.8\n0.2,0.5,0.3\n", pred: []int{0, 2, 1},
			scores: [][]float64{{0.7, 0.2, 0.1}, {0.1, 0.1, 0.8}, {0.2, 0.5, 0.3}}, probs: true},
		{name: "raw scores are not probabilities", problem: Multiclass, classes: iris, out: "3,1,-2\n0,0,5\n1,2,0\n", pred: []int{0, 2, 1},
			scores: [][]float64{{3, 1, -2}, {0, 0, 5}, {1, 2, 0}}},
		{name: "json predictions", problem: Binary, classes: []string{"0", "1"},
			out:  `{"predictions": [{"score": 0.9, "predicted_label": 1}, {"score": 0.3, "predicted_label": 0}]}` + "\n" + `{"predictions": [{"score": 0.6, "predicted_label": 1}]}`,
			pred: []int{1, 0, 1}, scores: [][]float64{{0.1, 0.9}, {0.7, 0.3}, {0.4, 0.6}}, probs: true},
		{name: "json lines of vectors", problem: Multiclass, classes: iris, out: "[0.6,0.3,0.1]\n[0.1,0.3,0.6]\n[0.3,0.6,0.1]\n", pred: []int{0, 2, 1},
			scores: [][]float64{{0.6, 0.3, 0.1}, {0.1, 0.3, 0.6}, {0.3, 0.6, 0.1}}, probs: true},
		{name: "json probabilities with labels", problem: Multiclass, classes: iris,
			out:  `[{"predicted_label": "virginica", "probabilities": [0.7, 0.2, 0.1], "labels": ["virginica", "setosa", "versicolor"]}]`,
			pred: []int{2}, scores: [][]float64{{0.2, 0.1, 0.7}}, probs: true},
		{name: "json array of labels", problem: Multiclass, classes: iris, out: `["setosa", "virginica"]`, pred: []int{0, 2}},
		{name: "unknown class", problem: Multiclass, classes: iris, out: "setosa\nrose\n", wantError: `row 2: "rose": predicted class "rose" is not one of the data's classes`},
		{name: "too few rows", problem: Multiclass, classes: iris, out: "setosa\n", wantError: "1 predictions for 2 rows sent"},
		{name: "wrong vector width", problem: Multiclass, classes: iris, out: "0.5,0.5\nsetosa\n", wantError: "row 1: \"0.5,0.5\": 2 scores for 3 classes"},
		{name: "not json", problem: Multiclass, classes: iris, out: `{"predictions": [`, wantError: "not JSON"},
		{name: "number for multiclass", problem: Multiclass, classes: iris, out: "0.3\nsetosa\n", wantError: "row 1"},
		{name: "probability out of range", problem: Binary, classes: []string{"0", "1"}, out: "0.4\n1.7\n", wantError: `row 2: "1.7"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(tc.pred)
			if tc.wantError != "" {
				n = 2
			}
			c := &Classification{Problem: tc.problem, Classes: tc.classes, Positive: 1}
			err := ParseClassification([]byte(tc.out), n, c)
			if tc.wantError != "" {
				var pe *ParseError
				if err == nil || !strings.Contains(err.Error(), tc.wantError) || !errors.As(err, &pe) {
					t.Fatalf("ParseClassification(%q) = %v, want a ParseError containing %q", tc.out, err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseClassification(%q): %v", tc.out, err)
			}
			if diff := cmp.Diff(tc.pred, c.Pred); diff != "" {
				t.Errorf("Pred (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.scores, c.Scores, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
				t.Errorf("Scores (-want +got):\n%s", diff)
			}
			if c.Probabilities != tc.probs {
				t.Errorf("Probabilities = %v, want %v", c.Probabilities, tc.probs)
			}
		})
	}
}

func TestParseRegression(t *testing.T) {
	got, err := ParseRegression([]byte("1.5\n-2\n\n3e2\n"), 3)
	if err != nil || !cmp.Equal(got, []float64{1.5, -2, 300}) {
		t.Errorf("ParseRegression = %v, %v", got, err)
	}
	got, err = ParseRegression([]byte(`{"predictions": [{"score": 1.5}, {"score": 2}]}`), 2)
	if err != nil || !cmp.Equal(got, []float64{1.5, 2}) {
		t.Errorf("ParseRegression(json) = %v, %v", got, err)
	}
	if _, err := ParseRegression([]byte("1\nabc\n"), 2); err == nil || !strings.Contains(err.Error(), `row 2: "abc"`) {
		t.Errorf("ParseRegression(abc) = %v, want an error naming row 2", err)
	}
}

func TestClassesAndInfer(t *testing.T) {
	if got := Classes([]string{"10", "2", "1", "2"}); !cmp.Equal(got, []string{"1", "2", "10"}) {
		t.Errorf("Classes(numeric) = %v", got)
	}
	if got := Classes([]string{"b", "a", "c", "a"}); !cmp.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Classes(strings) = %v", got)
	}
	for _, tc := range []struct {
		labels []string
		want   Problem
	}{
		{[]string{"1", "0", "1"}, Binary},
		{[]string{"yes", "no"}, Binary},
		{[]string{"a", "b", "c"}, Multiclass},
		{[]string{"1.5", "2", "3"}, Regression},
		{[]string{"1", "2", "3"}, Multiclass},
	} {
		if got := Infer(tc.labels); got != tc.want {
			t.Errorf("Infer(%v) = %s, want %s", tc.labels, got, tc.want)
		}
	}
}

func TestScoreNeedsScores(t *testing.T) {
	c := &Classification{Problem: Binary, Classes: []string{"0", "1"}, Positive: 1, Truth: []int{0, 1}, Pred: []int{0, 1}}
	auc, _ := Lookup("validation:auc")
	if _, err := c.Score(auc); !errors.Is(err, ErrNoScores) {
		t.Errorf("auc on labels = %v, want ErrNoScores", err)
	}
	acc, _ := Lookup("train:accuracy")
	if v, err := c.Score(acc); err != nil || v != 1 {
		t.Errorf("accuracy = %v, %v, want 1", v, err)
	}
	if _, err := Lookup("r2"); err == nil || !strings.Contains(err.Error(), "want one of accuracy, auc") {
		t.Errorf("Lookup(r2) = %v", err)
	}
}

func TestPairedTTest(t *testing.T) {
	a := []float64{0.9, 0.8, 0.85, 0.95, 0.9}
	b := []float64{0.85, 0.8, 0.8, 0.9, 0.86}
	r, err := PairedTTest(a, b)
	if err != nil {
		t.Fatal(err)
	}
	d := []float64{0.05, 0, 0.05, 0.05, 0.04}
	mean, sd := MeanStd(d)
	wantT := mean / (sd / math.Sqrt(5))
	if math.Abs(r.T-wantT) > 1e-12 || r.DF != 4 {
		t.Errorf("T = %v, DF = %d, want %v, 4", r.T, r.DF, wantT)
	}
	if r.P <= 0.01 || r.P >= 0.05 {
		t.Errorf("P = %v, want between 0.01 and 0.05", r.P)
	}
	// SciPy (Debian's python3-scipy comes with python3-sklearn) judges the
	// p-value.
	cmd := exec.Command(debianPython, "-c", "import sys, json; from scipy import stats; r = stats.ttest_rel(*json.load(sys.stdin)); print(json.dumps([r.statistic, r.pvalue]))")
	in, _ := json.Marshal([][]float64{a, b})
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err == nil {
		var ref []float64
		if err := json.Unmarshal(out, &ref); err != nil {
			t.Fatalf("reading SciPy's answer %q: %v", out, err)
		}
		if math.Abs(r.T-ref[0]) > 1e-9 || math.Abs(r.P-ref[1]) > 1e-9 {
			t.Errorf("T, P = %v, %v; SciPy says %v, %v", r.T, r.P, ref[0], ref[1])
		}
	} else if os.Getenv(envRequirePython) == "1" {
		t.Fatalf("%s with SciPy required (%s=1): %v", debianPython, envRequirePython, err)
	} else {
		t.Logf("no SciPy to compare with: %v", err)
	}
	same, _ := PairedTTest(a, a)
	if !same.Degenerate || same.P != 1 {
		t.Errorf("a vs a = %+v, want degenerate with P 1", same)
	}
	if _, err := PairedTTest(a[:1], b[:1]); err == nil {
		t.Error("one fold: want an error")
	}
}

// FuzzParseOutput feeds arbitrary serving output to the parsers: they
// return predictions or an error, never panic, and what they return is
// well-formed.
func FuzzParseOutput(f *testing.F) {
	for _, s := range []string{"setosa\n", "0.3\n0.9\n", "1,2,3\n", `{"predictions":[{"score":0.2}]}`, `[[0.1,0.9]]`, `[{"labels":["a"],"probabilities":[1]}]`, "\"a,b\n"} {
		f.Add([]byte(s), 1)
	}
	f.Fuzz(func(t *testing.T, out []byte, n int) {
		if n < 0 || n > 50 {
			return
		}
		for _, p := range []Problem{Binary, Multiclass} {
			classes := []string{"0", "1"}
			if p == Multiclass {
				classes = []string{"a", "b", "c"}
			}
			c := &Classification{Problem: p, Classes: classes, Positive: 1}
			if err := ParseClassification(out, n, c); err == nil {
				if len(c.Pred) != n || c.Scores != nil && len(c.Scores) != n {
					t.Fatalf("%d rows: %d predictions, %d scores", n, len(c.Pred), len(c.Scores))
				}
				for i, k := range c.Pred {
					if k < 0 || k >= len(classes) || c.Scores != nil && len(c.Scores[i]) != len(classes) {
						t.Fatalf("row %d: class %d of %d, or scores of the wrong width", i, k, len(classes))
					}
				}
			}
		}
		if v, err := ParseRegression(out, n); err == nil && len(v) != n {
			t.Fatalf("%d rows: %d values", n, len(v))
		}
	})
}
