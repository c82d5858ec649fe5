package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sagekit/sagekit/image/sdkmod"
	"github.com/sagekit/sagekit/templates"
)

func TestInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "My Iris")
	var out, errOut bytes.Buffer
	root := NewRoot()
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"init", dir, "--template", "python", "--multi-model"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("sagekit init = %v", err)
	}
	df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(df), "multi-models=true") {
		t.Errorf("Dockerfile lacks the multi-models label:\n%s", df)
	}
	if !strings.Contains(out.String(), "sagekit build -t my-iris .") {
		t.Errorf("output = %q, want the next step with the name my-iris", out.String())
	}

	// A second run into the same directory is refused, and --force allows it.
	if code := Execute(context.Background(), []string{"init", dir, "--template", "go"}); code != 1 {
		t.Errorf("init into a non-empty dir exited %d, want 1", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
		t.Errorf("a refused init wrote go.mod")
	}
	root = NewRoot()
	root.SetOut(&out)
	root.SetArgs([]string{"init", dir, "--template", "go", "--force", "--sdk", "."})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("sagekit init --force = %v", err)
	}
	work, err := os.ReadFile(filepath.Join(dir, "go.work"))
	if err != nil {
		t.Fatalf("init --sdk wrote no go.work: %v", err)
	}
	abs, _ := filepath.Abs(".")
	if !strings.Contains(string(work), "\t"+abs+"\n") {
		t.Errorf("go.work does not use %s:\n%s", abs, work)
	}
}

func TestInitErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no template", []string{"init", "x"}, "pass --template"},
		{"unknown template", []string{"init", "x", "--template", "rust"}, `unknown template "rust"`},
		{"sdk with python", []string{"init", "x", "--template", "python", "--sdk", "."}, "--sdk applies to the go template only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errOut bytes.Buffer
			root := NewRoot()
			root.SetErr(&errOut)
			root.SetOut(&errOut)
			root.SetArgs(append(tt.args[:1:1], append([]string{filepath.Join(t.TempDir(), "p")}, tt.args[2:]...)...))
			err := root.ExecuteContext(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("sagekit %v = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestProjectName(t *testing.T) {
	for in, want := range map[string]string{"My Iris": "my-iris", "algo_v2": "algo-v2", "---": "algorithm", "x.y": "x-y"} {
		if got := projectName(in); got != want {
			t.Errorf("projectName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestInitGoProjectBuildsWithoutCheckout writes a go project with no --sdk
// and builds and tests it with the go command alone, with every proxy
// off: go.mod requires the SDK this sagekit carries, go.sum holds its
// checksums, and init put it in the module cache.
func TestInitGoProjectBuildsWithoutCheckout(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and tests a generated project")
	}
	s, err := sdkmod.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "iris")
	var out bytes.Buffer
	root := NewRoot()
	root.SetOut(&out)
	root.SetArgs([]string{"init", dir, "--template", "go"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("sagekit init = %v", err)
	}
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "require " + sdkmod.Module + " " + s.Version + "\n"; !strings.Contains(string(mod), want) {
		t.Errorf("go.mod lacks %q:\n%s", want, mod)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
		t.Errorf("init without --sdk wrote a go.work")
	}
	if !strings.Contains(out.String(), "added "+sdkmod.Module+"@"+s.Version+" to the Go module cache") {
		t.Errorf("init output = %q, want the module cache line", out.String())
	}
	for _, args := range [][]string{{"build", "./..."}, {"test", "./..."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=readonly", "GOWORK=off")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("go %s in the project = %v\n%s", strings.Join(args, " "), err, b)
		}
	}
}

func TestSamplePayload(t *testing.T) {
	dir := t.TempDir()
	if err := templates.Write(filepath.Join(dir, "p"), []templates.File{{Path: "local/payload.csv", Data: []byte("1\n")}}); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if got := samplePayload(); got != "payload.csv" {
		t.Errorf("samplePayload() outside a project = %q, want payload.csv", got)
	}
	t.Chdir(filepath.Join(dir, "p"))
	if got := samplePayload(); got != "local/payload.csv" {
		t.Errorf("samplePayload() in a project = %q, want local/payload.csv", got)
	}
}

func TestInitGPUDefaults(t *testing.T) {
	for _, tmpl := range []string{"go", "python", "generic"} {
		dir := filepath.Join(t.TempDir(), "g")
		root := NewRoot()
		root.SetOut(&bytes.Buffer{})
		args := []string{"init", dir, "--template", tmpl, "--gpu"}
		if tmpl == "go" {
			args = append(args, "--sdk", ".")
		}
		root.SetArgs(args)
		if err := root.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("sagekit init --template %s --gpu = %v", tmpl, err)
		}
		df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		want := "ARG BASE_IMAGE=" + templates.DefaultGPUBase
		if tmpl == "python" {
			want = "ARG BASE_IMAGE=" + templates.DefaultPythonBase
		}
		if !strings.Contains(string(df), want) || !strings.Contains(string(df), "NVIDIA_VISIBLE_DEVICES=all") {
			t.Errorf("%s --gpu Dockerfile lacks %q or the NVIDIA variables:\n%s", tmpl, want, df)
		}
	}
}

func TestBaseHint(t *testing.T) {
	missing := func(context.Context, string) (bool, error) { return false, nil }
	present := func(context.Context, string) (bool, error) { return true, nil }
	if got := baseHint(context.Background(), templates.DefaultGPUBase, missing); !strings.Contains(got, "sudo sagekit base --only cuda") {
		t.Errorf("baseHint(missing cuda) = %q", got)
	}
	if got := baseHint(context.Background(), templates.DefaultGPUBase, present); got != "" {
		t.Errorf("baseHint(present) = %q, want none", got)
	}
	if got := baseHint(context.Background(), "nvidia/cuda:12", missing); got != "" {
		t.Errorf("baseHint(another image) = %q, want none", got)
	}
}

func TestSDKCommand(t *testing.T) {
	s, err := sdkmod.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	root := NewRoot()
	root.SetOut(&out)
	root.SetArgs([]string{"sdk"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("sagekit sdk = %v", err)
	}
	if want := sdkmod.Module + " " + s.Version + "\n"; out.String() != want {
		t.Errorf("sagekit sdk printed %q, want %q", out.String(), want)
	}
}
