package split

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/sagekit/sagekit/sdk/optml"
)

// Fold is one split: the rows (indices into the table, ascending) that
// train the model and those held out to validate it.
type Fold struct {
	// Index is 1-based.
	Index      int
	Train, Val []int
}

// Plan says how to split.
type Plan struct {
	// Folds is K for k-fold; 0 means a holdout split.
	Folds int
	// Holdout is the fraction held out when Folds is 0 (0 < Holdout < 1).
	Holdout float64
	// Seed makes the shuffle reproducible.
	Seed uint64
	// Strata, when set, holds each row's label: every fold then gets each
	// class in proportion.
	Strata []string
}

// Make cuts n rows into folds. The same plan always gives the same folds.
func Make(n int, p Plan) ([]Fold, error) {
	if p.Strata != nil && len(p.Strata) != n {
		return nil, fmt.Errorf("splitting: %d strata for %d rows", len(p.Strata), n)
	}
	switch {
	case p.Folds == 1 || p.Folds < 0:
		return nil, fmt.Errorf("--folds %d: want 2 or more", p.Folds)
	case p.Folds > n:
		return nil, fmt.Errorf("--folds %d is more than the %d rows of the data: use at most %d folds", p.Folds, n, n)
	case p.Folds == 0 && (p.Holdout <= 0 || p.Holdout >= 1):
		return nil, fmt.Errorf("--holdout %g: want a fraction between 0 and 1, such as 0.25", p.Holdout)
	}
	rng := rand.New(rand.NewPCG(p.Seed, 0x5a6e6b6974)) // second word: any constant
	groups := [][]int{identity(n)}
	if p.Strata != nil {
		groups = strata(p.Strata)
	}
	for _, g := range groups {
		rng.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
	}
	var val [][]int
	if p.Folds > 0 {
		val = make([][]int, p.Folds)
		// Deal the rows round-robin, each group going on where the last
		// stopped, so fold sizes differ by at most one.
		k := 0
		for _, g := range groups {
			for _, r := range g {
				val[k] = append(val[k], r)
				k = (k + 1) % p.Folds
			}
		}
	} else {
		val = make([][]int, 1)
		total := int(math.Round(p.Holdout * float64(n)))
		if total < 1 || total >= n {
			return nil, fmt.Errorf("--holdout %g of %d rows leaves %d rows to validate and %d to train: want at least one of each", p.Holdout, n, total, n-total)
		}
		// Largest remainder: each group gives its share, rounded so the
		// shares add up to total.
		shares := make([]int, len(groups))
		type rem struct {
			g int
			r float64
		}
		var rems []rem
		given := 0
		for i, g := range groups {
			exact := p.Holdout * float64(len(g))
			shares[i] = int(math.Floor(exact))
			given += shares[i]
			rems = append(rems, rem{i, exact - math.Floor(exact)})
		}
		sort.SliceStable(rems, func(a, b int) bool { return rems[a].r > rems[b].r })
		for i := 0; given < total && i < len(rems); i++ {
			shares[rems[i].g]++
			given++
		}
		for i, g := range groups {
			val[0] = append(val[0], g[:shares[i]]...)
		}
	}
	folds := make([]Fold, len(val))
	for i, v := range val {
		slices.Sort(v)
		in := make([]bool, n)
		for _, r := range v {
			in[r] = true
		}
		var train []int
		for r := range n {
			if !in[r] {
				train = append(train, r)
			}
		}
		folds[i] = Fold{Index: i + 1, Train: train, Val: v}
	}
	return folds, nil
}

func identity(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// strata groups row indices by label, groups in order of the label.
func strata(labels []string) [][]int {
	by := map[string][]int{}
	for i, l := range labels {
		by[l] = append(by[l], i)
	}
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([][]int, len(keys))
	for i, k := range keys {
		out[i] = by[k]
	}
	return out
}

// MissingClassError says that a class has no rows in one side of a fold.
type MissingClassError struct {
	Fold  int
	Side  string // "training" or "validation"
	Class string
	Rows  int // rows of the class in the whole data
	// Stratified says the split was stratified already, so the advice
	// leaves that out.
	Stratified bool
}

func (e *MissingClassError) Error() string {
	fix := "use --stratify, fewer folds, or more data"
	if e.Stratified {
		fix = "use fewer folds or more data"
	}
	hint := fmt.Sprintf("the class has %d rows in all: %s", e.Rows, fix)
	return fmt.Sprintf("fold %d: class %q has no rows in the %s split; %s", e.Fold, e.Class, e.Side, hint)
}

// CheckClasses returns an error naming the first fold where a class of
// labels is missing from the training or the validation rows: a model
// cannot learn a class it never saw, and per-class scores need every class.
func CheckClasses(folds []Fold, labels []string) error {
	count := map[string]int{}
	for _, l := range labels {
		count[l]++
	}
	classes := make([]string, 0, len(count))
	for c := range count {
		classes = append(classes, c)
	}
	slices.Sort(classes)
	for _, f := range folds {
		for _, side := range []struct {
			name string
			rows []int
		}{{"training", f.Train}, {"validation", f.Val}} {
			seen := map[string]bool{}
			for _, r := range side.rows {
				seen[labels[r]] = true
			}
			for _, c := range classes {
				if !seen[c] {
					return &MissingClassError{Fold: f.Index, Side: side.name, Class: c, Rows: count[c]}
				}
			}
		}
	}
	return nil
}

// Files are the files Write made for one fold.
type Files struct {
	// Training and Validation are channel directories holding data.csv,
	// full rows (header kept when the data has one).
	Training, Validation string
	// Transform is the batch transform input directory: training.csv and
	// validation.csv, the same rows without the label column or header.
	Transform string
}

// Transform input file names (Files.Transform holds both).
const (
	TrainingInput   = "training.csv"
	ValidationInput = "validation.csv"
)

// Write lays out fold f of t under dir.
func Write(dir string, t *Table, label int, f Fold) (Files, error) {
	fs := Files{
		Training:   filepath.Join(dir, "training"),
		Validation: filepath.Join(dir, "validation"),
		Transform:  filepath.Join(dir, "transform"),
	}
	writes := []struct {
		path   string
		rows   []int
		header bool
		drop   int
	}{
		{filepath.Join(fs.Training, "data.csv"), f.Train, true, -1},
		{filepath.Join(fs.Validation, "data.csv"), f.Val, true, -1},
		{filepath.Join(fs.Transform, TrainingInput), f.Train, false, label},
		{filepath.Join(fs.Transform, ValidationInput), f.Val, false, label},
	}
	for _, w := range writes {
		var buf bytes.Buffer
		cw := csv.NewWriter(&buf)
		if w.header && t.Header != nil {
			cw.Write(t.Header)
		}
		for _, r := range w.rows {
			rec := t.Rows[r]
			if w.drop >= 0 {
				rec = slices.Delete(slices.Clone(rec), w.drop, w.drop+1)
			}
			cw.Write(rec)
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fs, fmt.Errorf("writing fold %d: %w", f.Index, err)
		}
		if err := os.MkdirAll(filepath.Dir(w.path), 0o755); err != nil {
			return fs, fmt.Errorf("writing fold %d: %w", f.Index, err)
		}
		if err := optml.WriteFileAtomic(w.path, buf.Bytes(), 0o644); err != nil {
			return fs, fmt.Errorf("writing fold %d: %w", f.Index, err)
		}
	}
	return fs, nil
}
