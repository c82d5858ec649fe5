package conformance_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/sagekit/sagekit/conformance"
	"github.com/sagekit/sagekit/conformance/fixtures"
	"github.com/sagekit/sagekit/internal/testenv"
)

var (
	tkTrainOnce  sync.Once
	tkTrainBuilt map[string]string // rule id ("" for the good one) → image ref
	tkTrainErr   error
	tkTrainTook  time.Duration
)

// toolkitTrainingImages builds the training-toolkit fixtures once per test
// binary: they need sagekit/python:bookworm in the Engine (skipped without
// it, failed under SAGEKIT_REQUIRE_BASE=1).
func toolkitTrainingImages(t *testing.T) (*client.Client, map[string]string) {
	t.Helper()
	dc := testenv.Docker(t)
	if _, err := dc.ImageInspect(t.Context(), fixtures.PythonBase); err != nil {
		msg := "base image " + fixtures.PythonBase + " is not in the local image store: run `sagekit base` first"
		if os.Getenv(envRequireBase) == "1" {
			t.Fatalf("%s (%s=1)", msg, envRequireBase)
		}
		t.Skipf("skipped: %s", msg)
	}
	tk := testenv.Binary(t, fixtures.ToolkitProgram, runtime.GOARCH)
	fx := testenv.Binary(t, fixtures.Program, runtime.GOARCH)
	tkTrainOnce.Do(func() {
		start := time.Now()
		// A repository of this process's own: a concurrent test run that
		// removes its fixtures does not remove these.
		repo := fmt.Sprintf("%s-%d", fixtureRepo, os.Getpid())
		tkTrainBuilt, tkTrainErr = fixtures.BuildTrainingToolkit(context.Background(), dc, repo, tk, fx)
		tkTrainTook = time.Since(start)
	})
	if tkTrainErr != nil {
		t.Fatalf("building the training-toolkit fixtures: %v", tkTrainErr)
	}
	t.Logf("%d training-toolkit fixture images built in %s", len(tkTrainBuilt), tkTrainTook.Round(time.Millisecond))
	return dc, tkTrainBuilt
}

// removeToolkitTrainingImages is called by TestMain.
func removeToolkitTrainingImages(dc *client.Client) {
	for _, ref := range tkTrainBuilt {
		dc.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true})
	}
}

// toolkitPlayTime is how long the toolkit training play took in a run.
func toolkitPlayTime(d *time.Duration) conformance.Option {
	return conformance.WithEvents(func(e conformance.Event) {
		if e.Kind == conformance.EventPlayFinished && e.Play == "toolkit-training" {
			*d = e.Elapsed
		}
	})
}

// TestToolkitTrainingGoodFixturePasses: the image that claims toolkit
// training and honours it passes the whole cpu profile, every T-TR rule
// included.
func TestToolkitTrainingGoodFixturePasses(t *testing.T) {
	dc, imgs := toolkitTrainingImages(t)
	runID := "tk-good-" + time.Now().Format("150405.000000")
	var play time.Duration
	rep := check(t, dc, imgs[fixtures.Good], conformance.WithRunID(runID), toolkitPlayTime(&play))
	assertNoLeftovers(t, dc, runID)
	t.Logf("whole cpu profile in %s, the toolkit training play in %s", rep.Duration.Round(time.Millisecond), play.Round(time.Millisecond))
	tr := 0
	for _, r := range rep.Results {
		if strings.HasPrefix(r.ID, "T-TR-") {
			tr++
			if r.Status != conformance.StatusPass {
				t.Errorf("%s = %s (%s), want pass", r.ID, r.Status, r.Message)
			}
			continue
		}
		if r.Status == conformance.StatusFail || r.Status == conformance.StatusSkip {
			t.Errorf("%s = %s (%s), want pass, advice or not applicable", r.ID, r.Status, r.Message)
		}
	}
	if tr != 15 {
		t.Errorf("%d T-TR results, want 15", tr)
	}
	if !rep.Passed() {
		t.Errorf("report failed: %s", rep.Summary)
	}
}

// TestToolkitTrainingFixturesFailOnlyTheirRule: each training-toolkit
// fixture fails its T-TR rule and no other rule about training or the
// image. A fixture differs from the good image only in the variable that
// the toolkit fixture's `train` reads (serving is handed to the same C-*
// fixture program), so the serving rules, which the good image passes in
// TestToolkitTrainingGoodFixturePasses, are not run again fifteen times.
func TestToolkitTrainingFixturesFailOnlyTheirRule(t *testing.T) {
	dc, imgs := toolkitTrainingImages(t)
	type run struct {
		rep   *conformance.Report
		err   error
		runID string
	}
	runs := make([]run, len(fixtures.TrainingToolkitBreaks))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, id := range fixtures.TrainingToolkitBreaks {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			runID := "tk-fixture-" + strings.ToLower(id) + "-" + time.Now().Format("150405.000000")
			rep, err := conformance.Check(t.Context(), imgs[id],
				conformance.WithClient(dc), conformance.WithWindows(testWindows), conformance.WithRunID(runID),
				conformance.WithRules("C-TR", "T-TR", "C-IMG"))
			runs[i] = run{rep, err, runID}
		})
	}
	wg.Wait()
	for i, id := range fixtures.TrainingToolkitBreaks {
		t.Run(id, func(t *testing.T) {
			r := runs[i]
			assertNoLeftovers(t, dc, r.runID)
			if r.err != nil {
				t.Fatalf("Check: %v", r.err)
			}
			res, ok := r.rep.Result(id)
			if !ok || res.Status != conformance.StatusFail {
				t.Errorf("%s = %s (%s), want fail", id, res.Status, res.Message)
			} else {
				t.Logf("%s: %s", id, res.Message)
			}
			if got := r.rep.Failed(); !slices.Equal(got, []string{id}) {
				var b bytes.Buffer
				r.rep.WriteTable(&b)
				t.Errorf("failed rules = %v, want only %s\n%s", got, id, b.String())
			}
			if res.Hint == "" {
				t.Errorf("%s failed without a hint", id)
			}
		})
	}
}
