package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sagekit/sagekit/evaluate/report"
	"github.com/sagekit/sagekit/internal/evaltest"
	"github.com/sagekit/sagekit/internal/testenv"
)

func TestEvaluateOnFlags(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	iris := evaltest.Iris(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--on", "somewhere"}, `--on "somewhere": want local, or an ml.* instance type`},
		{[]string{"--role", testRole}, "--role applies to evaluations on SageMaker: add --on ml."},
		{[]string{"--s3-prefix", "s3://b/p"}, "--s3-prefix applies to evaluations on SageMaker"},
		{[]string{"--on", "ml.m5.large", "--gpu"}, "--gpu is for local runs"},
		{[]string{"--on", "ml.m5.large", "--startup-timeout", "1m"}, "--startup-timeout is for local runs"},
		{[]string{"--on", "ml.m5.large", "--role", testRole}, "--s3-prefix s3://BUCKET/PREFIX is required on SageMaker"},
		{[]string{"--on", "ml.m5.large", "--role", testRole, "--s3-prefix", "bucket/p"}, `--s3-prefix "bucket/p": want an S3 URI`},
		{[]string{"--on", "ml.m5.large", "--s3-prefix", "s3://b/p"}, "no execution role: pass --role"},
		{[]string{"--on", "ml.m5.large", "--endpoint-url", "http://127.0.0.1:1"}, "no execution role: pass --role"},
	} {
		root := NewRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append([]string{"evaluate", "img", "--data", "training=" + iris, "--label", "0", "--folds", "3"}, tc.args...))
		err := root.ExecuteContext(t.Context())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
		if code := reportError(root, err); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)", tc.args, code)
		}
	}
}

// TestEvaluateInterrupt runs `sagekit evaluate` as a process, sends it
// SIGINT once the first fold has finished, and checks that it exits 130
// with no container left and the finished fold in the JSON and HTML.
func TestEvaluateInterrupt(t *testing.T) {
	dc := testenv.Docker(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	image := evaltest.Fixture(ctx, t, dc)
	bin := testenv.Binary(t, "./cli/cmd/sagekit", runtime.GOARCH)
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o755)
	jsonPath, htmlPath := filepath.Join(dir, "report.json"), filepath.Join(dir, "report.html")
	cmd := exec.CommandContext(ctx, bin, "evaluate", image, "--data", "training="+evaltest.Iris(t), "--label", "0",
		"--folds", "4", "--parallel", "1", "--env", "FIXTURE_TRAIN_SLEEP=2s", "--json", jsonPath, "--html", htmlPath)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	signalled := false
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if !signalled && strings.Contains(sc.Text(), "fold 1/4") && strings.Contains(sc.Text(), "validation accuracy") {
			// Fold 2 is training now: interrupt it.
			time.Sleep(500 * time.Millisecond)
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			signalled = true
		}
	}
	io.Copy(io.Discard, stderr)
	err = cmd.Wait()
	if !signalled {
		t.Fatalf("the first fold never finished:\n%s", log.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit = %v, want 130:\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "interrupted; containers removed") {
		t.Errorf("no word of the interruption:\n%s", log.String())
	}
	if left := evaltest.Leftovers(ctx, t, dc, image); len(left) > 0 {
		t.Errorf("containers left running after SIGINT: %v", left)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("temporary files left: %v", names)
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatalf("no JSON report after SIGINT: %v", err)
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	ok, interrupted := 0, 0
	for _, f := range rep.Models[0].Folds {
		switch {
		case f.OK():
			ok++
		case f.Error == "not run: interrupted":
			interrupted++
		}
	}
	if rep.Complete || ok < 1 || interrupted < 1 || ok+interrupted != 4 {
		t.Errorf("report: complete %v, %d folds finished, %d interrupted; want 1-3 and the rest", rep.Complete, ok, interrupted)
	}
	if h, err := os.ReadFile(htmlPath); err != nil || !bytes.Contains(h, []byte("Incomplete")) {
		t.Errorf("HTML report after SIGINT: %v (incomplete banner: %v)", err, bytes.Contains(h, []byte("Incomplete")))
	}
}
