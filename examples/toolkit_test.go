package examples

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sagekit/sagekit/runtime/launch"
	"github.com/sagekit/sagekit/sdk/optml"
	"github.com/sagekit/sagekit/serving"
	"github.com/sagekit/sagekit/serving/python"
	"github.com/sagekit/sagekit/serving/worker"
)

// toolkitExamples are programs written for AWS's SageMaker toolkits, run
// unchanged: the directory, the module SAGEKIT_HANDLER names, and the
// requests under local/ with the answers they must get.
var toolkitExamples = []struct {
	dir, handler string
	requests     []toolkitRequest
}{
	{"toolkit-sklearn-script", "train", []toolkitRequest{
		{"payload.csv", "text/csv", "application/json", http.StatusOK, "expected-output.json"},
		{"payload.csv", "text/csv", "text/csv", http.StatusOK, "expected-output.csv"},
		{"payload.csv", "application/x-unsupported", "", http.StatusUnsupportedMediaType, ""},
	}},
	{"toolkit-inference-handlers", "inference", []toolkitRequest{
		{"payload.csv", "text/csv", "application/json", http.StatusOK, "expected-output.json"},
		{"payload.json", "application/json", "", http.StatusOK, "expected-output.json"},
		{"payload.csv", "application/x-unsupported", "", http.StatusUnsupportedMediaType, ""},
	}},
}

type toolkitRequest struct {
	body, contentType, accept string
	status                    int
	// want names the file under local/ holding the exact answer.
	want string
}

// TestToolkitExamples trains each toolkit example with the launcher in
// toolkit mode (as `sagekit-runtime train` runs it in the image) on its
// local/ data, then serves the model with the Python adapter and checks
// every answer byte for byte. The container runs are in TestContainers'
// sibling, conformance's TestExamplesConform.
func TestToolkitExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: " + "trains and serves the toolkit examples with scikit-learn, about 40 s on a loaded machine")
	}
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import sklearn, joblib, pandas, numpy").Run(); err != nil {
		if os.Getenv("SAGEKIT_REQUIRE_PYTHON") == "1" {
			t.Fatalf("%s cannot import scikit-learn, joblib, pandas and numpy: %v", py, err)
		}
		t.Skipf("skipped: %s cannot import scikit-learn, joblib, pandas and numpy", py)
	}
	for _, ex := range toolkitExamples {
		t.Run(ex.dir, func(t *testing.T) {
			t.Parallel()
			code, _ := filepath.Abs(filepath.Join(ex.dir, "code"))
			local := filepath.Join(ex.dir, "local")
			p := optml.At(t.TempDir())
			copyTree(t, filepath.Join(local, "input"), p.Input())
			for _, d := range []string{p.Model(), p.OutputData()} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			var logs bytes.Buffer
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			rc, err := launch.Run(ctx, launch.Options{
				Paths:    p,
				Environ:  []string{"PATH=" + os.Getenv("PATH"), "SAGEMAKER_PROGRAM=train.py", "PYTHONDONTWRITEBYTECODE=1"},
				Dir:      code,
				Python:   py,
				Stdout:   &logs,
				Stderr:   &logs,
				HostWait: -1,
				Toolkit:  true,
			})
			if rc != 0 || err != nil {
				failure, _ := os.ReadFile(p.Failure())
				t.Fatalf("training = %d, %v\n%s\n%s", rc, err, failure, logs.String())
			}
			if _, err := os.Stat(filepath.Join(p.Model(), "model.joblib")); err != nil {
				t.Fatalf("training wrote no model.joblib: %v\n%s", err, logs.String())
			}

			script, err := python.Install(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			pool, err := worker.New(python.HandlerCommand(py, script, ex.handler),
				worker.WithDir(code),
				worker.WithEnv(append(os.Environ(), "SAGEMAKER_BASE_DIR="+p.Root(), "PYTHONDONTWRITEBYTECODE=1")),
				worker.WithOutput(io.Discard, io.Discard))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { pool.Close(context.WithoutCancel(ctx)) })
			s := serving.New(pool, serving.WithModelDir(p.Model()))
			if err := s.Load(ctx); err != nil {
				t.Fatalf("loading the model: %v", err)
			}
			ts := httptest.NewServer(s)
			defer ts.Close()
			for _, r := range ex.requests {
				body, err := os.ReadFile(filepath.Join(local, r.body))
				if err != nil {
					t.Fatal(err)
				}
				req, _ := http.NewRequest(http.MethodPost, ts.URL+optml.RouteInvocations, bytes.NewReader(body))
				req.Header.Set("Content-Type", r.contentType)
				if r.accept != "" {
					req.Header.Set("Accept", r.accept)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != r.status {
					t.Errorf("%s as %s: status %d, want %d: %s", r.body, r.contentType, resp.StatusCode, r.status, got)
					continue
				}
				if r.want == "" {
					continue
				}
				if *update {
					if err := os.WriteFile(filepath.Join(local, r.want), got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(filepath.Join(local, r.want))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s as %s, Accept %q: body\n%s\nwant (%s)\n%s", r.body, r.contentType, r.accept, got, r.want, want)
				}
				wantType := r.accept
				if wantType == "" {
					wantType = "application/json"
				}
				if ct := resp.Header.Get("Content-Type"); ct != wantType {
					t.Errorf("%s as %s: Content-Type %q, want %q", r.body, r.contentType, ct, wantType)
				}
			}
		})
	}
}

// copyTree copies the regular files under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil && !strings.Contains(err.Error(), "no such file") {
		t.Fatal(err)
	}
}
