// Package tree is the benchmark's model in Go: the iris decision tree that
// scikit-learn trained, walked exactly as sklearn walks it, and the two
// in-process handlers the benchmark serves (no-op and tree).
package tree

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/sagekit/sagekit/sdk/payload"
	"github.com/sagekit/sagekit/sdk/serve"
)

// Tree is a fitted sklearn DecisionTreeClassifier's tree_ arrays.
type Tree struct {
	NFeatures int       `json:"n_features"`
	Left      []int     `json:"children_left"`
	Right     []int     `json:"children_right"`
	Feature   []int     `json:"feature"`
	Threshold []float64 `json:"-"`
	Class     []int     `json:"class"` // the predicted label at each node
}

// Load reads the tree.json the benchmark's train.py writes (thresholds as
// float.hex strings, so no bit is lost).
func Load(path string) (*Tree, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw struct {
		Tree
		Threshold []string `json:"threshold"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	t := raw.Tree
	for _, s := range raw.Threshold {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("reading %s: threshold %q: %w", path, s, err)
		}
		t.Threshold = append(t.Threshold, f)
	}
	n := len(t.Left)
	if n == 0 || len(t.Right) != n || len(t.Feature) != n || len(t.Threshold) != n || len(t.Class) != n {
		return nil, fmt.Errorf("reading %s: the tree's arrays differ in length or are empty", path)
	}
	for i := range n {
		if t.Left[i] >= 0 && (t.Left[i] >= n || t.Right[i] < 0 || t.Right[i] >= n ||
			t.Feature[i] < 0 || t.Feature[i] >= t.NFeatures) {
			return nil, fmt.Errorf("reading %s: node %d points outside the tree", path, i)
		}
	}
	return &t, nil
}

// Predict returns the label for one row. Like sklearn, it compares the
// feature as a float32 with the float64 threshold.
func (t *Tree) Predict(row []float64) int {
	i := 0
	for t.Left[i] >= 0 {
		if float64(float32(row[t.Feature[i]])) <= t.Threshold[i] {
			i = t.Left[i]
		} else {
			i = t.Right[i]
		}
	}
	return t.Class[i]
}

// AppendCSV appends one label per row of m, each on its own line, as
// pandas' DataFrame.to_csv writes them.
func (t *Tree) AppendCSV(dst []byte, m *payload.Matrix) []byte {
	for i := range m.Rows {
		dst = strconv.AppendInt(dst, int64(t.Predict(m.Row(i))), 10)
		dst = append(dst, '\n')
	}
	return dst
}

// Handler serves the tree in process: text/csv in, one label per line out.
type Handler struct{ t *Tree }

var _ serve.Handler = (*Handler)(nil)

// Load reads tree.json from the model directory.
func (h *Handler) Load(ctx context.Context, dir string) error {
	t, err := Load(filepath.Join(dir, "tree.json"))
	if err != nil {
		return err
	}
	h.t = t
	return nil
}

// Invoke predicts every row of a text/csv body.
func (h *Handler) Invoke(ctx context.Context, req *serve.Request) (*serve.Response, error) {
	if mt, _, _ := mime.ParseMediaType(req.ContentType); mt != "text/csv" {
		return nil, serve.Errorf(http.StatusUnsupportedMediaType, "this predictor only supports text/csv, not %q", req.ContentType)
	}
	m, err := payload.ParseCSV(req.Body)
	if err != nil {
		return nil, serve.Errorf(http.StatusBadRequest, "%v", err)
	}
	if m.Cols != h.t.NFeatures {
		return nil, serve.Errorf(http.StatusBadRequest, "rows have %d features, the model takes %d", m.Cols, h.t.NFeatures)
	}
	return &serve.Response{ContentType: "text/csv", Body: h.t.AppendCSV(make([]byte, 0, 2*m.Rows), m)}, nil
}

// Noop answers every request with a constant, without reading the body.
type Noop struct{ serve.HandlerFunc }

var noopBody = []byte("0\n")

// NewNoop returns the no-op handler.
func NewNoop() Noop {
	return Noop{func(context.Context, *serve.Request) (*serve.Response, error) {
		return &serve.Response{ContentType: "text/csv", Body: noopBody}, nil
	}}
}
