package cli

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sagekit/sagekit/evaluate/report"
	"github.com/sagekit/sagekit/internal/evaltest"
	"github.com/sagekit/sagekit/internal/testenv"
	"github.com/sagekit/sagekit/local"
	"github.com/sagekit/sagekit/remote"
)

// sagekitLocal serves SageMaker's API from 'sagekit local' in-process, its
// containers labelled for t (none may be left), S3 on moto's server.
func sagekitLocal(t *testing.T) (url string, moto *testenv.Moto) {
	t.Helper()
	dc := testenv.Docker(t)
	moto = testenv.NewMoto(t)
	t.Setenv("AWS_ENDPOINT_URL_S3", moto.URL) // sagekit local serves no S3
	label := strings.TrimPrefix(testLabelFlag(t, dc), "--label=")
	k, v, _ := strings.Cut(label, "=")
	srv, err := local.New(t.Context(), t.TempDir(), local.WithLabels(map[string]string{k: v}), local.WithStopGrace(2*time.Second), local.WithHealthTimeout(60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		if err := srv.Close(); err != nil {
			t.Errorf("closing sagekit local: %v", err)
		}
	})
	return hs.URL, moto
}

func readReport(t *testing.T, path string) report.Report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// jobs lists the training and transform jobs on the server.
func jobs(t *testing.T, ctx context.Context, url string) []remote.Resource {
	t.Helper()
	cfg, err := remote.LoadConfig(ctx, remote.Config{Region: testenv.MotoRegion, EndpointURL: url})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := remote.New(cfg, remote.WithEndpointURL(url)).List(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []remote.Resource
	for _, r := range rs {
		if r.Kind != remote.KindEndpoint {
			out = append(out, r)
		}
	}
	return out
}

// TestEvaluateOnSagekitLocal evaluates the Go example with 3 folds on the
// local engine, then as SageMaker jobs on 'sagekit local', with the data in
// file:/// directories and in S3 (moto): the same folds give the same
// predictions and the same metrics, and every job completed.
func TestEvaluateOnSagekitLocal(t *testing.T) {
	url, moto := sagekitLocal(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	image := evaltest.GoExample(ctx, t, testenv.Docker(t))
	moto.Boto3(t, `s3.create_bucket(Bucket="evalbkt")`, nil)
	dir := t.TempDir()
	args := []string{"evaluate", image, "--data", "training=" + evaltest.Iris(t), "--label", "0",
		"--folds", "3", "--seed", "7", "--stratify", "--parallel", "2", "--hyperparameter", "max_depth=3"}
	sm := []string{"--on", "ml.m5.large", "--role", testRole, "--endpoint-url", url, "--region", testenv.MotoRegion}
	runs := []struct {
		name string
		args []string
	}{
		{"local", nil},
		{"files", sm},
		{"s3", append(append([]string(nil), sm...), "--s3-prefix", "s3://evalbkt/eval")},
	}
	var reps []report.Report
	for _, r := range runs {
		path := filepath.Join(dir, r.name+".json")
		code, stdout, stderr := execSageMaker(ctx, "", append(append(append([]string(nil), args...), r.args...), "--json", path)...)
		t.Logf("%s:\n%s%s", r.name, stdout, stderr)
		if code != 0 {
			t.Fatalf("%s: exit %d", r.name, code)
		}
		reps = append(reps, readReport(t, path))
	}
	want := reps[0]
	if len(want.Models) != 1 || len(want.Models[0].Folds) != 3 || !want.Complete {
		t.Fatalf("local report: %d models, complete %v", len(want.Models), want.Complete)
	}
	for i, rep := range reps[1:] {
		name := runs[i+1].name
		if !rep.Complete || len(rep.Models) != 1 || len(rep.Models[0].Folds) != 3 {
			t.Fatalf("%s: complete %v, %d models", name, rep.Complete, len(rep.Models))
		}
		for k, f := range rep.Models[0].Folds {
			w := want.Models[0].Folds[k]
			if f.ValidationRows != w.ValidationRows || f.TrainRows != w.TrainRows {
				t.Errorf("%s fold %d: %d+%d rows, local %d+%d", name, f.Fold, f.TrainRows, f.ValidationRows, w.TrainRows, w.ValidationRows)
			}
			if d := cmp.Diff(w.Validation, f.Validation); d != "" || len(f.Validation) == 0 {
				t.Errorf("%s fold %d validation scores differ from the local run's (-local +%s):\n%s", name, f.Fold, name, d)
			}
			if d := cmp.Diff(w.Train, f.Train); d != "" {
				t.Errorf("%s fold %d training scores differ from the local run's (-local +%s):\n%s", name, f.Fold, name, d)
			}
			if d := cmp.Diff(w.Predictions, f.Predictions); d != "" {
				t.Errorf("%s fold %d predictions differ:\n%s", name, f.Fold, d)
			}
		}
		if d := cmp.Diff(want.Models[0].Summary, rep.Models[0].Summary); d != "" {
			t.Errorf("%s summary differs (-local +%s):\n%s", name, name, d)
		}
	}
	acc, _ := want.Models[0].SummaryOf("accuracy")
	t.Logf("accuracy %.4f ± %.4f on all three", acc.Mean, acc.Std)
	js := jobs(t, ctx, url)
	if len(js) != 12 {
		t.Errorf("%d jobs on the server, want 12 (3 folds × training and transform × 2 runs): %v", len(js), js)
	}
	for _, j := range js {
		if j.Status != "Completed" {
			t.Errorf("%s %s is %s", j.Kind, j.Name, j.Status)
		}
	}
	var keys []string
	moto.Boto3(t, `
r = _c("s3").list_objects_v2(Bucket="evalbkt", Prefix="eval/")
json.dump([o["Key"] for o in r.get("Contents", [])], sys.stdout)
`, &keys)
	for _, suffix := range []string{"/training/data.csv", "/validation/data.csv", "/transform/validation.csv", "/output/model.tar.gz", "/output/validation.csv.out", "/output/training.csv.out"} {
		n := 0
		for _, k := range keys {
			if strings.HasSuffix(k, suffix) {
				n++
			}
		}
		if n != 3 {
			t.Errorf("%d objects ending %s under s3://evalbkt/eval/, want one a fold: %v", n, suffix, keys)
		}
	}
}

// lineWatch calls on the first line that holds every one of want.
type lineWatch struct {
	mu   sync.Mutex
	buf  strings.Builder
	want []string
	on   func()
	done bool
}

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.done {
		for _, line := range strings.Split(w.buf.String(), "\n") {
			all := true
			for _, s := range w.want {
				all = all && strings.Contains(line, s)
			}
			if all {
				w.done = true
				w.on()
				break
			}
		}
	}
	return len(p), nil
}

func (w *lineWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestEvaluateOnSagekitLocalInterrupt interrupts an evaluation on
// 'sagekit local' while its second fold trains: it exits 130, the training
// job is stopped (StopTrainingJob), nothing is left running, and the
// finished fold is in the report.
func TestEvaluateOnSagekitLocalInterrupt(t *testing.T) {
	url, _ := sagekitLocal(t)
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
	defer cancel()
	image := evaltest.Fixture(ctx, t, testenv.Docker(t))
	path := filepath.Join(t.TempDir(), "report.json")
	run, interrupt := context.WithCancel(ctx)
	defer interrupt()
	// Fold 2's training job is created at once, and trains for 10 s.
	stderr := &lineWatch{want: []string{"fold 2/3", "training"}, on: func() { time.AfterFunc(2*time.Second, interrupt) }}
	root := NewRoot()
	var stdout strings.Builder
	root.SetOut(&stdout)
	root.SetErr(stderr)
	root.SetArgs([]string{"evaluate", image, "--data", "training=" + evaltest.Iris(t), "--label", "0", "--folds", "3", "--parallel", "1",
		"--env", "FIXTURE_TRAIN_SLEEP=10s",
		"--on", "ml.m5.large", "--role", testRole, "--endpoint-url", url, "--region", testenv.MotoRegion, "--json", path})
	err := root.ExecuteContext(run)
	code := 0
	if err != nil {
		code = reportError(root, err)
	}
	t.Logf("stderr:\n%s", stderr.String())
	if code != 130 || !strings.Contains(stderr.String(), "the SageMaker jobs it started are stopped") {
		t.Fatalf("exit %d, want 130 with word of the stopped jobs", code)
	}
	rep := readReport(t, path)
	ok, interrupted := 0, 0
	for _, f := range rep.Models[0].Folds {
		switch {
		case f.OK():
			ok++
		case f.Error == "not run: interrupted":
			interrupted++
		}
	}
	if rep.Complete || ok != 1 || interrupted != 2 {
		t.Errorf("report: complete %v, %d folds finished, %d interrupted; want 1 and 2", rep.Complete, ok, interrupted)
	}
	statuses := map[string]int{}
	for _, j := range jobs(t, ctx, url) {
		statuses[string(j.Kind)+" "+j.Status]++
	}
	want := map[string]int{"training job Completed": 1, "transform job Completed": 1, "training job Stopped": 1}
	if d := cmp.Diff(want, statuses); d != "" {
		t.Errorf("jobs on the server (-want +got):\n%s", d)
	}
}

// TestEvaluateOnSagekitLocalFailedFold: a fold whose training job fails is
// an error naming the fold with SageMaker's FailureReason (the image's
// failure file); the other folds are kept.
func TestEvaluateOnSagekitLocalFailedFold(t *testing.T) {
	url, _ := sagekitLocal(t)
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
	defer cancel()
	image := evaltest.Fixture(ctx, t, testenv.Docker(t))
	var rows []string
	for i := range 20 {
		rows = append(rows, []string{"a", "b"}[i%2]+","+strconv.Itoa(100+i))
	}
	dir := t.TempDir()
	data, path := filepath.Join(dir, "data.csv"), filepath.Join(dir, "report.json")
	os.WriteFile(data, []byte(strings.Join(rows, "\n")+"\n"), 0o644)
	code, stdout, stderr := execSageMaker(ctx, "", "evaluate", image, "--data", data, "--label", "0", "--folds", "4", "--seed", "9",
		"--env", "FIXTURE_FAIL_MARKER=106", "--on", "ml.m5.large", "--role", testRole, "--endpoint-url", url, "--region", testenv.MotoRegion,
		"--json", path)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	if code != 1 || !strings.Contains(stderr, "evaluation incomplete: 1 of 4 folds failed") {
		t.Fatalf("exit %d, want 1 and one failed fold", code)
	}
	rep := readReport(t, path)
	failed := 0
	for _, f := range rep.Models[0].Folds {
		if f.OK() {
			continue
		}
		failed++
		if !strings.Contains(f.Error, "training failed: training job ") || !strings.Contains(f.Error, "the validation channel holds the marker 106") {
			t.Errorf("fold %d error = %q, want the training job's failure reason", f.Fold, f.Error)
		}
	}
	if failed != 1 || rep.Complete {
		t.Errorf("%d folds failed, complete %v; want 1 and false", failed, rep.Complete)
	}
}
