package tree

import (
	"errors"
	"fmt"
	"sort"
)

// Params are the tree's hyperparameters, decoded from hyperparameters.json
// by hyperparam.Decode.
type Params struct {
	// MaxDepth bounds the depth of the tree; the root is at depth 0.
	MaxDepth int `hp:"max_depth" default:"5"`
	// MinSamplesSplit is the fewest rows a node needs to be split.
	MinSamplesSplit int `hp:"min_samples_split" default:"2"`
}

// Validate reports every out-of-range parameter.
func (p Params) Validate() error {
	var errs []error
	if p.MaxDepth < 1 {
		errs = append(errs, fmt.Errorf("hyperparameter \"max_depth\": %d is below 1", p.MaxDepth))
	}
	if p.MinSamplesSplit < 2 {
		errs = append(errs, fmt.Errorf("hyperparameter \"min_samples_split\": %d is below 2", p.MinSamplesSplit))
	}
	return errors.Join(errs...)
}

// Model is a trained classification tree (CART with Gini impurity), stored
// as JSON. Nodes[0] is the root.
type Model struct {
	Classes  []string `json:"classes"`
	Features int      `json:"features"`
	Nodes    []Node   `json:"nodes"`
}

// Node is a split (Left and Right set) or a leaf (Leaf true).
type Node struct {
	Leaf      bool    `json:"leaf,omitempty"`
	Class     int     `json:"class"`
	Feature   int     `json:"feature,omitempty"`
	Threshold float64 `json:"threshold,omitempty"`
	Left      int     `json:"left,omitempty"`
	Right     int     `json:"right,omitempty"`
}

// Fit grows a tree on rows x with labels y.
func Fit(x [][]float64, y []string, p Params) (*Model, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(x) == 0 {
		return nil, errors.New("no training rows")
	}
	if len(x) != len(y) {
		return nil, fmt.Errorf("%d rows but %d labels", len(x), len(y))
	}
	m := &Model{Features: len(x[0])}
	index := map[string]int{}
	for _, label := range y {
		if _, ok := index[label]; !ok {
			index[label] = len(m.Classes)
			m.Classes = append(m.Classes, label)
		}
	}
	sort.Strings(m.Classes)
	for i, c := range m.Classes {
		index[c] = i
	}
	classes := make([]int, len(y))
	for i, label := range y {
		classes[i] = index[label]
	}
	rows := make([]int, len(x))
	for i := range rows {
		rows[i] = i
	}
	g := grower{x: x, y: classes, k: len(m.Classes), p: p, m: m}
	g.grow(rows, 0)
	return m, nil
}

type grower struct {
	x [][]float64
	y []int
	k int
	p Params
	m *Model
}

// grow appends the subtree for rows and returns its node index.
func (g *grower) grow(rows []int, depth int) int {
	counts := make([]int, g.k)
	for _, r := range rows {
		counts[g.y[r]]++
	}
	majority := 0
	for c, n := range counts {
		if n > counts[majority] {
			majority = c
		}
	}
	id := len(g.m.Nodes)
	g.m.Nodes = append(g.m.Nodes, Node{Leaf: true, Class: majority})
	if depth >= g.p.MaxDepth || len(rows) < g.p.MinSamplesSplit || counts[majority] == len(rows) {
		return id
	}
	feature, threshold, ok := g.bestSplit(rows, gini(counts, len(rows)))
	if !ok {
		return id
	}
	var left, right []int
	for _, r := range rows {
		if g.x[r][feature] <= threshold {
			left = append(left, r)
		} else {
			right = append(right, r)
		}
	}
	l := g.grow(left, depth+1)
	rt := g.grow(right, depth+1)
	g.m.Nodes[id] = Node{Class: majority, Feature: feature, Threshold: threshold, Left: l, Right: rt}
	return id
}

// bestSplit finds the feature and threshold with the lowest weighted Gini
// impurity, if any split improves on the node's own impurity.
func (g *grower) bestSplit(rows []int, impurity float64) (feature int, threshold float64, ok bool) {
	best := impurity
	sorted := append([]int(nil), rows...)
	for f := range g.x[rows[0]] {
		sort.Slice(sorted, func(i, j int) bool { return g.x[sorted[i]][f] < g.x[sorted[j]][f] })
		left := make([]int, g.k)
		right := make([]int, g.k)
		for _, r := range sorted {
			right[g.y[r]]++
		}
		for i := 0; i < len(sorted)-1; i++ {
			c := g.y[sorted[i]]
			left[c]++
			right[c]--
			a, b := g.x[sorted[i]][f], g.x[sorted[i+1]][f]
			if a == b {
				continue
			}
			nl, nr := i+1, len(sorted)-i-1
			score := (float64(nl)*gini(left, nl) + float64(nr)*gini(right, nr)) / float64(len(sorted))
			if score < best-1e-12 {
				best, feature, threshold, ok = score, f, (a+b)/2, true
			}
		}
	}
	return feature, threshold, ok
}

func gini(counts []int, n int) float64 {
	if n == 0 {
		return 0
	}
	s := 1.0
	for _, c := range counts {
		p := float64(c) / float64(n)
		s -= p * p
	}
	return s
}

// Predict returns the class of one row.
func (m *Model) Predict(row []float64) string {
	n := m.Nodes[0]
	for !n.Leaf {
		if row[n.Feature] <= n.Threshold {
			n = m.Nodes[n.Left]
		} else {
			n = m.Nodes[n.Right]
		}
	}
	return m.Classes[n.Class]
}

// Accuracy is the share of rows x whose predicted class is y.
func (m *Model) Accuracy(x [][]float64, y []string) float64 {
	if len(x) == 0 {
		return 0
	}
	right := 0
	for i, row := range x {
		if m.Predict(row) == y[i] {
			right++
		}
	}
	return float64(right) / float64(len(x))
}

// Validate checks a loaded model, so a damaged file fails at load time
// rather than in the middle of a request.
func (m *Model) Validate() error {
	if len(m.Nodes) == 0 || len(m.Classes) == 0 || m.Features < 1 {
		return errors.New("model has no nodes, classes or features")
	}
	for i, n := range m.Nodes {
		if n.Class < 0 || n.Class >= len(m.Classes) {
			return fmt.Errorf("node %d: class %d out of range", i, n.Class)
		}
		if n.Leaf {
			continue
		}
		if n.Feature < 0 || n.Feature >= m.Features || n.Left <= i || n.Right <= i ||
			n.Left >= len(m.Nodes) || n.Right >= len(m.Nodes) {
			return fmt.Errorf("node %d: feature or children out of range", i)
		}
	}
	return nil
}
