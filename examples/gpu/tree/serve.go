package tree

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/sagekit/sagekit/sdk/serve"
)

// Handler serves a trained tree in process: text/csv in, one predicted
// class per line out.
type Handler struct {
	model *Model // set once by Load, read-only afterwards
}

var _ serve.Handler = (*Handler)(nil)

// Load reads the model training wrote.
func (h *Handler) Load(_ context.Context, modelDir string) error {
	b, err := os.ReadFile(filepath.Join(modelDir, ModelFile))
	if err != nil {
		return fmt.Errorf("loading the model: %w", err)
	}
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("loading the model: %s: %w", ModelFile, err)
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("loading the model: %s: %w", ModelFile, err)
	}
	h.model = &m
	return nil
}

// Invoke predicts a class for each row of a text/csv request.
func (h *Handler) Invoke(_ context.Context, req *serve.Request) (*serve.Response, error) {
	mt, _, err := mime.ParseMediaType(req.ContentType)
	if err != nil || mt != "text/csv" {
		return nil, serve.Errorf(http.StatusUnsupportedMediaType, "this model reads text/csv, not %q", req.ContentType)
	}
	rows, err := ParseRows(req.Body, h.model.Features)
	if err != nil {
		return nil, serve.Errorf(http.StatusBadRequest, "reading the request: %v", err)
	}
	var out strings.Builder
	for _, row := range rows {
		out.WriteString(h.model.Predict(row))
		out.WriteByte('\n')
	}
	return &serve.Response{ContentType: "text/csv", Body: []byte(out.String())}, nil
}
