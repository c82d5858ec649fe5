package metrics

import (
	"errors"
	"math"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// MeanStd returns the mean and the sample standard deviation (n-1 in the
// denominator; 0 for a single value).
func MeanStd(x []float64) (mean, std float64) {
	if len(x) == 0 {
		return 0, 0
	}
	if len(x) == 1 {
		return x[0], 0
	}
	return stat.MeanStdDev(x, nil)
}

// PairedT is a paired two-sided t-test of a against b over folds.
type PairedT struct {
	// MeanDiff is the mean of a[i]-b[i]; StdDiff their sample standard
	// deviation.
	MeanDiff float64 `json:"mean_diff"`
	StdDiff  float64 `json:"std_diff"`
	T        float64 `json:"t"`
	DF       int     `json:"df"`
	P        float64 `json:"p"`
	// Degenerate is set when every difference is the same, so the test
	// has no variance to work with: T is then 0, and P is 1 when the
	// differences are all zero, else 0.
	Degenerate bool `json:"degenerate,omitempty"`
}

// PairedTTest tests whether the mean of a[i]-b[i] differs from zero. It
// needs at least two pairs. When every difference is the same the test
// degenerates: P is 1 when they are all zero, else 0.
func PairedTTest(a, b []float64) (PairedT, error) {
	if len(a) != len(b) {
		return PairedT{}, errors.New("paired t-test: unequal numbers of folds")
	}
	if len(a) < 2 {
		return PairedT{}, errors.New("paired t-test: needs at least 2 folds")
	}
	d := make([]float64, len(a))
	for i := range a {
		d[i] = a[i] - b[i]
	}
	r := PairedT{DF: len(d) - 1}
	r.MeanDiff, r.StdDiff = stat.MeanStdDev(d, nil)
	se := r.StdDiff / math.Sqrt(float64(len(d)))
	if se == 0 || math.IsNaN(se) {
		r.Degenerate = true
		if r.MeanDiff == 0 {
			r.P = 1
		}
		return r, nil
	}
	r.T = r.MeanDiff / se
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(r.DF)}
	r.P = 2 * t.Survival(math.Abs(r.T))
	return r, nil
}
