package metrics

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
)

// envRequirePython, when "1" (CI), turns a missing Debian python3-sklearn
// into a failure instead of a skip (the variable the Python adapter tests
// read too).
const envRequirePython = "SAGEKIT_REQUIRE_PYTHON"

// debianPython is Debian's interpreter, with python3-sklearn.
const debianPython = "/usr/bin/python3"

// judge computes every metric of every case with scikit-learn.
const judge = `
import json, sys
import numpy as np
from sklearn import metrics as m

out = {}
for case in json.load(sys.stdin):
    name, kind = case["name"], case["problem"]
    r = {}
    if kind == "regression":
        y, p = np.array(case["truth"]), np.array(case["pred"])
        r["mae"] = m.mean_absolute_error(y, p)
        r["mse"] = m.mean_squared_error(y, p)
        r["rmse"] = float(np.sqrt(m.mean_squared_error(y, p)))
    else:
        classes = case["classes"]
        y = np.array([classes[i] for i in case["truth"]], dtype=object)
        pred = np.array([classes[i] for i in case["pred"]], dtype=object)
        s = np.array(case["scores"])
        r["accuracy"] = m.accuracy_score(y, pred)
        if kind == "binary":
            pos = classes[case["positive"]]
            ybin = (y == pos).astype(int)
            ppos = s[:, case["positive"]]
            r["error"] = 1 - m.accuracy_score(y, pred)
            r["f1"] = m.f1_score(y, pred, pos_label=pos)
            r["logloss"] = m.log_loss(ybin, ppos)
            r["auc"] = m.roc_auc_score(ybin, ppos)
            r["map"] = m.average_precision_score(ybin, ppos)
            r["ndcg"] = m.ndcg_score([ybin], [ppos])
        else:
            onehot = np.zeros_like(s)
            onehot[np.arange(len(y)), case["truth"]] = 1
            r["merror"] = 1 - m.accuracy_score(y, pred)
            r["f1"] = m.f1_score(y, pred, average="macro")
            r["mlogloss"] = m.log_loss(case["truth"], s, labels=list(range(len(classes))))
            r["auc"] = m.roc_auc_score(case["truth"], s, multi_class="ovr", average="weighted", labels=list(range(len(classes))))
            r["map"] = m.label_ranking_average_precision_score(onehot, s)
            r["ndcg"] = m.ndcg_score(onehot, s)
    out[name] = {k: float(v) for k, v in r.items()}
json.dump(out, sys.stdout)
`

type sklearnCase struct {
	Name     string      `json:"name"`
	Problem  Problem     `json:"problem"`
	Classes  []string    `json:"classes,omitempty"`
	Positive int         `json:"positive"`
	Truth    []int       `json:"truth,omitempty"`
	Pred     []int       `json:"pred,omitempty"`
	Scores   [][]float64 `json:"scores,omitempty"`
	RTruth   []float64   `json:"-"`
	RPred    []float64   `json:"-"`
}

// MarshalJSON writes regression vectors under the same keys.
func (c sklearnCase) MarshalJSON() ([]byte, error) {
	type plain sklearnCase
	if c.Problem != Regression {
		return json.Marshal(plain(c))
	}
	return json.Marshal(map[string]any{"name": c.Name, "problem": c.Problem, "truth": c.RTruth, "pred": c.RPred})
}

// round3 rounds to 3 decimals, which makes ties between scores.
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// fixedCases are the vectors every metric is checked on: the same ones on
// every run (fixed seeds), with tied scores, a class never predicted, and
// string and numeric class names.
func fixedCases() []sklearnCase {
	var cases []sklearnCase
	for _, b := range []struct {
		name     string
		classes  []string
		positive int
		n        int
		seed     uint64
	}{
		{"binary-01", []string{"0", "1"}, 1, 60, 1},
		{"binary-strings", []string{"no", "yes"}, 1, 41, 2},
		{"binary-positive-first", []string{"bad", "good"}, 0, 33, 3},
	} {
		rng := rand.New(rand.NewPCG(b.seed, 7))
		c := sklearnCase{Name: b.name, Problem: Binary, Classes: b.classes, Positive: b.positive}
		for range b.n {
			t := rng.IntN(2)
			// Scores lean towards the truth, rounded to make ties.
			p := round3(min(max(0.5+0.35*float64(2*boolInt(t == b.positive)-1)+rng.NormFloat64()*0.3, 0.01), 0.99))
			if rng.IntN(7) == 0 {
				p = 0.5
			}
			s := make([]float64, 2)
			s[b.positive], s[1-b.positive] = p, 1-p
			pred := b.positive
			if p < 0.5 {
				pred = 1 - b.positive
			}
			c.Truth, c.Pred, c.Scores = append(c.Truth, t), append(c.Pred, pred), append(c.Scores, s)
		}
		cases = append(cases, c)
	}
	for _, mc := range []struct {
		name    string
		classes []string
		n       int
		seed    uint64
		never   int // a class never predicted (-1: none)
	}{
		{"multiclass-iris", []string{"setosa", "versicolor", "virginica"}, 45, 4, -1},
		{"multiclass-numeric", []string{"0", "1", "2", "3"}, 57, 5, 2},
	} {
		rng := rand.New(rand.NewPCG(mc.seed, 9))
		K := len(mc.classes)
		c := sklearnCase{Name: mc.name, Problem: Multiclass, Classes: mc.classes}
		for range mc.n {
			t := rng.IntN(K)
			raw := make([]float64, K)
			var sum float64
			for k := range raw {
				raw[k] = math.Exp(rng.NormFloat64())
				if k == t {
					raw[k] *= 3
				}
				if k == mc.never {
					raw[k] = 0.01
				}
				raw[k] = round3(raw[k]) + 0.001
				sum += raw[k]
			}
			for k := range raw {
				raw[k] /= sum
			}
			c.Truth, c.Pred, c.Scores = append(c.Truth, t), append(c.Pred, argmax(raw)), append(c.Scores, raw)
		}
		cases = append(cases, c)
	}
	rng := rand.New(rand.NewPCG(6, 11))
	r := sklearnCase{Name: "regression", Problem: Regression}
	for range 50 {
		t := rng.NormFloat64()*10 + 3
		r.RTruth = append(r.RTruth, t)
		r.RPred = append(r.RPred, t+rng.NormFloat64()*2)
	}
	return append(cases, r)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestMetricsMatchScikitLearn computes every metric on fixed vectors of
// each problem type and compares it, to 1e-9, with scikit-learn's value,
// computed now by Debian's python3-sklearn.
func TestMetricsMatchScikitLearn(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: " + "computes every metric again with scikit-learn, about 20 s on a loaded machine")
	}
	if err := exec.Command(debianPython, "-c", "import sklearn").Run(); err != nil {
		if os.Getenv(envRequirePython) == "1" {
			t.Fatalf("%s with scikit-learn required (%s=1): %v", debianPython, envRequirePython, err)
		}
		t.Skipf("skipped: no scikit-learn in %s (apt-get install python3-sklearn): %v", debianPython, err)
	}
	cases := fixedCases()
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(debianPython, "-c", judge)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scikit-learn: %v\n%s", err, stderr.String())
	}
	var want map[string]map[string]float64
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("reading scikit-learn's answer %q: %v", out, err)
	}
	checked := map[Problem]map[string]bool{}
	worst := 0.0
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			w := want[c.Name]
			if len(w) == 0 {
				t.Fatal("scikit-learn returned nothing for this case")
			}
			for _, m := range All {
				if !m.Applies(c.Problem) {
					continue
				}
				var got float64
				var err error
				if c.Problem == Regression {
					got, err = (&Numeric{Truth: c.RTruth, Pred: c.RPred}).Score(m)
				} else {
					cl := &Classification{Problem: c.Problem, Classes: c.Classes, Positive: c.Positive, Truth: c.Truth, Pred: c.Pred, Scores: c.Scores, Probabilities: true}
					got, err = cl.Score(m)
				}
				if err != nil {
					t.Errorf("%s: %v", m.Name, err)
					continue
				}
				ref, ok := w[m.Name]
				if !ok {
					t.Errorf("%s: no reference value from scikit-learn", m.Name)
					continue
				}
				worst = max(worst, math.Abs(got-ref))
				if math.Abs(got-ref) > 1e-9 {
					t.Errorf("%s = %.15g, scikit-learn says %.15g (diff %.3g)", m.Name, got, ref, got-ref)
				}
				if checked[c.Problem] == nil {
					checked[c.Problem] = map[string]bool{}
				}
				checked[c.Problem][m.Name] = true
			}
		})
	}
	t.Logf("largest difference from scikit-learn: %.3g", worst)
	// Every metric was checked on every problem type it applies to.
	for _, m := range All {
		for _, p := range m.Problems {
			if !checked[p][m.Name] {
				t.Errorf("%s was not checked for %s", m.Name, p)
			}
		}
	}
}
