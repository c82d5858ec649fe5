package python_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sagekit/sagekit/serving/python"
)

// TestModelCodeWinsInHandlerMode: a handler module in the model's code
// directory is imported ahead of a module of the same name in the working
// directory (the image's code), as the inference toolkit prepends the code
// directory; a WSGI app still comes from the working directory first.
func TestModelCodeWinsInHandlerMode(t *testing.T) {
	t.Parallel()
	py := interpreter(t)
	base, image := t.TempDir(), t.TempDir()
	code := filepath.Join(base, "model", "code")
	if err := os.MkdirAll(code, 0o755); err != nil {
		t.Fatal(err)
	}
	module := func(from string) []byte {
		return []byte(`
def model_fn(model_dir):
    return None

def transform_fn(model, data, content_type, accept):
    return "` + from + `", "text/plain"

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"` + from + `"]
`)
	}
	for dir, from := range map[string]string{image: "image", code: "model"} {
		if err := os.WriteFile(filepath.Join(dir, "inference.py"), module(from), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"SAGEMAKER_BASE_DIR=" + base}
	handler := servePool(t, python.HandlerCommand(py, install(t), "inference"), image, base, env, 1)
	if code, _, body := invoke(t, handler, "text/plain", "", "x"); code != 200 || body != "model" {
		t.Errorf("handler mode served %d %q, want 200 \"model\" (the model's code/inference.py)", code, body)
	}
	wsgi := servePool(t, python.WSGICommand(py, install(t), "inference:app"), image, base, env, 1)
	if code, _, body := invoke(t, wsgi, "text/plain", "", "x"); code != 200 || body != "image" {
		t.Errorf("WSGI mode served %d %q, want 200 \"image\" (the working directory's inference.py)", code, body)
	}
}
