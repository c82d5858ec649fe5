package app_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/sdk/app"
	"github.com/sagekit/sagekit/sdk/optml"
	"github.com/sagekit/sagekit/sdk/optml/optmltest"
	"github.com/sagekit/sagekit/sdk/serve"
	"github.com/sagekit/sagekit/sdk/train"
)

// model doubles every byte; it is what the re-executed test binary serves.
type model struct{ loadedFrom string }

func (m *model) Load(ctx context.Context, dir string) error {
	m.loadedFrom = dir
	return nil
}

func (m *model) Invoke(ctx context.Context, req *serve.Request) (*serve.Response, error) {
	return &serve.Response{ContentType: "text/plain", Body: []byte(m.loadedFrom + ":" + strings.Repeat(string(req.Body), 2))}, nil
}

// fit writes a model file, or fails when the hyperparameter "fail" is set.
func fit(ctx context.Context, env *train.Env) error {
	if v, ok := env.Hyperparameters["fail"]; ok {
		return fmt.Errorf("fitting: %s", v)
	}
	return os.WriteFile(filepath.Join(env.ModelDir(), "model.txt"), []byte("trained"), 0o644)
}

// The test binary is the algorithm: with SAGEKIT_TEST_APP=1 it runs
// app.Main with its arguments, as an image's ENTRYPOINT would.
func TestMain(m *testing.M) {
	if os.Getenv("SAGEKIT_TEST_APP") == "1" {
		os.Args = append(os.Args[:1], strings.Fields(os.Getenv("SAGEKIT_TEST_ARGS"))...)
		app.Main(app.Options{Train: fit, Handler: &model{}})
	}
	os.Exit(m.Run())
}

func algorithm(t *testing.T, args string, env ...string) (*exec.Cmd, *testenv.SyncBuffer) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), append(env, "SAGEKIT_TEST_APP=1", "SAGEKIT_TEST_ARGS="+args)...)
	out := &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	return cmd, out
}

func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	base := t.TempDir()
	cmd, out := algorithm(t, "serve", fmt.Sprintf("SAGEMAKER_BIND_TO_PORT=%d", port), "SAGEMAKER_BASE_DIR="+base)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()

	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/ping never 200; output:\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Post(url+"/invocations", "text/plain", strings.NewReader("ab"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := base + "/model:abab"; resp.StatusCode != 200 || string(body) != want {
		t.Errorf("invoke = %d %q, want 200 %q", resp.StatusCode, body, want)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v, want 0; output:\n%s", err, out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("still running 30 s after SIGTERM")
	}
	if !strings.Contains(out.String(), `"path":"/invocations","status":200`) {
		t.Errorf("no access-log line for the invocation in:\n%s", out)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args string
		env  []string
		want string
	}{
		{"", nil, "usage"},
		{"predict", nil, `unknown command "predict"`},
		{"serve", []string{"SAGEMAKER_MODEL_SERVER_TIMEOUT=soon"}, "SAGEMAKER_MODEL_SERVER_TIMEOUT"},
	}
	for _, tt := range tests {
		cmd, out := algorithm(t, tt.args, tt.env...)
		err := cmd.Run()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 {
			t.Errorf("args %q: %v, want exit status 2", tt.args, err)
		}
		if !strings.Contains(out.String(), tt.want) {
			t.Errorf("args %q: output %q does not mention %q", tt.args, out, tt.want)
		}
	}
}

func TestTrain(t *testing.T) {
	tests := []struct {
		name   string
		hp     optml.Hyperparameters
		code   int
		model  bool
		reason string
	}{
		{"success", optml.Hyperparameters{"epochs": "1"}, 0, true, ""},
		{"failure", optml.Hyperparameters{"fail": "no data"}, 1, false, "fitting: no data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := optmltest.New(t, optml.Layout{Hyperparameters: tt.hp})
			cmd, out := algorithm(t, "train", "SAGEMAKER_BASE_DIR="+p.Root())
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Errorf("train exit = %d, want %d; output:\n%s", code, tt.code, out)
			}
			if _, err := os.Stat(filepath.Join(p.Model(), "model.txt")); (err == nil) != tt.model {
				t.Errorf("model written = %v, want %v", err == nil, tt.model)
			}
			if tt.reason != "" {
				b, _ := os.ReadFile(p.Failure())
				if !strings.Contains(string(b), tt.reason) {
					t.Errorf("failure file = %q, want it to say %q", b, tt.reason)
				}
			}
		})
	}
}
