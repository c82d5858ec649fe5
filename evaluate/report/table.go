package report

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// Describe is a one-line account of what was evaluated.
func (r *Report) Describe() string {
	var how string
	if r.Split.Method == "holdout" {
		how = fmt.Sprintf("holdout of %g", r.Split.Holdout)
	} else {
		how = fmt.Sprintf("%d-fold cross-validation", r.Split.Folds)
	}
	if r.Split.Stratified {
		how += ", stratified"
	}
	what := r.Problem
	if len(r.Classes) > 0 {
		what += " (" + strings.Join(r.Classes, ", ") + ")"
	}
	return fmt.Sprintf("%s, seed %d, of %d rows; label %s; %s", how, r.Split.Seed, r.Rows, r.Label, what)
}

// WriteTable prints each model's metrics (validation mean ± std, training
// mean, the gap, each fold) and, with two models, the paired comparison.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "%s\n", r.Describe())
	for _, m := range r.Models {
		fmt.Fprintf(w, "\n%s", m.Name)
		if m.Output != "" {
			fmt.Fprintf(w, " (predictions: %s)", m.Output)
		}
		fmt.Fprintln(w)
		if len(m.Summary) == 0 {
			fmt.Fprintln(w, "no fold finished")
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		head := []string{"metric", "goal", "validation", "train", "gap"}
		for _, f := range m.Folds {
			head = append(head, fmt.Sprintf("fold %d", f.Fold))
		}
		fmt.Fprintln(tw, strings.Join(head, "\t"))
		var flagged []string
		for _, met := range r.Metrics {
			s, ok := m.SummaryOf(met.Name)
			if !ok {
				continue
			}
			name := met.Name
			if met.Name == r.Objective {
				name += " *"
			}
			goal := "max"
			if met.Direction == "minimize" {
				goal = "min"
			}
			gap := fmt.Sprintf("%.3f", noNegativeZero(s.Gap, 3))
			if s.Overfit {
				gap += " !"
				flagged = append(flagged, met.Name)
			}
			row := []string{name, goal, fmt.Sprintf("%.4f ± %.4f", s.Mean, s.Std), fmt.Sprintf("%.4f", s.TrainMean), gap}
			for _, f := range m.Folds {
				if f.OK() {
					row = append(row, fmt.Sprintf("%.4f", f.Validation[met.Name]))
				} else {
					row = append(row, "failed")
				}
			}
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(flagged) > 0 {
			fmt.Fprintf(w, "! over-fitting: training scores beat validation by more than %g on %s\n", r.OverfitGap, strings.Join(flagged, ", "))
		}
	}
	if len(r.Comparison) > 0 {
		a, b := r.Models[0].Name, r.Models[1].Name
		fmt.Fprintf(w, "\n%s (A) vs %s (B): paired t-test over the folds, two-sided, alpha %g\n", a, b, r.Alpha)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "metric\tA\tB\tA-B\tt\tp\tverdict")
		for _, c := range r.Comparison {
			verdict := "no significant difference"
			switch {
			case c.Note != "" && c.DF == 0:
				verdict = c.Note
			case c.Significant && c.Better != "":
				verdict = "significant: better " + label(c.Better, a, b)
			}
			fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%+.4f ± %.4f\t%.3f\t%.4f\t%s\n", c.Metric, c.MeanA, c.MeanB, c.MeanDiff, c.StdDiff, c.T, c.P, verdict)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if !r.Complete {
		fmt.Fprintln(w, "\nINCOMPLETE: the scores above cover the folds that finished; the others:")
		for _, e := range r.Errors {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	return nil
}

func label(image, a, b string) string {
	if image == a {
		return "A"
	}
	if image == b {
		return "B"
	}
	return image
}

// noNegativeZero keeps a value that rounds to zero at the given decimals
// from printing as -0.000.
func noNegativeZero(v float64, decimals int) float64 {
	if math.Abs(v) < 0.5*math.Pow(10, -float64(decimals)) {
		return 0
	}
	return v
}
