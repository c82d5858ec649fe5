package metrics

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ParseError says which prediction could not be read. Row is 1-based, in
// the order of the rows sent.
type ParseError struct {
	Row    int
	Value  string
	Reason string
}

func (e *ParseError) Error() string {
	if e.Row == 0 {
		return "reading the serving output: " + e.Reason
	}
	return fmt.Sprintf("reading the serving output: row %d: %q: %s", e.Row, truncate(e.Value, 80), e.Reason)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// record is one row's prediction as the output gave it.
type record struct {
	raw string
	// label is a predicted class; num a number (a regression value, a
	// positive-class probability, or a class given as a number); vec a
	// score per class, ordered as vecLabels when those are given.
	label     string
	hasLabel  bool
	num       float64
	hasNum    bool
	numIsProb bool // num is the probability of label, not of the positive class
	// bare is a row that is one number and nothing else: a class given
	// as a number, a probability, or a regression value.
	bare      bool
	vec       []float64
	vecLabels []string
}

// records splits a batch transform output into one record per row: JSON
// (values one after another, {"predictions": [...]}, arrays, JSON Lines)
// when it starts with { or [, else CSV lines.
func records(out []byte, n int) ([]record, error) {
	trimmed := bytes.TrimSpace(out)
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		return jsonRecords(trimmed, n)
	}
	var recs []record
	for line := range bytes.Lines(out) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		r := csv.NewReader(bytes.NewReader(line))
		r.TrimLeadingSpace = true
		fields, err := r.Read()
		if err != nil {
			return nil, &ParseError{Row: len(recs) + 1, Value: string(line), Reason: "not a CSV line: " + err.Error()}
		}
		rec := record{raw: string(line)}
		if len(fields) == 1 {
			rec.label, rec.hasLabel = fields[0], true
			if v, err := strconv.ParseFloat(strings.TrimSpace(fields[0]), 64); err == nil {
				rec.num, rec.hasNum, rec.bare = v, true, true
			}
		} else {
			for _, f := range fields {
				v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
				if err != nil {
					return nil, &ParseError{Row: len(recs) + 1, Value: string(line), Reason: fmt.Sprintf("a line of several values must be a score per class, and %q is not a number", f)}
				}
				rec.vec = append(rec.vec, v)
			}
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

func jsonRecords(out []byte, n int) ([]record, error) {
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	var values []any
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &ParseError{Reason: fmt.Sprintf("not JSON after %d values: %v", len(values), err)}
		}
		values = append(values, v)
	}
	// JSON Lines of score vectors: one array of numbers per row.
	if len(values) == n && n > 0 {
		vectors := true
		for _, v := range values {
			if a, ok := v.([]any); !ok || len(a) == 0 || !allNumbers(a) {
				vectors = false
				break
			}
		}
		if vectors {
			recs := make([]record, n)
			for i, v := range values {
				r, err := jsonRecord(v, i+1)
				if err != nil {
					return nil, err
				}
				recs[i] = r
			}
			return recs, nil
		}
	}
	var recs []record
	for _, v := range values {
		var items []any
		switch t := v.(type) {
		case map[string]any:
			if p, ok := t["predictions"]; ok {
				a, ok := p.([]any)
				if !ok {
					return nil, &ParseError{Row: len(recs) + 1, Value: compact(t), Reason: `"predictions" is not an array`}
				}
				items = a
			} else {
				items = []any{t}
			}
		case []any:
			items = t
		default:
			items = []any{t}
		}
		for _, it := range items {
			r, err := jsonRecord(it, len(recs)+1)
			if err != nil {
				return nil, err
			}
			recs = append(recs, r)
		}
	}
	return recs, nil
}

func allNumbers(a []any) bool {
	for _, x := range a {
		if _, ok := x.(json.Number); !ok {
			return false
		}
	}
	return true
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func jsonRecord(v any, row int) (record, error) {
	r := record{raw: compact(v)}
	bad := func(reason string) (record, error) {
		return record{}, &ParseError{Row: row, Value: r.raw, Reason: reason}
	}
	switch t := v.(type) {
	case string:
		r.label, r.hasLabel = t, true
	case json.Number:
		r.label, r.hasLabel = t.String(), true
		f, _ := t.Float64()
		r.num, r.hasNum, r.bare = f, true, true
	case []any:
		vec, ok := numbers(t)
		if !ok {
			return bad("an array must hold a score per class (numbers)")
		}
		r.vec = vec
	case map[string]any:
		for _, k := range []string{"predicted_label", "label", "predicted_class", "class"} {
			if x, ok := t[k]; ok {
				switch x := x.(type) {
				case string:
					r.label, r.hasLabel = x, true
				case json.Number:
					r.label, r.hasLabel = x.String(), true
				default:
					return bad(fmt.Sprintf("%q is not a string or a number", k))
				}
				break
			}
		}
		for _, k := range []string{"probabilities", "scores", "score", "probability", "predicted_value", "prediction", "value"} {
			x, ok := t[k]
			if !ok {
				continue
			}
			switch x := x.(type) {
			case []any:
				vec, ok := numbers(x)
				if !ok {
					return bad(fmt.Sprintf("%q must hold numbers", k))
				}
				r.vec = vec
			case json.Number:
				r.num, _ = x.Float64()
				r.hasNum = true
				r.numIsProb = k == "probability" && r.hasLabel
			default:
				return bad(fmt.Sprintf("%q is not a number or an array of numbers", k))
			}
			break
		}
		for _, k := range []string{"labels", "classes"} {
			if x, ok := t[k].([]any); ok {
				for _, l := range x {
					switch l := l.(type) {
					case string:
						r.vecLabels = append(r.vecLabels, l)
					case json.Number:
						r.vecLabels = append(r.vecLabels, l.String())
					}
				}
			}
		}
		if !r.hasLabel && !r.hasNum && r.vec == nil {
			return bad("no predicted_label, score, probabilities or predicted_value")
		}
	default:
		return bad("not a prediction")
	}
	return r, nil
}

func numbers(a []any) ([]float64, bool) {
	out := make([]float64, len(a))
	for i, x := range a {
		n, ok := x.(json.Number)
		if !ok {
			return nil, false
		}
		f, err := n.Float64()
		if err != nil {
			return nil, false
		}
		out[i] = f
	}
	return out, true
}

// ParseRegression reads n predicted values from a batch transform output.
func ParseRegression(out []byte, n int) ([]float64, error) {
	recs, err := records(out, n)
	if err != nil {
		return nil, err
	}
	if len(recs) != n {
		return nil, &ParseError{Reason: fmt.Sprintf("%d predictions for %d rows sent", len(recs), n)}
	}
	vals := make([]float64, n)
	for i, r := range recs {
		switch {
		case r.hasNum:
			vals[i] = r.num
		case len(r.vec) == 1:
			vals[i] = r.vec[0]
		default:
			return nil, &ParseError{Row: i + 1, Value: r.raw, Reason: "a regression prediction must be one number"}
		}
		if math.IsNaN(vals[i]) || math.IsInf(vals[i], 0) {
			return nil, &ParseError{Row: i + 1, Value: r.raw, Reason: "not a finite number"}
		}
	}
	return vals, nil
}

// ParseClassification reads n predictions of a classifier over classes
// (Positive is used for binary problems) from a batch transform output:
// labels, a positive-class probability per row (binary), or a score vector
// per row in the order of classes (or of the "labels" the output names).
// It fills c.Pred, c.Scores and c.Probabilities.
func ParseClassification(out []byte, n int, c *Classification) error {
	recs, err := records(out, n)
	if err != nil {
		return err
	}
	if len(recs) != n {
		return &ParseError{Reason: fmt.Sprintf("%d predictions for %d rows sent", len(recs), n)}
	}
	K := len(c.Classes)
	index := classIndex(c.Classes)
	// Bare numbers that all name classes are labels (a model predicting
	// 0.0/1.0); otherwise, for a binary problem, positive-class
	// probabilities.
	numsAreLabels := true
	for _, r := range recs {
		if r.bare {
			if _, ok := index(r.label); !ok {
				numsAreLabels = false
			}
		}
	}
	c.Pred = make([]int, n)
	c.Scores = make([][]float64, n)
	scored := 0
	for i, r := range recs {
		bad := func(reason string) error { return &ParseError{Row: i + 1, Value: r.raw, Reason: reason} }
		pred := -1
		prob, hasProb := 0.0, false
		switch {
		case r.bare && numsAreLabels:
			pred, _ = index(r.label)
		case r.bare && c.Problem == Binary:
			prob, hasProb = r.num, true
		case r.bare:
			return bad(fmt.Sprintf("a number that is not one of the data's classes (%s): a multiclass model must give labels or a score per class", strings.Join(c.Classes, ", ")))
		case r.hasLabel:
			k, ok := index(r.label)
			if !ok {
				return bad(fmt.Sprintf("predicted class %q is not one of the data's classes (%s)", r.label, strings.Join(c.Classes, ", ")))
			}
			pred = k
			if r.hasNum && c.Problem == Binary {
				prob, hasProb = r.num, true
			}
		case r.hasNum && c.Problem == Binary:
			prob, hasProb = r.num, true
		}
		switch {
		case r.vec != nil:
			vec := r.vec
			if r.vecLabels != nil {
				if len(r.vecLabels) != len(vec) {
					return bad(fmt.Sprintf("%d labels for %d scores", len(r.vecLabels), len(vec)))
				}
				ordered := make([]float64, K)
				for j, l := range r.vecLabels {
					k, ok := index(l)
					if !ok {
						return bad(fmt.Sprintf("class %q is not one of the data's classes (%s)", l, strings.Join(c.Classes, ", ")))
					}
					ordered[k] = vec[j]
				}
				vec = ordered
			}
			switch {
			case len(vec) == K:
			case len(vec) == 1 && c.Problem == Binary:
				vec = binaryScores(vec[0], c.Positive)
			default:
				return bad(fmt.Sprintf("%d scores for %d classes", len(vec), K))
			}
			c.Scores[i] = vec
			scored++
			if pred < 0 {
				pred = argmax(vec)
			}
		case hasProb:
			if prob < 0 || prob > 1 || math.IsNaN(prob) {
				return bad("a number from a binary classifier must be a class or a probability (0 to 1)")
			}
			if r.numIsProb && pred != c.Positive {
				prob = 1 - prob // the probability of the predicted class
			}
			c.Scores[i] = binaryScores(prob, c.Positive)
			scored++
			if pred < 0 {
				pred = c.Positive
				if prob < 0.5 {
					pred = 1 - c.Positive
				}
			}
		}
		if pred < 0 {
			return bad("no predicted class")
		}
		c.Pred[i] = pred
	}
	switch scored {
	case 0:
		c.Scores, c.Probabilities = nil, false
	case n:
		c.Probabilities = probabilities(c.Scores)
	default:
		for i, s := range c.Scores {
			if s == nil {
				return &ParseError{Row: i + 1, Value: recs[i].raw, Reason: "no scores, where other rows have them"}
			}
		}
	}
	return nil
}

func binaryScores(p float64, positive int) []float64 {
	s := make([]float64, 2)
	s[positive], s[1-positive] = p, 1-p
	return s
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func probabilities(scores [][]float64) bool {
	for _, row := range scores {
		var sum float64
		for _, p := range row {
			if p < 0 || p > 1 || math.IsNaN(p) {
				return false
			}
			sum += p
		}
		if math.Abs(sum-1) > 1e-6 {
			return false
		}
	}
	return true
}
