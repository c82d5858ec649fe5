package python_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/serving"
	"github.com/sagekit/sagekit/serving/python"
	"github.com/sagekit/sagekit/serving/worker"
)

// EnvRequirePython, when "1" (CI), turns a missing interpreter or missing
// Flask, pandas or scikit-learn into a failure instead of a skip.
const EnvRequirePython = "SAGEKIT_REQUIRE_PYTHON"

// interpreter returns a Python 3 that can import modules: $SAGEKIT_PYTHON,
// else Debian's /usr/bin/python3, else python3 on PATH.
func interpreter(t *testing.T, modules ...string) string {
	t.Helper()
	candidates := []string{os.Getenv("SAGEKIT_PYTHON"), "/usr/bin/python3", "python3"}
	check := "import sys; assert sys.version_info >= (3, 8)"
	if len(modules) > 0 {
		check += "; import " + strings.Join(modules, ", ")
	}
	var tried []string
	for _, c := range candidates {
		if c == "" {
			continue
		}
		out, err := exec.Command(c, "-c", check).CombinedOutput()
		if err == nil {
			return c
		}
		tried = append(tried, fmt.Sprintf("%s: %v %s", c, err, lastLine(out)))
	}
	msg := fmt.Sprintf("no Python 3.8+ with %v (apt-get install python3-flask python3-pandas python3-sklearn); tried %s", modules, strings.Join(tried, "; "))
	if os.Getenv(EnvRequirePython) == "1" {
		t.Fatal(msg)
	}
	t.Skip("skipped: " + msg)
	return ""
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

func testdata(t *testing.T, parts ...string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(append([]string{"..", "testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// trainTree writes the decision tree the Flask predictor serves into
// base/model, as the example's train script does.
func trainTree(t *testing.T, py, base string) {
	t.Helper()
	treeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sagekit-tree")
		if err != nil {
			treeErr = err
			return
		}
		treePath = filepath.Join(dir, "decision-tree-model.pkl")
		out, err := exec.Command(py, testdata(t, "train_tree.py"), treePath).CombinedOutput()
		if err != nil {
			treeErr = fmt.Errorf("training the tree: %v\n%s", err, out)
		}
	})
	if treeErr != nil {
		t.Fatal(treeErr)
	}
	pkl, err := os.ReadFile(treePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(base, "model"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "model", "decision-tree-model.pkl"), pkl, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The tree is trained once per test binary: importing scikit-learn is slow.
var (
	treeOnce sync.Once
	treePath string
	treeErr  error
)

// servePool serves a Python worker command through the front, in process.
func servePool(t *testing.T, command []string, dir, base string, env []string, workers int, opts ...serving.Option) string {
	t.Helper()
	pool, err := worker.New(command,
		worker.WithWorkers(workers),
		worker.WithDir(dir),
		worker.WithEnv(append(os.Environ(), env...)),
		worker.WithOutput(io.Discard, testWriter{t}),
	)
	if err != nil {
		t.Fatal(err)
	}
	s := serving.New(pool, append([]serving.Option{serving.WithModelDir(filepath.Join(base, "model")), serving.WithModelsDir(filepath.Join(base, "models"))}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		pool.Close(ctx)
	})
	if err := s.Load(ctx); err != nil {
		t.Fatalf("Load: %v", err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts.URL
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("worker: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func invoke(t *testing.T, url, contentType, accept, body string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/invocations", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /invocations: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func install(t *testing.T) string {
	t.Helper()
	script, err := python.Install(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return script
}

func TestFlaskPredictorUnchanged(t *testing.T) {
	testenv.SkipShort(t, "trains and serves scikit-learn models through Flask, about 40 s on a loaded machine")
	t.Parallel()
	py := interpreter(t, "flask", "pandas", "sklearn")
	base := t.TempDir()
	trainTree(t, py, base)
	url := servePool(t, python.WSGICommand(py, install(t), "predictor:app"), testdata(t, "flask"), base,
		[]string{"SAGEMAKER_BASE_DIR=" + base}, 1)

	resp, err := http.Get(url + "/ping")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/ping = %v %v, want 200", resp, err)
	}
	resp.Body.Close()

	tests := []struct {
		name, contentType, body string
		status                  int
		wantType, want          string
	}{
		{"one row", "text/csv", "5.1,3.5,1.4,0.2\n", 200, "text/csv; charset=utf-8", "0\n"},
		{"three rows", "text/csv", "5.1,3.5,1.4,0.2\n5.9,3.0,4.2,1.5\n6.7,3.0,5.2,2.3\n", 200, "text/csv; charset=utf-8", "0\n1\n2\n"},
		{"json refused", "application/json", "[[1,2,3,4]]", 415, "text/plain; charset=utf-8", "This predictor only supports CSV data"},
		// The example compares the content type exactly: parameters make it a 415.
		{"csv with charset refused", "text/csv; charset=utf-8", "5.1,3.5,1.4,0.2\n", 415, "text/plain; charset=utf-8", "This predictor only supports CSV data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, ct, body := invoke(t, url, tt.contentType, "", tt.body)
			if code != tt.status || ct != tt.wantType || body != tt.want {
				t.Errorf("POST %q as %s = %d %q %q, want %d %q %q", tt.body, tt.contentType, code, ct, body, tt.status, tt.wantType, tt.want)
			}
		})
	}

	// 5.5 MB of CSV: over the example nginx's 5m cap, under SageMaker's 6 MiB.
	row := "5.1,3.5,1.4,0.2\n"
	n := 5_500_000 / len(row)
	code, _, body := invoke(t, url, "text/csv", "", strings.Repeat(row, n))
	if code != http.StatusOK || strings.Count(body, "\n") != n {
		t.Errorf("5.5 MB CSV = %d with %d lines, want 200 with %d", code, strings.Count(body, "\n"), n)
	}
}

func TestWSGIApp(t *testing.T) {
	t.Parallel()
	py := interpreter(t)
	base := t.TempDir()
	url := servePool(t, python.WSGICommand(py, install(t), "echo:app"), testdata(t, "wsgi"), base, nil, 1)
	req, _ := http.NewRequest(http.MethodPost, url+"/invocations", strings.NewReader(strings.Repeat("x", 6<<20)))
	req.Header.Set("Content-Type", "text/csv; charset=utf-8")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Amzn-SageMaker-Inference-Id", "id-9")
	for i := 0; i < 3; i++ { // over one keep-alive connection
		req.Body = io.NopCloser(strings.NewReader(strings.Repeat("x", 6<<20)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := `{"report": {"accept": "application/json", "body_bytes": 6291456, "content_length": "6291456", "content_type": "text/csv; charset=utf-8", "inference_id": "id-9", "method": "POST", "multiprocess": true, "path": "/invocations"}}`
		if resp.StatusCode != http.StatusAccepted || string(b) != want {
			t.Fatalf("echo = %d %s, want 202 %s", resp.StatusCode, b, want)
		}
		if v := resp.Header.Get("X-Amzn-SageMaker-Custom-Attributes"); v != "seen=1" {
			t.Errorf("custom attributes = %q, want the app's", v)
		}
	}
	code, ct, body := invoke(t, url, "text/plain", "", "raise")
	if code != 500 || ct == "" || !strings.Contains(body, "Internal Server Error") {
		t.Errorf("app exception = %d %q %q, want a 500", code, ct, body)
	}
	// The worker survives its app's exception.
	if code, _, _ := invoke(t, url, "text/plain", "", "ok"); code != http.StatusAccepted {
		t.Errorf("after the exception = %d, want 202", code)
	}
}

func TestHandlerModule(t *testing.T) {
	t.Parallel()
	py := interpreter(t)
	base := t.TempDir()
	model := filepath.Join(base, "model")
	os.MkdirAll(model, 0o755)
	if err := os.WriteFile(filepath.Join(model, "factor.txt"), []byte("2.5"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The module lives in the model's code directory, as SageMaker repacks it.
	code := filepath.Join(model, "code")
	os.MkdirAll(code, 0o755)
	src, err := os.ReadFile(testdata(t, "handler", "inference.py"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(code, "inference.py"), src, 0o644)

	url := servePool(t, python.HandlerCommand(py, install(t), "inference"), t.TempDir(), base,
		[]string{"SAGEMAKER_BASE_DIR=" + base}, 1)
	tests := []struct {
		name, contentType, accept, body string
		status                          int
		wantType, want                  string // want: a substring of the body
	}{
		{"json, no Accept", "application/json", "", "[1, 2]", 200, "application/json", `{"values": [2.5, 5.0], "model_dir": "model", "accept": "application/json"}`},
		{"Accept */*", "application/json", "*/*", "[2]", 200, "application/json", `"accept": "application/json"`},
		{"csv out", "application/json", "text/csv", "[1, 4]", 200, "text/csv", "2.5,10.0"},
		{"bytes stay bytes", "application/octet-stream", "text/csv", "\x01\x02", 200, "text/csv", "2.5,5.0"},
		{"json with a charset stays bytes", "application/json; charset=utf-8", "text/csv", "[2]", 200, "text/csv", "5.0"},
		{"toolkit error keeps its status", "text/plain", "", "x", 415, "text/plain; charset=utf-8", "unsupported content type text/plain\nTraceback"},
		{"other exception is a 500", "application/json", "", `"boom"`, 500, "text/plain; charset=utf-8", "the model blew up\nTraceback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, ct, body := invoke(t, url, tt.contentType, tt.accept, tt.body)
			if code != tt.status || ct != tt.wantType || !strings.Contains(body, tt.want) {
				t.Errorf("= %d %q %q, want %d %q containing %q", code, ct, body, tt.status, tt.wantType, tt.want)
			}
		})
	}
}

func TestToolkitModules(t *testing.T) {
	t.Parallel()
	py := interpreter(t)
	base := t.TempDir()
	url := servePool(t, python.HandlerCommand(py, install(t), "inference"), testdata(t, "toolkit"), base,
		[]string{"SAGEMAKER_BASE_DIR=" + base}, 1)
	code, ct, body := invoke(t, url, "application/json", "application/json", "[[1, 2], [3, 4]]")
	if code != 200 || ct != "application/json" || body != "[3, 7]" {
		t.Errorf("toolkit-style module = %d %q %q, want 200 application/json [3, 7]", code, ct, body)
	}
	code, _, body = invoke(t, url, "text/csv", "", "1,2")
	if code != 400 || !strings.HasPrefix(body, "send application/json\n") {
		t.Errorf("BaseInferenceToolkitError(400) = %d %q, want 400 with the message first", code, body)
	}
}

func TestHandlerDefaults(t *testing.T) {
	t.Parallel()
	py := interpreter(t)
	base := t.TempDir()
	url := servePool(t, python.HandlerCommand(py, install(t), "inference"), testdata(t, "defaults"), base,
		[]string{"SAGEMAKER_BASE_DIR=" + base}, 1)
	tests := []struct {
		name, contentType, accept, body string
		status                          int
		wantType, want                  string
	}{
		{"csv", "text/csv", "application/json", "1,2\n3,4\n", 200, "application/json", "[3.0, 7.0]"},
		// The toolkit's own decoders refuse a type with parameters; the
		// defaults here take it, from the bytes the handler is given.
		{"csv with a charset", "text/csv; charset=utf-8", "application/json", "1,2\n3,4\n", 200, "application/json", "[3.0, 7.0]"},
		{"json with a charset", "application/json; charset=utf-8", "text/csv", "[[1, 2], [3, 5]]", 200, "text/csv", "3.0\n8.0\n"},
		{"unknown type is a 500, as in the toolkit", "text/plain", "application/json", "1,2", 500, "text/plain; charset=utf-8", "Content type text/plain is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, ct, body := invoke(t, url, tt.contentType, tt.accept, tt.body)
			if code != tt.status || ct != tt.wantType || !strings.Contains(body, tt.want) {
				t.Errorf("= %d %q %q, want %d %q containing %q", code, ct, body, tt.status, tt.wantType, tt.want)
			}
		})
	}
}

func TestMultiModelHandlerModule(t *testing.T) {
	t.Parallel()
	py := interpreter(t)
	base := t.TempDir()
	dirA := filepath.Join(base, "models", "a", "model")
	os.MkdirAll(dirA, 0o755)
	os.WriteFile(filepath.Join(dirA, "name.txt"), []byte("A1"), 0o644)
	url := servePool(t, python.HandlerCommand(py, install(t), "inference"), testdata(t, "transform"), base,
		[]string{"SAGEMAKER_BASE_DIR=" + base, "SAGEMAKER_MULTI_MODEL=true"}, 2, serving.WithMultiModel(true))

	call := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	load := func(name, dir string) {
		t.Helper()
		if code, body := call("POST", "/models", fmt.Sprintf(`{"model_name":%q,"url":%q}`, name, dir)); code != 200 {
			t.Fatalf("load %s = %d %s", name, code, body)
		}
	}
	// Two slow requests at once reach both workers; each must serve want.
	both := func(want string) {
		t.Helper()
		var wg sync.WaitGroup
		got := make([]string, 2)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, body := call("POST", "/models/a/invoke", "sleep:0.3")
				got[i] = fmt.Sprint(code, " ", body)
			}()
		}
		wg.Wait()
		for _, g := range got {
			if g != "200 "+want+"/application/octet-stream/sleep:0.3" {
				t.Errorf("invoke a = %q, want 200 from model %s", g, want)
			}
		}
	}
	load("a", dirA)
	both("A1")
	if code, _ := call("POST", "/models", fmt.Sprintf(`{"model_name":"a","url":%q}`, dirA)); code != http.StatusConflict {
		t.Errorf("loading a twice = %d, want 409", code)
	}
	if code, body := call("DELETE", "/models/a", ""); code != 200 {
		t.Fatalf("unload a = %d %s", code, body)
	}
	if code, _ := call("POST", "/models/a/invoke", "x"); code != http.StatusNotFound {
		t.Errorf("invoke after unload = %d, want 404", code)
	}
	// Every worker let go of A1: loading again gives the new model everywhere.
	os.WriteFile(filepath.Join(dirA, "name.txt"), []byte("A2"), 0o644)
	load("a", dirA)
	both("A2")

	// A name outside ASCII reaches the module as the same text (UTF-8 in
	// the path, not read as latin-1) on every worker, and unloads.
	for _, name := range []string{"modèle-ü", "模型 1"} {
		load(name, dirA)
		path := "/models/" + neturl.PathEscape(name)
		for i := 0; i < 2; i++ {
			if code, body := call("POST", path+"/invoke", "x"); code != 200 || body != "A2/application/octet-stream/x" {
				t.Errorf("invoke %q = %d %q, want 200 from model A2", name, code, body)
			}
		}
		if code, body := call("DELETE", path, ""); code != 200 {
			t.Errorf("unload %q = %d %s, want 200", name, code, body)
		}
	}
}

func TestTransformModuleAndBadModule(t *testing.T) {
	t.Parallel()
	py := interpreter(t)
	base := t.TempDir()
	url := servePool(t, python.HandlerCommand(py, install(t), "inference"), testdata(t, "transform"), base,
		[]string{"SAGEMAKER_BASE_DIR=" + base}, 1)
	code, ct, body := invoke(t, url, "application/octet-stream", "", "abc")
	if code != 200 || ct != "application/x-echo" || body != "model/application/octet-stream/abc" {
		t.Errorf("transform_fn = %d %q %q", code, ct, body)
	}

	// A module that cannot be imported fails the start, at once.
	pool, err := worker.New(python.HandlerCommand(py, install(t), "no_such_module"), worker.WithWorkers(1), worker.WithDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pool.Load(ctx, base); err == nil || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Errorf("Load with a missing module = %v, want the worker's early exit", err)
	}
	pool.Close(ctx)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// runtimeServe starts `sagekit-runtime serve` in dir and waits for /ping 200.
func runtimeServe(t *testing.T, dir string, env ...string) (*exec.Cmd, string, <-chan error) {
	t.Helper()
	return runtimeServeTo(t, testWriter{t}, dir, env...)
}

// runtimeServeTo is runtimeServe with the runtime's output going to out
// (and to the test log).
func runtimeServeTo(t *testing.T, out io.Writer, dir string, env ...string) (*exec.Cmd, string, <-chan error) {
	t.Helper()
	bin := testenv.Runtime(t)
	port := freePort(t)
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append(env, fmt.Sprintf("SAGEMAKER_BIND_TO_PORT=%d", port))...)
	if _, ok := out.(testWriter); !ok {
		out = io.MultiWriter(out, testWriter{t})
	}
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(url + "/ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd, url, exited
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("sagekit-runtime serve exited before /ping answered 200: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("/ping never answered 200")
		}
	}
}

// TestRuntimeServesFlaskPredictor is the host check: in a directory holding
// predictor.py, SAGEMAKER_BASE_DIR=DIR SAGEKIT_WSGI_APP=predictor:app
// sagekit-runtime serve answers /ping and /invocations, and stops on SIGTERM.
func TestRuntimeServesFlaskPredictor(t *testing.T) {
	testenv.SkipShort(t, "trains and serves scikit-learn models through Flask, about 40 s on a loaded machine")
	t.Parallel()
	py := interpreter(t, "flask", "pandas", "sklearn")
	base := t.TempDir()
	trainTree(t, py, base)
	dir := t.TempDir()
	src, err := os.ReadFile(testdata(t, "flask", "predictor.py"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "predictor.py"), src, 0o644)
	cmd, url, exited := runtimeServe(t, dir, "SAGEMAKER_BASE_DIR="+base, "SAGEKIT_WSGI_APP=predictor:app", "SAGEKIT_PYTHON="+py, "SAGEMAKER_MODEL_SERVER_WORKERS=1")
	code, ct, body := invoke(t, url, "text/csv", "", "6.7,3.0,5.2,2.3\n")
	if code != 200 || ct != "text/csv; charset=utf-8" || body != "2\n" {
		t.Errorf("invoke = %d %q %q, want 200 text/csv \"2\\n\"", code, ct, body)
	}
	stopAndWait(t, cmd, exited)
}

// TestRuntimeServesSubmitDirectoryFromS3: a model whose code the Python
// SDK left in S3 (SAGEMAKER_SUBMIT_DIRECTORY=s3://.../sourcedir.tar.gz, as
// for scikit-learn models) is downloaded into /opt/ml/code at start and its
// module served ahead of the image's module of the same name. The S3
// endpoint is a local server speaking GetObject.
func TestRuntimeServesSubmitDirectoryFromS3(t *testing.T) {
	t.Parallel()
	py := interpreter(t)
	module := func(from string) string {
		return "def model_fn(model_dir):\n    return None\n\n" +
			"def transform_fn(model, data, content_type, accept):\n    return \"" + from + "\", \"text/plain\"\n"
	}
	s3 := testenv.NewS3(t, map[string][]byte{"/bucket/job/sourcedir.tar.gz": testenv.TarGz(t, map[string]string{"entry.py": module("s3")})})
	image := t.TempDir() // the working directory, with a module of the same name
	os.WriteFile(filepath.Join(image, "entry.py"), []byte(module("image")), 0o644)
	base := t.TempDir()
	cmd, url, exited := runtimeServe(t, image, "SAGEMAKER_BASE_DIR="+base, "SAGEKIT_PYTHON="+py, "SAGEMAKER_MODEL_SERVER_WORKERS=1",
		"SAGEMAKER_PROGRAM=entry.py", "SAGEMAKER_SUBMIT_DIRECTORY=s3://bucket/job/sourcedir.tar.gz", "SAGEMAKER_REGION=eu-west-3",
		"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=secret", "AWS_ENDPOINT_URL_S3="+s3.URL)
	if code, _, body := invoke(t, url, "text/plain", "", "x"); code != 200 || body != "s3" {
		t.Errorf("invoke = %d %q, want 200 \"s3\" (the downloaded entry.py, not the working directory's)", code, body)
	}
	if b, err := os.ReadFile(filepath.Join(base, "code", "entry.py")); err != nil || string(b) != module("s3") {
		t.Errorf("code/entry.py = %q, %v", b, err)
	}
	if auth := s3.Authorizations(); len(auth) != 1 || !strings.Contains(auth[0], "/eu-west-3/s3/aws4_request") {
		t.Errorf("S3 requests' Authorization = %q, want one signed for SAGEMAKER_REGION eu-west-3", auth)
	}
	stopAndWait(t, cmd, exited)
}

func stopAndWait(t *testing.T, cmd *exec.Cmd, exited <-chan error) {
	t.Helper()
	t0 := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("sagekit-runtime serve after SIGTERM: %v, want exit 0", err)
		}
		if took := time.Since(t0); took > 10*time.Second {
			t.Errorf("exit took %v after SIGTERM, want well inside 30 s", took)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sagekit-runtime serve still running 30 s after SIGTERM")
	}
}

func TestRuntimeDrainsOnSIGTERM(t *testing.T) {
	t.Parallel()
	py := interpreter(t)
	cmd, url, exited := runtimeServe(t, testdata(t, "transform"), "SAGEMAKER_BASE_DIR="+t.TempDir(), "SAGEKIT_HANDLER=inference", "SAGEKIT_PYTHON="+py, "SAGEMAKER_MODEL_SERVER_WORKERS=1")
	type answer struct {
		code int
		body string
	}
	done := make(chan answer, 1)
	go func() {
		code, _, body := invoke(t, url, "application/octet-stream", "", "sleep:1.5")
		done <- answer{code, body}
	}()
	time.Sleep(400 * time.Millisecond)
	stopAndWait(t, cmd, exited)
	select {
	case a := <-done:
		if a.code != 200 || a.body != "model/application/octet-stream/sleep:1.5" {
			t.Errorf("in-flight request across SIGTERM = %d %q, want 200", a.code, a.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("in-flight request never answered")
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if treePath != "" {
		os.RemoveAll(filepath.Dir(treePath))
	}
	os.Exit(code)
}

// TestRuntimeExitCodeAfterDrain: SIGTERM with a request in flight. When the
// request ends inside the grace period the drain went as the contract says
// and serve exits 0; when it is still running as the grace period ends,
// serve exits 1 and says so.
func TestRuntimeExitCodeAfterDrain(t *testing.T) {
	t.Parallel()
	py := interpreter(t)
	for _, tt := range []struct {
		name, sleep, grace string
		code               int
	}{
		{"finished", "0.5", "10s", 0},
		{"cut off", "5", "500ms", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var log testenv.SyncBuffer
			cmd, url, exited := runtimeServeTo(t, &log, testdata(t, "transform"), "SAGEMAKER_BASE_DIR="+t.TempDir(), "SAGEKIT_HANDLER=inference", "SAGEKIT_PYTHON="+py,
				"SAGEMAKER_MODEL_SERVER_WORKERS=1", "SAGEKIT_SHUTDOWN_GRACE="+tt.grace)
			go func() {
				req, _ := http.NewRequest(http.MethodPost, url+"/invocations", strings.NewReader("sleep:"+tt.sleep))
				req.Header.Set("Content-Type", "application/octet-stream")
				if resp, err := http.DefaultClient.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
			// SIGTERM once the request runs on the worker.
			for deadline := time.Now().Add(30 * time.Second); !strings.Contains(log.String(), "transform_fn: sleeping "+tt.sleep); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the request never reached the worker:\n%s", log.String())
				}
			}
			cmd.Process.Signal(syscall.SIGTERM)
			var err error
			select {
			case err = <-exited:
			case <-time.After(30 * time.Second):
				t.Fatal("sagekit-runtime serve still running 30 s after SIGTERM")
			}
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Errorf("exit code after SIGTERM = %d, want %d; output:\n%s", code, tt.code, log.String())
			}
			if tt.code != 0 && !strings.Contains(log.String(), "still running when the shutdown grace of "+tt.grace+" ended") {
				t.Errorf("output does not say a request was cut off:\n%s", log.String())
			}
		})
	}
}
