package entrypoint

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestServeOptionsFromEnv(t *testing.T) {
	withCode := t.TempDir()
	os.MkdirAll(filepath.Join(withCode, "model", "code"), 0o755)
	os.WriteFile(filepath.Join(withCode, "model", "code", "inference.py"), nil, 0o644)
	tests := []struct {
		name    string
		env     map[string]string
		command []string
		handler string
		wsgi    string
		workers int
		err     string
	}{
		{name: "nothing to serve", env: map[string]string{"SAGEMAKER_BASE_DIR": t.TempDir()}, err: "nothing to serve"},
		{name: "two at once", env: map[string]string{"SAGEKIT_WSGI_APP": "predictor:app", "SAGEKIT_HANDLER": "inference"}, err: "only one"},
		{name: "wsgi", env: map[string]string{"SAGEKIT_WSGI_APP": "predictor:app", "SAGEMAKER_MODEL_SERVER_WORKERS": "3"}, wsgi: "predictor:app", workers: 3},
		{name: "command", env: map[string]string{"SAGEKIT_WORKER_COMMAND": `./serve --name "my model"`}, command: []string{"./serve", "--name", "my model"}},
		{name: "SAGEMAKER_PROGRAM", env: map[string]string{"SAGEMAKER_PROGRAM": "entry.py"}, handler: "entry"},
		{name: "inference.py in model/code", env: map[string]string{"SAGEMAKER_BASE_DIR": withCode}, handler: "inference"},
		{name: "local submit directory", env: map[string]string{"SAGEMAKER_BASE_DIR": t.TempDir(), "SAGEMAKER_SUBMIT_DIRECTORY": filepath.Join(withCode, "model", "code")}, handler: "inference"},
		// Until the code arrives, SAGEMAKER_PROGRAM names the module.
		{name: "s3 submit directory", env: map[string]string{"SAGEMAKER_BASE_DIR": t.TempDir(), "SAGEMAKER_SUBMIT_DIRECTORY": "s3://b/k.tar.gz", "SAGEMAKER_PROGRAM": "entry.py"}, handler: "entry"},
		{name: "s3 submit directory, no program", env: map[string]string{"SAGEMAKER_BASE_DIR": t.TempDir(), "SAGEMAKER_SUBMIT_DIRECTORY": "s3://b/k.tar.gz"}, handler: "inference"},
		{name: "bad workers and timeout", env: map[string]string{"SAGEKIT_HANDLER": "inference", "SAGEMAKER_MODEL_SERVER_WORKERS": "many", "SAGEMAKER_MODEL_SERVER_TIMEOUT": "0"}, err: "SAGEMAKER_MODEL_SERVER_WORKERS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"CUDA_VISIBLE_DEVICES": "-1"}
			for k, v := range tt.env {
				env[k] = v
			}
			o, err := serveOptionsFromEnv(context.Background(), nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want one mentioning %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []any{o.command, o.handler, o.wsgiApp, o.workers}
			want := []any{tt.command, tt.handler, tt.wsgi, tt.workers}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}

// TestServePreload: the Python adapters fork their workers from one
// process unless GPUs are pinned or SAGEKIT_PRELOAD=false.
func TestServePreload(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want bool
		err  string
	}{
		{name: "default", env: map[string]string{"CUDA_VISIBLE_DEVICES": "-1"}, want: true},
		{name: "true", env: map[string]string{"CUDA_VISIBLE_DEVICES": "-1", "SAGEKIT_PRELOAD": "true"}, want: true},
		{name: "false", env: map[string]string{"CUDA_VISIBLE_DEVICES": "-1", "SAGEKIT_PRELOAD": "false"}, want: false},
		{name: "GPUs", env: map[string]string{"CUDA_VISIBLE_DEVICES": "0,1"}, want: false},
		{name: "bad", env: map[string]string{"CUDA_VISIBLE_DEVICES": "-1", "SAGEKIT_PRELOAD": "yes"}, err: "SAGEKIT_PRELOAD"},
		{name: "handler module", env: map[string]string{"CUDA_VISIBLE_DEVICES": "-1", "SAGEKIT_WSGI_APP": "", "SAGEKIT_HANDLER": "inference"}, want: false},
		{name: "handler module asked", env: map[string]string{"CUDA_VISIBLE_DEVICES": "-1", "SAGEKIT_WSGI_APP": "", "SAGEKIT_HANDLER": "inference", "SAGEKIT_PRELOAD": "true"}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"SAGEKIT_WSGI_APP": "predictor:app"}
			for k, v := range tt.env {
				env[k] = v
			}
			o, err := serveOptionsFromEnv(context.Background(), nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want one mentioning %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.preload != tt.want {
				t.Errorf("preload = %v, want %v", o.preload, tt.want)
			}
		})
	}
}

func TestFrontProcs(t *testing.T) {
	for _, tt := range []struct{ workers, procs, want int }{
		{1, 2, 1}, {2, 2, 1}, {4, 8, 1}, {5, 8, 2}, {96, 96, 24}, {96, 8, 8},
	} {
		if got := frontProcs(tt.workers, tt.procs); got != tt.want {
			t.Errorf("frontProcs(%d, %d) = %d, want %d", tt.workers, tt.procs, got, tt.want)
		}
	}
}
