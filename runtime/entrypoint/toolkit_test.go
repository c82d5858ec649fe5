package entrypoint

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/internal/testenv"
)

func TestHandlerModule(t *testing.T) {
	code := t.TempDir()
	for _, f := range []string{"inference.py", "entry.py", "pkg/__init__.py"} {
		os.MkdirAll(filepath.Dir(filepath.Join(code, f)), 0o755)
		os.WriteFile(filepath.Join(code, f), nil, 0o644)
	}
	noCode := filepath.Join(t.TempDir(), "code")
	tests := []struct {
		name, code, handler, program, want string
	}{
		{"model's SAGEMAKER_PROGRAM wins over the image's handler", code, "inference", "entry.py", "entry"},
		{"a package", code, "", "pkg", "pkg"},
		{"template: train.py is not in the model, inference.py is", code, "mine", "train.py", "inference"},
		{"no model code: the image's handler", noCode, "mine", "train.py", "mine"},
		{"no model code, no handler: SAGEMAKER_PROGRAM on the path", noCode, "", "entry.py", "entry"},
		{"nothing", noCode, "", "", ""},
		{"a path is not a module", code, "", "../entry.py", "inference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := handlerModule(tt.code, tt.handler, tt.program); got != tt.want {
				t.Errorf("handlerModule(%q, %q, %q) = %q, want %q", tt.code, tt.handler, tt.program, got, tt.want)
			}
		})
	}
}

func TestToolkitEnv(t *testing.T) {
	got := toolkitEnv([]string{"A=1", "PYTHONPATH=/opt/program:/opt/ml/model/code", "SAGEKIT_CODE_DIR=/elsewhere", "B=2"}, "/opt/ml/model/code")
	want := []string{"SAGEKIT_CODE_DIR=/opt/ml/model/code", "A=1", "B=2", "PYTHONPATH=/opt/ml/model/code:/opt/program"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("toolkitEnv (-want +got):\n%s", diff)
	}
	got = toolkitEnv([]string{"A=1"}, "/c")
	if diff := cmp.Diff([]string{"SAGEKIT_CODE_DIR=/c", "A=1", "PYTHONPATH=/c"}, got); diff != "" {
		t.Errorf("toolkitEnv without PYTHONPATH (-want +got):\n%s", diff)
	}
}

// TestInstallRequirements runs pip for real on a requirements file that
// names nothing to download, and fails on one that cannot be satisfied.
func TestInstallRequirements(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: pip installs into a fresh virtual environment, about 30 s on a loaded machine")
	}
	py, err := exec.LookPath("python3")
	if err != nil || exec.Command(py, "-m", "pip", "--version").Run() != nil {
		t.Skip("skipped: no python3 with pip")
	}
	log := slog.New(slog.DiscardHandler)
	var out strings.Builder
	code := t.TempDir()
	o := serveOptions{python: py, codeDir: code, stderr: &out}
	if err := installRequirements(t.Context(), log, o, 0); err != nil {
		t.Fatalf("no requirements.txt: %v", err)
	}
	os.WriteFile(filepath.Join(code, "requirements.txt"), []byte("--no-index\n--find-links ./wheels\nsagekit-no-such-package==1.0\n"), 0o644)
	err = installRequirements(context.Background(), log, o, 60e9)
	if err == nil || !strings.Contains(err.Error(), "requirements.txt") {
		t.Errorf("unsatisfiable requirements: error = %v, want one naming requirements.txt\n%s", err, out.String())
	}
}

func TestSubmitDirectory(t *testing.T) {
	const model, code = "/opt/ml/model/code", "/opt/ml/code"
	tests := []struct{ sub, dir, fetch string }{
		{"", model, ""},
		{"/opt/ml/model/code/", model, ""}, // repacked by the Python SDK
		{"s3://bucket/job/source/sourcedir.tar.gz", code, "s3://bucket/job/source/sourcedir.tar.gz"},
		{"/opt/ml/code", code, ""},        // local mode's mount
		{"file:///opt/ml/code", code, ""}, // before local mode rewrites it
	}
	for _, tt := range tests {
		dir, fetch := submitDirectory(tt.sub, model, code)
		if dir != tt.dir || fetch != tt.fetch {
			t.Errorf("submitDirectory(%q) = %q, %q, want %q, %q", tt.sub, dir, fetch, tt.dir, tt.fetch)
		}
	}
}

func TestS3ConfigRegion(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"AWS_REGION": "eu-west-1", "SAGEMAKER_REGION": "us-west-2"}, "eu-west-1"},
		{map[string]string{"SAGEMAKER_REGION": "us-west-2", "AWS_DEFAULT_REGION": "ap-south-1"}, "us-west-2"},
		{map[string]string{"AWS_DEFAULT_REGION": "ap-south-1"}, "ap-south-1"},
	} {
		if got := s3Config(func(k string) string { return tt.env[k] }).Region; got != tt.want {
			t.Errorf("s3Config(%v).Region = %q, want %q", tt.env, got, tt.want)
		}
	}
}

// TestFetchCode: the s3:// SAGEMAKER_SUBMIT_DIRECTORY is downloaded into the
// code directory and the module picked from it; a missing object and code
// without a module are errors that say so. The S3 endpoint is a local
// server speaking GetObject.
func TestFetchCode(t *testing.T) {
	srv := testenv.NewS3(t, map[string][]byte{
		"/b/with-inference.tar.gz": testenv.TarGz(t, map[string]string{"inference.py": "def model_fn(d): pass\n"}),
		"/b/other.tar.gz":          testenv.TarGz(t, map[string]string{"helpers.py": "X = 1\n"}),
	})
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_ENDPOINT_URL_S3": srv.URL}
	tests := []struct {
		name, uri, program, handler, want, err string
	}{
		{name: "inference.py arrives", uri: "s3://b/with-inference.tar.gz", handler: "mine", want: "inference"},
		{name: "no module in the code: the image's", uri: "s3://b/other.tar.gz", handler: "mine", want: "mine"},
		{name: "no module at all", uri: "s3://b/other.tar.gz", err: "holds no inference.py"},
		{name: "no such object", uri: "s3://b/missing.tar.gz", handler: "mine", err: "SAGEMAKER_SUBMIT_DIRECTORY=s3://b/missing.tar.gz: downloading s3://b/missing.tar.gz: S3 answered 404 NoSuchKey: The specified key does not exist."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := serveOptions{codeDir: filepath.Join(t.TempDir(), "code"), fetch: tt.uri, imageModule: tt.handler, program: tt.program,
				s3: s3Config(func(k string) string { return env[k] })}
			err := fetchCode(t.Context(), slog.New(slog.DiscardHandler), &o)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("fetchCode = %v, want an error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.handler != tt.want {
				t.Errorf("module = %q, want %q", o.handler, tt.want)
			}
		})
	}
}
