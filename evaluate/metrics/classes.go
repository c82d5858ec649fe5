package metrics

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// classIndex matches a predicted label to a class: by its text, else by
// its number ("2.0" is class "2").
func classIndex(classes []string) func(string) (int, bool) {
	byText := map[string]int{}
	byNum := map[float64]int{}
	for i, c := range classes {
		byText[c] = i
		if v, err := strconv.ParseFloat(strings.TrimSpace(c), 64); err == nil {
			byNum[v] = i
		}
	}
	return func(s string) (int, bool) {
		if i, ok := byText[s]; ok {
			return i, true
		}
		if i, ok := byText[strings.TrimSpace(s)]; ok {
			return i, true
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			i, ok := byNum[v]
			return i, ok
		}
		return 0, false
	}
}

// Classes returns the distinct labels in the order scores are given in:
// numerically when every label is a number (0, 1, 2, as XGBoost numbers
// classes), else lexically (as scikit-learn's classes_).
func Classes(labels []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range labels {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	numeric := true
	nums := map[string]float64{}
	for _, l := range out {
		v, err := strconv.ParseFloat(strings.TrimSpace(l), 64)
		if err != nil {
			numeric = false
			break
		}
		nums[l] = v
	}
	slices.SortFunc(out, func(a, b string) int {
		if numeric && nums[a] != nums[b] {
			if nums[a] < nums[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	return out
}

// Infer guesses the problem from the labels: regression when they are all
// numbers and either not all integers or more than 20 distinct values;
// else binary for two classes and multiclass for more.
func Infer(labels []string) Problem {
	distinct := map[string]bool{}
	numeric, integers := true, true
	for _, l := range labels {
		distinct[l] = true
		v, err := strconv.ParseFloat(strings.TrimSpace(l), 64)
		if err != nil {
			numeric = false
			continue
		}
		if v != math.Trunc(v) {
			integers = false
		}
	}
	switch {
	case numeric && (!integers || len(distinct) > 20):
		return Regression
	case len(distinct) <= 2:
		return Binary
	}
	return Multiclass
}
