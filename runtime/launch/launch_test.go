package launch

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/runtime/toolkit"
	"github.com/sagekit/sagekit/sdk/optml"
	"github.com/sagekit/sagekit/sdk/optml/optmltest"
)

var issueHPs = optml.Hyperparameters{"epochs": "2", "lr": "0.01", "name": `"abc"`, "flag": "true"}

// setup lays out /opt/ml with hps and writes script as code/<name>.
func setup(t *testing.T, hps optml.Hyperparameters, name, script string) optml.Paths {
	t.Helper()
	p := optmltest.New(t, optml.Layout{Hyperparameters: hps, Channels: map[string]map[string][]byte{"train": {"a.csv": []byte("1\n")}}})
	if name != "" {
		if err := os.MkdirAll(p.Code(), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p.Code(), name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func options(p optml.Paths, environ ...string) Options {
	return Options{
		Paths:   p,
		Environ: append([]string{"PATH=" + os.Getenv("PATH"), "KEEP=me"}, environ...),
		Dir:     p.Root(),
		Stdout:  io.Discard,
		Stderr:  io.Discard,
		System:  &toolkit.System{NumCPUs: 3},
		Grace:   5 * time.Second,
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return string(b)
}

func TestRunPassesArgvAndEnvironment(t *testing.T) {
	p := setup(t, issueHPs, "train.sh", `
for a in "$@"; do printf '%s\n' "$a"; done > "$SM_MODEL_DIR/argv"
env > "$SM_MODEL_DIR/env"
pwd > "$SM_MODEL_DIR/pwd"
`)
	code, err := Run(context.Background(), options(p, "SAGEMAKER_PROGRAM=train.sh"))
	if err != nil || code != 0 {
		t.Fatalf("Run = %d, %v; want 0, nil", code, err)
	}
	argv := strings.Split(strings.TrimSpace(readFile(t, filepath.Join(p.Model(), "argv"))), "\n")
	if diff := cmp.Diff([]string{"--epochs", "2", "--flag", "True", "--lr", "0.01", "--name", "abc"}, argv); diff != "" {
		t.Errorf("argv mismatch (-want +got):\n%s", diff)
	}
	env := map[string]string{}
	for _, line := range strings.Split(readFile(t, filepath.Join(p.Model(), "env")), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	for k, want := range map[string]string{
		"SM_HP_FLAG":          "true",
		"SM_HP_NAME":          "abc",
		"SM_HPS":              `{"epochs":2,"flag":true,"lr":0.01,"name":"abc"}`,
		"SM_CHANNELS":         `["train"]`,
		"SM_CHANNEL_TRAIN":    p.Channel("train"),
		"SM_MODEL_DIR":        p.Model(),
		"SM_NUM_CPUS":         "3",
		"SM_NUM_GPUS":         "0",
		"SM_CURRENT_HOST":     "algo-1",
		"SM_USER_ENTRY_POINT": "train.sh",
		"SM_MODULE_NAME":      "train.sh",
		"CURRENT_HOST":        "algo-1",
		"PYTHONPATH":          p.Code(),
		"PYTHONUNBUFFERED":    "1",
		"KEEP":                "me",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	if got := strings.TrimSpace(readFile(t, filepath.Join(p.Model(), "pwd"))); got != p.Code() {
		t.Errorf("working directory = %q, want the code dir %q", got, p.Code())
	}
	if _, err := os.Stat(p.Success()); err != nil {
		t.Errorf("no success file: %v", err)
	}
	if _, err := os.Stat(p.Failure()); err == nil {
		t.Error("failure file written on success")
	}
}

func TestRunProgramFromHyperparameter(t *testing.T) {
	hps := optml.Hyperparameters{"sagemaker_program": `"run"`, "sagemaker_submit_directory": `"s3://b/k.tar.gz"`, "x": "1"}
	p := setup(t, hps, "run", "#!/bin/sh\necho \"$0 $*\" > \"$SM_MODEL_DIR/out\"\n")
	if code, err := Run(context.Background(), options(p)); code != 0 || err != nil {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if got, want := readFile(t, filepath.Join(p.Model(), "out")), filepath.Join(p.Code(), "run")+" -x 1\n"; got != want {
		t.Errorf("program saw %q, want %q", got, want)
	}
}

func TestRunPythonProgram(t *testing.T) {
	p := setup(t, optml.Hyperparameters{"sagemaker_program": `"train.py"`, "epochs": "2"}, "train.py", "print('hi')\n")
	fakePython := filepath.Join(t.TempDir(), "fake-python")
	if err := os.WriteFile(fakePython, []byte("#!/bin/sh\necho \"$*\" > \"$SM_MODEL_DIR/py\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	opts := options(p)
	opts.Python = fakePython
	if code, err := Run(context.Background(), opts); code != 0 || err != nil {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if got, want := readFile(t, filepath.Join(p.Model(), "py")), filepath.Join(p.Code(), "train.py")+" --epochs 2\n"; got != want {
		t.Errorf("python saw %q, want %q", got, want)
	}
}

func TestRunShebangWithoutExecutableBit(t *testing.T) {
	p := setup(t, nil, "", "")
	prog := filepath.Join(p.Root(), "prog")
	if err := os.WriteFile(prog, []byte("#!/bin/sh -e\necho ran > \"$SM_MODEL_DIR/ran\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, err := Run(context.Background(), options(p, "SAGEMAKER_PROGRAM=prog")); code != 0 || err != nil {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if got := readFile(t, filepath.Join(p.Model(), "ran")); got != "ran\n" {
		t.Errorf("program output = %q", got)
	}
}

func TestRunCommandAfterDashes(t *testing.T) {
	p := setup(t, issueHPs, "", "")
	opts := options(p)
	out := filepath.Join(p.Model(), "out")
	opts.Command = []string{"sh", "-c", `echo "$*" > ` + out, "sh"}
	if code, err := Run(context.Background(), opts); code != 0 || err != nil {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if got := readFile(t, out); got != "--epochs 2 --flag True --lr 0.01 --name abc\n" {
		t.Errorf("command saw %q", got)
	}
	opts.NoArgs = true
	if code, _ := Run(context.Background(), opts); code != 0 {
		t.Fatalf("Run with NoArgs = %d", code)
	}
	if got := readFile(t, out); got != "\n" {
		t.Errorf("command with NoArgs saw %q, want no arguments", got)
	}
}

func TestRunExitCodeAndFailureFile(t *testing.T) {
	p := setup(t, nil, "train.sh", "echo 'loading data' >&2\necho 'ValueError: bad things' >&2\nexit 3\n")
	code, err := Run(context.Background(), options(p, "SAGEMAKER_PROGRAM=train.sh"))
	if code != 3 || err != nil {
		t.Fatalf("Run = %d, %v; want 3, nil", code, err)
	}
	want := "ExecuteUserScriptError: the training program exited with code 3\nExitCode 3\n" +
		"ErrorMessage \"loading data\nValueError: bad things\"\nCommand \"/bin/sh " + filepath.Join(p.Code(), "train.sh") + "\"\n"
	if diff := cmp.Diff(want, readFile(t, p.Failure())); diff != "" {
		t.Errorf("failure file mismatch (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(p.Success()); err == nil {
		t.Error("success file written on failure")
	}
}

func TestRunKeepsProgramsFailureFile(t *testing.T) {
	p := setup(t, nil, "train.sh", "printf 'my own reason' > \"$SM_OUTPUT_DIR/failure\"\nexit 1\n")
	if code, _ := Run(context.Background(), options(p, "SAGEMAKER_PROGRAM=train.sh")); code != 1 {
		t.Fatalf("Run = %d, want 1", code)
	}
	if got := readFile(t, p.Failure()); got != "my own reason" {
		t.Errorf("failure file = %q, want the program's own", got)
	}
}

func TestRunSignalDeaths(t *testing.T) {
	tests := []struct {
		name, script string
		code         int
		first        string
	}{
		{"oom kill", "kill -KILL $$\n", 137, "OutOfMemory: the training program was killed by SIGKILL (signal 9), exit code 137"},
		{"exit 137", "exit 137\n", 137, "OutOfMemory: the training program exited with code 137 (128+9)"},
		{"segfault", "kill -SEGV $$\n", 139, "ExecuteUserScriptError: the training program was killed by signal 11 (segmentation fault), exit code 139"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := setup(t, nil, "train.sh", tt.script)
			code, err := Run(context.Background(), options(p, "SAGEMAKER_PROGRAM=train.sh"))
			if code != tt.code || err != nil {
				t.Fatalf("Run = %d, %v; want %d", code, err, tt.code)
			}
			reason := readFile(t, p.Failure())
			if first, _, _ := strings.Cut(reason, "\n"); !strings.HasPrefix(first, tt.first) {
				t.Errorf("failure file starts %q, want %q", first, tt.first)
			}
		})
	}
}

// waitFor polls for path, which a program creates when it is ready.
func waitFor(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s did not appear", path)
}

const saveOnTerm = `
trap 'echo saved > "$SM_MODEL_DIR/model"; exit 0' TERM INT
touch "$SM_OUTPUT_DIR/ready"
while :; do sleep 0.05; done
`

func TestRunForwardsSIGTERM(t *testing.T) {
	p := setup(t, nil, "train.sh", saveOnTerm)
	sigs := make(chan os.Signal, 1)
	opts := options(p, "SAGEMAKER_PROGRAM=train.sh")
	opts.Signals = sigs
	go func() {
		waitFor(t, filepath.Join(p.Output(), "ready"))
		sigs <- syscall.SIGTERM
	}()
	code, err := Run(context.Background(), opts)
	if code != 0 || err != nil {
		t.Fatalf("Run = %d, %v; want 0", code, err)
	}
	if got := readFile(t, filepath.Join(p.Model(), "model")); got != "saved\n" {
		t.Errorf("model = %q, want the one written on SIGTERM", got)
	}
}

func TestRunCancelledContextStopsProgram(t *testing.T) {
	p := setup(t, nil, "train.sh", saveOnTerm)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		waitFor(t, filepath.Join(p.Output(), "ready"))
		cancel()
	}()
	if code, err := Run(ctx, options(p, "SAGEMAKER_PROGRAM=train.sh")); code != 0 || err != nil {
		t.Fatalf("Run = %d, %v; want 0", code, err)
	}
	if _, err := os.Stat(filepath.Join(p.Model(), "model")); err != nil {
		t.Errorf("model not saved on cancellation: %v", err)
	}
}

func TestRunKillsAfterGrace(t *testing.T) {
	p := setup(t, nil, "train.sh", "trap '' TERM\ntouch \"$SM_OUTPUT_DIR/ready\"\nwhile :; do sleep 0.05; done\n")
	sigs := make(chan os.Signal, 1)
	opts := options(p, "SAGEMAKER_PROGRAM=train.sh")
	opts.Signals = sigs
	opts.Grace = 200 * time.Millisecond
	go func() {
		waitFor(t, filepath.Join(p.Output(), "ready"))
		sigs <- syscall.SIGTERM
	}()
	start := time.Now()
	code, err := Run(context.Background(), opts)
	if code != 137 || err != nil {
		t.Fatalf("Run = %d, %v; want 137", code, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %v; the grace period was 200ms", d)
	}
	if reason := readFile(t, p.Failure()); !strings.HasPrefix(reason, "Stopped: the training program did not exit within 200ms of terminated") {
		t.Errorf("failure file = %q", reason)
	}
}

func TestRunStreamsPartialStderrLines(t *testing.T) {
	p := setup(t, nil, "train.sh", "printf 'progress 50%%' >&2\nwhile [ ! -e \"$SM_OUTPUT_DIR/go\" ]; do sleep 0.02; done\nprintf ' done\\n' >&2\n")
	var stderr testenv.SyncBuffer
	opts := options(p, "SAGEMAKER_PROGRAM=train.sh")
	opts.Stderr = &stderr
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(stderr.String(), "progress 50%") && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		// Seen while the program still runs: nothing waits for a newline.
		os.WriteFile(filepath.Join(p.Output(), "go"), nil, 0o644)
	}()
	if code, err := Run(context.Background(), opts); code != 0 || err != nil {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if got := stderr.String(); got != "progress 50% done\n" {
		t.Errorf("stderr = %q", got)
	}
}

func TestRunLauncherErrors(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, p optml.Paths) Options
		code    int
		reason  []string
	}{
		{
			name: "malformed hyperparameters",
			prepare: func(t *testing.T, p optml.Paths) Options {
				os.WriteFile(p.Hyperparameters(), []byte(`{"epochs": 2,}`), 0o644)
				return options(p, "SAGEMAKER_PROGRAM=train.sh")
			},
			code:   ExitConfigError,
			reason: []string{"ConfigError: ", "hyperparameters.json", "invalid JSON at line 1, column 14"},
		},
		{
			name: "malformed resourceconfig",
			prepare: func(t *testing.T, p optml.Paths) Options {
				os.WriteFile(p.ResourceConfig(), []byte(`{"hosts": ["algo-1"]}`), 0o644)
				return options(p, "SAGEMAKER_PROGRAM=train.sh")
			},
			code:   ExitConfigError,
			reason: []string{"resourceconfig.json", `"current_host" is missing`},
		},
		{
			name: "hyperparameter name with =",
			prepare: func(t *testing.T, p optml.Paths) Options {
				os.WriteFile(p.Hyperparameters(), []byte(`{"x=y": "z", "ok": "1"}`), 0o644)
				return options(p, "SAGEMAKER_PROGRAM=train.sh")
			},
			code:   ExitConfigError,
			reason: []string{"ConfigError: ", "hyperparameters.json", `hyperparameter "x=y"`, "SM_HP_X=Y", "rename it"},
		},
		{
			name:    "no program",
			prepare: func(t *testing.T, p optml.Paths) Options { return options(p) },
			code:    ExitNoProgram,
			reason:  []string{"no training program: set SAGEMAKER_PROGRAM"},
		},
		{
			name:    "program not found",
			prepare: func(t *testing.T, p optml.Paths) Options { return options(p, "SAGEMAKER_PROGRAM=missing.py") },
			code:    ExitProgramNotFound,
			reason:  []string{`training program "missing.py" not found`},
		},
		{
			name: "not executable",
			prepare: func(t *testing.T, p optml.Paths) Options {
				os.WriteFile(filepath.Join(p.Code(), "data.bin"), []byte("\x7fELF"), 0o644)
				return options(p, "SAGEMAKER_PROGRAM=data.bin")
			},
			code:   ExitNotExecutable,
			reason: []string{"is not executable: chmod +x it"},
		},
		{
			name: "command not found",
			prepare: func(t *testing.T, p optml.Paths) Options {
				o := options(p)
				o.Command = []string{"no-such-command-sagekit"}
				return o
			},
			code:   ExitProgramNotFound,
			reason: []string{`"no-such-command-sagekit" not found on PATH`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := setup(t, nil, "train.sh", "exit 0\n")
			code, err := Run(context.Background(), tt.prepare(t, p))
			if code != tt.code || err == nil {
				t.Fatalf("Run = %d, %v; want %d and an error", code, err, tt.code)
			}
			reason := readFile(t, p.Failure())
			for _, w := range tt.reason {
				if !strings.Contains(reason, w) {
					t.Errorf("failure file %q does not say %q", reason, w)
				}
			}
		})
	}
}

func TestFailureReasonKeepsCauseFirst(t *testing.T) {
	var lines []string
	for i := 0; i < 200; i++ {
		lines = append(lines, strings.Repeat("x", 40))
	}
	lines = append(lines, "RuntimeError: CUDA out of memory")
	r := failureReason(outcome{code: 1, argv: []string{"python3", strings.Repeat("long-arg ", 200)}, stderrLines: lines})
	head := r[:optml.FailureReasonMax]
	if !strings.HasPrefix(head, "ExecuteUserScriptError: the training program exited with code 1\n") {
		t.Errorf("reason does not start with the cause: %q", head[:80])
	}
	if !strings.Contains(head, "RuntimeError: CUDA out of memory\"") {
		t.Errorf("the last stderr line is not within the first %d bytes", optml.FailureReasonMax)
	}
	if got := lastBytes([]string{"héllo wörld"}, 8); got != "...wörld" && got != "...örld" {
		t.Errorf("lastBytes cut = %q", got)
	}
}

func TestTail(t *testing.T) {
	tl := newTail(3, 5)
	io.WriteString(tl, "one\ntwo\r\nthree-long\nfo")
	io.WriteString(tl, "ur\nfive")
	if diff := cmp.Diff([]string{"three", "four", "five"}, tl.Lines()); diff != "" {
		t.Errorf("Lines mismatch (-want +got):\n%s", diff)
	}
	if got := newTail(2, 10).Lines(); len(got) != 0 {
		t.Errorf("empty tail = %q", got)
	}
}

// TestRunEndsWhatTheProgramLeft: a program that exits leaving children in
// its process group (one that stops on SIGTERM, one that ignores it) has
// them ended after it, the second with SIGKILL once the grace period is
// over, as the container's teardown would on SageMaker.
func TestRunEndsWhatTheProgramLeft(t *testing.T) {
	script := "sleep 300 &\necho $! > \"$SM_OUTPUT_DIR/polite\"\n" +
		"( trap '' TERM; exec sleep 300 ) &\necho $! > \"$SM_OUTPUT_DIR/stubborn\"\nexit 0\n"
	p := setup(t, nil, "train.sh", script)
	opts := options(p, "SAGEMAKER_PROGRAM=train.sh")
	opts.Grace = 300 * time.Millisecond
	start := time.Now()
	code, err := Run(context.Background(), opts)
	took := time.Since(start)
	if code != 0 || err != nil {
		t.Fatalf("Run = %d, %v; want 0", code, err)
	}
	for _, name := range []string{"polite", "stubborn"} {
		pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, filepath.Join(p.Output(), name))))
		if err != nil {
			t.Fatalf("%s child's pid: %v", name, err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for running(pid) {
			if time.Now().After(deadline) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("the %s child (pid %d) still runs after the program exited", name, pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if took < opts.Grace {
		t.Errorf("Run returned after %v, before the %v grace period the stubborn child had", took, opts.Grace)
	}
}

// running reports whether pid is a process that has not exited (a zombie
// has).
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
