package tree

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sagekit/sagekit/sdk/serve"
)

// The sample data SageMaker would put in the channel "training".
var sample = filepath.Join("..", "local", "input", "data", Channel)

func TestFitOnSample(t *testing.T) {
	x, y, err := ReadTrainingDir(sample)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Fit(x, y, Params{MaxDepth: 4, MinSamplesSplit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if acc := m.Accuracy(x, y); acc < 0.95 {
		t.Errorf("training accuracy %.3f, want at least 0.95", acc)
	}
}

func TestFitRejectsBadParams(t *testing.T) {
	row := []float64{1}
	_, err := Fit([][]float64{row}, []string{"a"}, Params{MaxDepth: 0, MinSamplesSplit: 1})
	if err == nil || !strings.Contains(err.Error(), "max_depth") || !strings.Contains(err.Error(), "min_samples_split") {
		t.Errorf("Fit with bad params = %v, want errors naming both", err)
	}
}

func TestHandler(t *testing.T) {
	x, y, err := ReadTrainingDir(sample)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Fit(x, y, Params{MaxDepth: 5, MinSamplesSplit: 2})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ModelFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	var h Handler
	ctx := context.Background()
	if err := h.Load(ctx, dir); err != nil {
		t.Fatalf("Load = %v", err)
	}

	payload, err := os.ReadFile(filepath.Join("..", "local", "payload.csv"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.Invoke(ctx, &serve.Request{Body: payload, ContentType: "text/csv; charset=utf-8"})
	if err != nil {
		t.Fatalf("Invoke = %v", err)
	}
	if got, want := string(resp.Body), "setosa\nversicolor\nvirginica\n"; got != want {
		t.Errorf("Invoke(payload.csv) = %q, want %q", got, want)
	}

	for _, tt := range []struct {
		name, contentType, body string
		status                  int
	}{
		{"json", "application/json", "[[1,2,3,4]]", http.StatusUnsupportedMediaType},
		{"short row", "text/csv", "1,2,3\n", http.StatusBadRequest},
		{"not a number", "text/csv", "1,2,x,4\n", http.StatusBadRequest},
		{"empty", "text/csv", "", http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.Invoke(ctx, &serve.Request{Body: []byte(tt.body), ContentType: tt.contentType})
			var se *serve.Error
			if !errors.As(err, &se) || se.Status != tt.status {
				t.Errorf("Invoke(%q, %q) = %v, want status %d", tt.contentType, tt.body, err, tt.status)
			}
		})
	}
}

func TestLoadRejectsDamagedModel(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ModelFile), []byte(`{"classes":["a"],"features":1,"nodes":[{"feature":3,"left":1,"right":2}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var h Handler
	if err := h.Load(context.Background(), dir); err == nil {
		t.Errorf("Load(damaged model) = nil, want an error")
	}
}
