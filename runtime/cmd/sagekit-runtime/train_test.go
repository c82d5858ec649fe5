package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/sdk/optml"
	"github.com/sagekit/sagekit/sdk/optml/optmltest"
)

// trainTree lays out /opt/ml with the hyperparameters and a
// shell-script program code/train.sh.
func trainTree(t *testing.T, script string) optml.Paths {
	t.Helper()
	p := optmltest.New(t, optml.Layout{
		Hyperparameters: optml.Hyperparameters{"epochs": "2", "lr": "0.01", "name": `"abc"`, "flag": "true"},
	})
	if err := os.MkdirAll(p.Code(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.Code(), "train.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// trainCmd is `sagekit-runtime train` with SAGEMAKER_BASE_DIR at p.
func trainCmd(t *testing.T, p optml.Paths, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(testenv.Runtime(t), append([]string{"train"}, args...)...)
	cmd.Env = append(os.Environ(), optml.EnvBaseDir+"="+p.Root(), optml.EnvProgram+"=train.sh", "SAGEKIT_QUIET=1")
	return cmd
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("running sagekit-runtime: %v", err)
	return -1
}

func TestTrainRunsScriptWithToolkitArgvAndEnv(t *testing.T) {
	t.Parallel()
	p := trainTree(t, `echo "argv: $*"; echo "SM_HP_FLAG=$SM_HP_FLAG"; echo "SM_HPS=$SM_HPS"`+"\n")
	out, err := trainCmd(t, p).CombinedOutput()
	if code := exitCode(t, err); code != 0 {
		t.Fatalf("exit code %d, output:\n%s", code, out)
	}
	want := "argv: --epochs 2 --flag True --lr 0.01 --name abc\nSM_HP_FLAG=true\nSM_HPS={\"epochs\":2,\"flag\":true,\"lr\":0.01,\"name\":\"abc\"}\n"
	if string(out) != want {
		t.Errorf("output = %q, want %q", out, want)
	}
	if _, err := os.Stat(p.Success()); err != nil {
		t.Errorf("no success file: %v", err)
	}
}

func TestTrainExitsWithProgramsCode(t *testing.T) {
	t.Parallel()
	p := trainTree(t, "echo 'Traceback: it broke' >&2\nexit 3\n")
	out, err := trainCmd(t, p).CombinedOutput()
	if code := exitCode(t, err); code != 3 {
		t.Fatalf("exit code %d, want 3; output:\n%s", code, out)
	}
	reason, err := os.ReadFile(p.Failure())
	if err != nil {
		t.Fatalf("no failure file: %v", err)
	}
	if !strings.HasPrefix(string(reason), "ExecuteUserScriptError: the training program exited with code 3\nExitCode 3\nErrorMessage \"Traceback: it broke\"") {
		t.Errorf("failure file = %q", reason)
	}
}

func TestTrainForwardsSIGTERM(t *testing.T) {
	t.Parallel()
	p := trainTree(t, `trap 'echo saved > "$SM_MODEL_DIR/model.txt"; exit 0' TERM
touch "$SM_OUTPUT_DIR/ready"
while :; do sleep 0.05; done
`)
	cmd := trainCmd(t, p)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(p.Output(), "ready")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the program never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := exitCode(t, cmd.Wait()); code != 0 {
		t.Fatalf("exit code %d, want 0 (the program handled SIGTERM)", code)
	}
	model, err := os.ReadFile(filepath.Join(p.Model(), "model.txt"))
	if err != nil || string(model) != "saved\n" {
		t.Errorf("model written on SIGTERM = %q, %v", model, err)
	}
}

func TestTrainMalformedHyperparameters(t *testing.T) {
	t.Parallel()
	p := trainTree(t, "exit 0\n")
	if err := os.WriteFile(p.Hyperparameters(), []byte(`{"epochs": "2"`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := trainCmd(t, p).CombinedOutput()
	if code := exitCode(t, err); code == 0 {
		t.Fatalf("exit code 0 with a malformed hyperparameters.json; output:\n%s", out)
	}
	reason, err := os.ReadFile(p.Failure())
	if err != nil {
		t.Fatalf("no failure file: %v", err)
	}
	for _, w := range []string{p.Hyperparameters(), "invalid JSON"} {
		if !strings.Contains(string(reason), w) {
			t.Errorf("failure file %q does not say %q", reason, w)
		}
	}
	if !strings.Contains(string(out), "hyperparameters.json") {
		t.Errorf("stderr does not name the file:\n%s", out)
	}
}

func TestTrainUsageErrors(t *testing.T) {
	t.Parallel()
	p := trainTree(t, "exit 0\n")
	for _, args := range [][]string{{"stray"}, {"--no-such-flag"}} {
		out, err := trainCmd(t, p, args...).CombinedOutput()
		if code := exitCode(t, err); code != 2 {
			t.Errorf("train %v: exit code %d, want 2; output:\n%s", args, code, out)
		}
	}
}
