package launch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/runtime/toolkit"
	"github.com/sagekit/sagekit/sdk/optml"
)

// trainingVectors is testdata/training-vectors.json: training jobs and what
// the training toolkit gives their program (argv and SM_* environment) or
// leaves behind when it fails; for a listed deviation, sagekit's
// documented answer.
type trainingVectors struct {
	Toolkit map[string]string `json:"toolkit"`
	Count   int               `json:"count"`
	Vectors []trainingVector  `json:"vectors"`
}

type trainingVector struct {
	ID              string            `json:"id"`
	Source          string            `json:"source"`
	Hyperparameters string            `json:"hyperparameters"`
	InputDataConfig *string           `json:"inputdataconfig"`
	ResourceConfig  *string           `json:"resourceconfig"`
	Env             map[string]string `json:"env"`
	ProgramName     string            `json:"program_name"`
	Program         *string           `json:"program"`
	Deviation       string            `json:"deviation"`
	Want            trainingAnswer    `json:"want"`
	Toolkit         *trainingAnswer   `json:"toolkit"`
}

type trainingAnswer struct {
	Argv    []string          `json:"argv"`
	Env     map[string]string `json:"env"`
	Exit    *int              `json:"exit"`
	Failure *string           `json:"failure"`
}

// dumpProgram reports the argv and SM_* environment it was started with.
const dumpProgram = `import json, os, sys
env = {k: v for k, v in os.environ.items() if k.startswith("SM_")}
with open(os.environ["VECTOR_OUT"], "w") as f:
    json.dump({"argv": sys.argv[1:], "env": env}, f)
`

var vectorSource = regexp.MustCompile(`^([\w.-]+/[\w.-]+)@([0-9a-f]{12}):([\w./-]+)#L([1-9][0-9]*)$`)

// TestTrainingToolkitVectors runs every training vector through the
// launcher in toolkit mode with a real Python program: its argv and SM_*
// environment, or its exit code and failure file, must be the toolkit's,
// or sagekit's documented answer where a deviation is listed.
func TestTrainingToolkitVectors(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short: " + "runs every training-toolkit vector through Python, about 30 s on a loaded machine")
	}
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		if os.Getenv("SAGEKIT_REQUIRE_PYTHON") == "1" {
			t.Fatalf("no %s (SAGEKIT_REQUIRE_PYTHON=1): apt-get install python3", py)
		}
		t.Skipf("skipped: no %s", py)
	}
	b, err := os.ReadFile(filepath.Join("testdata", "training-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vs trainingVectors
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatalf("parsing training-vectors.json: %v", err)
	}
	if len(vs.Vectors) != vs.Count {
		t.Fatalf("training-vectors.json holds %d vectors, says %d", len(vs.Vectors), vs.Count)
	}
	contract, err := os.ReadFile(filepath.Join("..", "..", "docs", "contract.md"))
	if err != nil {
		t.Fatal(err)
	}
	var passed atomic.Int64
	t.Run("vectors", func(t *testing.T) {
		for _, v := range vs.Vectors {
			t.Run(v.ID, func(t *testing.T) {
				t.Parallel()
				m := vectorSource.FindStringSubmatch(v.Source)
				if m == nil || !strings.HasPrefix(vs.Toolkit[m[1]], m[2]) {
					t.Fatalf("source %q is not repository@commit:path#Lline of a recorded commit", v.Source)
				}
				for _, d := range strings.Split(v.Deviation, ",") {
					if d != "" && (v.Toolkit == nil || !bytes.Contains(contract, []byte("| "+d+" |"))) {
						t.Fatalf("deviation %s needs the toolkit's answer and a row in docs/contract.md's deviations table", d)
					}
				}
				if err := runTrainingVector(t, py, v); err != "" {
					t.Fatalf("%s: %s", v.Source, err)
				}
				passed.Add(1)
			})
		}
	})
	t.Logf("training vectors: %d of %d match", passed.Load(), len(vs.Vectors))
}

func runTrainingVector(t *testing.T, py string, v trainingVector) string {
	root := t.TempDir()
	p := optml.At(root)
	write := func(path, body string, mode os.FileMode) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{p.Model(), p.OutputData()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(p.Hyperparameters(), v.Hyperparameters, 0o644)
	idc := "{}"
	if v.InputDataConfig != nil {
		idc = *v.InputDataConfig
		var channels map[string]any
		if err := json.Unmarshal([]byte(idc), &channels); err != nil {
			t.Fatal(err)
		}
		for ch := range channels {
			if err := os.MkdirAll(p.Channel(ch), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(p.InputDataConfig(), idc, 0o644)
	rc := `{"current_host": "algo-1", "hosts": ["algo-1"]}`
	if v.ResourceConfig != nil {
		rc = *v.ResourceConfig
	}
	write(p.ResourceConfig(), rc, 0o644)
	name, program := "train.py", dumpProgram
	if v.ProgramName != "" {
		name = v.ProgramName
	}
	if v.Program != nil {
		program = *v.Program
	}
	write(filepath.Join(p.Code(), name), program, 0o644)

	out := filepath.Join(t.TempDir(), "out.json")
	environ := []string{"PATH=" + os.Getenv("PATH"), "VECTOR_OUT=" + out}
	for k, val := range v.Env {
		environ = append(environ, k+"="+val)
	}
	opts := Options{
		Paths: p, Environ: environ, Dir: root, Python: py,
		Stdout: io.Discard, Stderr: io.Discard,
		System: &toolkit.System{NumCPUs: 3}, Grace: 5 * time.Second,
		HostWait: -1, Toolkit: true,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code, err := Run(ctx, opts)
	if err != nil {
		return "Run: " + err.Error()
	}
	base := func(s string) string { return strings.ReplaceAll(s, "{base}", root) }
	w := v.Want
	if w.Exit != nil {
		if code != *w.Exit {
			return fmt.Sprintf("exit code %d, want %d", code, *w.Exit)
		}
		got, err := os.ReadFile(p.Failure())
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if w.Failure != nil {
				return "no failure file, want " + *w.Failure
			}
		case err != nil:
			t.Fatal(err)
		case w.Failure == nil:
			return "a failure file " + string(got) + ", want none"
		default:
			if diff := cmp.Diff(base(*w.Failure), string(got)); diff != "" {
				return "failure file (-want +got):\n" + diff
			}
		}
		return ""
	}
	if code != 0 {
		f, _ := os.ReadFile(p.Failure())
		return fmt.Sprintf("exit code %d: %s", code, f)
	}
	var got struct {
		Argv []string          `json:"argv"`
		Env  map[string]string `json:"env"`
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		return "the program did not report: " + err.Error()
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(w.Argv, got.Argv); diff != "" {
		return "argv (-want +got):\n" + diff
	}
	want := make(map[string]string, len(w.Env))
	for k, val := range w.Env {
		want[k] = base(val)
	}
	if diff := cmp.Diff(want, got.Env); diff != "" {
		return "SM_* environment (-want +got):\n" + diff
	}
	return ""
}

// TestTrainingVectorsInContract: docs/contract.md states how many training
// vectors there are (at least 150), that all of them match, and how many
// hold a deviation, as testdata/training-vectors.json has them.
func TestTrainingVectorsInContract(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "training-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vs trainingVectors
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatalf("parsing training-vectors.json: %v", err)
	}
	deviating := 0
	for _, v := range vs.Vectors {
		if v.Deviation != "" {
			deviating++
		}
	}
	testenv.VectorsInContract(t, "training", len(vs.Vectors), deviating)
}
