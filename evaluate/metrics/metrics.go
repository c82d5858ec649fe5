package metrics

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/integrate"
	"gonum.org/v1/gonum/stat"
)

// Problem is the kind of prediction.
type Problem string

// Problems.
const (
	Binary     Problem = "binary"
	Multiclass Problem = "multiclass"
	Regression Problem = "regression"
)

// ParseProblem accepts binary, multiclass or regression.
func ParseProblem(s string) (Problem, error) {
	switch p := Problem(strings.ToLower(s)); p {
	case Binary, Multiclass, Regression:
		return p, nil
	}
	return "", fmt.Errorf("problem %q: want binary, multiclass or regression", s)
}

// Metric is one metric as SageMaker's built-in algorithms name it.
type Metric struct {
	Name string
	// Maximize is the optimisation direction SageMaker gives the metric
	// (automatic model tuning's objective type): true for Maximize.
	Maximize bool
	// Problems are the problem types it applies to.
	Problems []Problem
	// Scores means it needs a score per class (probabilities or raw
	// scores), not only predicted labels.
	Scores bool
	// Probabilities means the scores must be probabilities.
	Probabilities bool
	// Bounded means its values lie in [0, 1].
	Bounded bool
	// Doc says what it is and which scikit-learn function gives the same
	// value.
	Doc string
}

// Direction is "maximize" or "minimize".
func (m Metric) Direction() string {
	if m.Maximize {
		return "maximize"
	}
	return "minimize"
}

// Applies reports whether m is defined for p.
func (m Metric) Applies(p Problem) bool { return slices.Contains(m.Problems, p) }

// All lists the metrics, by name.
var All = []Metric{
	{Name: "accuracy", Maximize: true, Problems: []Problem{Binary, Multiclass}, Bounded: true,
		Doc: "share of rows whose predicted class is right (accuracy_score)"},
	{Name: "auc", Maximize: true, Problems: []Problem{Binary, Multiclass}, Scores: true, Bounded: true,
		Doc: "area under the ROC curve; multiclass: one-vs-rest, weighted by class prevalence (roc_auc_score, multi_class=\"ovr\", average=\"weighted\")"},
	{Name: "error", Maximize: false, Problems: []Problem{Binary}, Bounded: true,
		Doc: "binary classification error rate, 1 - accuracy (1 - accuracy_score)"},
	{Name: "f1", Maximize: true, Problems: []Problem{Binary, Multiclass}, Bounded: true,
		Doc: "F1 of the positive class; multiclass: the unweighted mean over classes (f1_score, average=\"binary\" or \"macro\")"},
	{Name: "logloss", Maximize: false, Problems: []Problem{Binary}, Scores: true, Probabilities: true,
		Doc: "negative log-likelihood of the positive-class probability (log_loss)"},
	{Name: "mae", Maximize: false, Problems: []Problem{Regression},
		Doc: "mean absolute error (mean_absolute_error)"},
	{Name: "map", Maximize: true, Problems: []Problem{Binary, Multiclass}, Scores: true, Bounded: true,
		Doc: "mean average precision: binary, rows ranked by positive score (average_precision_score); multiclass, the true class's rank among each row's scores (label_ranking_average_precision_score)"},
	{Name: "merror", Maximize: false, Problems: []Problem{Multiclass}, Bounded: true,
		Doc: "multiclass error rate, 1 - accuracy (1 - accuracy_score)"},
	{Name: "mlogloss", Maximize: false, Problems: []Problem{Multiclass}, Scores: true, Probabilities: true,
		Doc: "multiclass negative log-likelihood (log_loss)"},
	{Name: "mse", Maximize: false, Problems: []Problem{Regression},
		Doc: "mean squared error (mean_squared_error)"},
	{Name: "ndcg", Maximize: true, Problems: []Problem{Binary, Multiclass}, Scores: true, Bounded: true,
		Doc: "normalised discounted cumulative gain: binary, all rows ranked by positive score; multiclass, each row's classes ranked by score, averaged (ndcg_score)"},
	{Name: "rmse", Maximize: false, Problems: []Problem{Regression},
		Doc: "root mean squared error (sqrt of mean_squared_error)"},
}

// Lookup finds a metric by name; "validation:auc" and "train:auc" name auc
// as SageMaker's metric definitions do.
func Lookup(name string) (Metric, error) {
	n := strings.ToLower(name)
	if _, after, ok := strings.Cut(n, ":"); ok {
		n = after
	}
	for _, m := range All {
		if m.Name == n {
			return m, nil
		}
	}
	names := make([]string, len(All))
	for i, m := range All {
		names[i] = m.Name
	}
	return Metric{}, fmt.Errorf("metric %q: want one of %s", name, strings.Join(names, ", "))
}

// ErrNoScores is returned for a metric that needs scores when the
// predictions are labels only.
var ErrNoScores = errors.New("the predictions are labels only")

// Classification holds the truth and the predictions of a classifier.
// Classes are indexed 0..K-1; for Binary, Positive is the positive class.
type Classification struct {
	Problem  Problem
	Classes  []string
	Positive int
	Truth    []int
	Pred     []int
	// Scores[i][k] is row i's score for class k; nil when the model gave
	// labels only.
	Scores [][]float64
	// Probabilities is true when Scores are probabilities.
	Probabilities bool
}

// Numeric holds the truth and the predictions of a regressor.
type Numeric struct {
	Truth, Pred []float64
}

// Score computes metric name on c.
func (c *Classification) Score(m Metric) (float64, error) {
	if !m.Applies(c.Problem) {
		return 0, fmt.Errorf("metric %s does not apply to %s classification", m.Name, c.Problem)
	}
	if len(c.Truth) == 0 {
		return 0, errors.New("no rows to score")
	}
	if m.Scores && c.Scores == nil {
		return 0, fmt.Errorf("%s needs a score or probability per class: %w", m.Name, ErrNoScores)
	}
	if m.Probabilities && !c.Probabilities {
		return 0, fmt.Errorf("%s needs probabilities, and the scores are not probabilities (each row's must lie in [0, 1] and add up to 1)", m.Name)
	}
	switch m.Name {
	case "accuracy":
		return c.accuracy(), nil
	case "error", "merror":
		return 1 - c.accuracy(), nil
	case "f1":
		if c.Problem == Binary {
			return c.f1(c.Positive), nil
		}
		var sum float64
		n := 0
		for k := range c.Classes {
			if slices.Contains(c.Truth, k) || slices.Contains(c.Pred, k) {
				sum += c.f1(k)
				n++
			}
		}
		return sum / float64(n), nil
	case "logloss", "mlogloss":
		return c.logLoss(), nil
	case "auc":
		return c.auc()
	case "map":
		if c.Problem == Binary {
			return averagePrecision(c.column(c.Positive), c.is(c.Positive))
		}
		return c.rankAP(), nil
	case "ndcg":
		if c.Problem == Binary {
			rel := make([]float64, len(c.Truth))
			for i, t := range c.Truth {
				if t == c.Positive {
					rel[i] = 1
				}
			}
			return ndcg(rel, c.column(c.Positive)), nil
		}
		var sum float64
		for i, t := range c.Truth {
			rel := make([]float64, len(c.Classes))
			rel[t] = 1
			sum += ndcg(rel, c.Scores[i])
		}
		return sum / float64(len(c.Truth)), nil
	}
	return 0, fmt.Errorf("metric %s is not a classification metric", m.Name)
}

// Score computes metric m on r.
func (r *Numeric) Score(m Metric) (float64, error) {
	if len(r.Truth) == 0 {
		return 0, errors.New("no rows to score")
	}
	var sum float64
	for i, t := range r.Truth {
		d := r.Pred[i] - t
		switch m.Name {
		case "mae":
			sum += math.Abs(d)
		case "mse", "rmse":
			sum += d * d
		default:
			return 0, fmt.Errorf("metric %s does not apply to regression", m.Name)
		}
	}
	v := sum / float64(len(r.Truth))
	if m.Name == "rmse" {
		v = math.Sqrt(v)
	}
	return v, nil
}

func (c *Classification) accuracy() float64 {
	n := 0
	for i, t := range c.Truth {
		if c.Pred[i] == t {
			n++
		}
	}
	return float64(n) / float64(len(c.Truth))
}

// f1 of class k; 0 when it has no true or predicted rows (as scikit-learn).
func (c *Classification) f1(k int) float64 {
	var tp, fp, fn float64
	for i, t := range c.Truth {
		p := c.Pred[i]
		switch {
		case t == k && p == k:
			tp++
		case p == k:
			fp++
		case t == k:
			fn++
		}
	}
	if tp == 0 {
		return 0
	}
	return 2 * tp / (2*tp + fp + fn)
}

// logLoss clips each probability to [eps, 1-eps] and renormalises each
// row, as scikit-learn's log_loss does.
func (c *Classification) logLoss() float64 {
	eps := math.Nextafter(1, 2) - 1
	var sum float64
	for i, t := range c.Truth {
		var total, pt float64
		for k, p := range c.Scores[i] {
			p = min(max(p, eps), 1-eps)
			total += p
			if k == t {
				pt = p
			}
		}
		sum -= math.Log(pt / total)
	}
	return sum / float64(len(c.Truth))
}

func (c *Classification) column(k int) []float64 {
	out := make([]float64, len(c.Scores))
	for i, s := range c.Scores {
		out[i] = s[k]
	}
	return out
}

func (c *Classification) is(k int) []bool {
	out := make([]bool, len(c.Truth))
	for i, t := range c.Truth {
		out[i] = t == k
	}
	return out
}

func (c *Classification) auc() (float64, error) {
	if c.Problem == Binary {
		return rocAUC(c.column(c.Positive), c.is(c.Positive))
	}
	var sum float64
	for k, name := range c.Classes {
		classes := c.is(k)
		n := 0
		for _, b := range classes {
			if b {
				n++
			}
		}
		if n == 0 {
			continue
		}
		a, err := rocAUC(c.column(k), classes)
		if err != nil {
			return 0, fmt.Errorf("class %q: %w", name, err)
		}
		sum += a * float64(n)
	}
	return sum / float64(len(c.Truth)), nil
}

// ROC returns the ROC curve of scores against classes, from (0, 0) to
// (1, 1), one point per distinct score.
func ROC(scores []float64, classes []bool) (fpr, tpr []float64) {
	y := slices.Clone(scores)
	cl := slices.Clone(classes)
	stat.SortWeightedLabeled(y, cl, nil)
	tpr, fpr, _ = stat.ROC(nil, y, cl, nil)
	return fpr, tpr
}

func rocAUC(scores []float64, classes []bool) (float64, error) {
	pos := 0
	for _, b := range classes {
		if b {
			pos++
		}
	}
	if pos == 0 || pos == len(classes) {
		return 0, errors.New("auc is undefined when the rows hold only one class")
	}
	fpr, tpr := ROC(scores, classes)
	return integrate.Trapezoidal(fpr, tpr), nil
}

// byScoreDesc is the indices of scores from the highest score down, ties
// in their original order.
func byScoreDesc(scores []float64) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	return idx
}

// averagePrecision is scikit-learn's: the sum over decreasing thresholds
// of (recall step) × precision.
func averagePrecision(scores []float64, classes []bool) (float64, error) {
	idx := byScoreDesc(scores)
	pos := 0
	for _, b := range classes {
		if b {
			pos++
		}
	}
	if pos == 0 {
		return 0, errors.New("map is undefined when no row is of the positive class")
	}
	var ap, tp, seen, lastRecall float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			if classes[idx[j]] {
				tp++
			}
			seen++
			j++
		}
		recall := tp / float64(pos)
		ap += (recall - lastRecall) * (tp / seen)
		lastRecall = recall
		i = j
	}
	return ap, nil
}

// rankAP is label ranking average precision with one true class per row:
// 1 / (number of classes scored at least as high as the true one).
func (c *Classification) rankAP() float64 {
	var sum float64
	for i, t := range c.Truth {
		rank := 0
		for _, s := range c.Scores[i] {
			if s >= c.Scores[i][t] {
				rank++
			}
		}
		sum += 1 / float64(rank)
	}
	return sum / float64(len(c.Truth))
}

// ndcg of one ranking, ties averaged as scikit-learn's ndcg_score does; 0
// when no item is relevant.
func ndcg(rel, scores []float64) float64 {
	discount := func(i int) float64 { return 1 / math.Log2(float64(i)+2) }
	idx := byScoreDesc(scores)
	var dcg float64
	for i := 0; i < len(idx); {
		j := i
		var gain, disc float64
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			gain += rel[idx[j]]
			disc += discount(j)
			j++
		}
		dcg += gain / float64(j-i) * disc
		i = j
	}
	ideal := slices.Clone(rel)
	slices.SortFunc(ideal, func(a, b float64) int {
		switch {
		case a > b:
			return -1
		case a < b:
			return 1
		}
		return 0
	})
	var idcg float64
	for i, r := range ideal {
		idcg += r * discount(i)
	}
	if idcg == 0 {
		return 0
	}
	return dcg / idcg
}
