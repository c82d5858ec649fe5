package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/sdk/optml"
	"github.com/sagekit/sagekit/sdk/optml/optmltest"
)

func layout() optml.Layout {
	rc := optml.SingleHost("algo-2", "algo-1", "algo-2")
	return optml.Layout{
		Hyperparameters: optml.Hyperparameters{"epochs": "3", "learning-rate": `"0.5"`, "sagemaker_program": `"train"`},
		Channels:        map[string]map[string][]byte{"train": {"data.csv": []byte("1,2\n")}},
		Resource:        &rc,
	}
}

func TestEnv(t *testing.T) {
	p := optmltest.New(t, layout())
	env, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Epochs int     `hp:"epochs"`
		LR     float64 `hp:"learning-rate"`
		Batch  int     `hp:"batch" default:"32"`
	}
	if err := env.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Epochs != 3 || cfg.LR != 0.5 || cfg.Batch != 32 {
		t.Errorf("Decode = %+v", cfg)
	}
	if v, ok := env.Value("sagemaker_program"); !ok || v != "train" {
		t.Errorf(`Value("sagemaker_program") = %v, %v`, v, ok)
	}
	dir, err := env.Channel("train")
	if err != nil || dir != p.Channel("train") {
		t.Errorf(`Channel("train") = %q, %v`, dir, err)
	}
	if _, err := env.Channel("test"); !errors.Is(err, ErrNoChannel) || !strings.Contains(err.Error(), "[train]") {
		t.Errorf(`Channel("test") error = %v, want ErrNoChannel listing [train]`, err)
	}
	if env.CurrentHost() != "algo-2" || env.IsLeader() || !cmp.Equal(env.Hosts(), []string{"algo-1", "algo-2"}) {
		t.Errorf("host %q, leader %v, hosts %v", env.CurrentHost(), env.IsLeader(), env.Hosts())
	}
	if env.CheckpointDir() != p.Checkpoints() || env.ModelDir() != p.Model() || env.OutputDataDir() != p.OutputData() {
		t.Errorf("dirs: %s %s %s", env.CheckpointDir(), env.ModelDir(), env.OutputDataDir())
	}
	env.Checkpoint = &optml.CheckpointConfig{LocalPath: "/ckpt"}
	if env.Checkpoints().Dir() != "/ckpt" {
		t.Errorf("checkpoint dir with LocalPath = %s", env.Checkpoints().Dir())
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name   string
		fn     Func
		cancel bool
		want   string // failure file prefix; "" for success
	}{
		{"success", func(ctx context.Context, env *Env) error { return WriteModel(env, "m.bin", []byte("w")) }, false, ""},
		{"error", func(ctx context.Context, env *Env) error {
			return fmt.Errorf("reading train: %w", errors.New("no rows"))
		}, false, "AlgorithmError: reading train: no rows\n"},
		{"panic", func(ctx context.Context, env *Env) error { panic("index out of range") }, false, "AlgorithmError: panic: index out of range\n\ngoroutine "},
		{"stopped", func(ctx context.Context, env *Env) error { <-ctx.Done(); return ctx.Err() }, true, "Stopped: context canceled (the job was stopped"},
		{"bad hyperparameter", func(ctx context.Context, env *Env) error {
			var cfg struct {
				Epochs bool `hp:"epochs"`
			}
			return env.Decode(&cfg)
		}, false, `AlgorithmError: hyperparameter "epochs": "3" is not a boolean (true or false)` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := optmltest.New(t, layout())
			ctx, cancel := context.WithCancel(context.Background())
			if tt.cancel {
				cancel()
			}
			defer cancel()
			err := Run(ctx, p, tt.fn)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				if _, err := os.Stat(p.Success()); err != nil {
					t.Errorf("no success file: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Run returned nil")
			}
			b, rerr := os.ReadFile(p.Failure())
			if rerr != nil {
				t.Fatalf("no failure file: %v", rerr)
			}
			if !strings.HasPrefix(string(b), tt.want) {
				t.Errorf("failure file = %q, want prefix %q", b, tt.want)
			}
		})
	}
}

func TestRunPanicIsPanicError(t *testing.T) {
	p := optmltest.New(t, layout())
	err := Run(context.Background(), p, func(context.Context, *Env) error { panic(errors.New("boom")) })
	var pe *PanicError
	if !errors.As(err, &pe) || len(pe.Stack) == 0 {
		t.Errorf("Run error = %v, want a *PanicError with a stack", err)
	}
}

// TestRunConfigError: hyperparameters.json that is not a JSON object (here
// cut short) fails the job before fn runs. A number as a value is not an
// error: SageMaker's toolkits take non-string values as they come.
func TestRunConfigError(t *testing.T) {
	p := optmltest.New(t, layout())
	os.WriteFile(p.Hyperparameters(), []byte(`{"epochs": "3"`), 0o644)
	called := false
	err := Run(context.Background(), p, func(context.Context, *Env) error { called = true; return nil })
	if err == nil || called {
		t.Fatalf("Run = %v, called %v; want an error before fn runs", err, called)
	}
	b, _ := os.ReadFile(p.Failure())
	if !strings.HasPrefix(string(b), "ConfigError: "+p.Hyperparameters()) {
		t.Errorf("failure file = %q", b)
	}
}

func TestRunKeepsProgramsFailureFile(t *testing.T) {
	p := optmltest.New(t, layout())
	err := Run(context.Background(), p, func(ctx context.Context, env *Env) error {
		env.Paths.WriteFailure("my own words")
		return errors.New("other words")
	})
	if err == nil {
		t.Fatal("Run returned nil")
	}
	if b, _ := os.ReadFile(p.Failure()); string(b) != "my own words" {
		t.Errorf("failure file = %q", b)
	}
}

type codeError struct{}

func (codeError) Error() string { return "custom" }
func (codeError) ExitCode() int { return 42 }

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{{nil, 0}, {errors.New("x"), 1}, {fmt.Errorf("wrap: %w", codeError{}), 42}} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestMetricsMatchTheirRegex(t *testing.T) {
	var buf bytes.Buffer
	m := NewMetrics(&buf)
	values := []float64{0.25, -1.5e-7, 3, 1e21, math.NaN(), math.Inf(1), math.Inf(-1), 0}
	for i, v := range values {
		m.LogStep("val loss", i, v)
	}
	m.Log("accuracy", 0.9)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if lines[0] != "#metric name=val_loss value=0.25 step=0" || lines[len(lines)-1] != "#metric name=accuracy value=0.9" {
		t.Errorf("lines = %q", lines)
	}
	re := regexp.MustCompile(MetricRegex("val loss"))
	if got, want := MetricRegex("loss"), `#metric name=loss value=(NaN|-?Infinity|[-+0-9.eE]+)`; got != want {
		t.Errorf("MetricRegex(loss) = %s, want %s", got, want)
	}
	for i, v := range values {
		sub := re.FindStringSubmatch(lines[i])
		if sub == nil {
			t.Fatalf("regex %s does not match %q", re, lines[i])
		}
		got, err := strconv.ParseFloat(sub[1], 64)
		if err != nil || !(got == v || math.IsNaN(v) && math.IsNaN(got)) {
			t.Errorf("captured %q from %q = %v, %v; want %v", sub[1], lines[i], got, err, v)
		}
	}
	if re.MatchString(lines[len(lines)-1]) {
		t.Errorf("the val loss regex matches the accuracy line %q", lines[len(lines)-1])
	}
	if regexp.MustCompile(MetricRegex("loss")).MatchString("#metric name=val_loss value=1") {
		t.Error("the loss regex matches val_loss")
	}
	defs := Definitions("loss")
	if defs[0].Name != "loss" || defs[0].Regex != MetricRegex("loss") {
		t.Errorf("Definitions = %+v", defs)
	}
}

func TestWriteModel(t *testing.T) {
	p := optmltest.New(t, layout())
	env, _ := Load(p)
	if err := WriteModel(env, "sub/model.json", []byte(`{"w":1}`)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(p.Model(), "sub", "model.json")); string(b) != `{"w":1}` {
		t.Errorf("model = %q", b)
	}
	for _, bad := range []string{"", "../escape", "/abs", "."} {
		if err := WriteModel(env, bad, nil); err == nil {
			t.Errorf("WriteModel(%q) succeeded", bad)
		}
	}
	err := WriteModelFunc(env, "broken.bin", func(w io.Writer) error {
		w.Write([]byte("partial"))
		return errors.New("encoder failed")
	})
	if err == nil || !strings.Contains(err.Error(), "encoder failed") {
		t.Errorf("WriteModelFunc error = %v", err)
	}
	entries, _ := os.ReadDir(p.Model())
	for _, e := range entries {
		if e.Name() != "sub" {
			t.Errorf("model dir holds %s after a failed write", e.Name())
		}
	}
}

func TestCheckpoints(t *testing.T) {
	c := NewCheckpoints(filepath.Join(t.TempDir(), "ckpt"))
	if _, err := c.Latest(); !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("Latest on a missing dir = %v, want ErrNoCheckpoint", err)
	}
	for _, n := range []string{"step-9", "step-10", "step-2", "step-010b"} {
		if err := c.Save(n, []byte(n)); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(c.Dir(), ".step-99.tmp-1"), nil, 0o644)
	names, err := c.List()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"step-2", "step-9", "step-10", "step-010b"}, names); diff != "" {
		t.Errorf("List mismatch (-want +got):\n%s", diff)
	}
	name, data, err := c.Restore()
	if err != nil || name != "step-010b" || string(data) != "step-010b" {
		t.Errorf("Restore = %q, %q, %v", name, data, err)
	}
	if err := c.Prune(2); err != nil {
		t.Fatal(err)
	}
	if names, _ := c.List(); !cmp.Equal(names, []string{"step-10", "step-010b"}) {
		t.Errorf("after Prune(2): %v", names)
	}
	if err := c.Save("../out", nil); err == nil {
		t.Error("Save outside the directory succeeded")
	}
}

func TestNaturalLess(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{{"a2", "a10", true}, {"a10", "a2", false}, {"a", "a1", true}, {"a01", "a1", false}, {"a1", "a01", true}, {"b", "a", false}, {"x", "x", false}} {
		if got := naturalLess(tc.a, tc.b); got != tc.want {
			t.Errorf("naturalLess(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestMain lets the tests run this binary as a training program through
// Main: with SAGEKIT_TEST_MAIN set it runs one of the programs below.
func TestMain(m *testing.M) {
	switch os.Getenv("SAGEKIT_TEST_MAIN") {
	case "":
		os.Exit(m.Run())
	case "fail":
		Main(func(ctx context.Context, env *Env) error { return errors.New("cannot converge") })
	case "succeed":
		Main(func(ctx context.Context, env *Env) error { return nil })
	case "wait-for-sigterm":
		Main(func(ctx context.Context, env *Env) error {
			os.WriteFile(filepath.Join(env.Paths.Output(), "ready"), nil, 0o644)
			<-ctx.Done()
			return WriteModel(env, "model.txt", []byte("saved on stop"))
		})
	}
}

func TestMainProcess(t *testing.T) {
	for _, tc := range []struct {
		program string
		code    int
	}{{"succeed", 0}, {"fail", 1}} {
		p := optmltest.New(t, layout())
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "SAGEKIT_TEST_MAIN="+tc.program, optml.EnvBaseDir+"="+p.Root())
		out, err := cmd.CombinedOutput()
		if got := cmd.ProcessState.ExitCode(); got != tc.code {
			t.Errorf("%s: exit code %d (%v), want %d; output:\n%s", tc.program, got, err, tc.code, out)
		}
		if tc.code != 0 {
			b, _ := os.ReadFile(p.Failure())
			if string(b) != "AlgorithmError: cannot converge\n" || !strings.Contains(string(out), "cannot converge") {
				t.Errorf("failure file %q, output %q", b, out)
			}
		}
	}
}

func TestMainCancelsOnSIGTERM(t *testing.T) {
	p := optmltest.New(t, layout())
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "SAGEKIT_TEST_MAIN=wait-for-sigterm", optml.EnvBaseDir+"="+p.Root())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(p.Output(), "ready")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the program never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("program exited with %v, want 0", err)
	}
	if b, _ := os.ReadFile(filepath.Join(p.Model(), "model.txt")); string(b) != "saved on stop" {
		t.Errorf("model = %q", b)
	}
}
